"""The kintone REST endpoints: records, cursors, bulkRequest, apps, form settings, deploy, files.

Each handler takes a `Call` (parsed request + authenticated caller) and returns the JSON body.
Record operations take a `Txn` so bulkRequest can run several of them atomically.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.kintone.clock import USER_TZ
from sandbox.kintone.errors import (
    Collector,
    KintoneError,
    coded,
    msg,
    param_error,
    validation_error,
)
from sandbox.kintone.query import QueryEnv, compile_query
from sandbox.kintone.records import (
    execute,
    matching_ids,
    record_json,
    resolver,
    selection,
)
from sandbox.kintone.schema import (
    SYSTEM_TYPES,
    Field,
    Schema,
    normalize_property,
    valid_field_code,
)
from sandbox.kintone.store import App, Blob, Cursor, Domain, Rec, State, Txn, unique_key
from sandbox.kintone.values import RecordWriter, WriteContext, normalize_number

DEFAULT_LIMIT = 100
MAX_WRITE = 100
MAX_BULK = 20
MAX_CURSOR_SIZE = 500


@dataclass
class Auth:
    """The authenticated caller: a password user (administrator) or a set of API tokens."""

    user: dict
    password: bool
    tokens: dict[int, frozenset[str]] = field(default_factory=dict)

    def can(self, app_id: int, permission: str) -> bool:
        """Whether the caller holds `permission` on app `app_id`."""
        return self.password or permission in self.tokens.get(app_id, ())


@dataclass
class Call:
    """One REST call after routing, parameter parsing and authentication."""

    state: State
    domain: Domain
    guest: int | None
    params: dict
    auth: Auth
    files: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def now_text(self) -> str:
        """The current instant in wire form."""
        return self.state.now_text()


@dataclass
class RawBody:
    """A non-JSON response body (file download)."""

    data: bytes
    content_type: str


# -- parameters ------------------------------------------------------------------------------------


def int_param(params: dict, name: str, *, required: bool = True, minimum: int = 1) -> int | None:
    """An integer parameter given as number or numeric string, with kintone's messages."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise param_error(name, "required_field")
        return None
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise param_error(name, "not_integer")
    try:
        number = int(str(value).strip()) if not isinstance(value, float) else int(value)
    except ValueError:
        raise param_error(name, "not_integer") from None
    if number < minimum:
        raise param_error(name, "min_one" if minimum == 1 else "min_zero")
    return number


def bool_param(params: dict, name: str) -> bool:
    """A boolean given as JSON bool or 'true'/'false'."""
    value = params.get(name)
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise param_error(name, "not_boolean")


def list_param(params: dict, name: str, *, required: bool = False) -> list | None:
    """An array parameter (JSON array, or `name[0]=` query-string form)."""
    value = params.get(name)
    if value is None:
        if required:
            raise param_error(name, "required_field")
        return None
    if not isinstance(value, list):
        raise param_error(name, "not_array")
    return value


def revision_param(value: Any, path: str) -> int | None:
    """An expected revision; None when omitted or -1 (no check)."""
    if value is None or value == "":
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise param_error(path, "not_integer") from None
    return None if number == -1 else number


# -- app access ------------------------------------------------------------------------------------


def app_for(call: Call, app_id: int, permissions: tuple[str, ...], *, live: bool = True) -> App:
    """The app, after token, existence, guest-space and permission checks (in kintone's order)."""
    auth = call.auth
    granted: frozenset[str] | None = None
    if not auth.password:
        granted = auth.tokens.get(app_id)
        if granted is None:
            raise coded(403, "GAIA_NO01")
    app = call.domain.apps.get(app_id)
    if app is None or (live and app.live is None):
        raise coded(404, "GAIA_AP01", id=app_id)
    if app.guest_space is not None and call.guest is None:
        raise coded(400, "GAIA_IL23")
    if call.guest is not None and app.guest_space != call.guest:
        raise coded(403, "CB_NO02")
    if granted is not None and not granted.intersection(permissions):
        raise coded(403, "GAIA_NO01")
    return app


def _password_only(call: Call) -> None:
    if not call.auth.password:
        raise coded(403, "GAIA_NO01")


def _query_env(call: Call) -> QueryEnv:
    return QueryEnv(
        now=call.state.clock.now(), tz=USER_TZ, login_user=call.auth.user.get("code", "")
    )


def _write_context(call: Call, app: App, txn: Txn) -> WriteContext:
    assert app.live is not None
    return WriteContext(
        domain=call.domain,
        app=app,
        schema=app.live,
        user=call.auth.user,
        is_admin=call.auth.can(app.id, "manage"),
        txn=txn,
        now=call.state.clock.now(),
        can_view=lambda app_id: call.auth.can(app_id, "view"),
    )


# -- record writes -----------------------------------------------------------------------------------


def _insert(
    call: Call, app: App, write: Any, txn: Txn, errors: Collector, prefix: str
) -> Rec | None:
    """Validate and store a new record; None (with `errors` filled) when invalid."""
    prepared = RecordWriter(_write_context(call, app, txn), errors, prefix).prepare(write, None)
    if errors:
        return None  # once anything failed nothing is stored; keep collecting messages
    now = call.now_text()
    system = prepared.system
    created_at = system.get("CREATED_TIME", now)
    creator = system.get("CREATOR", call.auth.user)
    rec = Rec(
        app.table.next_id,
        1,
        prepared.values,
        created_at,
        system.get("UPDATED_TIME", created_at if "CREATED_TIME" in system else now),
        creator,
        system.get("MODIFIER", creator if "CREATOR" in system else call.auth.user),
    )
    app.insert(rec, txn)
    return rec


def _update(
    call: Call,
    app: App,
    rec: Rec,
    write: Any,
    expected: int | None,
    txn: Txn,
    errors: Collector,
    prefix: str,
) -> Rec | None:
    """Validate and apply an update; revision mismatch raises 409 GAIA_CO02."""
    if expected is not None and expected != rec.revision:
        raise coded(409, "GAIA_CO02")
    prepared = RecordWriter(_write_context(call, app, txn), errors, prefix).prepare(write, rec)
    if errors:
        return None
    new = Rec(
        rec.id,
        rec.revision + 1,
        prepared.values,
        rec.created_at,
        call.now_text(),
        rec.creator,
        call.auth.user,
    )
    app.replace(rec, new, txn)
    return new


def _find_by_update_key(app: App, key: Any, path: str) -> tuple[Field, Any, Rec | None]:
    """Resolve `updateKey` to (field, normalized value, record or None)."""
    if not isinstance(key, dict):
        raise param_error(path, "not_object")
    assert app.live is not None
    fld = app.live.fields.get(str(key.get("field")))
    if fld is None or fld.type not in ("SINGLE_LINE_TEXT", "NUMBER") or not fld.prop.get("unique"):
        raise param_error(f"{path}.field", "update_key_field")
    value = key.get("value")
    if fld.type == "NUMBER":
        value = normalize_number(value)
        if value is None:
            raise param_error(f"{path}.value", "not_number")
    elif value is not None and not isinstance(value, str):
        value = str(value)
    lookup = unique_key(fld.type, value)
    if lookup is None:
        raise param_error(f"{path}.value", "required_field")
    rec_id = app.unique_index(fld).get(lookup)
    return fld, value, app.table.get(rec_id) if rec_id is not None else None


def _with_key(write: Any, code: str, value: Any) -> Any:
    """The record to insert for an upsert by updateKey: the key value is part of it."""
    base = dict(write) if isinstance(write, dict) else {}
    base[code] = {"value": value}
    return base


def op_get_record(call: Call, p: dict) -> dict:
    """GET record.json."""
    app = app_for(call, int_param(p, "app"), ("view",))
    rec_id = int_param(p, "id")
    rec = app.table.get(rec_id)
    if rec is None:
        raise coded(404, "GAIA_RE01", id=rec_id)
    return {"record": record_json(rec, selection(app, app.live, None))}


def op_add_record(call: Call, p: dict, txn: Txn) -> dict:
    """POST record.json."""
    app = app_for(call, int_param(p, "app"), ("add",))
    errors = Collector()
    rec = _insert(call, app, p.get("record"), txn, errors, "record")
    errors.raise_if_any()
    assert rec is not None
    return {"id": str(rec.id), "revision": str(rec.revision)}


def op_update_record(call: Call, p: dict, txn: Txn) -> dict:
    """PUT record.json (by id or updateKey)."""
    app = app_for(call, int_param(p, "app"), ("edit",))
    has_id = p.get("id") not in (None, "")
    if has_id and p.get("updateKey") is not None:
        raise param_error("id", "id_or_update_key")
    expected = revision_param(p.get("revision"), "revision")
    if has_id:
        rec_id = int_param(p, "id")
        rec = app.table.get(rec_id)
        if rec is None:
            raise coded(404, "GAIA_RE01", id=rec_id)
    elif p.get("updateKey") is not None:
        fld, value, rec = _find_by_update_key(app, p["updateKey"], "updateKey")
        if rec is None:
            raise KintoneError(
                404, "GAIA_RE01", msg("record_by_key_not_found", field=fld.code, value=value)
            )
    else:
        raise param_error("id", "required_field")
    errors = Collector()
    new = _update(call, app, rec, p.get("record"), expected, txn, errors, "record")
    errors.raise_if_any()
    assert new is not None
    return {"revision": str(new.revision)}


def op_get_records(call: Call, p: dict) -> dict:
    """GET records.json."""
    app = app_for(call, int_param(p, "app"), ("view",))
    codes = _fields_param(p)
    query = p.get("query")
    if query is not None and not isinstance(query, str):
        raise param_error("query", "not_string")
    want_total = bool_param(p, "totalCount")
    cq = compile_query(query, resolver(call.domain, app.live), _query_env(call))
    result = execute(
        app,
        cq,
        limit=DEFAULT_LIMIT if cq.limit is None else cq.limit,
        offset=cq.offset or 0,
        want_total=want_total,
        like_limit=call.state.config.like_hit_limit,
    )
    if result.aborted:
        call.headers["X-Cybozu-Warning"] = "Filter aborted because of too many search results"
    sel = selection(app, app.live, codes)
    return {
        "records": [record_json(rec, sel) for rec in result.records],
        "totalCount": str(result.total) if want_total else None,
    }


def _fields_param(p: dict) -> list[str] | None:
    codes = list_param(p, "fields")
    if codes is None:
        return None
    if len(codes) > 1000:
        raise param_error("fields", "fields_max")
    return [str(code) for code in codes]


def _records_list(p: dict, too_many: str) -> list:
    records = list_param(p, "records", required=True)
    assert records is not None
    if len(records) > MAX_WRITE:
        raise param_error("records", too_many)
    return records


def op_add_records(call: Call, p: dict, txn: Txn) -> dict:
    """POST records.json (1-100 records, all or nothing)."""
    app = app_for(call, int_param(p, "app"), ("add",))
    records = _records_list(p, "add_max")
    errors = Collector()
    added: list[Rec] = []
    for index, write in enumerate(records):
        rec = _insert(call, app, write, txn, errors, f"records[{index}]")
        if rec is not None:
            added.append(rec)
    errors.raise_if_any()
    return {"ids": [str(r.id) for r in added], "revisions": [str(r.revision) for r in added]}


def op_update_records(call: Call, p: dict, txn: Txn) -> dict:
    """PUT records.json (1-100 updates, optional upsert, all or nothing)."""
    upsert = bool_param(p, "upsert")
    permissions = ("edit",)
    app_id = int_param(p, "app")
    app = app_for(call, app_id, permissions)
    if upsert and not call.auth.can(app_id, "add"):
        raise coded(403, "GAIA_NO01")
    records = _records_list(p, "update_max")
    errors = Collector()
    out: list[dict] = []
    for index, item in enumerate(records):
        prefix = f"records[{index}]"
        if not isinstance(item, dict):
            errors.add(prefix, "not_object")
            continue
        has_id = item.get("id") not in (None, "")
        if has_id and item.get("updateKey") is not None:
            raise param_error(f"{prefix}.id", "id_or_update_key")
        expected = revision_param(item.get("revision"), f"{prefix}.revision")
        write = item.get("record")
        rec: Rec | None
        if has_id:
            rec_id = int_param(item, "id")
            rec = app.table.get(rec_id)
            if rec is None and not upsert:
                raise coded(404, "GAIA_RE01", id=rec_id)
        elif item.get("updateKey") is not None:
            fld, value, rec = _find_by_update_key(app, item["updateKey"], f"{prefix}.updateKey")
            if rec is None and not upsert:
                raise KintoneError(
                    404, "GAIA_RE01", msg("record_by_key_not_found", field=fld.code, value=value)
                )
            if rec is None:
                write = _with_key(write, fld.code, value)
        else:
            raise param_error(f"{prefix}.id", "required_field")
        if rec is None:
            # Upsert of a missing record: a new record with a newly allocated id.
            new = _insert(call, app, write, txn, errors, prefix)
            if new is not None:
                out.append({"id": str(new.id), "revision": "1", "operation": "INSERT"})
            continue
        new = _update(call, app, rec, write, expected, txn, errors, prefix)
        if new is not None:
            entry = {"id": str(new.id), "revision": str(new.revision)}
            if upsert:
                entry["operation"] = "UPDATE"
            out.append(entry)
    errors.raise_if_any()
    return {"records": out}


def op_delete_records(call: Call, p: dict, txn: Txn) -> dict:
    """DELETE records.json (1-100 ids, optional revisions, all or nothing)."""
    app = app_for(call, int_param(p, "app"), ("delete",))
    ids = p.get("ids")
    if not isinstance(ids, list) or not ids:
        raise validation_error({"ids": [msg("required_field"), msg("delete_range")]})
    if len(ids) > MAX_WRITE:
        raise param_error("ids", "delete_range")
    revisions = p.get("revisions")
    if revisions is not None and (not isinstance(revisions, list) or len(revisions) != len(ids)):
        raise param_error("revisions", "revisions_mismatch")
    for index, raw_id in enumerate(ids):
        rec_id = int_param({"id": raw_id}, "id")
        rec = app.table.get(rec_id)
        if rec is None:
            raise coded(404, "GAIA_RE01", id=rec_id)
        expected = revision_param(revisions[index], f"revisions[{index}]") if revisions else None
        if expected is not None and expected != rec.revision:
            raise coded(409, "GAIA_CO02")
        app.delete(rec, txn)
    return {}


# -- cursors ---------------------------------------------------------------------------------------


def _purge_cursors(call: Call) -> None:
    now = call.state.clock.timestamp()
    expired = [cid for cid, cur in call.domain.cursors.items() if cur.expires_at <= now]
    for cid in expired:
        del call.domain.cursors[cid]


def op_create_cursor(call: Call, p: dict) -> dict:
    """POST records/cursor.json."""
    app = app_for(call, int_param(p, "app"), ("view",))
    codes = _fields_param(p)
    size = int_param(p, "size", required=False)
    if size is None:
        size = DEFAULT_LIMIT
    if size > MAX_CURSOR_SIZE:
        raise param_error("size", "max_value_param", max=MAX_CURSOR_SIZE)
    query = p.get("query")
    if query is not None and not isinstance(query, str):
        raise param_error("query", "not_string")
    cq = compile_query(query, resolver(call.domain, app.live), _query_env(call), allow_limit=False)
    _purge_cursors(call)
    config = call.state.config
    if len(call.domain.cursors) >= config.max_cursors:
        raise coded(429, "GAIA_TM12")
    ids, _aborted = matching_ids(app, cq, config.like_hit_limit)
    cursor = Cursor(
        id=str(uuid.uuid4()),
        app=app.id,
        ids=ids,
        size=size,
        selection=selection(app, app.live, codes),
        expires_at=call.state.clock.timestamp() + config.cursor_ttl_seconds,
        total=len(ids),
    )
    call.domain.cursors[cursor.id] = cursor
    return {"id": cursor.id, "totalCount": str(cursor.total)}


def _cursor(call: Call, p: dict) -> Cursor:
    cursor_id = p.get("id")
    if cursor_id in (None, ""):
        raise param_error("id", "required_field")
    _purge_cursors(call)
    cursor = call.domain.cursors.get(str(cursor_id))
    if cursor is None:
        raise coded(404, "GAIA_CN01")
    return cursor


def op_read_cursor(call: Call, p: dict) -> dict:
    """GET records/cursor.json: the next page; the cursor is gone after `next: false`."""
    cursor = _cursor(call, p)
    app = app_for(call, cursor.app, ("view",))
    page_ids = cursor.ids[cursor.position : cursor.position + cursor.size]
    cursor.position += len(page_ids)
    table = app.table
    records = []
    for rec_id in page_ids:
        rec = table.get(rec_id)
        if rec is not None:
            records.append(record_json(rec, cursor.selection))
    more = cursor.position < len(cursor.ids)
    if more:
        cursor.expires_at = call.state.clock.timestamp() + call.state.config.cursor_ttl_seconds
    else:
        del call.domain.cursors[cursor.id]
    return {"records": records, "next": more}


def op_delete_cursor(call: Call, p: dict) -> dict:
    """DELETE records/cursor.json."""
    cursor = _cursor(call, p)
    app_for(call, cursor.app, ("view",))
    del call.domain.cursors[cursor.id]
    return {}


# -- bulkRequest -------------------------------------------------------------------------------------


class BulkFailure(KintoneError):
    """A failed bulkRequest: `results` holds the error at the failing index, `{}` elsewhere."""

    def __init__(self, inner: KintoneError, index: int, count: int) -> None:
        super().__init__(inner.status, inner.code, inner.message, inner.errors)
        self.inner = inner
        self.index = index
        self.count = count

    def body(self, lang: str) -> dict:
        """`{"results": [...]}` with the inner envelope at the failing position."""
        results: list[dict] = [{} for _ in range(self.count)]
        results[self.index] = self.inner.body(lang)
        return {"results": results}


_API_PATH = re.compile(r"/k(?:/guest/(\d+))?/v1/([a-z/]+)\.json")
BULK_OPS: dict[tuple[str, str], Callable[[Call, dict, Txn], dict]] = {
    ("POST", "record"): op_add_record,
    ("PUT", "record"): op_update_record,
    ("POST", "records"): op_add_records,
    ("PUT", "records"): op_update_records,
    ("DELETE", "records"): op_delete_records,
}
_STATUS_APIS = {("PUT", "record/status"), ("PUT", "records/status"), ("PUT", "record/assignees")}


def op_bulk(call: Call, p: dict) -> dict:
    """POST bulkRequest.json: up to 20 record writes, in order, all or nothing."""
    requests = list_param(p, "requests", required=True)
    assert requests is not None
    if not requests or len(requests) > MAX_BULK:
        raise param_error("requests", "bulk_max")
    txn = Txn()
    results: list[dict] = []
    for index, request in enumerate(requests):
        try:
            results.append(_bulk_one(call, request, index, txn))
        except KintoneError as exc:
            txn.rollback()
            raise BulkFailure(exc, index, len(requests)) from None
        except Exception:
            txn.rollback()
            raise
    txn.commit()
    return {"results": results}


def _bulk_one(call: Call, request: Any, index: int, txn: Txn) -> dict:
    if not isinstance(request, dict):
        raise param_error(f"requests[{index}]", "not_object")
    method = str(request.get("method", ""))
    match = _API_PATH.fullmatch(str(request.get("api", "")))
    key = (method, match.group(2)) if match else ("", "")
    if key in _STATUS_APIS:
        raise coded(400, "GAIA_ST02")  # process management is never enabled in the sandbox
    handler = BULK_OPS.get(key)
    if handler is None:
        raise param_error(f"requests[{index}].api", "bulk_api")
    payload = request.get("payload")
    if not isinstance(payload, dict):
        raise param_error(f"requests[{index}].payload", "required_field")
    assert match is not None
    guest = int(match.group(1)) if match.group(1) else None
    if guest != call.guest:
        raise coded(403, "CB_NO02")
    inner = Call(call.state, call.domain, guest, payload, call.auth, headers=call.headers)
    return handler(inner, payload, txn)


# -- apps ----------------------------------------------------------------------------------------------


def op_get_app(call: Call, p: dict) -> dict:
    """GET app.json."""
    app = app_for(call, int_param(p, "id"), ("view", "add", "manage"))
    return app.info()


def op_get_apps(call: Call, p: dict) -> dict:
    """GET apps.json (password users only)."""
    _password_only(call)
    ids = {int_param({"id": v}, "id") for v in list_param(p, "ids") or []}
    codes = {str(v) for v in list_param(p, "codes") or []}
    spaces = {int_param({"id": v}, "id") for v in list_param(p, "spaceIds") or []}
    for name, values in (("ids", ids), ("codes", codes), ("spaceIds", spaces)):
        if len(values) > 100:
            raise param_error(name, "max_value_param", max=100)
    name = p.get("name")
    offset = int_param(p, "offset", required=False, minimum=0) or 0
    limit = int_param(p, "limit", required=False)
    limit = 100 if limit is None else limit
    if limit > 100:
        raise param_error("limit", "max_value_param", max=100)
    found = []
    for app in sorted(call.domain.apps.values(), key=lambda a: a.id):
        if app.live is None or app.guest_space != call.guest:
            continue
        if ids and app.id not in ids:
            continue
        if codes and app.code not in codes:
            continue
        if spaces and app.space_id not in spaces:
            continue
        if name and str(name).lower() not in app.name.lower():
            continue
        found.append(app.info())
    return {"apps": found[offset : offset + limit]}


def op_create_app(call: Call, p: dict) -> dict:
    """POST preview/app.json (password users only): a new app that exists only in preview."""
    _password_only(call)
    name = p.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        raise param_error("name", "required_field" if not name else "name_length")
    space = int_param(p, "space", required=False)
    thread = int_param(p, "thread", required=False)
    domain = call.domain
    app = App(
        domain.new_app_id(),
        name,
        locale="ja",
        creator=call.auth.user,
        now=call.now_text(),
        space_id=space if space is not None else call.guest,
        thread_id=thread,
        guest_space=call.guest,
    )
    domain.apps[app.id] = app
    return {"app": str(app.id), "revision": str(app.preview.revision)}


# -- form settings -------------------------------------------------------------------------------------


def _schema_for(call: Call, p: dict, preview: bool, *, write: bool = False) -> tuple[App, Schema]:
    permissions = ("manage",) if preview else ("view", "add", "manage")
    app = app_for(call, int_param(p, "app"), permissions, live=not preview)
    if write:
        expected = revision_param(p.get("revision"), "revision")
        if expected is not None and expected != app.preview.revision:
            raise KintoneError(409, "GAIA_CO02", msg("app_revision"))
    schema = app.preview if preview else app.live
    assert schema is not None
    return app, schema


def _lang(p: dict) -> None:
    lang = p.get("lang")
    if lang is not None and lang not in ("ja", "en", "zh", "user", "default"):
        raise param_error("lang", "enum")


def op_get_fields(call: Call, p: dict, preview: bool) -> dict:
    """GET [preview/]app/form/fields.json."""
    _lang(p)
    _app, schema = _schema_for(call, p, preview)
    return {"properties": schema.properties(), "revision": str(schema.revision)}


def op_get_layout(call: Call, p: dict, preview: bool) -> dict:
    """GET [preview/]app/form/layout.json."""
    _app, schema = _schema_for(call, p, preview)
    return {"layout": schema.layout_json(), "revision": str(schema.revision)}


def _bump(app: App, schema: Schema, call: Call) -> dict:
    schema.revision += 1
    schema.invalidate()
    app.modified_at = call.now_text()
    return {"revision": str(schema.revision)}


def _properties_param(p: dict) -> dict:
    props = p.get("properties")
    if props is None:
        raise param_error("properties", "required_field")
    if not isinstance(props, dict):
        raise param_error("properties", "not_object")
    return props


def _all_codes(schema: Schema) -> set[str]:
    return set(schema.fields) | set(schema.inner_fields())


def op_add_fields(call: Call, p: dict) -> dict:
    """POST preview/app/form/fields.json."""
    app, schema = _schema_for(call, p, True, write=True)
    props = _properties_param(p)
    errors = Collector()
    used = _all_codes(schema)
    prepared = []
    for code, raw in props.items():
        base = f"properties[{code}]"
        if not isinstance(raw, dict):
            errors.add(base, "not_object")
            continue
        code = str(raw.get("code", code))
        if raw.get("type") in SYSTEM_TYPES:
            errors.add(f"{base}.type", "field_type")
            continue
        if code in used:
            errors.add(f"{base}.code", "field_code_used")
            continue
        prop = normalize_property(code, raw, errors, base)
        inner_codes = set(prop.get("fields", {}))
        if inner_codes & used:
            errors.add(f"{base}.fields", "field_code_used")
        used |= {code} | inner_codes
        prepared.append(prop)
    errors.raise_if_any()
    for prop in prepared:
        schema.add(prop)
    return _bump(app, schema, call)


def update_field_properties(schema: Schema, props: dict, errors: Collector) -> None:
    """Apply form/fields.json PUT semantics to `schema` (rename via `code`, merge the rest)."""
    changes = []
    for code, raw in props.items():
        base = f"properties[{code}]"
        fld = schema.fields.get(code)
        if fld is None:
            raise coded(400, "GAIA_FC01", field=code)
        if not isinstance(raw, dict):
            errors.add(base, "not_object")
            continue
        if "type" in raw and raw["type"] != fld.type:
            errors.add(f"{base}.type", "field_type_change")
            continue
        new_code = str(raw.get("code", code))
        if new_code != code and (new_code in _all_codes(schema) or not valid_field_code(new_code)):
            errors.add(f"{base}.code", "field_code_used")
            continue
        merged = {**fld.prop, **{k: v for k, v in raw.items() if k != "fields"}}
        merged["type"] = fld.type
        if fld.type in SYSTEM_TYPES:
            prop = dict(fld.prop)
            prop.update({k: merged[k] for k in ("label", "enabled", "noLabel") if k in merged})
            prop["code"] = new_code
        else:
            prop = normalize_property(new_code, merged, errors, base)
        inner_changes = raw.get("fields") if fld.type == "SUBTABLE" else None
        changes.append((fld, code, new_code, prop, inner_changes, base))
    if errors:
        return
    for fld, code, new_code, prop, inner_changes, base in changes:
        fld.prop = prop
        if inner_changes:
            _update_inner(schema, fld, inner_changes, errors, base)
        if new_code != code:
            schema.fields = {(new_code if c == code else c): f for c, f in schema.fields.items()}
    schema.invalidate()


def _update_inner(
    schema: Schema, table: Field, changes: dict, errors: Collector, base: str
) -> None:
    inner = table.inner or {}
    updated: dict[str, Field] = dict(inner)
    for code, raw in changes.items():
        if not isinstance(raw, dict):
            continue
        path = f"{base}.fields[{code}]"
        existing = inner.get(code)
        if existing is None:
            prop = normalize_property(str(raw.get("code", code)), raw, errors, path, inner=True)
            if prop:
                updated[prop["code"]] = schema.new_field(prop, table)
            continue
        merged = {**existing.prop, **raw, "type": existing.type}
        new_code = str(raw.get("code", code))
        existing.prop = normalize_property(new_code, merged, errors, path, inner=True)
        if new_code != code:
            updated = {(new_code if c == code else c): f for c, f in updated.items()}
    table.inner = updated


def op_update_fields(call: Call, p: dict) -> dict:
    """PUT preview/app/form/fields.json."""
    app, schema = _schema_for(call, p, True, write=True)
    errors = Collector()
    update_field_properties(schema, _properties_param(p), errors)
    errors.raise_if_any()
    return _bump(app, schema, call)


def delete_fields(schema: Schema, codes: list) -> None:
    """Remove fields (top-level or inside a table); system fields cannot be removed."""
    for code in codes:
        code = str(code)
        fld = schema.find(code)
        if fld is None:
            raise coded(400, "GAIA_FC01", field=code)
        if fld.type in SYSTEM_TYPES:
            raise param_error(f"fields[{codes.index(code)}]", "field_system")
    for code in codes:
        code = str(code)
        if code in schema.fields:
            del schema.fields[code]
            continue
        for table in schema.fields.values():
            if table.inner and code in table.inner:
                table.inner = {c: f for c, f in table.inner.items() if c != code}
    schema.invalidate()


def op_delete_fields(call: Call, p: dict) -> dict:
    """DELETE preview/app/form/fields.json."""
    app, schema = _schema_for(call, p, True, write=True)
    codes = list_param(p, "fields", required=True)
    assert codes is not None
    delete_fields(schema, codes)
    return _bump(app, schema, call)


def op_update_layout(call: Call, p: dict) -> dict:
    """PUT preview/app/form/layout.json."""
    app, schema = _schema_for(call, p, True, write=True)
    layout = list_param(p, "layout", required=True)
    schema.layout = layout
    return _bump(app, schema, call)


# -- deploy ----------------------------------------------------------------------------------------------


def deploy_violations(app: App, schema: Schema) -> bool:
    """True when existing records break a no-duplicates rule of `schema` (deploy then FAILs)."""
    for fld in schema.fields.values():
        if not fld.prop.get("unique") or fld.inner is not None:
            continue
        live_fld = app.live.fields.get(fld.code) if app.live else None
        if live_fld is not None and live_fld.prop.get("unique") and live_fld.fid == fld.fid:
            continue
        seen: set = set()
        for rec in app.table.recs.values():
            key = unique_key(fld.type, rec.values.get(fld.fid))
            if key is None:
                continue
            if key in seen:
                return True
            seen.add(key)
    return False


def op_deploy(call: Call, p: dict) -> dict:
    """POST preview/app/deploy.json: apply (or revert) preview settings of several apps."""
    items = list_param(p, "apps", required=True)
    assert items is not None
    if not items or len(items) > 300:
        raise param_error("apps", "required_field" if not items else "max_value_param", max=300)
    apps: list[App] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise param_error(f"apps[{index}]", "not_object")
        app = app_for(call, int_param(item, "app"), ("manage",), live=False)
        expected = revision_param(item.get("revision"), f"apps[{index}].revision")
        if expected is not None and expected != app.preview.revision:
            raise KintoneError(409, "GAIA_CO02", msg("app_revision"))
        apps.append(app)
    polls = call.state.config.deploy_polls
    revert = bool_param(p, "revert")
    failed = {app.id for app in apps if not revert and deploy_violations(app, app.preview)}
    for app in apps:
        app.deploy_polls_left = polls
        if failed:
            app.deploy_status = "FAIL" if app.id in failed else "CANCEL"
            continue
        app.deploy_status = "SUCCESS"
        if revert:
            if app.live is not None:
                app.preview = app.live.copy()
            continue
        live = app.preview.copy()
        app.set_live(live)
        app.modified_at = call.now_text()
    return {}


def op_deploy_status(call: Call, p: dict) -> dict:
    """GET preview/app/deploy.json: PROCESSING for the configured number of polls, then final."""
    ids = list_param(p, "apps", required=True)
    assert ids is not None
    out = []
    for raw in ids:
        app = app_for(call, int_param({"app": raw}, "app"), ("manage",), live=False)
        if app.deploy_polls_left > 0:
            app.deploy_polls_left -= 1
            status = "PROCESSING"
        else:
            status = app.deploy_status or "SUCCESS"
        out.append({"app": str(app.id), "status": status})
    return {"apps": out}


# -- files ------------------------------------------------------------------------------------------------


def op_upload_file(call: Call, p: dict) -> dict:
    """POST file.json (multipart, part `file`) -> temporary fileKey."""
    upload = call.files.get("file") if call.files is not None else None
    if upload is None:
        raise param_error("file", "required_field")
    blob = Blob(
        key=str(uuid.uuid4()),
        name=upload.filename or "file",
        content_type=upload.mimetype or "application/octet-stream",
        data=upload.read(),
    )
    call.domain.temp_files[blob.key] = blob
    return {"fileKey": blob.key}


def op_download_file(call: Call, p: dict) -> RawBody:
    """GET file.json?fileKey=<download key> -> the bytes."""
    key = p.get("fileKey")
    if key in (None, ""):
        raise param_error("fileKey", "required_field")
    blob = call.domain.files.get(str(key))
    if blob is None:
        raise coded(404, "GAIA_BL01", id=key)
    if blob.app is not None and not call.auth.can(blob.app, "view"):
        raise coded(403, "GAIA_NO01")
    return RawBody(blob.data, blob.content_type)


# -- routing table -------------------------------------------------------------------------------------


def _atomic(op: Callable[[Call, dict, Txn], dict]) -> Callable[[Call, dict], dict]:
    def run(call: Call, p: dict) -> dict:
        txn = Txn()
        try:
            body = op(call, p, txn)
        except BaseException:
            txn.rollback()
            raise
        txn.commit()
        return body

    return run


Handler = Callable[[Call, dict], Any]
# (method, preview?, endpoint) -> handler
ROUTES: dict[tuple[str, bool, str], Handler] = {
    ("GET", False, "record"): op_get_record,
    ("POST", False, "record"): _atomic(op_add_record),
    ("PUT", False, "record"): _atomic(op_update_record),
    ("GET", False, "records"): op_get_records,
    ("POST", False, "records"): _atomic(op_add_records),
    ("PUT", False, "records"): _atomic(op_update_records),
    ("DELETE", False, "records"): _atomic(op_delete_records),
    ("POST", False, "records/cursor"): op_create_cursor,
    ("GET", False, "records/cursor"): op_read_cursor,
    ("DELETE", False, "records/cursor"): op_delete_cursor,
    ("POST", False, "bulkRequest"): op_bulk,
    ("GET", False, "app"): op_get_app,
    ("GET", False, "apps"): op_get_apps,
    ("POST", True, "app"): op_create_app,
    ("GET", False, "app/form/fields"): lambda c, p: op_get_fields(c, p, False),
    ("GET", True, "app/form/fields"): lambda c, p: op_get_fields(c, p, True),
    ("POST", True, "app/form/fields"): op_add_fields,
    ("PUT", True, "app/form/fields"): op_update_fields,
    ("DELETE", True, "app/form/fields"): op_delete_fields,
    ("GET", False, "app/form/layout"): lambda c, p: op_get_layout(c, p, False),
    ("GET", True, "app/form/layout"): lambda c, p: op_get_layout(c, p, True),
    ("PUT", True, "app/form/layout"): op_update_layout,
    ("POST", True, "app/deploy"): op_deploy,
    ("GET", True, "app/deploy"): op_deploy_status,
    ("POST", False, "file"): op_upload_file,
    ("GET", False, "file"): op_download_file,
}
KNOWN_ENDPOINTS = {(preview, endpoint) for _m, preview, endpoint in ROUTES}
