"""Step5's form: its field names, the labels and messages, which options apply to which
連携先種別 / 連携形式 (`applicable_options`), the values a block shows, and the parser of one
setting (`parse_setting`: options that do not apply are dropped, never stored)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.customer.condition_storage import (
    MAX_CONDITIONS,
    MSG_CONDITIONS_FORMAT,
    MSG_CONDITIONS_TOO_MANY,
    condition_set_from_json,
    validate_conditions,
)
from portal.connector_types.haihai_kintone.customer.config import (
    CUSTOMER_SYNC_COUNT,
    ConditionSet,
    CustomerSyncSetting,
)
from portal.models.settings import HAIHAI_METHOD_SYNCED
from portal.settings import schedule_support
from portal.settings.sections import SectionContext

MAX_SETTINGS = CUSTOMER_SYNC_COUNT
NUMBERS_FIELD = "customer_numbers"
SETTINGS_ERROR = "customer-settings"

TIMINGS = ("off", "manual", "schedule")
TARGET_LABELS = {
    "database": "顧客データベース",
    "group": "配信グループ指定",
    "step_plan": "ステップメールプラン指定",
}
MODE_LABELS = {"register": "一括登録", "delete": "一括削除(除外)", "status_change": "一括状態変更"}
STATUS_LABELS = {"stop": "配信停止に変更", "ban": "配信禁止に変更", "allow": "配信可能に変更"}
REPORT_LABELS = {"never": "送信しない", "always": "送信する", "on_error": "エラー時のみ送信する"}
BLANK_LABELS = {
    "keep": "配配メールのデータの元の値を残す",
    "blank": "配配メールのデータを空白で上書きする",
}
OVERWRITE_LABEL = "同一メールアドレスのデータがある場合、kintoneアプリのデータで上書きする"
BLANK_RULE_LABEL = "kintoneアプリのデータが空白の場合"
STOP_MISSING_LABEL = "kintoneアプリのデータに存在しない顧客を配信停止にする"
ALLOW_PRESENT_LABEL = "kintoneアプリのデータに存在する顧客を配信可能にする"
TARGET_ID_LABELS = {"group": "配信グループID", "step_plan": "ステップメールプランID"}

# Messages of this Step (the manual has none for these rules).
MSG_TARGET_TYPE = "連携先種別を選択してください。"
MSG_TARGET_ID_TYPED = "{label}を入力してください。"
MSG_TARGET_ID_FORMAT = "{label}は半角数字で入力してください。"
MSG_TARGET_CHOOSE = {
    "group": "配信グループを選択してください。",
    "step_plan": "ステップメールプランを選択してください。",
}
MSG_TARGET_UNKNOWN = {
    "group": "選択された配信グループは配配メールに存在しません。「配配メール設定の同期」を行い、選択し直してください。",
    "step_plan": "選択されたステップメールプランは配配メールに存在しません。「配配メール設定の同期」を行い、選択し直してください。",
}
MSG_MODE = "連携形式を選択してください。"
MSG_MODE_NOT_FOR_DATABASE = "「一括状態変更」は、連携先種別が配信グループ指定またはステップメールプラン指定の場合のみ選択できます。"
MSG_STATUS_CHANGE = "「一括状態変更」の変更後の状態（配信停止に変更・配信禁止に変更・配信可能に変更）を選択してください。"
MSG_REPORT_MAIL = "連携終了後のレポートメールの送信を選択してください。"
MSG_NUMBERS = (
    "顧客情報連携設定の構成が正しくありません。画面を再読み込みしてから設定し直してください。"
)

_TARGET_ID = re.compile(r"^[0-9]{1,18}$")


def field_name(number: int, name: str) -> str:
    """The posted name of field `name` of setting `number` (e.g. customer-2-mode)."""
    return f"customer-{number}-{name}"


def schedule_prefix(number: int) -> str:
    """The schedule editor's prefix of setting `number`."""
    return f"customer-{number}"


def process_key(number: int) -> str:
    """The run process key of setting `number` (e.g. customer:3)."""
    return f"customer:{number}"


def group_title(number: int) -> str:
    """The heading of setting `number` (also the group of its 同期結果詳細 lines)."""
    return f"顧客情報連携設定 {number}"


# --- which options apply ---------------------------------------------------------------------


@dataclass(frozen=True)
class Applicable:
    """Which inputs a setting shows (and keeps) for its 連携先種別 / 連携形式 / 状態."""

    modes: tuple[str, ...]
    target_id: bool
    status_change: bool
    overwrite: bool
    stop_missing: bool
    allow_present: bool


def applicable_options(target_type: str, mode: str, status_change: str | None) -> Applicable:
    """The manual's rules: 一括状態変更 only for group/plan; データの上書き for 一括登録 or
    配信可能に変更; 配信状態の変更 for 一括登録 (its second option for group/plan only)."""
    targeted = target_type in ("group", "step_plan")
    modes = ("register", "delete", "status_change") if targeted else ("register", "delete")
    state_change = targeted and mode == "status_change"
    return Applicable(
        modes=modes,
        target_id=targeted,
        status_change=state_change,
        overwrite=mode == "register" or (state_change and status_change == "allow"),
        stop_missing=mode == "register",
        allow_present=mode == "register" and targeted,
    )


# --- values shown by the template ------------------------------------------------------------


@dataclass
class SettingValues:
    """What one setting block shows (stored or as posted)."""

    number: int
    schedule: schedule_support.EditorValues
    target_type: str = "database"
    target_id: str = ""
    mode: str = "register"
    status_change: str = ""
    overwrite: bool = False
    blank: str = "keep"
    stop_missing: bool = False
    allow_present: bool = False
    report_mail: str = "never"
    conditions: str = ""  # the hidden input's JSON

    @property
    def options(self) -> Applicable:
        """The inputs this setting shows."""
        return applicable_options(self.target_type, self.mode, self.status_change or None)


def default_values(number: int) -> SettingValues:
    """A new setting: 手動実行, 顧客データベース, 一括登録, no report mail."""
    return SettingValues(number, schedule_support.EditorValues(timing="manual"))


def _checked(form: MultiDict, name: str) -> bool:
    return (form.get(name) or "").strip().lower() in {"1", "on", "true", "yes"}


def posted_setting_values(form: MultiDict, number: int) -> SettingValues:
    """One setting's values as posted (unknown choices fall back to the defaults)."""

    def get(name: str) -> str:
        return (form.get(field_name(number, name)) or "").strip()

    target = get("target_type")
    mode = get("mode")
    return SettingValues(
        number=number,
        schedule=schedule_support.posted_editor(form, schedule_prefix(number)),
        target_type=target if target in TARGET_LABELS else "database",
        target_id=get("target_id"),
        mode=mode if mode in MODE_LABELS else "register",
        status_change=get("status_change") if get("status_change") in STATUS_LABELS else "",
        overwrite=_checked(form, field_name(number, "overwrite")),
        blank="blank" if get("blank") == "blank" else "keep",
        stop_missing=_checked(form, field_name(number, "stop_missing")),
        allow_present=_checked(form, field_name(number, "allow_present")),
        report_mail=get("report_mail") if get("report_mail") in REPORT_LABELS else "never",
        conditions=form.get(field_name(number, "conditions")) or "",
    )


def posted_numbers(form: MultiDict) -> list[int] | None:
    """The setting numbers the form carries (None when it carries no Step5 block)."""
    raw = form.getlist(NUMBERS_FIELD) if hasattr(form, "getlist") else []
    if not raw:
        return None
    numbers = []
    for value in raw:
        try:
            numbers.append(int(str(value).strip()))
        except ValueError:
            numbers.append(0)
    return numbers


def numbers_are_valid(numbers: list[int]) -> bool:
    """Settings are always 1…k (k ≤ 10): added in order, only the last removable."""
    return 1 <= len(numbers) <= MAX_SETTINGS and numbers == list(range(1, len(numbers) + 1))


# --- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedSetting:
    """One validated setting: the typed setting plus the synced name of its group/plan."""

    setting: CustomerSyncSetting
    target_name: str = ""


def _snapshot_targets(ctx: SectionContext, target_type: str) -> dict[str, str]:
    key = "groups" if target_type == "group" else "step_plans"
    return {str(e["id"]): str(e.get("name", "")) for e in ctx.haihai_snapshot.get(key, [])}


class _PostedSetting:
    """The posted fields of setting `number` and the errors found in them (first per field)."""

    def __init__(self, form: MultiDict, number: int):
        self.form = form
        self.number = number
        self.errors: dict[str, str] = {}

    def get(self, name: str) -> str:
        return (self.form.get(field_name(self.number, name)) or "").strip()

    def checked(self, name: str) -> bool:
        return _checked(self.form, field_name(self.number, name))

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(field_name(self.number, name), message)


def parse_setting(
    form: MultiDict, number: int, ctx: SectionContext, tz: str
) -> tuple[ParsedSetting, dict[str, str]]:
    """Validate setting `number`; options that do not apply are dropped, never stored."""
    posted = _PostedSetting(form, number)
    get, error = posted.get, posted.error

    timing, spec, schedule_errors = schedule_support.parse_timing(form, schedule_prefix(number))
    posted.errors.update(schedule_errors)
    active = timing != "off"

    target_type = get("target_type")
    if target_type not in TARGET_LABELS:
        error("target_type", MSG_TARGET_TYPE)
        target_type = "database"

    mode = get("mode")
    status = get("status_change") or None
    rules = applicable_options(target_type, mode, status)
    if mode == "status_change" and "status_change" not in rules.modes:
        error("mode", MSG_MODE_NOT_FOR_DATABASE)
    elif mode not in rules.modes:
        error("mode", MSG_MODE)
    if rules.status_change:
        if status not in STATUS_LABELS:
            error("status_change", MSG_STATUS_CHANGE)
            status = None
    else:
        status = None

    target_id, target_name = None, ""
    if rules.target_id:
        target_id, target_name = _parse_target_id(posted, ctx, target_type, active)

    overwrite = rules.overwrite and posted.checked("overwrite")
    report = get("report_mail")
    if report not in REPORT_LABELS:
        error("report_mail", MSG_REPORT_MAIL)
        report = "never"

    setting = CustomerSyncSetting(
        number=number,
        timing=timing or "off",  # type: ignore[arg-type]
        schedule=spec if timing == "schedule" else None,
        target_type=target_type,  # type: ignore[arg-type]
        target_id=target_id,
        conditions=_parse_conditions(posted, ctx, tz),
        mode=mode if mode in rules.modes else "register",  # type: ignore[arg-type]
        status_change=status,  # type: ignore[arg-type]
        overwrite=overwrite,
        blank_overwrites=overwrite and get("blank") == "blank",
        stop_missing=rules.stop_missing and posted.checked("stop_missing"),
        allow_present=rules.allow_present and posted.checked("allow_present"),
        report_mail=report,  # type: ignore[arg-type]
    )
    return ParsedSetting(setting, target_name), posted.errors


def _parse_target_id(
    posted: _PostedSetting, ctx: SectionContext, target_type: str, active: bool
) -> tuple[str | None, str]:
    """The group / plan ID (→ its ID and synced name): chosen from the synced list, or typed
    as digits; required unless the setting is off (連携しない)."""
    label = TARGET_ID_LABELS[target_type]
    typed = posted.get("target_id")
    known = _snapshot_targets(ctx, target_type)
    if ctx.haihai_method == HAIHAI_METHOD_SYNCED:
        if not typed:
            if active:
                posted.error("target_id", MSG_TARGET_CHOOSE[target_type])
        elif typed not in known:
            posted.error("target_id", MSG_TARGET_UNKNOWN[target_type])
        else:
            return typed, known[typed]
    elif not typed:
        if active:
            posted.error("target_id", MSG_TARGET_ID_TYPED.format(label=label))
    elif not _TARGET_ID.match(typed):
        posted.error("target_id", MSG_TARGET_ID_FORMAT.format(label=label))
    else:
        return typed, known.get(typed, "")
    return None, ""


def _parse_conditions(posted: _PostedSetting, ctx: SectionContext, tz: str) -> ConditionSet:
    """The conditions of the hidden JSON input, checked against the synced kintone fields."""
    try:
        conditions = condition_set_from_json(
            posted.form.get(field_name(posted.number, "conditions")) or ""
        )
    except ValueError:
        posted.error("conditions", MSG_CONDITIONS_FORMAT)
        conditions = ConditionSet()
    if len(conditions.conditions) > MAX_CONDITIONS:
        posted.error("conditions", MSG_CONDITIONS_TOO_MANY)
    for _index, message in validate_conditions(conditions, ctx.kintone_fields, tz):
        posted.error("conditions", message)
    return conditions
