"""The two rules of 「連携項目の設定」 (付録2.2) as posted, checked, and shown.

The dialog and the page's hidden inputs post the same names: `stop_ban-<rule>-field`,
`-value` (repeatable: the chosen options, or one text), `-cleared` ("1") and `-cleared_value`
(repeatable), for <rule> = stop | ban. 「(未選択)」 of a choice field posts UNSELECTED. The
dialog adds `-field_shown` (the field its value inputs were drawn for: values of another field
are dropped when the field changes) and, with 両方、同じ項目, `stop_ban-ban-same`.
With 両方、同じ項目 the 配信禁止 rule has no field of its own (「※同じ項目へ連携」) and the
shared 「配信停止/配信禁止ではなくなった場合の連携を行う」 is posted under the stop rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.stop_ban.config import (
    MODE_LABELS,
    MODE_SAME,
    MODE_SEPARATE,
    FieldRule,
    uses_ban,
    uses_stop,
)
from portal.connector_types.haihai_kintone.stop_ban.values import (
    CLEARED_BAN,
    CLEARED_SAME,
    CLEARED_STOP,
    DATE,
    DATETIME,
    MULTI_CHOICE,
    NUMBER,
    RULE_BAN,
    RULE_STOP,
    SINGLE_CHOICE,
    TARGET_TYPES,
    UNSELECTED_LABEL,
    family,
    is_number_text,
)
from portal.syncs.kintone_schema import option_names

PREFIX = "stop_ban"  # schedule editor and rule inputs
MODE_FIELD = "stop_ban_mode"
PRESENT_FIELD = "stop_ban_present"  # the page carries Step6 (absent: keep what is stored)
UNSELECTED = "__unselected__"  # the posted value of 「(未選択)」
RULES = ("stop", "ban")
RUN_TIME_NOTE = "※連携実行タイミングがセットされます"
DEFAULT_NOTE = "※値なし、もしくはkintone設定のデフォルト値がセットされます"
SAME_FIELD_NOTE = "※同じ項目へ連携"
PRECEDENCE_NOTE = "※配信停止かつ配信禁止である場合、配信禁止連携に設定されている値が連携されます。"

MSG_MODE = "連携種別を選択してください。"
MSG_FIELD = "kintone項目を選択してください。"
MSG_FIELD_UNKNOWN = (
    "選択したkintone項目はkintoneアプリに存在しないか、連携できない項目です。"
    "「kintone項目の同期」を行ってから選択し直してください。"
)
MSG_FIELD_IS_EMAIL = (
    "メールアドレスの連携項目には連携できません。別のkintone項目を選択してください。"
)
MSG_SAME_FIELD = (
    "配信停止連携と同じkintone項目は選択できません。同じ項目に連携する場合は、"
    "連携種別で「両方、同じ項目に連携する」を選択してください。"
)
MSG_CHOOSE_VALUE = "設定する値を選択してください。"
MSG_ONE_VALUE = "設定する値は1つだけ選択してください。"
MSG_UNSELECTED_MIXED = "「(未選択)」と他の選択肢は同時に選択できません。"
MSG_UNSELECTED_REQUIRED = (
    "このkintone項目は必須項目のため、「(未選択)」は選択できません。選択肢を選択してください。"
)
MSG_OPTION_UNKNOWN = "選択肢「{option}」はこのkintone項目にありません。"
MSG_TEXT_REQUIRED = "このkintone項目は必須項目のため、設定する値を入力してください。"
MSG_NUMBER = "設定する値には半角の数値を入力してください。"
MSG_TEXT_LINE = "文字列 (1行)の項目には改行を含む値は設定できません。"
MSG_TEMPORAL_REQUIRED = (
    "このkintone項目は必須項目のため、「…ではなくなった場合の連携」で値なし・初期値に戻すと"
    "連携実行時にエラーとなります。他の項目への連携を行うように設定してください。"
)
MSG_RULES_NEEDED = "「連携項目の設定」で{rule}のkintone項目と設定する値を設定してください。"


def name(rule: str, part: str) -> str:
    """Posted name of `part` (field, value, cleared, cleared_value) of rule stop|ban."""
    return f"{PREFIX}-{rule}-{part}"


@dataclass
class RuleInput:
    """One rule as posted (or stored), possibly incomplete: what the inputs show."""

    field: str = ""
    values: list[str] = dataclasses.field(default_factory=list)
    cleared: bool = False
    cleared_values: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def from_rule(cls, rule: FieldRule | None) -> RuleInput:
        """The inputs of a stored rule (「(未選択)」 as UNSELECTED for choice fields)."""
        if rule is None:
            return cls()
        choice = family(rule.field_type) in (MULTI_CHOICE, SINGLE_CHOICE)
        return cls(
            field=rule.field_code,
            values=list(rule.values) or ([UNSELECTED] if choice else []),
            cleared=rule.when_cleared,
            cleared_values=list(rule.cleared_values)
            or ([UNSELECTED] if choice and rule.when_cleared else []),
        )


def posted_rules(form: MultiDict) -> dict[str, RuleInput]:
    """Both rules as posted (values of a field other than the one shown are dropped)."""
    rules = {}
    stop_field = (form.get(name("stop", "field")) or "").strip()
    # With 両方、同じ項目 the dialog's 配信禁止 values belong to the 配信停止 row's field.
    same = form.get(name("ban", "same")) == "1"
    for rule in RULES:
        chosen = (form.get(name(rule, "field")) or "").strip()
        shown = form.get(name(rule, "field_shown"))
        keep = shown is None or shown == (stop_field if rule == "ban" and same else chosen)
        rules[rule] = RuleInput(
            field=chosen,
            values=[v for v in form.getlist(name(rule, "value")) if keep],
            cleared=(form.get(name(rule, "cleared")) or "") in ("1", "on", "true"),
            cleared_values=[v for v in form.getlist(name(rule, "cleared_value")) if keep],
        )
    return rules


def posted_mode(form: MultiDict, default: str) -> str:
    """The posted 連携種別 (`default` when none or unknown)."""
    mode = form.get(MODE_FIELD)
    return mode if mode in MODE_LABELS else default


def candidates(fields: Mapping[str, Any], email_code: str | None) -> list[dict[str, str]]:
    """Fields of the synced app that 付録2.2 allows (the mail-address field excepted)."""
    return [
        {
            "code": code,
            "label": str(prop.get("label") or code),
            "type_label": TARGET_TYPES[prop["type"]],
        }
        for code, prop in fields.items()
        if prop.get("type") in TARGET_TYPES and code != email_code
    ]


# --- checking --------------------------------------------------------------------------------


def _required(prop: Mapping[str, Any]) -> bool:
    return prop.get("required") in (True, "true")


def _check_values(
    values: list[str], prop: Mapping[str, Any], key: str, errors: dict[str, str]
) -> tuple[str, ...]:
    """The stored form of posted values for the field `prop`; errors under `key`."""
    kind = family(str(prop.get("type")))
    if kind in (MULTI_CHOICE, SINGLE_CHOICE):
        chosen = [v for v in values if v]
        if not chosen:
            errors[key] = MSG_CHOOSE_VALUE
            return ()
        if UNSELECTED in chosen:
            if len(chosen) > 1:
                errors[key] = MSG_UNSELECTED_MIXED
            elif _required(prop) or prop.get("type") == "RADIO_BUTTON":
                errors[key] = MSG_UNSELECTED_REQUIRED
            return ()
        if kind == SINGLE_CHOICE and len(chosen) > 1:
            errors[key] = MSG_ONE_VALUE
            return ()
        options = option_names(prop)
        unknown = next((v for v in chosen if v not in options), None)
        if unknown is not None:
            errors[key] = MSG_OPTION_UNKNOWN.format(option=unknown)
            return ()
        return tuple(sorted(dict.fromkeys(chosen), key=options.index))
    if kind in (DATE, DATETIME):
        return ()
    text = values[0] if values else ""
    if kind == NUMBER:
        text = text.strip()
        if text and not is_number_text(text):
            errors[key] = MSG_NUMBER
    elif prop.get("type") == "SINGLE_LINE_TEXT" and ("\n" in text or "\r" in text):
        errors[key] = MSG_TEXT_LINE
    if not text.strip() and _required(prop):
        errors[key] = MSG_TEXT_REQUIRED
    return (text,)


def _check_field(
    rule: str, code: str, fields: Mapping[str, Any], email_code: str | None, errors: dict
) -> Mapping[str, Any] | None:
    key = name(rule, "field")
    if not code:
        errors[key] = MSG_FIELD
        return None
    prop = fields.get(code)
    if prop is None or prop.get("type") not in TARGET_TYPES:
        errors[key] = MSG_FIELD_UNKNOWN
        return None
    if code == email_code:
        errors[key] = MSG_FIELD_IS_EMAIL
        return None
    return prop


def _parse_rule(
    rule: str,
    posted: RuleInput,
    prop: Mapping[str, Any],
    errors: dict[str, str],
) -> FieldRule:
    values = _check_values(posted.values, prop, name(rule, "value"), errors)
    cleared = posted.cleared
    cleared_values: tuple[str, ...] = ()
    if cleared:
        if family(str(prop["type"])) in (DATE, DATETIME):
            if _required(prop):
                errors[name(rule, "cleared")] = MSG_TEMPORAL_REQUIRED
        else:
            cleared_values = _check_values(
                posted.cleared_values, prop, name(rule, "cleared_value"), errors
            )
    return FieldRule(
        field_code=posted.field,
        field_type=str(prop["type"]),
        values=values,
        when_cleared=cleared,
        cleared_values=cleared_values,
    )


def parse_rules(
    mode: str,
    posted: Mapping[str, RuleInput],
    fields: Mapping[str, Any],
    email_code: str | None,
    *,
    required: bool = True,
) -> tuple[FieldRule | None, FieldRule | None, dict[str, str]]:
    """(stop rule, ban rule, errors) for `mode`; rules the mode does not use are None.

    Without `required` (連携しない) a rule without a field is simply left out.
    """
    errors: dict[str, str] = {}
    stop = ban = None
    stop_posted, ban_posted = posted["stop"], posted["ban"]
    if uses_stop(mode) and (required or stop_posted.field):
        prop = _check_field("stop", stop_posted.field, fields, email_code, errors)
        if prop is not None:
            stop = _parse_rule("stop", stop_posted, prop, errors)
    if mode == MODE_SAME:
        if stop is not None:
            prop = fields[stop.field_code]
            values = _check_values(ban_posted.values, prop, name("ban", "value"), errors)
            ban = FieldRule(stop.field_code, stop.field_type, values)
        return stop, ban, errors
    if uses_ban(mode) and (required or ban_posted.field):
        prop = _check_field("ban", ban_posted.field, fields, email_code, errors)
        if prop is not None:
            if mode == MODE_SEPARATE and stop is not None and ban_posted.field == stop.field_code:
                errors[name("ban", "field")] = MSG_SAME_FIELD
            ban = _parse_rule("ban", ban_posted, prop, errors)
    return stop, ban, errors


# --- showing ---------------------------------------------------------------------------------


def value_inputs(prop: Mapping[str, Any] | None, values: list[str]) -> dict[str, Any]:
    """What the value cell of one dialog row shows for the field `prop`."""
    if prop is None:
        return {"kind": "none"}
    kind = family(str(prop.get("type")))
    allow_unselected = not _required(prop) and prop.get("type") != "RADIO_BUTTON"
    if kind in (MULTI_CHOICE, SINGLE_CHOICE):
        return {
            "kind": "multi" if kind == MULTI_CHOICE else "single",
            "options": option_names(prop),
            "allow_unselected": allow_unselected,
            "selected": set(values),
        }
    if kind in (DATE, DATETIME):
        return {"kind": "temporal"}
    return {
        "kind": "textarea" if prop.get("type") == "MULTI_LINE_TEXT" else "text",
        "number": kind == NUMBER,
        "text": values[0] if values else "",
    }


def describe_values(prop: Mapping[str, Any] | None, values: list[str], *, cleared: bool) -> str:
    """The 設定する値 as the page's summary shows it."""
    if prop is None:
        return ""
    kind = family(str(prop.get("type")))
    if kind in (DATE, DATETIME):
        return DEFAULT_NOTE if cleared else RUN_TIME_NOTE
    if kind in (MULTI_CHOICE, SINGLE_CHOICE):
        chosen = [UNSELECTED_LABEL if v == UNSELECTED else v for v in values if v]
        return ", ".join(chosen)
    return values[0] if values else ""


def rule_rows(
    mode: str, rules: Mapping[str, RuleInput], fields: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The rows of the dialog / summary for `mode`, in the manual's order."""
    rows: list[dict[str, Any]] = []

    def prop_of(rule: RuleInput) -> Mapping[str, Any] | None:
        prop = fields.get(rule.field) if rule.field else None
        return prop if prop is not None and prop.get("type") in TARGET_TYPES else None

    stop, ban = rules["stop"], rules["ban"]
    stop_prop, ban_prop = prop_of(stop), prop_of(ban)
    if mode == MODE_SAME:
        rows.append(_row("stop", RULE_STOP, stop, stop_prop))
        # 「※同じ項目へ連携」: the 配信禁止 value belongs to the 配信停止 row's field.
        rows.append(_row("ban", RULE_BAN, ban, stop_prop, same_field=stop.field))
        rows.append(_cleared_row("stop", CLEARED_SAME, stop, stop_prop))
        return rows
    if uses_stop(mode):
        rows.append(_row("stop", RULE_STOP, stop, stop_prop))
        rows.append(_cleared_row("stop", CLEARED_STOP, stop, stop_prop))
    if uses_ban(mode):
        rows.append(_row("ban", RULE_BAN, ban, ban_prop))
        rows.append(_cleared_row("ban", CLEARED_BAN, ban, ban_prop))
    return rows


def _row(
    rule: str,
    title: str,
    posted: RuleInput,
    prop: Mapping[str, Any] | None,
    same_field: str | None = None,
) -> dict[str, Any]:
    return {
        "kind": "rule",
        "rule": rule,
        "title": title,
        "same_field": same_field is not None,
        "field": posted.field if same_field is None else same_field,
        "field_label": str(prop.get("label") or posted.field) if prop else "",
        "values": posted.values,
        "input": value_inputs(prop, posted.values),
        "text": describe_values(prop, posted.values, cleared=False),
    }


def _cleared_row(
    rule: str, title: str, posted: RuleInput, prop: Mapping[str, Any] | None
) -> dict[str, Any]:
    return {
        "kind": "cleared",
        "rule": rule,
        "title": title + "を行う",
        "checked": posted.cleared,
        "values": posted.cleared_values,
        "input": value_inputs(prop, posted.cleared_values),
        "text": describe_values(prop, posted.cleared_values, cleared=True),
    }
