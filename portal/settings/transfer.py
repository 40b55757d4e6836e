"""A connector's whole configuration as data: export it, and import it through the settings page.

A document (written as YAML by `flask connectors export`) is a dict:

    version: 1
    connector: {id: <connector ID>, kind: <connector type>, name: <連携設定名>}
    settings: {<section key>: {<form field>: <value or list of values>}}
    synced:   {<section key>: <what a sync button fetched>}

`settings` holds, per section of the connector's type, the fields the 連携設定 page would post for
the stored state (`Section.form_fields`). Import posts them through `save_settings`, so a file
passes exactly the page's validation and nothing is stored when any field is refused. `synced`
holds the snapshots of the sync buttons (`Section.synced_state`); they are stored state the page
validates against, so import stores them first, in the same transaction.

Field values are text. A value that is compact JSON of an object (the conditions of Step5) is
written as that object, and posted back as the same compact JSON. Secret fields
(`Section.secret_fields`) are left out unless asked for; then they appear as
`{encrypted: <Fernet token under the portal key>}`. A secret left out of an imported section keeps
the stored secret (the page's placeholder), which a new connector does not have. A section left
out of the file keeps its stored state; synced data left out keeps the stored snapshot.
`connector.name` names a new connector (the connector list's rules apply) and renames an existing
one; a section that edits the name (Step1) is stored after it and decides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlmodel import Session
from werkzeug.datastructures import MultiDict

from portal.connector_types.registry import connector_types, get_connector_type, is_known_kind
from portal.connectors.forms import NAME_MAX_LENGTH
from portal.crypto import SECRET_PLACEHOLDER, SecretKeyError, decrypt, encrypt
from portal.models import Connector
from portal.models.settings import ConnectorSettings
from portal.settings.sections import Section, SectionContext
from portal.settings.service import (
    ScheduleConfirmationRequired,
    SettingsInvalid,
    make_context,
    save_settings,
    validate_settings,
)

FORMAT_VERSION = 1
ENCRYPTED = "encrypted"

MSG_NOT_MAPPING = "キーと値の組（マッピング）で指定してください。"
MSG_VERSION = f"対応していない形式です（version: {FORMAT_VERSION} のファイルを指定してください）。"
MSG_KIND_UNKNOWN = "この連携の種類はこのポータルにありません（{kinds}）。"
MSG_KIND_MISMATCH = "更新する連携設定の種類（{kind}）と異なります。"
MSG_SECTION_UNKNOWN = "この連携の種類にないセクションです（{keys}）。"
MSG_FIELD_TWICE = "同じ項目が {section} にもあります。"
MSG_FIELD_VALUE = "値は文字列・数値・真偽値、またはそれらのリストで指定してください。"
MSG_SECRET_UNREADABLE = (
    "暗号化された値をこのポータルの鍵で復号できません。"
    "エクスポートしたポータルと同じ鍵（PORTAL_SECRET_KEY）を設定するか、値を入力し直してください。"
)
MSG_NAME_REQUIRED = "連携設定名を入力してください。"
MSG_NAME_TOO_LONG = f"連携設定名は{NAME_MAX_LENGTH}文字以内で入力してください。"
MSG_ENCRYPTED_NOT_SECRET = "暗号化された値を指定できるのは秘密の項目（APIトークン）だけです。"


@dataclass(frozen=True)
class TransferError:
    """One refused part of an imported document: where (a dotted path) and why (Japanese)."""

    path: str
    message: str


class ImportInvalid(Exception):
    """The document was refused; nothing was stored. `errors` lists every problem found."""

    def __init__(self, errors: list[TransferError]):
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))
        self.errors = list(errors)


class ImportNeedsConfirmation(Exception):
    """Schedules may coincide in some months (付録6.3); nothing was stored until confirmed."""

    def __init__(self, messages: list[str]):
        super().__init__("schedule confirmation required")
        self.messages = list(messages)


@dataclass(frozen=True)
class ImportResult:
    """The connector an import stored, and whether the import created it."""

    connector_id: str
    created: bool


# --- field values ----------------------------------------------------------------------------


def compact_json(value: Any) -> str:
    """The compact JSON text the page's hidden inputs carry (Japanese kept readable)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def value_to_data(value: str) -> Any:
    """A posted value as written to a document: an object when it is compact JSON of one."""
    if value.startswith("{"):
        try:
            loaded = json.loads(value)
        except ValueError:
            return value
        if isinstance(loaded, dict) and compact_json(loaded) == value:
            return loaded
    return value


def fields_to_data(fields: MultiDict, secret_fields: tuple[str, ...], with_secrets: bool) -> dict:
    """A section's posted fields as document data (one value, or a list of repeated values)."""
    data: dict[str, Any] = {}
    for name in fields:
        values = [str(v) for v in fields.getlist(name)]
        if name in secret_fields:
            if with_secrets and values and values[0]:
                data[name] = {ENCRYPTED: encrypt(values[0])}
            continue
        encoded = [value_to_data(v) for v in values]
        data[name] = encoded[0] if len(encoded) == 1 else encoded
    return data


def data_to_values(
    value: Any, path: str, *, secret: bool, errors: list[TransferError]
) -> list[str]:
    """Document data of one field as the values to post (errors appended to `errors`)."""
    if isinstance(value, Mapping) and set(value) == {ENCRYPTED}:
        if not secret:
            errors.append(TransferError(path, MSG_ENCRYPTED_NOT_SECRET))
            return []
        try:
            return [decrypt(str(value[ENCRYPTED]))]
        except SecretKeyError:
            errors.append(TransferError(path, MSG_SECRET_UNREADABLE))
            return []
    values = []
    for item in value if isinstance(value, list) else [value]:
        if item is None or item is False:
            continue  # an empty value, an unchecked box
        if item is True:
            values.append("1")
        elif isinstance(item, str | int | float):
            values.append(str(item))
        elif isinstance(item, Mapping):
            values.append(compact_json(item))
        else:
            errors.append(TransferError(path, MSG_FIELD_VALUE))
            return []
    return values


# --- export ----------------------------------------------------------------------------------


def read_context(
    session: Session, connector: Connector, app_config: Mapping[str, Any] | None = None
) -> SectionContext:
    """A section context that reads the stored state without creating anything."""
    settings = session.get(ConnectorSettings, connector.id)
    return SectionContext(
        session=session,
        connector=connector,
        settings=settings or ConnectorSettings(connector_id=connector.id),
        app_config=app_config if app_config is not None else current_app.config,
    )


def export_document(
    session: Session,
    connector: Connector,
    *,
    with_secrets: bool = False,
    app_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The connector's configuration as a document (see the module docstring); writes nothing."""
    ctx = read_context(session, connector, app_config)
    settings: dict[str, Any] = {}
    synced: dict[str, Any] = {}
    for section in get_connector_type(connector.kind).ordered_sections():
        fields = section.form_fields(ctx)
        settings[section.key] = fields_to_data(fields, section.secret_fields, with_secrets)
        state = section.synced_state(ctx)
        if state is not None:
            synced[section.key] = json.loads(json.dumps(state))  # a plain, detached copy
    document: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "connector": {"id": connector.id, "kind": connector.kind, "name": connector.name},
        "settings": settings,
    }
    if synced:
        document["synced"] = synced
    return document


# --- import ----------------------------------------------------------------------------------


def document_connector_id(document: Any) -> str | None:
    """The connector ID a document was exported from (None when it names none)."""
    if isinstance(document, Mapping) and isinstance(document.get("connector"), Mapping):
        value = document["connector"].get("id")
        return str(value) if value else None
    return None


def _mapping_at(document: Mapping, key: str, errors: list[TransferError]) -> Mapping:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.append(TransferError(key, MSG_NOT_MAPPING))
        return {}
    return value


@dataclass(frozen=True)
class Outline:
    """The parts of a checked document."""

    kind: str
    name: str | None  # None: not given (an existing connector keeps its name)
    settings: Mapping
    synced: Mapping


def _checked_name(value: Any, errors: list[TransferError]) -> str | None:
    if value is None:
        return None
    name = str(value).strip()
    if not name:
        errors.append(TransferError("connector.name", MSG_NAME_REQUIRED))
    elif len(name) > NAME_MAX_LENGTH:
        errors.append(TransferError("connector.name", MSG_NAME_TOO_LONG))
    return name


def check_document(document: Any) -> Outline:
    """The outline of a document; ImportInvalid when it is wrong."""
    errors: list[TransferError] = []
    if not isinstance(document, Mapping):
        raise ImportInvalid([TransferError("(file)", MSG_NOT_MAPPING)])
    if document.get("version") != FORMAT_VERSION:
        errors.append(TransferError("version", MSG_VERSION))
    connector = _mapping_at(document, "connector", errors)
    kind = str(connector.get("kind") or "")
    if not is_known_kind(kind):
        kinds = ", ".join(t.kind for t in connector_types())
        errors.append(TransferError("connector.kind", MSG_KIND_UNKNOWN.format(kinds=kinds)))
    name = _checked_name(connector.get("name"), errors)
    settings = _mapping_at(document, "settings", errors)
    synced = _mapping_at(document, "synced", errors)
    if errors:
        raise ImportInvalid(errors)
    return Outline(kind, name, settings, synced)


def _restore_synced(
    ctx: SectionContext,
    sections: Mapping[str, Section],
    synced: Mapping,
    errors: list[TransferError],
) -> None:
    for key, data in synced.items():
        path = f"synced.{key}"
        section = sections.get(str(key))
        if section is None:
            keys = ", ".join(sections)
            errors.append(TransferError(path, MSG_SECTION_UNKNOWN.format(keys=keys)))
        elif not isinstance(data, Mapping):
            errors.append(TransferError(path, MSG_NOT_MAPPING))
        else:
            for sub, message in section.restore_synced_state(ctx, data).items():
                errors.append(TransferError(f"{path}.{sub}" if sub else path, message))
    ctx.session.add(ctx.settings)
    ctx.session.flush()


def _section_pairs(
    section: Section,
    data: Any,
    seen: dict[str, str],
    errors: list[TransferError],
) -> list[tuple[str, str]]:
    """The posted fields of one section given in the document."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        errors.append(TransferError(f"settings.{section.key}", MSG_NOT_MAPPING))
        return []
    pairs: list[tuple[str, str]] = []
    for raw_name, value in data.items():
        name = str(raw_name)
        path = f"settings.{section.key}.{name}"
        if name in seen:
            errors.append(TransferError(path, MSG_FIELD_TWICE.format(section=seen[name])))
            continue
        seen[name] = section.key
        secret = name in section.secret_fields
        pairs.extend((name, v) for v in data_to_values(value, path, secret=secret, errors=errors))
    # A secret left out keeps the stored one, as the page's placeholder does.
    pairs.extend((name, SECRET_PLACEHOLDER) for name in section.secret_fields if name not in data)
    return pairs


def build_form(
    ctx: SectionContext,
    sections: Mapping[str, Section],
    settings: Mapping,
    errors: list[TransferError],
) -> MultiDict:
    """The whole page's posted form: the document's sections, the stored state of the others."""
    for key in settings:
        if str(key) not in sections:
            keys = ", ".join(sections)
            errors.append(TransferError(f"settings.{key}", MSG_SECTION_UNKNOWN.format(keys=keys)))
    form = MultiDict()
    seen: dict[str, str] = {}
    for key, section in sections.items():
        if key in settings:
            pairs = _section_pairs(section, settings[key], seen, errors)
        else:
            stored = section.form_fields(ctx)
            pairs = [
                (name, SECRET_PLACEHOLDER if name in section.secret_fields else value)
                for name, value in stored.items(multi=True)
            ]
        for name, value in pairs:
            form.add(name, value)
    return form


def settings_errors(invalid: SettingsInvalid) -> list[TransferError]:
    """The page's refusal as errors with paths (settings.<section>.<field>, page errors last)."""
    errors = [
        TransferError(f"settings.{key}.{name}", message)
        for key, found in invalid.section_errors.items()
        for name, message in found.items()
    ]
    attributed = {name for found in invalid.section_errors.values() for name in found}
    errors.extend(
        TransferError(f"settings.{name}", message)
        for name, message in invalid.errors.items()
        if name not in attributed
    )
    errors.extend(TransferError("settings", message) for message in invalid.page_errors)
    return errors


def page_refusals(
    session: Session, connector: Connector, form: MultiDict, config: Mapping[str, Any]
) -> list[TransferError]:
    """What 「保存」 would refuse in `form` (field rules only; stores nothing)."""
    try:
        validate_settings(make_context(session, connector, config), form)
    except SettingsInvalid as invalid:
        return settings_errors(invalid)
    return []


def import_document(
    session: Session,
    document: Any,
    *,
    connector: Connector | None = None,
    account_id: int | None = None,
    app_config: Mapping[str, Any] | None = None,
    confirm_schedules: bool = False,
) -> ImportResult:
    """Store `document` as `connector`'s configuration, or as a new connector of `account_id`.

    Validates exactly as the settings page's 「保存」 and commits only when every section accepts
    its fields. Raises ImportInvalid (every problem, nothing stored) or ImportNeedsConfirmation.
    """
    if connector is None and account_id is None:
        raise ValueError("import needs a connector to update or an account to create one in")
    outline = check_document(document)
    kind, settings, synced = outline.kind, outline.settings, outline.synced
    if connector is not None and connector.kind != kind:
        message = MSG_KIND_MISMATCH.format(kind=connector.kind)
        raise ImportInvalid([TransferError("connector.kind", message)])
    if connector is None and outline.name is None:
        raise ImportInvalid([TransferError("connector.name", MSG_NAME_REQUIRED)])
    config = app_config if app_config is not None else current_app.config
    created = connector is None
    errors: list[TransferError] = []
    try:
        if connector is None:
            connector = Connector(account_id=account_id, kind=kind, name="")
        if outline.name is not None:
            connector.name = outline.name
        session.add(connector)
        session.flush()
        connector_id = connector.id
        ctx = make_context(session, connector, config)
        sections = {s.key: s for s in get_connector_type(kind).ordered_sections()}
        _restore_synced(ctx, sections, synced, errors)
        form = build_form(ctx, sections, settings, errors)
        if errors:
            # Report the page's own refusals too, so one attempt lists every problem (a field
            # already refused here is not reported twice).
            known = {error.path for error in errors}
            refusals = page_refusals(session, connector, form, config)
            errors.extend(error for error in refusals if error.path not in known)
            raise ImportInvalid(errors)
        save_settings(session, connector, form, config, confirmed=confirm_schedules)
    except SettingsInvalid as invalid:
        session.rollback()
        raise ImportInvalid(settings_errors(invalid)) from invalid
    except ScheduleConfirmationRequired as required:
        session.rollback()
        raise ImportNeedsConfirmation(required.messages) from required
    except BaseException:
        session.rollback()
        raise
    return ImportResult(connector_id, created)
