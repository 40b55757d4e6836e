"""run log at scale: runs.account_id and keyset indexes for the 連携ログ, created_at for retention

Revision ID: 0005_run_log
Revises: 0004
Create Date: 2026-11-24 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0005_run_log"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
    # Existing runs take the account of their connector (connectors never change account).
    op.execute(
        "UPDATE runs SET account_id = "
        "(SELECT connectors.account_id FROM connectors WHERE connectors.id = runs.connector_id)"
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key("fk_runs_account_id_accounts", "accounts", ["account_id"], ["id"])
        batch_op.drop_index("ix_runs_connector_id_created_at")
        batch_op.create_index("ix_runs_account_log", ["account_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_runs_connector_log", ["connector_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_runs_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_created_at")
        batch_op.drop_index("ix_runs_connector_log")
        batch_op.drop_index("ix_runs_account_log")
        batch_op.create_index("ix_runs_connector_id_created_at", ["connector_id", "created_at"], unique=False)
        batch_op.drop_constraint("fk_runs_account_id_accounts", type_="foreignkey")
        batch_op.drop_column("account_id")
