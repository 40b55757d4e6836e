"""Step5. 顧客情報連携設定 1 … 10 (manual §2.1.3 step 7–8, 付録1.2).

Each setting posts its fields under `customer-<n>-…` (the schedule editor uses the prefix
`customer-<n>`) and one hidden `customer_numbers` input per setting, so the page always posts
the numbers 1…k it shows. The rules of which options apply to which 連携先種別 and 連携形式 live in
`applicable_options`; the template shows only those and the parser keeps only those, so an option
that does not apply is never stored. Conditions travel as JSON in the hidden input
`customer-<n>-conditions` (written by the 「連携条件の設定」 dialog) and are stored structurally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select
from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.customer.condition_storage import (
    MAX_CONDITIONS,
    MSG_CONDITIONS_FORMAT,
    MSG_CONDITIONS_TOO_MANY,
    condition_set_from_json,
    condition_set_to_json,
    conditions_json_text,
    summarize,
    validate_conditions,
)
from portal.connector_types.haihai_kintone.customer.config import (
    CUSTOMER_SYNC_COUNT,
    ConditionSet,
    CustomerSyncSetting,
)
from portal.models.customer_syncs import CustomerSyncRow
from portal.models.settings import HAIHAI_METHOD_MANUAL, HAIHAI_METHOD_SYNCED
from portal.settings import messages as msg
from portal.settings import schedule_support
from portal.settings.haihai_drift import HaihaiDiff
from portal.settings.sections import (
    HAIHAI_SYNCED,
    KINTONE_SYNCED,
    DriftEntry,
    Section,
    SectionContext,
)
from portal.settings.steps import breaking_changes, drift_reason
from portal.syncs.config import ScheduleSpec
from portal.syncs.kintone_schema import FieldChange

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


def account_timezone(ctx: SectionContext) -> str:
    """The time zone conditions with fixed dates are read in (the account's)."""
    from portal.runs.service import connector_timezone

    return connector_timezone(ctx.session, ctx.connector.id)


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


@dataclass(frozen=True)
class CustomerSyncData:
    """Step5 as parsed: the settings, or None when the form had no Step5 (stored kept)."""

    settings: tuple[ParsedSetting, ...] | None
    kept_schedules: dict[str, ScheduleSpec | None] = field(default_factory=dict)


def _snapshot_targets(ctx: SectionContext, target_type: str) -> dict[str, str]:
    key = "groups" if target_type == "group" else "step_plans"
    return {str(e["id"]): str(e.get("name", "")) for e in ctx.haihai_snapshot.get(key, [])}


def parse_setting(
    form: MultiDict, number: int, ctx: SectionContext, tz: str
) -> tuple[ParsedSetting, dict[str, str]]:
    """Validate setting `number`; options that do not apply are dropped, never stored."""
    errors: dict[str, str] = {}

    def get(name: str) -> str:
        return (form.get(field_name(number, name)) or "").strip()

    def error(name: str, message: str) -> None:
        errors.setdefault(field_name(number, name), message)

    timing, spec, schedule_errors = schedule_support.parse_timing(form, schedule_prefix(number))
    errors.update(schedule_errors)
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

    target_id: str | None = None
    target_name = ""
    if rules.target_id:
        label = TARGET_ID_LABELS[target_type]
        typed = get("target_id")
        known = _snapshot_targets(ctx, target_type)
        if ctx.haihai_method == HAIHAI_METHOD_SYNCED:
            if not typed:
                if active:
                    error("target_id", MSG_TARGET_CHOOSE[target_type])
            elif typed not in known:
                error("target_id", MSG_TARGET_UNKNOWN[target_type])
            else:
                target_id, target_name = typed, known[typed]
        elif not typed:
            if active:
                error("target_id", MSG_TARGET_ID_TYPED.format(label=label))
        elif not _TARGET_ID.match(typed):
            error("target_id", MSG_TARGET_ID_FORMAT.format(label=label))
        else:
            target_id, target_name = typed, known.get(typed, "")

    overwrite = rules.overwrite and _checked(form, field_name(number, "overwrite"))
    blank = overwrite and get("blank") == "blank"
    stop_missing = rules.stop_missing and _checked(form, field_name(number, "stop_missing"))
    allow_present = rules.allow_present and _checked(form, field_name(number, "allow_present"))

    report = get("report_mail")
    if report not in REPORT_LABELS:
        error("report_mail", MSG_REPORT_MAIL)
        report = "never"

    try:
        conditions = condition_set_from_json(form.get(field_name(number, "conditions")) or "")
    except ValueError:
        error("conditions", MSG_CONDITIONS_FORMAT)
        conditions = ConditionSet()
    if len(conditions.conditions) > MAX_CONDITIONS:
        error("conditions", MSG_CONDITIONS_TOO_MANY)
    for _index, message in validate_conditions(conditions, ctx.kintone_fields, tz):
        error("conditions", message)

    setting = CustomerSyncSetting(
        number=number,
        timing=timing or "off",  # type: ignore[arg-type]
        schedule=spec if timing == "schedule" else None,
        target_type=target_type,  # type: ignore[arg-type]
        target_id=target_id,
        conditions=conditions,
        mode=mode if mode in rules.modes else "register",  # type: ignore[arg-type]
        status_change=status,  # type: ignore[arg-type]
        overwrite=overwrite,
        blank_overwrites=blank,
        stop_missing=stop_missing,
        allow_present=allow_present,
        report_mail=report,  # type: ignore[arg-type]
    )
    return ParsedSetting(setting, target_name), errors


# --- storage ---------------------------------------------------------------------------------


def stored_rows(ctx: SectionContext) -> list[CustomerSyncRow]:
    """The connector's stored settings, by number."""
    return list(
        ctx.session.exec(
            select(CustomerSyncRow)
            .where(CustomerSyncRow.connector_id == ctx.connector.id)
            .order_by(CustomerSyncRow.number)
        ).all()
    )


def row_conditions(row: CustomerSyncRow) -> ConditionSet:
    """A stored row's conditions (an unreadable value counts as none)."""
    try:
        return condition_set_from_json(row.conditions)
    except ValueError:
        return ConditionSet()


def row_to_setting(
    row: CustomerSyncRow, schedule: ScheduleSpec | None = None
) -> CustomerSyncSetting:
    """The typed setting of a stored row."""
    timing = row.timing if row.timing in TIMINGS else "off"
    return CustomerSyncSetting(
        number=row.number,
        timing=timing,  # type: ignore[arg-type]
        schedule=schedule if timing == "schedule" else None,
        target_type=row.target_type if row.target_type in TARGET_LABELS else "database",  # type: ignore[arg-type]
        target_id=row.target_id or None,
        conditions=row_conditions(row),
        mode=row.mode if row.mode in MODE_LABELS else "register",  # type: ignore[arg-type]
        status_change=row.status_change if row.status_change in STATUS_LABELS else None,  # type: ignore[arg-type]
        overwrite=row.overwrite,
        blank_overwrites=row.blank_overwrites,
        stop_missing=row.stop_missing,
        allow_present=row.allow_present,
        report_mail=row.report_mail if row.report_mail in REPORT_LABELS else "never",  # type: ignore[arg-type]
    )


def _write_row(row: CustomerSyncRow, parsed: ParsedSetting) -> None:
    setting = parsed.setting
    row.timing = setting.timing
    row.target_type = setting.target_type
    row.target_id = setting.target_id
    row.target_name = parsed.target_name[:255]
    row.mode = setting.mode
    row.status_change = setting.status_change
    row.overwrite = setting.overwrite
    row.blank_overwrites = setting.blank_overwrites
    row.stop_missing = setting.stop_missing
    row.allow_present = setting.allow_present
    row.report_mail = setting.report_mail
    row.conditions = condition_set_to_json(setting.conditions)


def row_values(ctx: SectionContext, row: CustomerSyncRow) -> SettingValues:
    """Template values of a stored row."""
    return SettingValues(
        number=row.number,
        schedule=schedule_support.stored_editor(
            ctx.session, ctx.connector.id, process_key(row.number), row.timing
        ),
        target_type=row.target_type,
        target_id=row.target_id or "",
        mode=row.mode,
        status_change=row.status_change or "",
        overwrite=row.overwrite,
        blank="blank" if row.blank_overwrites else "keep",
        stop_missing=row.stop_missing,
        allow_present=row.allow_present,
        report_mail=row.report_mail,
        conditions=conditions_json_text(row_conditions(row)),
    )


def row_form_fields(ctx: SectionContext, row: CustomerSyncRow) -> list[tuple[str, str]]:
    """The fields the page posts for a stored setting (only the options that apply)."""
    number = row.number
    pairs = schedule_support.editor_fields(
        ctx.session, ctx.connector.id, schedule_prefix(number), process_key(number), row.timing
    )

    def put(name: str, value: str | bool | None) -> None:
        if value is True:
            pairs.append((field_name(number, name), "1"))
        elif value:
            pairs.append((field_name(number, name), value))

    put("target_type", row.target_type)
    put("target_id", row.target_id)
    put("mode", row.mode)
    put("status_change", row.status_change)
    put("overwrite", row.overwrite)
    if row.overwrite:
        put("blank", "blank" if row.blank_overwrites else "keep")
    put("stop_missing", row.stop_missing)
    put("allow_present", row.allow_present)
    put("report_mail", row.report_mail)
    conditions = row_conditions(row)
    if conditions != ConditionSet():
        put("conditions", conditions_json_text(conditions))
    return pairs


# --- the section -----------------------------------------------------------------------------


class CustomerSyncSection(Section):
    """Step5. 顧客情報連携設定 1 … 10."""

    key = "step5"
    order = 50
    title = "Step5. 顧客情報連携設定"
    template = "settings/_step5.html"
    refresh_on = (KINTONE_SYNCED, HAIHAI_SYNCED)

    def stored_values(self, ctx: SectionContext) -> dict[str, Any]:
        settings = [row_values(ctx, row) for row in stored_rows(ctx)]
        return {"settings": settings or [default_values(1)]}

    def posted_values(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        numbers = posted_numbers(form)
        if numbers is None:
            return self.stored_values(ctx)
        numbers = sorted({n for n in numbers if 1 <= n <= MAX_SETTINGS}) or [1]
        values: dict[str, Any] = {"settings": [posted_setting_values(form, n) for n in numbers]}
        # The page may switch 連携設定方法 before saving: the blocks follow the posted choice.
        method = form.get("haihai_method")
        if method in (HAIHAI_METHOD_MANUAL, HAIHAI_METHOD_SYNCED):
            values["method"] = method
        return values

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        fields = ctx.kintone_fields
        snapshot = ctx.haihai_snapshot
        summaries = {}
        for setting in values["settings"]:
            try:
                condition_set = condition_set_from_json(setting.conditions)
            except ValueError:
                summaries[setting.number] = {"invalid": True, **summarize(ConditionSet(), fields)}
                continue
            summaries[setting.number] = {"invalid": False, **summarize(condition_set, fields)}
        return {
            "synced": values.get("method", ctx.haihai_method) == HAIHAI_METHOD_SYNCED,
            "groups": list(snapshot.get("groups", [])),
            "step_plans": list(snapshot.get("step_plans", [])),
            "summaries": summaries,
            "count": len(values["settings"]),
            "max_settings": MAX_SETTINGS,
            "has_kintone_fields": bool(fields),
            "target_labels": TARGET_LABELS,
            "mode_labels": MODE_LABELS,
            "status_labels": STATUS_LABELS,
            "report_labels": REPORT_LABELS,
            "blank_labels": BLANK_LABELS,
            "target_id_labels": TARGET_ID_LABELS,
            "labels": {
                "overwrite": OVERWRITE_LABEL,
                "blank_rule": BLANK_RULE_LABEL,
                "stop_missing": STOP_MISSING_LABEL,
                "allow_present": ALLOW_PRESENT_LABEL,
            },
        }

    def parse(
        self, form: MultiDict, ctx: SectionContext
    ) -> tuple[CustomerSyncData, dict[str, str]]:
        numbers = posted_numbers(form)
        if numbers is None:
            kept = {
                process_key(row.number): schedule_support.stored_spec(
                    ctx.session, ctx.connector.id, process_key(row.number)
                )
                if row.timing == "schedule"
                else None
                for row in stored_rows(ctx)
            }
            return CustomerSyncData(None, kept), {}
        if not numbers_are_valid(numbers):
            return CustomerSyncData(()), {SETTINGS_ERROR: MSG_NUMBERS}
        tz = account_timezone(ctx)
        errors: dict[str, str] = {}
        parsed = []
        for number in numbers:
            setting, setting_errors = parse_setting(form, number, ctx, tz)
            parsed.append(setting)
            errors.update(setting_errors)
        return CustomerSyncData(tuple(parsed)), errors

    def store(self, ctx: SectionContext, data: CustomerSyncData) -> None:
        if data.settings is None:
            return
        existing = {row.number: row for row in stored_rows(ctx)}
        kept = set()
        for parsed in data.settings:
            number = parsed.setting.number
            row = existing.get(number) or CustomerSyncRow(
                connector_id=ctx.connector.id, number=number
            )
            _write_row(row, parsed)
            ctx.session.add(row)
            kept.add(number)
        for number, row in existing.items():
            if number not in kept:
                ctx.session.delete(row)
        ctx.session.flush()

    def schedules(self, data: CustomerSyncData) -> dict[str, ScheduleSpec | None]:
        if data.settings is None:
            return dict(data.kept_schedules)
        specs: dict[str, ScheduleSpec | None] = {
            process_key(n): None for n in range(1, MAX_SETTINGS + 1)
        }
        for parsed in data.settings:
            setting = parsed.setting
            specs[process_key(setting.number)] = (
                setting.schedule if setting.timing == "schedule" else None
            )
        return specs

    def on_kintone_drift(self, ctx: SectionContext, changes: list[FieldChange]) -> list[DriftEntry]:
        breaking = breaking_changes(changes)
        if not breaking:
            return []
        entries = []
        for row in stored_rows(ctx):
            condition_set = row_conditions(row)
            kept, listed = [], set()
            for condition in condition_set.conditions:
                change = breaking.get(condition.field_code)
                if change is None:
                    kept.append(condition)
                    continue
                if condition.field_code not in listed:
                    listed.add(condition.field_code)
                    entries.append(
                        DriftEntry(
                            group_title(row.number),
                            (msg.HEADER_KINTONE_FIELD, msg.HEADER_ERROR),
                            (change.old_label or change.code, drift_reason(change)),
                        )
                    )
            if len(kept) != len(condition_set.conditions):
                row.conditions = condition_set_to_json(
                    ConditionSet(condition_set.match, tuple(kept))
                )
                ctx.session.add(row)
        ctx.session.flush()
        return entries

    def on_haihai_drift(self, ctx: SectionContext, diff: HaihaiDiff) -> list[DriftEntry]:
        removed = {
            "group": ({r.id: r.name for r in diff.removed_groups}, msg.HAIHAI_GROUP_DELETED),
            "step_plan": (
                {r.id: r.name for r in diff.removed_step_plans},
                msg.HAIHAI_STEP_PLAN_DELETED,
            ),
        }
        entries = []
        for row in stored_rows(ctx):
            gone, reason = removed.get(row.target_type, ({}, ""))
            if not row.target_id or row.target_id not in gone:
                continue
            entries.append(
                DriftEntry(
                    group_title(row.number),
                    (msg.HEADER_NAME, msg.HEADER_ID, msg.HEADER_ERROR),
                    (gone[row.target_id] or row.target_name, row.target_id, reason),
                )
            )
            row.target_id = None
            row.target_name = ""
            ctx.session.add(row)
        ctx.session.flush()
        return entries

    def form_fields(self, ctx: SectionContext) -> MultiDict:
        rows = stored_rows(ctx)
        fields = MultiDict([(NUMBERS_FIELD, str(row.number)) for row in rows])
        for row in rows:
            for name, value in row_form_fields(ctx, row):
                fields.add(name, value)
        return fields

    def config_value(self, ctx: SectionContext) -> tuple[CustomerSyncSetting, ...]:
        rows = stored_rows(ctx)
        settings = []
        for row in rows:
            schedule = None
            if row.timing == "schedule":
                schedule = schedule_support.stored_spec(
                    ctx.session, ctx.connector.id, process_key(row.number)
                )
            settings.append(row_to_setting(row, schedule))
        return tuple(settings)
