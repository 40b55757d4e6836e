"""The typed view of a connector's settings that jobs and sync services work from.

The settings blueprint stores the configuration in its tables and turns it into these objects
(`portal.settings.service.load_connector_config`). Jobs and sync services depend only on these
dataclasses, so they can be tested by constructing them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Timing = Literal["off", "manual", "schedule"]
Interval = Literal["monthly", "weekly", "daily", "hourly", "every_30_minutes"]
MONTH_END = "last"  # 月末日 in ScheduleSpec.month_days


@dataclass(frozen=True)
class ScheduleSpec:
    """When a timed run fires, in the account's time zone.

    monthly: month_days (1–31 or MONTH_END) × hours × minutes; weekly: weekdays (0 = Monday) ×
    hours × minutes; daily: hours × minutes; hourly: minutes of every hour; every_30_minutes: two
    minutes (e.g. 10 and 40) of every hour.
    """

    interval: Interval
    month_days: tuple[int | str, ...] = ()
    weekdays: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    minutes: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class KintoneAccess:
    """Where and how to reach one kintone app."""

    base_url: str  # e.g. https://example.cybozu.com (or the sandbox's http://127.0.0.1:P/example)
    subdomain: str
    app_id: str
    api_token: str


@dataclass(frozen=True)
class HaihaiAccess:
    """Where and how to reach the 配配メール account."""

    base_url: str  # https://xxxx.hm-f.jp/mXXXXX/ (sandbox: http://127.0.0.1:P/mXXXXX/)
    login_id: str
    api_token: str


@dataclass(frozen=True)
class FieldMapping:
    """One row of 連携項目設定: a kintone field and the 配配メール item it feeds."""

    kintone_code: str
    kintone_type: str  # kintone field type, e.g. SINGLE_LINE_TEXT
    kintone_label: str
    haihai_item: str  # the 配配メール item name used as the CSV header
    is_email: bool = False


ConditionMatch = Literal["all", "any"]


@dataclass(frozen=True)
class Condition:
    """One row of 連携条件の設定, stored structurally (turned into a kintone query at run time).

    operator: one of the operator keys of portal.syncs.conditions (e.g. "eq", "ne", "gt", "lt",
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


@dataclass(frozen=True)
class ViewUrlSetting:
    """顧客閲覧URL連携 (Step7)."""

    timing: Timing = "off"
    schedule: ScheduleSpec | None = None
    target_field: str | None = None  # kintone field code (文字列(1行)/文字列(複数行)/リンク)


@dataclass(frozen=True)
class ConnectorConfig:
    """Everything a run of one connector needs, decrypted, as of the moment it was loaded."""

    connector_id: str
    name: str
    timezone: str = "Asia/Tokyo"
    kintone: KintoneAccess | None = None
    haihai: HaihaiAccess | None = None
    kintone_fields: dict = field(default_factory=dict)  # last synced form/fields.json "properties"
    mappings: tuple[FieldMapping, ...] = ()
    email_display_name: str = "メールアドレス"
    customer_syncs: tuple[CustomerSyncSetting, ...] = ()
    view_url: ViewUrlSetting = field(default_factory=ViewUrlSetting)

    @property
    def email_mapping(self) -> FieldMapping | None:
        """The mapping of the kintone mail-address field, if configured."""
        return next((m for m in self.mappings if m.is_email), None)
