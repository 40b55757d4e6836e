"""The configuration type of 顧客反応履歴情報取込連携 (Step8)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.connector_types.haihai_kintone.event_import.fields import (
    REACTION_FIELDS,
    REACTION_LEGACY_FIELDS,
    FixedField,
)
from portal.connector_types.haihai_kintone.event_import.mapping import ItemMapping
from portal.connector_types.haihai_kintone.event_import.watermarks import Watermark
from portal.syncs.config import KintoneAccess, ScheduleSpec, Timing

SECTION_KEY = "step8"
REACTION = "reaction"  # process key, app role and watermark role

METHOD_FULL = "full"
METHOD_LEGACY = "legacy"
METHOD_LABELS = {
    METHOD_FULL: "メール開封、URLクリック、Web来訪、CV、添付ダウンロード",
    METHOD_LEGACY: "メール開封、URLクリック",
}
# 連携種別 in the order of the manual, with the names the page, the 実行 page and メッセージ詳細 use.
EVENT_TYPE_LABELS: dict[str, str] = {
    "open": "メール開封",
    "click": "URLクリック",
    "visit": "Web来訪",
    "cv": "CV",
    "download": "添付ダウンロード",
}
LEGACY_TYPES = ("open", "click")


def method_types(method: str) -> tuple[str, ...]:
    """The 連携種別 a 連携方式 offers."""
    return LEGACY_TYPES if method == METHOD_LEGACY else tuple(EVENT_TYPE_LABELS)


def method_fields(method: str) -> tuple[FixedField, ...]:
    """The fixed fields of a 連携方式 (付録4.2, or 付録4.4 for the legacy method)."""
    return REACTION_LEGACY_FIELDS if method == METHOD_LEGACY else REACTION_FIELDS


@dataclass(frozen=True)
class ReactionSetting:
    """顧客反応履歴情報取込連携 (Step8)."""

    timing: Timing = "off"
    schedule: ScheduleSpec | None = None
    method: str = METHOD_FULL
    types: tuple[str, ...] = ()
    app: KintoneAccess | None = None
    app_fields: dict[str, Any] = field(default_factory=dict)
    mappings: tuple[ItemMapping, ...] = ()
    haihai_synced: bool = False
    watermarks: dict[str, Watermark] = field(default_factory=dict)  # by 連携種別


def reaction_setting(config) -> ReactionSetting:
    """The Step8 setting of a loaded connector configuration (連携しない when absent)."""
    return config.section(SECTION_KEY) or ReactionSetting()
