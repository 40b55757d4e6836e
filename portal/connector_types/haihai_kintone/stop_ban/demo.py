"""Demo data of 配信停止/禁止顧客一覧連携: the situation and both settings of the examples of 付録2.1.

The demo app gets the fields of the examples (配信停止 / 配信禁止 for 「両方、別々の項目に連携する」,
配信停止禁止 for 「両方、同じ項目に連携する」) and the four customers aaa–ddd@example.com: aaa is
配信停止 and 配信禁止, bbb 配信停止, ccc 配信禁止, ddd neither. Running the demo connector's Step6
fills the fields exactly as the manual's result tables show.
"""

from __future__ import annotations

from typing import Any

from portal.connector_types.haihai_kintone.stop_ban.config import (
    MODE_SAME,
    MODE_SEPARATE,
    FieldRule,
)
from portal.models.stop_ban import StopBanSettingsRow

STOP_FIELD = "stop_flag"
BAN_FIELD = "ban_flag"
SAME_FIELD = "stop_ban_flag"
NOT_STOPPED = "配信停止ではない"
NOT_BANNED = "配信禁止ではない"
NEITHER = "配信停止、配信禁止ではない"
EXAMPLE_EMAILS = ("aaa@example.com", "bbb@example.com", "ccc@example.com", "ddd@example.com")


def _options(*labels: str) -> dict[str, dict[str, str]]:
    return {label: {"label": label, "index": str(i)} for i, label in enumerate(labels)}


def example_fields() -> dict[str, dict[str, Any]]:
    """The kintone fields both examples write to."""
    return {
        STOP_FIELD: {
            "type": "DROP_DOWN",
            "label": "配信停止",
            "options": _options("配信停止", NOT_STOPPED),
        },
        BAN_FIELD: {
            "type": "DROP_DOWN",
            "label": "配信禁止",
            "options": _options("配信禁止", NOT_BANNED),
        },
        SAME_FIELD: {
            "type": "DROP_DOWN",
            "label": "配信停止禁止",
            "options": _options("配信停止", "配信禁止", NEITHER),
        },
    }


def example_records() -> list[dict[str, Any]]:
    """kintone records of the four example customers (the Step6 fields still empty)."""
    names = ("例 太郎", "例 花子", "例 次郎", "例 四郎")
    return [
        {
            "email": {"value": email},
            "company": {"value": "株式会社マニュアル例"},
            "name": {"value": name},
            "delivery_state": {"value": "配信可能"},
        }
        for email, name in zip(EXAMPLE_EMAILS, names, strict=True)
    ]


def example_customers() -> list[dict[str, Any]]:
    """The 配配メール side: ① 配信停止 aaa, bbb (group 1); ② 配信禁止 aaa, ccc (group 2)."""
    aaa, bbb, ccc, ddd = EXAMPLE_EMAILS
    return [
        {
            "email": aaa,
            "memberships": [{"gid": "1", "state": "stop"}, {"gid": "2", "state": "ban"}],
        },
        {"email": bbb, "memberships": [{"gid": "1", "state": "stop"}]},
        {"email": ccc, "memberships": [{"gid": "2", "state": "ban"}]},
        {"email": ddd, "memberships": [{"gid": "1", "state": "ok"}]},
    ]


def fits(kintone_fields: dict[str, Any]) -> bool:
    """True when the synced app has the examples' fields."""
    return {STOP_FIELD, BAN_FIELD, SAME_FIELD} <= set(kintone_fields)


def separate_fields_row(connector_id: str) -> StopBanSettingsRow:
    """The first example: 両方、別々の項目に連携する, both 「ではなくなった」 on (手動実行)."""
    stop = FieldRule(STOP_FIELD, "DROP_DOWN", ("配信停止",), True, (NOT_STOPPED,))
    ban = FieldRule(BAN_FIELD, "DROP_DOWN", ("配信禁止",), True, (NOT_BANNED,))
    return StopBanSettingsRow(
        connector_id=connector_id,
        timing="manual",
        mode=MODE_SEPARATE,
        stop_rule=stop.to_json(),
        ban_rule=ban.to_json(),
    )


def same_field_row(connector_id: str) -> StopBanSettingsRow:
    """The second example: 両方、同じ項目に連携する into 配信停止禁止 (手動実行)."""
    stop = FieldRule(SAME_FIELD, "DROP_DOWN", ("配信停止",), True, (NEITHER,))
    ban = FieldRule(SAME_FIELD, "DROP_DOWN", ("配信禁止",))
    return StopBanSettingsRow(
        connector_id=connector_id,
        timing="manual",
        mode=MODE_SAME,
        stop_rule=stop.to_json(),
        ban_rule=ban.to_json(),
    )


def configure_demo(ctx) -> None:
    """The demo connector's Step6: the first example of 付録2.1 (両方、別々の項目に連携する)."""
    if fits(ctx.kintone_fields):
        ctx.session.add(separate_fields_row(ctx.connector.id))
