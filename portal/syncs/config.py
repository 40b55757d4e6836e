"""The typed view of a connector's settings that jobs and sync services work from.

The settings blueprint stores the configuration in its tables and turns it into these objects
(`portal.connector_types.loading.load_connector_config`). Jobs and sync services depend only on these
dataclasses, so they can be tested by constructing them directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

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
    # What each process's settings section contributed, by section key (its config type).
    sections: Mapping[str, Any] = field(default_factory=dict)

    def section(self, key: str, default: Any = None) -> Any:
        """The configuration contributed by settings section `key` (`default` when none)."""
        return self.sections.get(key, default)

    @property
    def email_mapping(self) -> FieldMapping | None:
        """The mapping of the kintone mail-address field, if configured."""
        return next((m for m in self.mappings if m.is_email), None)
