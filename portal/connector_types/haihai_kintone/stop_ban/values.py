"""What 配信停止/禁止顧客一覧連携 writes into each kintone record (manual 付録2.1, 2.2): pure functions.

A setting becomes one `FieldPlan` per kintone field it writes: the value for a customer in the
配信禁止 list, in the 配信停止 list, and for one in neither (「…ではなくなった場合」, or nothing).
`RecordPlanner` applies the plans to one record and answers what to write, if anything. With
両方、同じ項目 a customer in both lists gets the 配信禁止 value (付録2.1 ①–③).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from portal.connector_types.haihai_kintone.stop_ban.config import (
    MODE_BAN,
    MODE_SAME,
    MODE_SEPARATE,
    MODE_STOP,
    FieldRule,
    StopBanSetting,
)
from portal.syncs.email_match import email_hash
from portal.syncs.kintone_schema import option_names

# The kintone types of 付録2.2 「以下の『kintone』項目が連携可能です。」, in its order and wording.
TARGET_TYPES: dict[str, str] = {
    "CHECK_BOX": "チェックボックス",
    "MULTI_SELECT": "複数選択",
    "DROP_DOWN": "ドロップダウン",
    "RADIO_BUTTON": "ラジオボタン",
    "DATE": "日付",
    "DATETIME": "日時",
    "SINGLE_LINE_TEXT": "文字列(1行)",
    "MULTI_LINE_TEXT": "文字列(複数行)",
    "NUMBER": "数値",
}
MULTI_CHOICE = "multi_choice"  # チェックボックス, 複数選択: several options
SINGLE_CHOICE = "single_choice"  # ドロップダウン, ラジオボタン: one option
TEXT = "text"
NUMBER = "number"
DATE = "date"
DATETIME = "datetime"
_FAMILIES = {
    "CHECK_BOX": MULTI_CHOICE,
    "MULTI_SELECT": MULTI_CHOICE,
    "DROP_DOWN": SINGLE_CHOICE,
    "RADIO_BUTTON": SINGLE_CHOICE,
    "SINGLE_LINE_TEXT": TEXT,
    "MULTI_LINE_TEXT": TEXT,
    "NUMBER": NUMBER,
    "DATE": DATE,
    "DATETIME": DATETIME,
}

_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

UNSELECTED_LABEL = "(未選択)"
BLANK_LABEL = "(空欄)"
NO_VALUE_LABEL = "値なし"

# Why a value is written (the lines of メッセージ詳細).
REASON_STOP = "配信停止"
REASON_BAN = "配信禁止"
REASON_NOT_STOP = "配信停止ではない"
REASON_NOT_BAN = "配信禁止ではない"
REASON_NEITHER = "配信停止・配信禁止ではない"

# The names of the dialog's rows, used by messages that point to one of them.
RULE_STOP = "配信停止連携"
RULE_BAN = "配信禁止連携"
CLEARED_STOP = "配信停止ではなくなった場合の連携"
CLEARED_BAN = "配信禁止ではなくなった場合の連携"
CLEARED_SAME = "配信停止/配信禁止ではなくなった場合の連携"

_STEP6 = "「Step6. 配信停止/禁止顧客一覧連携」"
MSG_NO_RULE = (
    "配信停止/禁止顧客一覧連携の{rule}の連携項目が設定されていません。"
    f"連携設定画面の{_STEP6}の「連携項目の設定」で、kintone項目と設定する値を設定してください。"
)
MSG_FIELD_GONE = (
    "{rule}の連携先のkintone項目（フィールドコード: {code}）がkintoneアプリに見つかりません。"
    f"「kintone項目の同期」を行い、{_STEP6}の連携項目を設定し直してください。"
)
MSG_FIELD_TYPE = (
    "{rule}の連携先のkintone項目「{label}」の種類が変更されています（{old} → {new}）。"
    f"「kintone項目の同期」を行い、{_STEP6}の連携項目を設定し直してください。"
)
MSG_OPTION_GONE = (
    "kintone項目「{label}」に選択肢「{option}」がありません（{rule}）。"
    f"「kintone項目の同期」を行い、{_STEP6}の設定する値を選択し直してください。"
)
MSG_REQUIRED_EMPTY = (
    "kintone項目「{label}」は必須項目のため、空の値は連携できません（{rule}）。"
    f"{_STEP6}の設定する値を設定し直してください。"
)
# Manual 付録2.2: 「※ 初期値設定あり、かつ必須指定がされている場合、連携実行時にエラーとなります。
# 他の項目への連携を行うように設定してください。」
MSG_REQUIRED_TEMPORAL = (
    "kintone項目「{label}」は必須項目に設定されているため、「{rule}」で値なし・初期値に"
    "戻すことができません。他の項目への連携を行うように設定してください。"
)
MSG_NOT_A_NUMBER = (
    "kintone項目「{label}」（数値）に設定する値「{value}」が数値ではありません（{rule}）。"
    f"{_STEP6}の設定する値を設定し直してください。"
)


class PlanError(ValueError):
    """The setting cannot be applied to the kintone app as it is now; `message` is Japanese."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def family(field_type: str) -> str | None:
    """Which kind of value a kintone type takes here (None: not a 付録2.2 type)."""
    return _FAMILIES.get(field_type)


def is_number_text(text: str) -> bool:
    """Whether `text` is a value kintone accepts for a 数値 field (half-width; blank is not)."""
    return _NUMBER_TEXT.fullmatch(text.strip()) is not None


@dataclass(frozen=True)
class TargetValue:
    """A value to write: kintone's write format and the text メッセージ詳細 shows."""

    value: Any
    label: str


def run_date(moment: dt.datetime, timezone: str) -> str:
    """付録2.2 日付: the run's date in the account's time zone, e.g. `2023-02-01`."""
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()


def run_minute(moment: dt.datetime) -> str:
    """付録2.2 日時: the run's time with seconds 00, in kintone's format (UTC, `…Z`)."""
    minute = moment.astimezone(dt.UTC).replace(second=0, microsecond=0)
    return minute.strftime("%Y-%m-%dT%H:%M:00Z")


def _local_minute(value: str, timezone: str) -> str:
    moment = parse_datetime(value)
    if moment is None:
        return NO_VALUE_LABEL
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:00")


def parse_datetime(value: Any) -> dt.datetime | None:
    """A kintone 日時 value as an aware datetime at minute precision (None when blank/invalid)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # kintone reads an offset-less time as UTC
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


def listed_value(
    field_type: str, values: Sequence[str], moment: dt.datetime, timezone: str
) -> TargetValue:
    """The 設定する値 of a rule as written to a record in the list (付録2.2)."""
    kind = family(field_type)
    if kind == MULTI_CHOICE:
        return TargetValue(list(values), ", ".join(values) or UNSELECTED_LABEL)
    if kind == SINGLE_CHOICE:
        chosen = values[0] if values else ""
        return TargetValue(chosen, chosen or UNSELECTED_LABEL)
    if kind in (TEXT, NUMBER):
        text = values[0] if values else ""
        if kind == NUMBER:
            text = text.strip()
        return TargetValue(text, text or BLANK_LABEL)
    if kind == DATE:
        today = run_date(moment, timezone)
        return TargetValue(today, today)
    if kind == DATETIME:
        minute = run_minute(moment)
        return TargetValue(minute, _local_minute(minute, timezone))
    raise ValueError(f"unsupported field type {field_type}")


def default_value(
    field_type: str, prop: Mapping[str, Any], moment: dt.datetime, timezone: str
) -> TargetValue:
    """付録2.2 for 日付/日時 「ではなくなった」: kintone's default value of the field, or blank."""
    if prop.get("defaultNowValue") in (True, "true"):
        # kintone fills a new record with the current date/time: the run's, here.
        now = listed_value(field_type, (), moment, timezone)
        return TargetValue(now.value, f"初期値（{now.label}）")
    default = str(prop.get("defaultValue") or "").strip()
    if field_type == "DATE":
        try:
            day = dt.date.fromisoformat(default[:10]) if default else None
        except ValueError:
            day = None
        if day is None:
            return TargetValue("", NO_VALUE_LABEL)
        return TargetValue(day.isoformat(), f"初期値（{day.isoformat()}）")
    moment_default = parse_datetime(default)
    if moment_default is None:
        return TargetValue("", NO_VALUE_LABEL)
    written = moment_default.strftime("%Y-%m-%dT%H:%M:00Z")
    return TargetValue(written, f"初期値（{_local_minute(written, timezone)}）")


def cleared_value(
    rule: FieldRule, prop: Mapping[str, Any], moment: dt.datetime, timezone: str
) -> TargetValue:
    """The value of 「…ではなくなった場合の連携を行う」 for `rule`'s field."""
    if family(rule.field_type) in (DATE, DATETIME):
        return default_value(rule.field_type, prop, moment, timezone)
    return listed_value(rule.field_type, rule.cleared_values, moment, timezone)


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def same_value(field_type: str, current: Any, target: Any) -> bool:
    """Whether a record's current value already equals `target` (no write needed)."""
    kind = family(field_type)
    if kind == MULTI_CHOICE:
        return set(current or ()) == set(target or ())
    if kind == NUMBER:
        left, right = str(current or "").strip(), str(target or "").strip()
        if not left or not right:
            return left == right
        a, b = _number(left), _number(right)
        return a == b if a is not None and b is not None else left == right
    if kind == DATETIME:
        return parse_datetime(current) == parse_datetime(target)
    return (current or "") == (target or "")


# --- the plans of a setting ------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One value a record gets, and why (for the counts of メッセージ詳細)."""

    value: TargetValue
    reason: str


@dataclass(frozen=True)
class FieldPlan:
    """One kintone field the setting writes and its value per list membership."""

    code: str
    field_type: str
    label: str
    when_banned: Outcome | None  # decided first (with 両方、同じ項目 配信禁止 wins)
    when_stopped: Outcome | None
    otherwise: Outcome | None  # 「…ではなくなった場合」, None when that is not done
    uses_ban: bool
    uses_stop: bool

    def outcome(self, in_stop: bool, in_ban: bool) -> Outcome | None:
        """The value a record gets for its memberships (None: the field is left alone)."""
        if self.uses_ban and in_ban:
            return self.when_banned
        if self.uses_stop and in_stop:
            return self.when_stopped
        return self.otherwise


def _check_rule(
    rule: FieldRule | None, rule_name: str, properties: Mapping[str, Mapping[str, Any]]
) -> Mapping[str, Any]:
    """The live property of the rule's field; PlanError when it cannot be written as set."""
    if rule is None:
        raise PlanError(MSG_NO_RULE.format(rule=rule_name))
    prop = properties.get(rule.field_code)
    if prop is None:
        raise PlanError(MSG_FIELD_GONE.format(rule=rule_name, code=rule.field_code))
    label = str(prop.get("label") or rule.field_code)
    if prop.get("type") != rule.field_type or family(rule.field_type) is None:
        raise PlanError(
            MSG_FIELD_TYPE.format(
                rule=rule_name,
                label=label,
                old=TARGET_TYPES.get(rule.field_type, rule.field_type),
                new=TARGET_TYPES.get(str(prop.get("type")), str(prop.get("type"))),
            )
        )
    return prop


def _check_values(
    rule_name: str, field_type: str, values: Sequence[str], prop: Mapping[str, Any]
) -> None:
    """PlanError when `values` cannot be written to the field as it is now."""
    kind = family(field_type)
    label = str(prop.get("label") or prop.get("code") or "")
    required = prop.get("required") in (True, "true")
    if kind in (MULTI_CHOICE, SINGLE_CHOICE):
        options = set(option_names(prop))
        for option in values:
            if option not in options:
                raise PlanError(MSG_OPTION_GONE.format(label=label, option=option, rule=rule_name))
        if not values and required:
            raise PlanError(MSG_REQUIRED_EMPTY.format(label=label, rule=rule_name))
    elif kind in (TEXT, NUMBER):
        text = values[0] if values else ""
        if not text.strip() and required:
            raise PlanError(MSG_REQUIRED_EMPTY.format(label=label, rule=rule_name))
        if kind == NUMBER and text.strip() and not is_number_text(text):
            raise PlanError(MSG_NOT_A_NUMBER.format(label=label, value=text, rule=rule_name))


def _cleared_outcome(
    rule: FieldRule,
    cleared_name: str,
    reason: str,
    prop: Mapping[str, Any],
    moment: dt.datetime,
    timezone: str,
) -> Outcome | None:
    if not rule.when_cleared:
        return None
    if family(rule.field_type) in (DATE, DATETIME):
        if prop.get("required") in (True, "true"):
            label = str(prop.get("label") or rule.field_code)
            raise PlanError(MSG_REQUIRED_TEMPORAL.format(label=label, rule=cleared_name))
    else:
        _check_values(cleared_name, rule.field_type, rule.cleared_values, prop)
    return Outcome(cleared_value(rule, prop, moment, timezone), reason)


def _single_plan(
    rule: FieldRule | None,
    *,
    banned: bool,
    properties: Mapping[str, Mapping[str, Any]],
    moment: dt.datetime,
    timezone: str,
) -> FieldPlan:
    """The plan of 配信停止連携 (banned=False) or 配信禁止連携 (banned=True) on its own field."""
    rule_name = RULE_BAN if banned else RULE_STOP
    prop = _check_rule(rule, rule_name, properties)
    assert rule is not None
    _check_values(rule_name, rule.field_type, rule.values, prop)
    listed = Outcome(
        listed_value(rule.field_type, rule.values, moment, timezone),
        REASON_BAN if banned else REASON_STOP,
    )
    otherwise = _cleared_outcome(
        rule,
        CLEARED_BAN if banned else CLEARED_STOP,
        REASON_NOT_BAN if banned else REASON_NOT_STOP,
        prop,
        moment,
        timezone,
    )
    return FieldPlan(
        code=rule.field_code,
        field_type=rule.field_type,
        label=str(prop.get("label") or rule.field_code),
        when_banned=listed if banned else None,
        when_stopped=None if banned else listed,
        otherwise=otherwise,
        uses_ban=banned,
        uses_stop=not banned,
    )


def _same_field_plan(
    setting: StopBanSetting,
    properties: Mapping[str, Mapping[str, Any]],
    moment: dt.datetime,
    timezone: str,
) -> FieldPlan:
    """両方、同じ項目: 配信禁止 first, then 配信停止, then 「配信停止/配信禁止ではなくなった」."""
    stop, ban = setting.stop, setting.ban
    prop = _check_rule(stop, RULE_STOP, properties)
    assert stop is not None
    if ban is None:
        raise PlanError(MSG_NO_RULE.format(rule=RULE_BAN))
    _check_values(RULE_STOP, stop.field_type, stop.values, prop)
    _check_values(RULE_BAN, stop.field_type, ban.values, prop)
    return FieldPlan(
        code=stop.field_code,
        field_type=stop.field_type,
        label=str(prop.get("label") or stop.field_code),
        when_banned=Outcome(
            listed_value(stop.field_type, ban.values, moment, timezone), REASON_BAN
        ),
        when_stopped=Outcome(
            listed_value(stop.field_type, stop.values, moment, timezone), REASON_STOP
        ),
        otherwise=_cleared_outcome(stop, CLEARED_SAME, REASON_NEITHER, prop, moment, timezone),
        uses_ban=True,
        uses_stop=True,
    )


def field_plans(
    setting: StopBanSetting,
    properties: Mapping[str, Mapping[str, Any]],
    moment: dt.datetime,
    timezone: str,
) -> list[FieldPlan]:
    """The fields `setting` writes, checked against the app's current `properties`.

    `moment` is the run's start (日付/日時 values); raises PlanError with a Japanese message.
    """
    common = {"properties": properties, "moment": moment, "timezone": timezone}
    if setting.mode == MODE_STOP:
        return [_single_plan(setting.stop, banned=False, **common)]
    if setting.mode == MODE_BAN:
        return [_single_plan(setting.ban, banned=True, **common)]
    if setting.mode == MODE_SEPARATE:
        return [
            _single_plan(setting.stop, banned=False, **common),
            _single_plan(setting.ban, banned=True, **common),
        ]
    if setting.mode == MODE_SAME:
        return [_same_field_plan(setting, properties, moment, timezone)]
    raise PlanError(MSG_NO_RULE.format(rule=RULE_STOP))


# --- one record ------------------------------------------------------------------------------

NO_EMAIL = "no_email"  # no (valid) mail address: skipped
UNTARGETED = "untargeted"  # in no list that matters and no 「ではなくなった」: nothing to do
UNCHANGED = "unchanged"  # already holds every value
CHANGE = "change"


@dataclass(frozen=True)
class PlannedWrite:
    """The update of one record: the changed fields only, with the revision that was read."""

    record_id: int
    revision: int
    values: Mapping[str, Any]
    counted: tuple[tuple[str, str, str], ...]  # (field label, reason, value label) per field

    def payload(self) -> dict[str, Any]:
        """The item of a kintone PUT records.json call (with the revision check)."""
        return {
            "id": self.record_id,
            "revision": self.revision,
            "record": {code: {"value": value} for code, value in self.values.items()},
        }


@dataclass(frozen=True)
class Decision:
    """What to do with one record."""

    status: str
    write: PlannedWrite | None = None


def _value_of(record: Mapping[str, Any], code: str) -> Any:
    return (record.get(code) or {}).get("value")


class RecordPlanner:
    """Decides each record's update from its address and the two lists (thread-safe)."""

    def __init__(
        self,
        email_code: str,
        plans: Sequence[FieldPlan],
        stopped: Callable[[int], bool],
        banned: Callable[[int], bool],
    ):
        self.email_code = email_code
        self.plans = tuple(plans)
        self.stopped = stopped
        self.banned = banned

    @property
    def read_fields(self) -> list[str]:
        """The kintone fields a record must be read with."""
        return self.fields_for(self.email_code, self.plans)

    @staticmethod
    def fields_for(email_code: str, plans: Sequence[FieldPlan]) -> list[str]:
        """The kintone fields a record must be read with for `plans`."""
        codes = [email_code, *(p.code for p in plans), "$id", "$revision"]
        return list(dict.fromkeys(codes))

    def decide(self, record: Mapping[str, Any]) -> Decision:
        """NO_EMAIL, UNTARGETED, UNCHANGED, or CHANGE with the fields that differ."""
        key = email_hash(_value_of(record, self.email_code))
        if key is None:
            return Decision(NO_EMAIL)
        in_stop, in_ban = self.stopped(key), self.banned(key)
        values: dict[str, Any] = {}
        counted: list[tuple[str, str, str]] = []
        targeted = False
        for plan in self.plans:
            outcome = plan.outcome(in_stop, in_ban)
            if outcome is None:
                continue
            targeted = True
            if same_value(plan.field_type, _value_of(record, plan.code), outcome.value.value):
                continue
            values[plan.code] = outcome.value.value
            counted.append((plan.label, outcome.reason, outcome.value.label))
        if not targeted:
            return Decision(UNTARGETED)
        if not values:
            return Decision(UNCHANGED)
        write = PlannedWrite(
            record_id=int(record["$id"]["value"]),
            revision=int(_value_of(record, "$revision")),
            values=values,
            counted=tuple(counted),
        )
        return Decision(CHANGE, write)
