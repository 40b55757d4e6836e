"""連携設定 services: the settings row, the plugin token, saving the page and the typed config."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlmodel import Session, select
from werkzeug.datastructures import MultiDict

from portal.models import Account, Connector
from portal.models.common import utcnow
from portal.models.settings import ConnectorSettings
from portal.settings import schedule_support
from portal.settings.sections import SectionContext, sections_for

# Plugin tokens look like "<lookup>.<secret>": the lookup part finds the row without scanning,
# the whole token is compared (as a hash) in constant time.
_TOKEN_SEPARATOR = "."
_DUMMY_HASH = hashlib.sha256(b"no such plugin token").hexdigest()


class SettingsInvalid(Exception):
    """The posted settings break at least one rule; nothing was saved.

    `errors` maps form field names to Japanese messages; `page_errors` are messages that belong
    to no single field (the schedule check of §4.2), `editor_errors` the same messages keyed by
    the schedule editor they concern; `section_errors` are the field errors by the key of the
    section that reported them.
    """

    def __init__(
        self,
        errors: Mapping[str, str],
        page_errors: list[str] | None = None,
        section_errors: Mapping[str, Mapping[str, str]] | None = None,
        editor_errors: Mapping[str, str] | None = None,
    ):
        super().__init__("settings invalid: " + ", ".join(sorted(errors)))
        self.errors = dict(errors)
        self.page_errors = list(page_errors or [])
        # The page errors again, next to the schedule editors they concern (shown only).
        self.editor_errors = dict(editor_errors or {})
        self.section_errors = {key: dict(found) for key, found in (section_errors or {}).items()}


class ScheduleConfirmationRequired(Exception):
    """Schedules may coincide in some months (付録6.3): the user must confirm before saving."""

    def __init__(self, messages: list[str]):
        super().__init__("schedule confirmation required")
        self.messages = list(messages)


# --- the settings row ------------------------------------------------------------------------


def get_settings(session: Session, connector_id: str) -> ConnectorSettings:
    """The connector's settings row, created (empty, not yet committed) on first use."""
    settings = session.get(ConnectorSettings, connector_id)
    if settings is None:
        settings = ConnectorSettings(connector_id=connector_id)
        session.add(settings)
        session.flush()
    return settings


def make_context(
    session: Session,
    connector: Connector,
    app_config: Mapping[str, Any] | None = None,
    *,
    confirmed: bool = False,
) -> SectionContext:
    """The context sections work in for `connector`."""
    return SectionContext(
        session=session,
        connector=connector,
        settings=get_settings(session, connector.id),
        app_config=app_config if app_config is not None else current_app.config,
        confirmed=confirmed,
    )


# --- kintone plugin token (Step1) ------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_plugin_token(session: Session, connector: Connector) -> str:
    """Create a new plugin token (revoking the previous one), commit, and return it once."""
    settings = get_settings(session, connector.id)
    lookup = secrets.token_urlsafe(9)
    token = f"{lookup}{_TOKEN_SEPARATOR}{secrets.token_urlsafe(32)}"
    settings.plugin_token_lookup = lookup
    settings.plugin_token_hash = _token_hash(token)
    settings.plugin_token_issued_at = utcnow()
    settings.updated_at = utcnow()
    session.add(settings)
    session.commit()
    return token


def verify_plugin_token(session: Session, token: str) -> Connector | None:
    """The connector whose current plugin token is `token`, else None (constant-time compare).

    A revoked token, a malformed one and a token of a disabled account all give None.
    """
    lookup, separator, _secret = (token or "").partition(_TOKEN_SEPARATOR)
    settings = None
    if separator and lookup:
        settings = session.exec(
            select(ConnectorSettings).where(ConnectorSettings.plugin_token_lookup == lookup)
        ).first()
    expected = (settings.plugin_token_hash if settings else None) or _DUMMY_HASH
    # Compare even when no row matched, so timing does not tell whether a lookup exists.
    matches = hmac.compare_digest(_token_hash(token or ""), expected)
    if settings is None or not matches:
        return None
    connector = session.get(Connector, settings.connector_id)
    if connector is None:
        return None
    account = session.get(Account, connector.account_id)
    if account is None or account.disabled:
        return None
    return connector


# --- saving the page -------------------------------------------------------------------------


def validate_settings(ctx: SectionContext, form: MultiDict) -> dict[str, Any]:
    """Parse every section in page order → {section key: data}; raise SettingsInvalid."""
    errors: dict[str, str] = {}
    by_section: dict[str, dict[str, str]] = {}
    for section in sections_for(ctx.connector):
        data, section_errors = section.parse(form, ctx)
        ctx.parsed[section.key] = data
        errors.update(section_errors)
        if section_errors:
            by_section[section.key] = dict(section_errors)
    if errors:
        raise SettingsInvalid(errors, section_errors=by_section)
    return dict(ctx.parsed)


def save_settings(
    session: Session,
    connector: Connector,
    form: MultiDict,
    app_config: Mapping[str, Any] | None = None,
    *,
    confirmed: bool = False,
) -> None:
    """Validate and store the whole page, then its schedules, in one transaction.

    Raises SettingsInvalid (nothing stored) or ScheduleConfirmationRequired (nothing stored; post
    again with confirmed=True to save).
    """
    ctx = make_context(session, connector, app_config, confirmed=confirmed)
    try:
        parsed = validate_settings(ctx, form)
        specs: dict[str, Any] = {}
        prefixes: dict[str, str] = {}
        for section in sections_for(connector):
            found = section.schedules(parsed[section.key])
            specs.update(found)
            prefixes.update({key: section.editor_prefix(key) for key in found})
        check = schedule_support.check_schedules(specs)
        if check.errors:
            editors = schedule_support.conflict_errors(check, prefixes)
            raise SettingsInvalid({}, check.errors, editor_errors=editors)
        if check.confirmations and not confirmed:
            raise ScheduleConfirmationRequired(check.confirmations)
        for section in sections_for(connector):
            section.store(ctx, parsed[section.key])
        schedule_support.replace(session, connector.id, specs)
        ctx.settings.updated_at = utcnow()
        session.add(ctx.settings)
        session.commit()
    except BaseException:
        session.rollback()
        raise
