"""配信停止/禁止顧客一覧連携 (Step6): 配配メール's 配信停止 and 配信禁止 lists written into kintone.

Its configuration type (config), Step6 (section) with the dialog 「連携項目の設定」 (form, views),
the values of manual 付録2.1/2.2 (values), the lists (lists), the writes with the revision check
(writer) and the sync with its run handler (sync, messages).
"""

from __future__ import annotations

from portal.connector_types.haihai_kintone.groups import SYNC_GROUP
from portal.connector_types.haihai_kintone.stop_ban.config import (
    DAILY_LIMIT,
    SECTION_KEY,
    STOP_BAN,
    StopBanSetting,
    stop_ban_setting,
)
from portal.connector_types.haihai_kintone.stop_ban.demo import configure_demo
from portal.connector_types.haihai_kintone.stop_ban.section import StopBanSection
from portal.connector_types.haihai_kintone.stop_ban.sync import run_stop_ban
from portal.connector_types.haihai_kintone.stop_ban.views import bp as blueprint
from portal.connector_types.registry import ProcessSpec

SECTION = StopBanSection()
DEMO = configure_demo  # the demo connector's Step6
BLUEPRINTS = (blueprint,)

PROCESSES: tuple[ProcessSpec, ...] = (
    ProcessSpec(
        key=STOP_BAN,
        name="配信停止 / 禁止顧客一覧連携",
        group=SYNC_GROUP,
        handler=run_stop_ban,
        section=SECTION_KEY,
        timing=lambda config: stop_ban_setting(config).timing or "off",
        daily_limit=DAILY_LIMIT,
        config_type=StopBanSetting,
    ),
)
