"""The built-in sections of the 連携設定 page: Step1–Step3 here, Step4 in mapping_step (manual
§2.1.3), and `SHARED_SECTIONS`, the four in page order."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from portal.crypto import mask
from portal.integrations.haihai import parse_haihai_url
from portal.models.common import utcnow
from portal.models.settings import HAIHAI_METHOD_MANUAL, HAIHAI_METHOD_SYNCED
from portal.settings import messages as msg
from portal.settings import synced_state
from portal.settings.mapping_step import MappingSection
from portal.settings.sections import Section, SectionContext
from portal.settings.step_fields import (
    NAME_MAX,
    TEXT_MAX,
    posted_secret,
    required_text,
    shown_secret,
    sync_view,
)

_SUBDOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TOKEN = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII without spaces
# kintone API tokens are letters and digits; a comma would smuggle a second token in.
_KINTONE_TOKEN = re.compile(r"^[A-Za-z0-9]+$")


# --- Step1 -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BasicData:
    """Step1 values saved by 「保存」 (the plugin token has its own endpoint)."""

    name: str


class BasicSection(Section):
    """Step1. 配配メールコネクタ基本設定: 連携設定名 and the kintone plugin token."""

    key = "step1"
    order = 10
    title = "Step1. 配配メールコネクタ基本設定"
    template = "settings/_step1.html"

    def stored_values(self, ctx: SectionContext) -> dict[str, Any]:
        return {"name": ctx.connector.name}

    def posted_values(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        return {"name": form.get("name", "")}

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "token_set": bool(ctx.settings.plugin_token_lookup),
            "token_issued_at": ctx.settings.plugin_token_issued_at,
        }

    def parse(self, form: MultiDict, ctx: SectionContext) -> tuple[BasicData, dict[str, str]]:
        errors: dict[str, str] = {}
        name = required_text(form, "name", errors, NAME_MAX)
        return BasicData(name), errors

    def store(self, ctx: SectionContext, data: BasicData) -> None:
        ctx.connector.name = data.name
        ctx.connector.updated_at = utcnow()
        ctx.session.add(ctx.connector)


# --- Step2 -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HaihaiData:
    """Step2 values: the account URL (normalised), login ID, API token and 連携設定方法."""

    url: str
    login_id: str
    api_token: str | None
    method: str


def parse_haihai_access(form: MultiDict, ctx: SectionContext) -> tuple[HaihaiData, dict[str, str]]:
    """Validate 配配メールURL, ログインID and APIトークン (shared by 保存 and the sync button)."""
    errors: dict[str, str] = {}
    raw_url = (form.get("haihai_url") or "").strip()
    url = raw_url
    if not raw_url:
        errors["haihai_url"] = msg.REQUIRED
    else:
        try:
            allow_local = bool(ctx.app_config.get("HAIHAI_ALLOW_LOCAL_URLS"))
            url = parse_haihai_url(raw_url, allow_local=allow_local).base_url
        except ValueError:
            errors["haihai_url"] = msg.HAIHAI_URL_FORMAT
    login_id = required_text(form, "haihai_login_id", errors, TEXT_MAX)
    token = posted_secret(
        form,
        "haihai_api_token",
        ctx.settings.haihai_api_token,
        errors,
        _TOKEN,
        msg.HAIHAI_TOKEN_FORMAT,
    )
    method = (form.get("haihai_method") or "").strip()
    return HaihaiData(url, login_id, token, method), errors


class HaihaiSection(Section):
    """Step2. 配配メール連携設定."""

    key = "step2"
    order = 20
    title = "Step2. 配配メール連携設定"
    template = "settings/_step2.html"
    secret_fields = ("haihai_api_token",)

    def stored_values(self, ctx: SectionContext) -> dict[str, Any]:
        s = ctx.settings
        return {
            "haihai_url": s.haihai_url,
            "haihai_login_id": s.haihai_login_id,
            "haihai_api_token": mask(s.haihai_api_token),
            "haihai_method": s.haihai_method or HAIHAI_METHOD_MANUAL,
        }

    def posted_values(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        token = shown_secret(ctx.settings.haihai_api_token)
        return {
            "haihai_url": form.get("haihai_url", ""),
            "haihai_login_id": form.get("haihai_login_id", ""),
            "haihai_api_token": token,
            "haihai_method": form.get("haihai_method", ""),
        }

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        view = sync_view(ctx.settings.haihai_synced_at, ctx.settings.haihai_sync_report)
        snapshot = ctx.haihai_snapshot
        view["counts"] = {
            key: len(snapshot.get(key, [])) for key in ("items", "groups", "step_plans", "forms")
        }
        view["drift_headline"] = msg.HAIHAI_DRIFT_HEADLINE
        return view

    def parse(self, form: MultiDict, ctx: SectionContext) -> tuple[HaihaiData, dict[str, str]]:
        data, errors = parse_haihai_access(form, ctx)
        if data.method not in (HAIHAI_METHOD_MANUAL, HAIHAI_METHOD_SYNCED):
            errors["haihai_method"] = msg.CHOOSE_METHOD
        elif data.method == HAIHAI_METHOD_SYNCED:
            snapshot = ctx.haihai_snapshot
            if not snapshot:
                errors["haihai_sync"] = msg.HAIHAI_SYNC_NEEDED
            elif "haihai_url" not in errors and snapshot.get("source") != data.url:
                errors["haihai_sync"] = msg.HAIHAI_SYNC_STALE
        return data, errors

    def store(self, ctx: SectionContext, data: HaihaiData) -> None:
        s = ctx.settings
        s.haihai_url = data.url
        s.haihai_login_id = data.login_id
        if data.api_token != s.haihai_api_token:
            s.haihai_api_token = data.api_token
        s.haihai_method = data.method
        ctx.session.add(s)

    def form_fields(self, ctx: SectionContext) -> MultiDict:
        s = ctx.settings
        return MultiDict(
            {
                "haihai_url": s.haihai_url,
                "haihai_login_id": s.haihai_login_id,
                "haihai_api_token": s.haihai_api_token or "",
                "haihai_method": s.haihai_method or HAIHAI_METHOD_MANUAL,
            }
        )

    def synced_state(self, ctx: SectionContext) -> dict[str, Any] | None:
        return synced_state.haihai_state(ctx.settings)

    def restore_synced_state(self, ctx: SectionContext, data: Any) -> dict[str, str]:
        return synced_state.restore_haihai_state(ctx.settings, data)


# --- Step3 -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KintoneData:
    """Step3 values: サブドメイン名, アプリID and APIトークン of the customer app."""

    subdomain: str
    app_id: str
    api_token: str | None


def parse_app_access(
    form: MultiDict,
    *,
    prefix: str,
    stored_token: str | None,
    subdomain: str | None = None,
) -> tuple[KintoneData, dict[str, str]]:
    """Validate an app's アプリID and APIトークン posted as `<prefix>_app_id` / `<prefix>_api_token`.

    The サブドメイン名 is read from `kintone_subdomain` unless `subdomain` is given: apps of
    later Steps live in the subdomain of Step3 (an empty one is reported as `<prefix>_sync`).
    Shared by 「保存」 and the sync buttons of every kintone app of a connector.
    """
    errors: dict[str, str] = {}
    if subdomain is None:
        subdomain = (form.get("kintone_subdomain") or "").strip().lower()
        if not subdomain:
            errors["kintone_subdomain"] = msg.REQUIRED
        elif not _SUBDOMAIN.match(subdomain):
            errors["kintone_subdomain"] = msg.KINTONE_SUBDOMAIN_FORMAT
    elif not subdomain:
        errors[f"{prefix}_sync"] = msg.KINTONE_SUBDOMAIN_FIRST
    app_field = f"{prefix}_app_id"
    app_id = (form.get(app_field) or "").strip()
    if not app_id:
        errors[app_field] = msg.REQUIRED
    elif not app_id.isascii() or not app_id.isdigit() or int(app_id) < 1 or len(app_id) > 18:
        errors[app_field] = msg.KINTONE_APP_ID_FORMAT
    else:
        app_id = str(int(app_id))
    token = posted_secret(
        form,
        f"{prefix}_api_token",
        stored_token,
        errors,
        _KINTONE_TOKEN,
        msg.KINTONE_TOKEN_FORMAT,
    )
    return KintoneData(subdomain, app_id, token), errors


def parse_kintone_access(
    form: MultiDict, ctx: SectionContext
) -> tuple[KintoneData, dict[str, str]]:
    """Validate サブドメイン名, アプリID and APIトークン (shared by 保存 and the sync button)."""
    return parse_app_access(form, prefix="kintone", stored_token=ctx.settings.kintone_api_token)


def kintone_source(settings) -> dict[str, str] | None:
    """The subdomain and app the stored field snapshot was read from."""
    report = settings.kintone_sync_report or {}
    return report.get("source")


class KintoneSection(Section):
    """Step3. kintone連携設定."""

    key = "step3"
    order = 30
    title = "Step3. kintone連携設定"
    template = "settings/_step3.html"
    secret_fields = ("kintone_api_token",)

    def stored_values(self, ctx: SectionContext) -> dict[str, Any]:
        s = ctx.settings
        return {
            "kintone_subdomain": s.kintone_subdomain,
            "kintone_app_id": s.kintone_app_id,
            "kintone_api_token": mask(s.kintone_api_token),
        }

    def posted_values(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        token = shown_secret(ctx.settings.kintone_api_token)
        return {
            "kintone_subdomain": form.get("kintone_subdomain", ""),
            "kintone_app_id": form.get("kintone_app_id", ""),
            "kintone_api_token": token,
        }

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        view = sync_view(ctx.settings.kintone_synced_at, ctx.settings.kintone_sync_report)
        view["app_name"] = ctx.settings.kintone_app_name
        view["field_count"] = len(ctx.kintone_fields)
        view["drift_headline"] = msg.KINTONE_DRIFT_HEADLINE
        return view

    def parse(self, form: MultiDict, ctx: SectionContext) -> tuple[KintoneData, dict[str, str]]:
        data, errors = parse_kintone_access(form, ctx)
        source = kintone_source(ctx.settings)
        if not ctx.settings.kintone_fields or source is None:
            errors["kintone_sync"] = msg.KINTONE_SYNC_NEEDED
        elif not {"kintone_subdomain", "kintone_app_id"} & errors.keys() and (
            source.get("subdomain") != data.subdomain or source.get("app_id") != data.app_id
        ):
            errors["kintone_sync"] = msg.KINTONE_SYNC_STALE
        return data, errors

    def store(self, ctx: SectionContext, data: KintoneData) -> None:
        s = ctx.settings
        s.kintone_subdomain = data.subdomain
        s.kintone_app_id = data.app_id
        if data.api_token != s.kintone_api_token:
            s.kintone_api_token = data.api_token
        ctx.session.add(s)

    def form_fields(self, ctx: SectionContext) -> MultiDict:
        s = ctx.settings
        return MultiDict(
            {
                "kintone_subdomain": s.kintone_subdomain,
                "kintone_app_id": s.kintone_app_id,
                "kintone_api_token": s.kintone_api_token or "",
            }
        )

    def synced_state(self, ctx: SectionContext) -> dict[str, Any] | None:
        return synced_state.kintone_state(ctx.settings)

    def restore_synced_state(self, ctx: SectionContext, data: Any) -> dict[str, str]:
        return synced_state.restore_kintone_state(ctx.settings, data)


# The shared Steps 1–4 of the 配配メール-kintone connector type, in page order.
SHARED_SECTIONS: tuple[Section, ...] = (
    BasicSection(),
    HaihaiSection(),
    KintoneSection(),
    MappingSection(),
)
