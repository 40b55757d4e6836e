"""The configuration type of Bridgeフォーム連携 (Step9)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.connector_types.haihai_kintone.event_import.mapping import ItemMapping
from portal.connector_types.haihai_kintone.event_import.watermarks import Watermark
from portal.syncs.config import KintoneAccess, ScheduleSpec, Timing

SECTION_KEY = "step9"
BRIDGE = "bridge"  # process key, app role and watermark role
FORMS_ALL = "all"  # フォーム選択: すべて
FORMS_SELECTED = "selected"  # 個別に選択する

# Manual §2.1.3 step 12: the process needs the Bridge plan and the synced method.
MSG_NEEDS_BRIDGE_PLAN = (
    "「Bridgeフォーム連携」を行う場合、『配配メール』にて「Bridgeプラン」をご契約いただく必要があります。"
    "「Bridgeプラン」以外の場合は連携できません。"
)
MSG_NEEDS_SYNC = (
    "「Bridgeフォーム連携」を行う場合、「Step2. 配配メール連携設定」において「連携設定方法」に"
    "「配配メールから同期した内容から設定する」を選択、「配配メール設定の同期」をクリックし、"
    "配配メール設定の同期を行ってください。"
)


@dataclass(frozen=True)
class BridgeSetting:
    """Bridgeフォーム連携 (Step9)."""

    timing: Timing = "off"
    schedule: ScheduleSpec | None = None
    form_mode: str = FORMS_ALL
    form_ids: tuple[str, ...] = ()
    forms: tuple[tuple[str, str], ...] = ()  # (ID, name) of the synced forms
    unavailable: str | None = None  # why the process cannot run (plan, method), else None
    app: KintoneAccess | None = None
    app_fields: dict[str, Any] = field(default_factory=dict)
    mappings: tuple[ItemMapping, ...] = ()
    haihai_synced: bool = False
    watermarks: dict[str, Watermark] = field(default_factory=dict)  # by form ID

    def form_name(self, form_id: str) -> str:
        """The synced name of a form (its ID when unknown)."""
        return dict(self.forms).get(form_id, f"フォーム（ID: {form_id}）")


def bridge_setting(config) -> BridgeSetting:
    """The Step9 setting of a loaded connector configuration (連携しない when absent)."""
    return config.section(SECTION_KEY) or BridgeSetting()
