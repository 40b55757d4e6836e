"""customer syncs: Step5 顧客情報連携設定 1–10

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 15:10:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer_sync_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connector_id', sa.String(length=26), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('timing', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('target_type', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('target_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('target_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('status_change', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('overwrite', sa.Boolean(), nullable=False),
    sa.Column('blank_overwrites', sa.Boolean(), nullable=False),
    sa.Column('stop_missing', sa.Boolean(), nullable=False),
    sa.Column('allow_present', sa.Boolean(), nullable=False),
    sa.Column('report_mail', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['connector_id'], ['connectors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('connector_id', 'number', name='uq_customer_sync_number')
    )
    with op.batch_alter_table('customer_sync_settings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_sync_settings_connector_id'), ['connector_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customer_sync_settings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_sync_settings_connector_id'))

    op.drop_table('customer_sync_settings')
