"""How one 顧客情報連携設定 is sent to 配配メール: import options per part and the stop decision
(pure; raises CustomerSyncSettingsError for a setting the run cannot honour)."""

from __future__ import annotations

from dataclasses import dataclass

from portal.connector_types.haihai_kintone.customer.config import CustomerSyncSetting
from portal.connector_types.haihai_kintone.customer.sync_result import CustomerSyncSettingsError
from portal.integrations.haihai import ImportMode, ImportOptions, ReportOption, StatusChange
from portal.integrations.haihai_csv import CsvEncoding

_REPORTS = {
    "never": ReportOption.NONE,
    "always": ReportOption.ALWAYS,
    "on_error": ReportOption.ON_ERROR,
}
_STATE_MODES = {"stop": ImportMode.STOP, "ban": ImportMode.BAN, "allow": ImportMode.ENABLE}
_TARGET_LABELS = {"group": "配信グループ", "step_plan": "ステップメールプラン"}


@dataclass(frozen=True)
class ImportPlan:
    """How one setting is sent: options per part, columns, and the stop decision."""

    mode: ImportMode
    target_kind: str | None  # "group" / "plan" / None (顧客データベース)
    target_id: str | None
    options: ImportOptions  # for parts of a split upload
    single_options: ImportOptions  # for an upload that is the whole result in one file
    stop_missing: bool
    email_only: bool  # delete / 停止 / 禁止 need the address column only

    @property
    def needs_keys(self) -> bool:
        """Whether the addresses of the kintone result must be remembered."""
        return self.stop_missing


def _target_label(setting: CustomerSyncSetting) -> str:
    return _TARGET_LABELS.get(setting.target_type, "顧客データベース")


def plan_import(setting: CustomerSyncSetting, encoding: CsvEncoding) -> ImportPlan:
    """Turn a 顧客情報連携設定 into import options; raise CustomerSyncSettingsError if invalid."""
    number = setting.number
    prefix = f"顧客情報連携設定 {number}"
    target_id = (setting.target_id or "").strip() or None
    if setting.target_type == "database":
        kind = None
        target_id = None
    elif setting.target_type in ("group", "step_plan"):
        kind = "group" if setting.target_type == "group" else "plan"
        if target_id is None:
            id_label = "配信グループID" if kind == "group" else "ステップメールプランID"
            raise CustomerSyncSettingsError(
                f"{prefix}の{id_label}が設定されていません。連携設定画面で設定してください。"
            )
    else:
        raise CustomerSyncSettingsError(f"{prefix}の連携先種別が正しくありません。")

    if setting.mode == "register":
        mode = ImportMode.REGISTER
    elif setting.mode == "delete":
        mode = ImportMode.DELETE
    elif setting.mode == "status_change":
        if kind is None:
            raise CustomerSyncSettingsError(
                f"{prefix}: 「一括状態変更」は配信グループ指定またはステップメールプラン指定の場合のみ"
                "設定できます。連携設定画面で連携形式を確認してください。"
            )
        if setting.status_change not in _STATE_MODES:
            raise CustomerSyncSettingsError(
                f"{prefix}: 「一括状態変更」で変更後の状態（配信停止・配信禁止・配信可能）が"
                "選択されていません。"
            )
        mode = _STATE_MODES[setting.status_change]
    else:
        raise CustomerSyncSettingsError(f"{prefix}の連携形式が正しくありません。")

    # The settings page only offers these where they apply; ignore leftovers elsewhere.
    overwrite = setting.overwrite and mode in (ImportMode.REGISTER, ImportMode.ENABLE)
    blank = overwrite and setting.blank_overwrites
    stop_missing = setting.stop_missing and mode is ImportMode.REGISTER
    allow_present = setting.allow_present and mode is ImportMode.REGISTER and kind is not None
    report = _REPORTS.get(setting.report_mail, ReportOption.NONE)
    group_id = target_id if kind == "group" else None
    plan_id = target_id if kind == "plan" else None

    def options(status: StatusChange | None) -> ImportOptions:
        return ImportOptions(
            mode=mode,
            overwrite=overwrite,
            blank_overwrite=blank,
            group_id=group_id,
            plan_id=plan_id,
            status_change=status,
            report=report,
            encoding=encoding,
        )

    split_status = StatusChange.IN_FILE_TO_OK if allow_present else None
    if stop_missing and allow_present:
        single_status: StatusChange | None = StatusChange.BOTH
    elif stop_missing:
        single_status = StatusChange.NOT_IN_FILE_TO_STOP
    else:
        single_status = split_status
    return ImportPlan(
        mode=mode,
        target_kind=kind,
        target_id=target_id,
        options=options(split_status),
        single_options=options(single_status),
        stop_missing=stop_missing,
        email_only=mode in (ImportMode.DELETE, ImportMode.STOP, ImportMode.BAN),
    )


def describe_target(setting: CustomerSyncSetting) -> str:
    """「配信グループ（ID: 12）」-style Japanese description of a setting's target."""
    label = _target_label(setting)
    if setting.target_type == "database" or not setting.target_id:
        return label
    return f"{label}（ID: {setting.target_id}）"
