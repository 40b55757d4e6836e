"""The configuration type of 顧客情報連携 1–10 (Step5): conditions and options of each setting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from portal.syncs.config import ScheduleSpec, Timing

ConditionMatch = Literal["all", "any"]


@dataclass(frozen=True)
class Condition:
    """One row of 連携条件の設定, stored structurally (turned into a kintone query at run time).

    operator: one of the operator keys of portal.connector_types.haihai_kintone.customer.conditions (e.g. "eq", "ne", "gt", "lt",
    "ge", "le", "like", "not_like", "in", "not_in", "is_empty", "is_not_empty").
    value: text/number as text; for choice fields a tuple of option labels where "" stands for
    「(未選択)」; for dates a dict describing the relative form, e.g.
    {"kind": "absolute", "value": "2024-01-31"} · {"kind": "from_today", "amount": 3,
    "unit": "days|weeks|months|years", "direction": "before|after"} · {"kind": "today|yesterday|
    tomorrow"} · {"kind": "this_week|last_week|next_week", "weekday": "MONDAY"|None} ·
    {"kind": "this_month|last_month|next_month", "day": 1–31|"LAST"|None} ·
    {"kind": "this_year|last_year|next_year"}.
    """

    field_code: str
    field_type: str
    operator: str
    value: object = None


@dataclass(frozen=True)
class ConditionSet:
    """All conditions of one setting and whether all or any must hold."""

    match: ConditionMatch = "all"
    conditions: tuple[Condition, ...] = ()


TargetType = Literal["database", "group", "step_plan"]
Mode = Literal["register", "delete", "status_change"]
StatusChange = Literal["stop", "ban", "allow"]
ReportMail = Literal["never", "always", "on_error"]


@dataclass(frozen=True)
class CustomerSyncSetting:
    """One 顧客情報連携設定 (1–10)."""

    number: int
    timing: Timing = "manual"
    schedule: ScheduleSpec | None = None
    target_type: TargetType = "database"
    target_id: str | None = None  # 配信グループID / ステップメールプランID
    conditions: ConditionSet = field(default_factory=ConditionSet)
    mode: Mode = "register"
    status_change: StatusChange | None = None
    overwrite: bool = False
    blank_overwrites: bool = False  # True: 配配メールのデータを空白で上書きする
    stop_missing: bool = False  # kintoneアプリのデータに存在しない顧客を配信停止にする
    allow_present: bool = False  # kintoneアプリのデータに存在する顧客を配信可能にする
    report_mail: ReportMail = "never"


SECTION_KEY = "step5"


def customer_settings(config) -> tuple[CustomerSyncSetting, ...]:
    """The 顧客情報連携設定 1–10 of a loaded connector configuration (Step5)."""
    return tuple(config.section(SECTION_KEY, ()) or ())


CUSTOMER_SYNC_COUNT = 10
CUSTOMER_KEYS = tuple(f"customer:{n}" for n in range(1, CUSTOMER_SYNC_COUNT + 1))
CUSTOMER_PLUGIN = "customer_plugin"
