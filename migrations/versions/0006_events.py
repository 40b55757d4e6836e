"""events: Step8 顧客反応履歴情報取込連携 and Step9 Bridgeフォーム連携 (settings, extra apps,
mappings, watermarks; the API token is Text ciphertext)

Revision ID: 0006_events
Revises: 0005_run_safety
Create Date: 2026-12-02 11:58:57.038692
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import portal.models.common  # noqa: F401 - custom column types


revision = '0006_events'
down_revision = '0005_run_safety'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event_import_mappings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connector_id', sa.String(length=26), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kintone_code', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('haihai_item', sa.Text(), nullable=False),
    sa.Column('haihai_item_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['connector_id'], ['connectors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('connector_id', 'role', 'kintone_code', name='uq_event_mapping_field')
    )
    with op.batch_alter_table('event_import_mappings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_import_mappings_connector_id'), ['connector_id'], unique=False)

    op.create_table('event_import_settings',
    sa.Column('connector_id', sa.String(length=26), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('timing', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('app_id', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('api_token', sa.Text(), nullable=True),
    sa.Column('app_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('app_fields', sa.JSON(), nullable=True),
    sa.Column('app_synced_at', portal.models.common.UTCDateTime(timezone=True), nullable=True),
    sa.Column('app_sync_report', sa.JSON(), nullable=True),
    sa.Column('reaction_method', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('legacy_method_allowed', sa.Boolean(), nullable=False),
    sa.Column('event_types', sa.JSON(), nullable=True),
    sa.Column('form_mode', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('form_ids', sa.JSON(), nullable=True),
    sa.Column('updated_at', portal.models.common.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connector_id'], ['connectors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connector_id', 'role')
    )
    op.create_table('event_import_watermarks',
    sa.Column('connector_id', sa.String(length=26), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('stream', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('imported_until', portal.models.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('run_id', sqlmodel.sql.sqltypes.AutoString(length=26), nullable=True),
    sa.Column('updated_at', portal.models.common.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connector_id'], ['connectors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connector_id', 'role', 'stream')
    )


def downgrade() -> None:
    op.drop_table('event_import_watermarks')
    op.drop_table('event_import_settings')
    with op.batch_alter_table('event_import_mappings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_import_mappings_connector_id'))

    op.drop_table('event_import_mappings')
