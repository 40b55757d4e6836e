"""Before a 顧客情報連携 run reads any record: its settings, its kintone fields and its query.

`prepare_run` turns the connector's configuration and the setting into `RunInputs` (the import
plan, the app, the row converter) or raises CustomerSyncSettingsError; `check_kintone_fields`
raises KintoneFieldMissingError for a field the app lost; `run_query` is the kintone query;
`checked_query` reads the app's fields and does both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from portal.connector_types.haihai_kintone.customer.conditions import (
    ConditionError,
    ConditionFieldMissingError,
    build_query,
)
from portal.connector_types.haihai_kintone.customer.config import CustomerSyncSetting
from portal.connector_types.haihai_kintone.customer.import_plan import ImportPlan, plan_import
from portal.connector_types.haihai_kintone.customer.sync_result import (
    CustomerSyncSettingsError,
    KintoneFieldMissingError,
)
from portal.connector_types.haihai_kintone.customer.values import (
    RowConverter,
    UnsupportedFieldTypeError,
)
from portal.integrations.haihai_csv import CsvEncoding
from portal.integrations.kintone import KintoneError
from portal.syncs.config import ConnectorConfig, FieldMapping


class KintoneFields(Protocol):
    """The part of KintoneClient these checks use."""

    def get_form_fields(self, app: int) -> dict[str, dict[str, Any]]: ...


@dataclass(frozen=True)
class RunInputs:
    """What a run needs from its settings: the import plan, the app and the row converter."""

    plan: ImportPlan
    app_id: int
    mappings: list[FieldMapping]  # the mappings the run sends (the address only, for some modes)
    converter: RowConverter


def prepare_run(
    config: ConnectorConfig, setting: CustomerSyncSetting, encoding: CsvEncoding
) -> RunInputs:
    """Check the connection settings and the mapping and plan the import; raise
    CustomerSyncSettingsError (nothing contacted yet) when the settings cannot be run."""
    if config.kintone is None or config.haihai is None:
        raise CustomerSyncSettingsError(
            "kintone連携設定または配配メール連携設定が完了していません。連携設定画面で設定してください。"
        )
    if config.email_mapping is None:
        raise CustomerSyncSettingsError(
            "連携項目にメールアドレスのkintone項目が設定されていません。"
            "「Step4. 連携項目設定」でメールアドレスの項目を設定してください。"
        )
    plan = plan_import(setting, encoding)
    try:
        app_id = int(config.kintone.app_id)
    except (TypeError, ValueError):
        raise CustomerSyncSettingsError(
            f"kintone アプリID（{config.kintone.app_id}）が正しくありません。"
        ) from None

    mappings = [config.email_mapping] if plan.email_only else list(config.mappings)
    try:
        converter = RowConverter(
            mappings, email_header=config.email_display_name, tz=config.timezone
        )
    except UnsupportedFieldTypeError as error:
        raise CustomerSyncSettingsError(
            f"{error.user_message}「Step4. 連携項目設定」を確認してください。"
        ) from error
    return RunInputs(plan, app_id, mappings, converter)


def check_kintone_fields(
    config: ConnectorConfig,
    setting: CustomerSyncSetting | None,
    properties: Mapping[str, Any],
    *,
    mappings: Sequence[FieldMapping] | None = None,
    include_conditions: bool = True,
) -> None:
    """Raise KintoneFieldMissingError naming the first mapped (or condition) field the app lacks
    or whose type changed since the last 「kintone項目の同期」 (`mappings`: those a run uses,
    default all)."""
    for mapping in config.mappings if mappings is None else mappings:
        _require_field(
            properties,
            mapping.kintone_code,
            mapping.kintone_type,
            setting="連携項目",
            label=mapping.kintone_label,
        )
    if setting is None or not include_conditions:
        return
    for condition in setting.conditions.conditions:
        _require_field(properties, condition.field_code, condition.field_type, setting="連携条件")


def _field_usable(prop: Any) -> bool:
    # Process-management fields stay listed with enabled=false when the feature is off.
    return isinstance(prop, Mapping) and prop.get("enabled", True) is not False


def _require_field(
    properties: Mapping[str, Any],
    code: str,
    expected_type: str,
    *,
    setting: str,
    label: str | None = None,
) -> None:
    """Raise KintoneFieldMissingError when field `code`, used by `setting` (連携項目 or 連携条件),
    is gone or no longer of `expected_type`; `label` names it (else kintone's label or code)."""
    used_as = "連携項目に設定した" if setting == "連携項目" else "連携条件に指定した"
    prop = properties.get(code)
    if not _field_usable(prop):
        named = f"「{label}」" if label else ""
        raise KintoneFieldMissingError(
            f"{used_as}kintoneのフィールド{named}（フィールドコード: {code}）が"
            "kintoneアプリに存在しません。kintoneアプリでフィールドが削除またはフィールドコードが"
            f"変更された可能性があります。「kintone項目の同期」を行い、{setting}を設定し直してください。",
            field_code=code,
        )
    if prop.get("type") != expected_type:
        shown = label or prop.get("label") or code
        raise KintoneFieldMissingError(
            f"{used_as}kintoneのフィールド「{shown}」のフィールドタイプが"
            f"変更されています（{expected_type} → {prop.get('type')}）。"
            f"「kintone項目の同期」を行い、{setting}を設定し直してください。",
            field_code=code,
        )


def run_query(
    config: ConnectorConfig,
    setting: CustomerSyncSetting,
    properties: Mapping[str, Any],
    query_override: str | None,
) -> str:
    """The kintone query of a run: the saved conditions, or the plugin's list-view filter as
    given; raise KintoneFieldMissingError / CustomerSyncSettingsError for unusable conditions."""
    if query_override is not None:
        return query_override.strip()
    try:
        return build_query(setting.conditions, properties, tz=config.timezone)
    except ConditionFieldMissingError as error:
        raise KintoneFieldMissingError(error.message, field_code=error.field_code or "") from error
    except ConditionError as error:
        raise CustomerSyncSettingsError(
            f"顧客情報連携設定 {setting.number}の連携条件が正しくありません: {error.message}"
        ) from error


def checked_query(
    kintone_client: KintoneFields,
    config: ConnectorConfig,
    setting: CustomerSyncSetting,
    inputs: RunInputs,
    query_override: str | None,
    *,
    failure: Callable[[KintoneError], Exception],
) -> str:
    """Read the app's fields, check the ones the run needs (the conditions' too unless the
    plugin's filter replaces them) and build the run's query; `failure` words a kintone error."""
    try:
        properties = kintone_client.get_form_fields(inputs.app_id)
    except KintoneError as error:
        raise failure(error) from error
    check_kintone_fields(
        config,
        setting,
        properties,
        mappings=inputs.mappings,
        include_conditions=query_override is None,
    )
    return run_query(config, setting, properties, query_override)
