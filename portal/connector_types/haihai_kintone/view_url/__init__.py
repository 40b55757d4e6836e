"""顧客閲覧URL連携 (Step7): each customer's 配配メール view URL written into a kintone field.

Its configuration type (config), Step7 (section) and the sync with its run handler (sync).
"""

from __future__ import annotations

from portal.connector_types.haihai_kintone.groups import SYNC_GROUP
from portal.connector_types.haihai_kintone.view_url.config import (
    SECTION_KEY,
    VIEW_URL,
    ViewUrlSetting,
    view_url_setting,
)
from portal.connector_types.haihai_kintone.view_url.demo import configure_demo
from portal.connector_types.haihai_kintone.view_url.section import ViewUrlSection
from portal.connector_types.haihai_kintone.view_url.sync import run_view_url
from portal.connector_types.registry import ProcessSpec

SECTION = ViewUrlSection()
DEMO = configure_demo  # the demo connector's settings of this process
BLUEPRINTS = ()

PROCESSES: tuple[ProcessSpec, ...] = (
    ProcessSpec(
        key=VIEW_URL,
        name="顧客閲覧URL連携",
        group=SYNC_GROUP,
        handler=run_view_url,
        section=SECTION_KEY,
        timing=lambda config: view_url_setting(config).timing or "off",
        config_type=ViewUrlSetting,
    ),
)
