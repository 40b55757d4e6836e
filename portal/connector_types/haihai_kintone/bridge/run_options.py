"""Bridgeフォーム連携 on the 実行 page: 差分 / 全件 and 連携対象 すべて / 個別に選択する (§2.3.6)."""

from __future__ import annotations

from typing import Any

from portal.connector_types.haihai_kintone.bridge.config import (
    FORMS_ALL,
    FORMS_SELECTED,
    bridge_setting,
)
from portal.connector_types.haihai_kintone.event_import.run_options import (
    posted_mode,
    range_defaults,
    watermark_lines,
)
from portal.syncs.context import RunOptionsInvalid

MSG_CHOOSE_TARGETS = "連携対象を指定してください。"


def bridge_run_options(config) -> dict[str, Any]:
    """Variables of the options block: per form 「…まで連携済」, the range, the 連携対象."""
    setting = bridge_setting(config)
    forms = list(setting.forms)
    shown = forms
    if setting.form_mode == FORMS_SELECTED:
        shown = [(f, name) for f, name in forms if f in setting.form_ids]
    return {
        "description": "配配メールから顧客のBridgeフォーム回答内容を連携します。",
        # The manual's wording for Bridge: 「お問い合わせフォーム：2024年03月24日 08:00:00まで連携済」.
        "lines": watermark_lines(
            shown, setting.watermarks, config.timezone, separator="：", gap=""
        ),
        "form_choice": True,
        "form_mode": setting.form_mode,
        "forms": [{"id": f, "name": name} for f, name in forms],
        "selected": list(setting.form_ids),
        "range": range_defaults(config.timezone),
    }


def prepare_bridge_params(form, config) -> dict[str, Any]:
    """The run's params: mode, range and the forms chosen for this run only."""
    params = posted_mode(form)
    setting = bridge_setting(config)
    mode = form.get("form_mode") or setting.form_mode
    if mode not in (FORMS_ALL, FORMS_SELECTED):
        raise RunOptionsInvalid(MSG_CHOOSE_TARGETS)
    params["form_mode"] = mode
    if mode == FORMS_SELECTED:
        known = {f for f, _name in setting.forms}
        chosen = [f for f in form.getlist("forms") if f in known]
        if not chosen:
            raise RunOptionsInvalid(MSG_CHOOSE_TARGETS)
        params["forms"] = chosen
    return params
