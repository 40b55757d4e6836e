"""The demo connector's 顧客閲覧URL連携: 手動実行 into the sample app's URL field."""

from __future__ import annotations

from portal.models.settings import ViewUrlSettingsRow

DEMO_TARGET_FIELD = "view_url"


def configure_demo(ctx) -> None:
    """Run by hand into the field `view_url` when the synced app has it."""
    if DEMO_TARGET_FIELD in ctx.kintone_fields:
        ctx.session.merge(
            ViewUrlSettingsRow(
                connector_id=ctx.connector.id, timing="manual", target_field=DEMO_TARGET_FIELD
            )
        )
