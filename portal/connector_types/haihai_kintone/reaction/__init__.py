"""顧客反応履歴情報取込連携 (Step8): 配配メール reaction events into a kintone app of their own.

Its configuration type (config), Step8 (section), the event → record rules (records), the run
handler (sync) and the 実行 page's options (run_options). The engine, the app, the 連携項目 and
the dialogs are shared with Bridgeフォーム連携 (event_import).
"""

from __future__ import annotations

from portal.connector_types.haihai_kintone.event_import.views import bp as event_import_blueprint
from portal.connector_types.haihai_kintone.groups import REACTION_GROUP
from portal.connector_types.haihai_kintone.reaction.config import (
    REACTION,
    SECTION_KEY,
    ReactionSetting,
    reaction_setting,
)
from portal.connector_types.haihai_kintone.reaction.demo import configure_demo
from portal.connector_types.haihai_kintone.reaction.run_options import (
    prepare_reaction_params,
    reaction_run_options,
)
from portal.connector_types.haihai_kintone.reaction.section import ReactionSection
from portal.connector_types.haihai_kintone.reaction.sync import run_reaction
from portal.connector_types.registry import ProcessSpec

SECTION = ReactionSection()
DEMO = configure_demo  # the demo connector's settings of this process
BLUEPRINTS = (event_import_blueprint,)

PROCESSES: tuple[ProcessSpec, ...] = (
    ProcessSpec(
        key=REACTION,
        name="顧客反応履歴情報取込連携",
        group=REACTION_GROUP,
        handler=run_reaction,
        section=SECTION_KEY,
        timing=lambda config: reaction_setting(config).timing,
        schedule_variant="daily",
        overlap_checked=False,
        params=(
            "mode",
            "types",
            "start_date",
            "start_hour",
            "start_minute",
            "end_date",
            "end_hour",
            "end_minute",
        ),
        run_options_template="runs/_event_run_options.html",
        run_options=reaction_run_options,
        prepare_params=prepare_reaction_params,
        config_type=ReactionSetting,
    ),
)
