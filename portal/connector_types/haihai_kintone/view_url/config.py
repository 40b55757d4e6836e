"""The configuration type of 顧客閲覧URL連携 (Step7)."""

from __future__ import annotations

from dataclasses import dataclass

from portal.syncs.config import ScheduleSpec, Timing


@dataclass(frozen=True)
class ViewUrlSetting:
    """顧客閲覧URL連携 (Step7)."""

    timing: Timing = "off"
    schedule: ScheduleSpec | None = None
    target_field: str | None = None  # kintone field code (文字列(1行)/文字列(複数行)/リンク)


SECTION_KEY = "step7"


def view_url_setting(config) -> ViewUrlSetting:
    """The Step7 setting of a loaded connector configuration (連携しない when absent)."""
    return config.section(SECTION_KEY) or ViewUrlSetting()


VIEW_URL = "view_url"
