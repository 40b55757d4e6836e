"""The configuration type of 配信停止/禁止顧客一覧連携 (Step6, manual 付録2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal.syncs.config import ScheduleSpec, Timing

SECTION_KEY = "step6"
STOP_BAN = "stop_ban"
DAILY_LIMIT = 10  # manual Step6: 「1日に実行可能な連携回数は最大10回までとなります。」

# 連携種別 (manual §2.1.3 Step6), in the order of the page.
MODE_STOP = "stop"
MODE_BAN = "ban"
MODE_SEPARATE = "separate"
MODE_SAME = "same"
MODE_LABELS: dict[str, str] = {
    MODE_STOP: "配信停止の連携を実施する",
    MODE_BAN: "配信禁止の連携を実施する",
    MODE_SEPARATE: "両方、別々の項目に連携する",
    MODE_SAME: "両方、同じ項目に連携する",
}
DEFAULT_MODE = MODE_SEPARATE  # the manual's screen shows it selected


def uses_stop(mode: str) -> bool:
    """Whether 連携種別 `mode` writes anything for the 配信停止 list."""
    return mode in (MODE_STOP, MODE_SEPARATE, MODE_SAME)


def uses_ban(mode: str) -> bool:
    """Whether 連携種別 `mode` writes anything for the 配信禁止 list."""
    return mode in (MODE_BAN, MODE_SEPARATE, MODE_SAME)


@dataclass(frozen=True)
class FieldRule:
    """配信停止連携 or 配信禁止連携 of the dialog 「連携項目の設定」 (付録2.2).

    `values` is the 設定する値: the chosen options of a choice field (empty = 「(未選択)」), one
    text of a 文字列/数値 field, nothing for 日付/日時 (the run's date or time is written).
    `when_cleared` is 「…ではなくなった場合の連携を行う」 with its value in `cleared_values`
    (for 日付/日時: kintone's default value or blank). With 両方、同じ項目 the 配信停止 rule carries
    the single field and the shared 「配信停止/配信禁止ではなくなった」 choice; the 配信禁止 rule
    names the same field and only its own value.
    """

    field_code: str
    field_type: str
    values: tuple[str, ...] = ()
    when_cleared: bool = False
    cleared_values: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The stored form (a JSON column)."""
        return {
            "field_code": self.field_code,
            "field_type": self.field_type,
            "values": list(self.values),
            "when_cleared": self.when_cleared,
            "cleared_values": list(self.cleared_values),
        }

    @classmethod
    def from_json(cls, data: Any) -> FieldRule | None:
        """The rule stored as `data` (None when nothing usable is stored)."""
        if not isinstance(data, dict) or not data.get("field_code"):
            return None
        return cls(
            field_code=str(data["field_code"]),
            field_type=str(data.get("field_type") or ""),
            values=tuple(str(v) for v in data.get("values") or ()),
            when_cleared=bool(data.get("when_cleared")),
            cleared_values=tuple(str(v) for v in data.get("cleared_values") or ()),
        )


@dataclass(frozen=True)
class StopBanSetting:
    """配信停止/禁止顧客一覧連携 (Step6): timing, 連携種別 and the two rules of the dialog."""

    timing: Timing = "off"
    schedule: ScheduleSpec | None = None
    mode: str = DEFAULT_MODE
    stop: FieldRule | None = None
    ban: FieldRule | None = None

    def claimed_fields(self) -> dict[str, str]:
        """The kintone fields the rules write (portal.syncs.field_claims), by field code."""
        claims: dict[str, str] = {}
        for rule, use in ((self.stop, USE_STOP), (self.ban, USE_BAN)):
            if rule is not None and rule.field_code:
                claims.setdefault(rule.field_code, use)
        return claims


USE_STOP = "Step6の配信停止連携に設定されている項目です"
USE_BAN = "Step6の配信禁止連携に設定されている項目です"


def stop_ban_setting(config) -> StopBanSetting:
    """The Step6 setting of a loaded connector configuration (連携しない when absent)."""
    return config.section(SECTION_KEY) or StopBanSetting()
