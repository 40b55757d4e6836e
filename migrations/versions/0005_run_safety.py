"""run safety: one unfinished run per exclusion group, and the journal of CSV parts sent

Revision ID: 0005_run_safety
Revises: 0005_run_log
Create Date: 2026-11-24 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import portal.models.common  # noqa: F401 - custom column types


revision = '0005_run_safety'
down_revision = '0005_run_log'
branch_labels = None
depends_on = None

UNFINISHED = sa.text("status IN ('queued', 'running')")


def upgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exclusion_group', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.create_index(
            'uq_runs_unfinished_group',
            ['connector_id', 'exclusion_group'],
            unique=True,
            sqlite_where=UNFINISHED,
            postgresql_where=UNFINISHED,
        )

    op.create_table('run_parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sqlmodel.sql.sqltypes.AutoString(length=26), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('job_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('reused', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.models.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', portal.models.common.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'number', name='uq_run_parts_run_number')
    )
    with op.batch_alter_table('run_parts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_parts_run_id'), ['run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('run_parts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_parts_run_id'))

    op.drop_table('run_parts')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index('uq_runs_unfinished_group')
        batch_op.drop_column('exclusion_group')
