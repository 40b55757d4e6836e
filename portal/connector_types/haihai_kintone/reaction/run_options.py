"""顧客反応履歴情報取込連携 on the 実行 page: 差分 / 全件 and the 連携対象 (manual §2.3.5)."""

from __future__ import annotations

from typing import Any

from portal.connector_types.haihai_kintone.event_import.run_options import (
    posted_mode,
    range_defaults,
    watermark_lines,
)
from portal.connector_types.haihai_kintone.reaction.config import (
    EVENT_TYPE_LABELS,
    method_types,
    reaction_setting,
)
from portal.syncs.context import RunOptionsInvalid

MSG_CHOOSE_TARGETS = "連携対象を指定してください。"


def configured_types(config) -> list[tuple[str, str]]:
    """The configured 連携種別 (key, name) in the manual's order."""
    setting = reaction_setting(config)
    allowed = set(method_types(setting.method))
    return [(t, EVENT_TYPE_LABELS[t]) for t in setting.types if t in allowed]


def reaction_run_options(config) -> dict[str, Any]:
    """Variables of the options block: the 「… まで連携済」 lines, the range, the 連携対象."""
    setting = reaction_setting(config)
    types = configured_types(config)
    return {
        "description": (
            "配配メールから顧客の反応履歴\n(メール開封、URLクリック、Web来訪、CV、添付ファイルのダウンロード)\nを連携します。"
        ),
        "lines": watermark_lines(types, setting.watermarks, config.timezone),
        "targets": types,
        "range": range_defaults(config.timezone),
    }


def prepare_reaction_params(form, config) -> dict[str, Any]:
    """The run's params from the posted options (mode, range, chosen types)."""
    params = posted_mode(form)
    chosen = set(form.getlist("types"))
    types = [key for key, _label in configured_types(config) if key in chosen]
    if not types:
        raise RunOptionsInvalid(MSG_CHOOSE_TARGETS)
    params["types"] = types
    return params
