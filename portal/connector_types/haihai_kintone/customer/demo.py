"""The demo connector's 顧客情報連携設定 1–6: every target and mode, runnable from the 実行 page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.connector_types.haihai_kintone.customer.condition_storage import condition_set_to_json
from portal.connector_types.haihai_kintone.customer.config import Condition, ConditionSet
from portal.models.customer_syncs import CustomerSyncRow


def _fits_demo_customer_syncs(kintone_fields: Mapping[str, Any], snapshot: Mapping) -> bool:
    """True when the synced app and account are the demo's (the settings reference them)."""
    groups = {str(e["id"]) for e in snapshot.get("groups", [])}
    plans = {str(e["id"]) for e in snapshot.get("step_plans", [])}
    fields = {"newsletters", "rank", "delivery_state"}
    return fields <= set(kintone_fields) and {"1", "2"} <= groups and {"1", "2"} <= plans


def demo_customer_syncs(connector_id: str) -> list[CustomerSyncRow]:
    """顧客情報連携設定 1–6 of the demo: every target and mode runnable from the 実行 page."""

    def choice(code: str, field_type: str, *labels: str) -> dict:
        return condition_set_to_json(
            ConditionSet("all", (Condition(code, field_type, "in", tuple(labels)),))
        )

    newsletter = choice("newsletters", "MULTI_SELECT", "製品ニュース", "セミナー案内")
    rank_a = choice("rank", "DROP_DOWN", "A")
    stopped = choice("delivery_state", "DROP_DOWN", "配信停止")
    rank_c = choice("rank", "DROP_DOWN", "C")
    rank_c_readers = {
        "match": "all",
        "conditions": rank_c["conditions"] + newsletter["conditions"],
    }
    settings = [
        # 1: every record into the customer database, kintone wins but blanks keep 配配メール's value.
        dict(number=1, target_type="database", mode="register", overwrite=True),
        # 2: newsletter readers into group 1; whoever left kintone's selection is stopped.
        dict(
            number=2,
            target_type="group",
            target_id="1",
            target_name="メールマガジン購読者",
            mode="register",
            overwrite=True,
            stop_missing=True,
            allow_present=True,
            conditions=newsletter,
        ),
        # 3: rank A customers into the step-mail plan 資料請求後フォロー.
        dict(
            number=3,
            target_type="step_plan",
            target_id="1",
            target_name="資料請求後フォロー",
            mode="register",
            conditions=rank_a,
            report_mail="on_error",
        ),
        # 4: customers marked 配信停止 in kintone are stopped in group 2.
        dict(
            number=4,
            target_type="group",
            target_id="2",
            target_name="セミナー案内",
            mode="status_change",
            status_change="stop",
            conditions=stopped,
        ),
        # 5: rank C newsletter readers leave group 1 again (run after setting 2).
        dict(
            number=5,
            target_type="group",
            target_id="1",
            target_name="メールマガジン購読者",
            mode="delete",
            conditions=rank_c_readers,
        ),
        # 6: the same rank C customers may receive the step plan 無料トライアル again.
        dict(
            number=6,
            target_type="step_plan",
            target_id="2",
            target_name="無料トライアル",
            mode="status_change",
            status_change="allow",
            overwrite=True,
            conditions=rank_c,
        ),
    ]
    return [CustomerSyncRow(connector_id=connector_id, timing="manual", **s) for s in settings]


def configure_demo(ctx) -> None:
    """Add settings 1–6 when the synced app and account are the demo's sample data."""
    if _fits_demo_customer_syncs(ctx.kintone_fields, ctx.haihai_snapshot):
        for row in demo_customer_syncs(ctx.connector.id):
            ctx.session.add(row)
