"""Bridgeフォーム連携 (Step9): Bridge form answers into a kintone app of their own.

Its configuration type (config), Step9 (section), the run handler (sync) and the 実行 page's
options (run_options), on the engine, app and dialogs shared with 顧客反応履歴情報取込連携
(event_import).
"""

from __future__ import annotations

from portal.connector_types.haihai_kintone.bridge.config import (
    BRIDGE,
    SECTION_KEY,
    BridgeSetting,
    bridge_setting,
)
from portal.connector_types.haihai_kintone.bridge.demo import configure_demo
from portal.connector_types.haihai_kintone.bridge.run_options import (
    bridge_run_options,
    prepare_bridge_params,
)
from portal.connector_types.haihai_kintone.bridge.section import BridgeSection
from portal.connector_types.haihai_kintone.bridge.sync import run_bridge
from portal.connector_types.haihai_kintone.event_import.views import bp as event_import_blueprint
from portal.connector_types.haihai_kintone.groups import BRIDGE_GROUP
from portal.connector_types.registry import ProcessSpec

SECTION = BridgeSection()
DEMO = configure_demo  # the demo connector's settings of this process
BLUEPRINTS = (event_import_blueprint,)


def _timing(config) -> str:
    setting = bridge_setting(config)
    return "off" if setting.unavailable else setting.timing


PROCESSES: tuple[ProcessSpec, ...] = (
    ProcessSpec(
        key=BRIDGE,
        name="Bridgeフォーム連携",
        group=BRIDGE_GROUP,
        handler=run_bridge,
        section=SECTION_KEY,
        timing=_timing,
        schedule_variant="bridge",
        overlap_checked=False,
        params=(
            "mode",
            "form_mode",
            "forms",
            "start_date",
            "start_hour",
            "start_minute",
            "end_date",
            "end_hour",
            "end_minute",
        ),
        run_options_template="runs/_event_run_options.html",
        run_options=bridge_run_options,
        prepare_params=prepare_bridge_params,
        config_type=BridgeSetting,
    ),
)
