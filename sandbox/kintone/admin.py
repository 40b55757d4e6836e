"""The sandbox's own admin API (`/_sandbox/...`): set-up, knobs, assertions, call counts.

Not part of kintone. Plain JSON in and out, no authentication. Errors answer
`{"error": "...", "errors": {...}?}` with 400/404/409.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sandbox.kintone.api import delete_fields, update_field_properties
from sandbox.kintone.clock import parse_instant
from sandbox.kintone.errors import Collector, KintoneError
from sandbox.kintone.records import record_json, selection
from sandbox.kintone.schema import Schema, normalize_property
from sandbox.kintone.store import (
    ADMINISTRATOR,
    PERMISSIONS,
    App,
    Domain,
    Fault,
    Rec,
    State,
    Token,
    Txn,
    User,
    View,
)
from sandbox.kintone.values import RecordWriter, WriteContext

MAX_TOKENS_PER_APP = 20


class AdminError(Exception):
    """A refused admin request."""

    def __init__(self, status: int, message: str, errors: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def body(self) -> dict:
        """The JSON error body."""
        out: dict[str, Any] = {"error": self.message}
        if self.errors:
            out["errors"] = self.errors
        return out


def _require(body: dict, name: str, kind: type | tuple[type, ...] = str) -> Any:
    value = body.get(name)
    if value is None or not isinstance(value, kind) or value == "":
        raise AdminError(400, f"'{name}' is required")
    return value


def _domain(state: State, body: dict) -> Domain:
    return state.domain(str(_require(body, "subdomain")))


def _app(state: State, body: dict) -> App:
    domain = _domain(state, body)
    try:
        app_id = int(body.get("app"))
    except (TypeError, ValueError):
        raise AdminError(400, "'app' must be an app id") from None
    app = domain.apps.get(app_id)
    if app is None:
        raise AdminError(404, f"app {app_id} not found")
    return app


def _rendered(errors: Collector) -> dict:
    return {path: [m.render("en") for m in messages] for path, messages in errors.errors.items()}


# -- set-up ------------------------------------------------------------------------------------------


def create_app(state: State, body: dict) -> dict:
    """POST /_sandbox/apps: a deployed app with the given fields (+ kintone's system fields)."""
    domain = _domain(state, body)
    fields = body.get("fields") or {}
    if not isinstance(fields, dict):
        raise AdminError(400, "'fields' must be an object of field properties")
    wanted = body.get("app")
    if wanted is not None:
        wanted = int(wanted)
        if wanted in domain.apps:
            raise AdminError(409, f"app {wanted} already exists")
    locale = body.get("locale", "ja")
    if locale not in ("ja", "en"):
        raise AdminError(400, "'locale' must be ja or en")
    app = App(
        domain.new_app_id(wanted),
        str(body.get("name") or "App"),
        locale=locale,
        creator=ADMINISTRATOR,
        now=state.now_text(),
        code=str(body.get("code") or ""),
        description=str(body.get("description") or ""),
        space_id=_optional_int(body, "space"),
        thread_id=_optional_int(body, "thread"),
        guest_space=_optional_int(body, "guestSpace"),
    )
    if app.guest_space is not None and app.space_id is None:
        app.space_id = app.guest_space
    schema = Schema(app.fids)
    errors = Collector()
    props = []
    for code, raw in fields.items():
        if not isinstance(raw, dict):
            errors.add(f"fields[{code}]", "not_object")
            continue
        props.append(normalize_property(str(raw.get("code", code)), raw, errors, f"fields[{code}]"))
    if errors:
        raise AdminError(400, "invalid field properties", _rendered(errors))
    for prop in props:
        schema.add(prop)
    schema.ensure_system_fields(locale)
    if isinstance(body.get("layout"), list):
        schema.layout = body["layout"]
    app.preview = schema
    app.set_live(schema.copy())
    app.deploy_status = "SUCCESS"
    domain.apps[app.id] = app
    return {"app": str(app.id)}


def _optional_int(body: dict, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AdminError(400, f"'{name}' must be an integer") from None


def create_token(state: State, body: dict) -> dict:
    """POST /_sandbox/tokens: an API token bound to one app."""
    app = _app(state, body)
    domain = _domain(state, body)
    permissions = body.get("permissions", ["view"])
    if not isinstance(permissions, list) or any(p not in PERMISSIONS for p in permissions):
        raise AdminError(400, f"'permissions' must be a list drawn from {list(PERMISSIONS)}")
    if sum(1 for t in domain.tokens.values() if t.app == app.id) >= MAX_TOKENS_PER_APP:
        raise AdminError(400, "an app has at most 20 API tokens")
    value = str(body.get("token") or secrets.token_hex(20))
    if value in domain.tokens:
        raise AdminError(409, "token already exists")
    domain.tokens[value] = Token(
        value, app.id, frozenset(permissions), active=bool(body.get("active", True))
    )
    return {"token": value}


def list_tokens(state: State, args: dict) -> dict:
    """GET /_sandbox/tokens[?subdomain=…&app=…]: every API token issued, with its app's name."""
    wanted_domain = args.get("subdomain")
    wanted_app = _optional_int(args, "app")
    tokens = []
    for name, domain in sorted(state.domains.items()):
        if wanted_domain not in (None, name):
            continue
        for token in domain.tokens.values():
            if wanted_app not in (None, token.app):
                continue
            app = domain.apps.get(token.app)
            tokens.append(
                {
                    "subdomain": name,
                    "app": str(token.app),
                    "app_name": app.name if app else None,
                    "token": token.value,
                    "permissions": sorted(token.permissions),
                    "active": token.active,
                }
            )
    return {"tokens": tokens}


def create_user(state: State, body: dict) -> dict:
    """POST /_sandbox/users: a login for X-Cybozu-Authorization."""
    domain = _domain(state, body)
    code = _require(body, "code")
    password = _require(body, "password")
    domain.users[code] = User(code, str(body.get("name") or code), password)
    return {"code": code}


def load_records(state: State, body: dict) -> dict:
    """POST /_sandbox/records: store records (write format) without per-request limits.

    Formats are parsed as on the REST API, but required/unique/length/range/option rules are
    not checked, and system fields (creator, times, status, categories) may be set.
    """
    app = _app(state, body)
    records = body.get("records")
    if not isinstance(records, list):
        raise AdminError(400, "'records' must be a list of records in write format")
    assert app.live is not None
    txn = Txn()
    now = state.clock.now()
    ctx = WriteContext(
        domain=_domain(state, body),
        app=app,
        schema=app.live,
        user=ADMINISTRATOR,
        is_admin=True,
        txn=txn,
        now=now,
        can_view=lambda _app_id: True,
        lenient=True,
    )
    now_text = state.now_text()
    errors = Collector()
    writer = RecordWriter(ctx, errors, "records")
    try:
        for index, write in enumerate(records):
            writer.prefix = f"records[{index}]"
            prepared = writer.prepare(write, None)
            if errors:
                break
            system = prepared.system
            created_at = system.get("CREATED_TIME", now_text)
            creator = system.get("CREATOR", ADMINISTRATOR)
            rec = Rec(
                app.table.next_id,
                1,
                prepared.values,
                created_at,
                system.get("UPDATED_TIME", created_at),
                creator,
                system.get("MODIFIER", creator),
            )
            app.insert(rec, txn)
    except BaseException:
        txn.rollback()
        raise
    if errors:
        txn.rollback()
        raise AdminError(400, "invalid record values", _rendered(errors))
    txn.commit()
    return {"count": len(records)}


def dump_records(state: State, args: dict) -> dict:
    """GET /_sandbox/records?subdomain=&app=: every record in read format, ascending ids."""
    app = _app(state, args)
    assert app.live is not None
    sel = selection(app, app.live, None)
    return {"records": [record_json(rec, sel) for rec in app.table.iterate(None, None, False)]}


def change_fields(state: State, body: dict) -> dict:
    """POST|PUT /_sandbox/fields: change a live app's form directly (add / update / delete).

    The change applies to the live form and replaces the preview form with it (pending preview
    edits are discarded), as if it had been made in the app settings and deployed.
    """
    app = _app(state, body)
    assert app.live is not None
    schema = app.live.copy()
    errors = Collector()
    add = body.get("add") or {}
    for code, raw in add.items():
        code = str(raw.get("code", code))
        if schema.find(code) is not None:
            raise AdminError(409, f"field code {code} already exists")
        prop = normalize_property(code, raw, errors, f"add[{code}]")
        if not errors:
            schema.add(prop)
    update = body.get("update") or {}
    if update and not errors:
        try:
            update_field_properties(schema, update, errors)
        except KintoneError as exc:
            raise AdminError(404, exc.message.render("en")) from None
    delete = body.get("delete") or []
    if delete and not errors:
        missing = [c for c in delete if schema.find(str(c)) is None]
        if missing:
            raise AdminError(404, f"fields not found: {missing}")
        try:
            delete_fields(schema, list(delete))
        except KintoneError as exc:
            raise AdminError(400, "system fields cannot be deleted") from exc
    if errors:
        raise AdminError(400, "invalid field properties", _rendered(errors))
    schema.revision = max(schema.revision, app.preview.revision) + 1
    schema.invalidate()
    app.set_live(schema)
    app.preview = schema.copy()
    app.modified_at = state.now_text()
    return {"revision": str(schema.revision)}


# -- knobs ---------------------------------------------------------------------------------------------


def config_json(state: State) -> dict:
    """The current knobs."""
    config = state.config
    frozen = state.clock.frozen
    return {
        "latency_ms": config.latency_ms,
        "now": frozen.isoformat().replace("+00:00", "Z") if frozen else None,
        "faults": [
            {
                "path": f.path,
                "status": f.status,
                "code": f.code,
                "times": f.times,
                "method": f.method,
                "message": f.message,
            }
            for f in config.faults
        ],
        "concurrency_limit": config.concurrency_limit,
        "like_hit_limit": config.like_hit_limit,
        "deploy_polls": config.deploy_polls,
        "max_cursors": config.max_cursors,
        "cursor_ttl_seconds": config.cursor_ttl_seconds,
        "language": config.language,
    }


_INT_KNOBS = (
    "latency_ms",
    "concurrency_limit",
    "like_hit_limit",
    "deploy_polls",
    "max_cursors",
    "cursor_ttl_seconds",
)


def set_config(state: State, body: dict) -> dict:
    """POST /_sandbox/config: change the knobs present in the body; answer the full config."""
    config = state.config
    for name in _INT_KNOBS:
        if name in body:
            value = body[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise AdminError(400, f"'{name}' must be a non-negative integer")
            setattr(config, name, value)
    if "language" in body:
        if body["language"] not in ("en", "ja"):
            raise AdminError(400, "'language' must be en or ja")
        config.language = body["language"]
    if "now" in body:
        if body["now"] is None:
            state.clock.set(None)
        else:
            try:
                state.clock.set(parse_instant(str(body["now"])))
            except ValueError:
                raise AdminError(400, "'now' must be an ISO-8601 datetime or null") from None
    if "faults" in body:
        faults = body["faults"] or []
        if not isinstance(faults, list):
            raise AdminError(400, "'faults' must be a list")
        parsed = []
        for item in faults:
            if not isinstance(item, dict) or "path" not in item or "status" not in item:
                raise AdminError(400, "each fault needs 'path' and 'status'")
            parsed.append(
                Fault(
                    path=str(item["path"]),
                    status=int(item["status"]),
                    code=item.get("code"),
                    times=int(item.get("times", 1)),
                    method=item.get("method"),
                    message=item.get("message"),
                )
            )
        config.faults = parsed
    return config_json(state)


# -- stats ----------------------------------------------------------------------------------------------


def stats(state: State, args: dict) -> dict:
    """GET /_sandbox/stats[?subdomain=]: REST calls per 'METHOD /path', total, per app per day,
    and per domain the peak of concurrent requests and the 429 GAIA_TO04 refusals."""
    name = args.get("subdomain")
    domains = [state.domains[name]] if name in state.domains else []
    if not name:
        domains = list(state.domains.values())
    calls: Counter[str] = Counter()
    daily: dict[str, dict[str, int]] = {}
    concurrency: dict[str, dict[str, int]] = {}
    cursors = 0
    for domain in domains:
        calls.update(domain.calls)
        concurrency[domain.name] = {
            "peak": domain.peak_running,
            "rejected": domain.rejected_concurrent,
        }
        cursors += len(domain.cursors)
        for (day, app_id), count in domain.daily.items():
            daily.setdefault(day, {})[str(app_id)] = count
    return {
        "subdomain": name,
        "total": sum(calls.values()),
        "calls": dict(sorted(calls.items())),
        "daily": daily,
        "cursors": cursors,
        # Per domain: most requests in flight at once and 429 GAIA_TO04 refusals since reset.
        "concurrency": concurrency,
        "concurrency_limit": state.config.concurrency_limit,
    }


def reset_stats(state: State, body: dict) -> dict:
    """POST /_sandbox/stats/reset[{subdomain}]: zero the call counters."""
    name = body.get("subdomain")
    for domain in state.domains.values():
        if not name or domain.name == name:
            domain.calls.clear()
            domain.daily.clear()
            domain.peak_running = domain.rejected_concurrent = 0
    return {}


def reset(state: State) -> dict:
    """POST /_sandbox/reset: forget everything and restore default knobs."""
    state.reset()
    return {}


# -- screens: views and plugins -------------------------------------------------------------------


def create_view(state: State, body: dict) -> dict:
    """POST /_sandbox/views: a record-list view `{name, filterCond?, sort?}` of an app."""
    from sandbox.kintone.query import parse

    app = _app(state, body)
    domain = _domain(state, body)
    name = str(_require(body, "name"))
    condition = str(body.get("filterCond") or "").strip()
    sort = str(body.get("sort") or "$id desc").strip()
    try:
        parsed = parse(f"{condition} order by {sort}".strip())
    except KintoneError:
        raise AdminError(400, "'filterCond' or 'sort' is not a valid query") from None
    if parsed.limit is not None or parsed.offset is not None:
        raise AdminError(400, "a view has no limit/offset")
    views = domain.views.setdefault(app.id, [])
    view = View(id=max([v.id for v in views], default=5519999) + 1, name=name)
    view.filter_cond, view.sort = condition, sort
    views.append(view)
    return {"id": str(view.id)}


def add_plugin_to_app(state: State, body: dict) -> dict:
    """POST /_sandbox/plugins/app: add an imported plugin `id` to an app."""
    app = _app(state, body)
    domain = _domain(state, body)
    plugin_id = str(_require(body, "id"))
    if plugin_id not in domain.plugins:
        raise AdminError(404, f"plugin {plugin_id} is not imported")
    added = domain.app_plugins.setdefault(app.id, [])
    if plugin_id not in added:
        added.append(plugin_id)
    return {}


def plugins_json(state: State, args: dict) -> dict:
    """GET /_sandbox/plugins?subdomain=: plugins, the apps they are on, configs, proxy configs."""
    domain = _domain(state, args)
    return {
        "plugins": [
            {
                "id": plugin.id,
                "name": plugin.name,
                "version": plugin.version,
                "apps": [
                    {
                        "app": str(app_id),
                        "config": domain.plugin_configs.get((app_id, plugin.id), {}),
                        "proxyConfigs": [
                            {"method": method, "url": url, **entry}
                            for (method, url), entry in domain.proxy_configs.get(
                                (app_id, plugin.id), {}
                            ).items()
                        ],
                    }
                    for app_id, ids in domain.app_plugins.items()
                    if plugin.id in ids
                ],
            }
            for plugin in domain.plugins.values()
        ]
    }


def load_data(state: State, data: dict) -> None:
    """Apply a --data file: users, apps, tokens, then records (admin body shapes)."""
    for user in data.get("users", []):
        create_user(state, user)
    for app in data.get("apps", []):
        create_app(state, app)
    for token in data.get("tokens", []):
        create_token(state, token)
    for batch in data.get("records", []):
        load_records(state, batch)


def today_key(now: datetime) -> str:
    """The day of kintone's daily request counter (it resets at 09:00 JST = 00:00 UTC)."""
    return now.astimezone(UTC).date().isoformat()
