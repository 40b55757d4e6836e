"""stop/ban settings: Step6 配信停止/禁止顧客一覧連携

Revision ID: 0007_stop_ban_settings
Revises: 0006_events
Create Date: 2026-12-02 12:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0007_stop_ban_settings"
down_revision = "0006_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stop_ban_settings",
        sa.Column("connector_id", sa.String(length=26), nullable=False),
        sa.Column("timing", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("stop_rule", sa.JSON(), nullable=True),
        sa.Column("ban_rule", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["connector_id"], ["connectors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("connector_id"),
    )


def downgrade() -> None:
    op.drop_table("stop_ban_settings")
