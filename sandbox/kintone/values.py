"""Writing records: write-format values -> stored values, with kintone's validation rules.

Stored values are the read-format values (strings, lists, `{code, name}` dicts) keyed by the
field's internal id; table rows are `{"id": int, "value": {inner_fid: value}}`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.kintone import calc
from sandbox.kintone.clock import USER_TZ, format_minute
from sandbox.kintone.errors import Collector, KintoneError, coded
from sandbox.kintone.records import empty_value, read_plan
from sandbox.kintone.schema import ENTITY_TYPES, PROCESS_TYPES, Field, Schema
from sandbox.kintone.store import ADMINISTRATOR, App, Blob, Domain, Rec, Txn, unique_key

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_TIME = re.compile(r"(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?")
_DATETIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)
_CANONICAL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:00Z")
_MAIL = re.compile(r"[^\s@]+@[^\s@]+")
_PHONE = re.compile(r"[0-9+\-()#*.\s]+")
TEXT_TYPES = frozenset({"SINGLE_LINE_TEXT", "MULTI_LINE_TEXT", "RICH_TEXT", "LINK"})
LENGTH_TYPES = frozenset({"SINGLE_LINE_TEXT", "MULTI_LINE_TEXT", "LINK"})
# Types whose `required` kintone enforces (RADIO_BUTTON and CALC accept the flag but ignore it).
REQUIRED_TYPES = frozenset(
    {
        "SINGLE_LINE_TEXT",
        "MULTI_LINE_TEXT",
        "RICH_TEXT",
        "LINK",
        "NUMBER",
        "DATE",
        "TIME",
        "DATETIME",
        "DROP_DOWN",
        "CHECK_BOX",
        "MULTI_SELECT",
        "FILE",
        "USER_SELECT",
        "ORGANIZATION_SELECT",
        "GROUP_SELECT",
    }
)
ARRAY_TYPES = frozenset({"CHECK_BOX", "MULTI_SELECT", "FILE"})
ADMIN_ONLY_ON_ADD = frozenset({"CREATOR", "MODIFIER", "CREATED_TIME", "UPDATED_TIME"})
NEVER_WRITABLE = frozenset({"RECORD_NUMBER", "CALC"}) | PROCESS_TYPES


class _Invalid(Exception):
    """A value of the wrong JSON shape for its field."""


@dataclass
class WriteContext:
    """What a record write needs to know beyond the values themselves."""

    domain: Domain
    app: App
    schema: Schema
    user: dict
    is_admin: bool
    txn: Txn
    now: datetime
    can_view: Callable[[int], bool]
    lenient: bool = False


@dataclass
class Prepared:
    """Validated stored values plus system-field overrides (admin writes on add)."""

    values: dict[int, Any]
    system: dict[str, Any]


# -- scalar parsers ----------------------------------------------------------------------------


def normalize_number(raw: Any) -> str | None:
    """kintone NUMBER normalization: '' for empty, plain decimal text, None when not a number."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            return None
        raw = repr(raw)
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if text == "":
        return ""
    if text.isdigit() and (len(text) == 1 or text[0] != "0"):
        return text
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return format(Decimal(text), "f")
    except InvalidOperation:
        return None


def normalize_date(raw: Any) -> str | None:
    """'YYYY-MM-DD' (partial dates padded with 01); None for empty; ValueError when invalid."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ValueError(raw)
    if len(raw) == 10 and raw[4] == "-" and raw[7] == "-":
        return date.fromisoformat(raw).isoformat()
    match = _DATE.fullmatch(raw.strip())
    if not match:
        raise ValueError(raw)
    year, month, day = match.groups()
    return date(int(year), int(month or 1), int(day or 1)).isoformat()


def normalize_time(raw: Any) -> str | None:
    """'HH:MM' (seconds dropped); None for empty; ValueError when invalid."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ValueError(raw)
    match = _TIME.fullmatch(raw.strip())
    if not match:
        raise ValueError(raw)
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(raw)
    return f"{hour:02d}:{minute:02d}"


def normalize_datetime(raw: Any) -> str:
    """UTC minute text 'YYYY-MM-DDTHH:MM:00Z'; '' for empty; ValueError when invalid."""
    if raw is None or raw == "":
        return ""
    if not isinstance(raw, str):
        raise ValueError(raw)
    if len(raw) == 20 and raw.endswith(":00Z") and _CANONICAL_DATETIME.fullmatch(raw):
        return raw
    match = _DATETIME.fullmatch(raw.strip())
    if not match:
        raise ValueError(raw)
    year, month, day, hour, minute, _second, zone = match.groups()
    value = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0))
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        value -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value.strftime("%Y-%m-%dT%H:%M:00Z")


def _text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise _Invalid
    return str(raw)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _in_range(year_text: str) -> bool:
    return "1000" <= year_text[:4] <= "9999"


# -- the writer ----------------------------------------------------------------------------------


class RecordWriter:
    """Turns one write-format record into stored values, collecting validation errors."""

    def __init__(self, ctx: WriteContext, errors: Collector, prefix: str) -> None:
        self.ctx = ctx
        self.errors = errors
        self.prefix = prefix

    # Entry points -----------------------------------------------------------------------------

    def prepare(self, write: Any, old: Rec | None) -> Prepared:
        """Validate `write` (the `record` object) against the live form; merge into `old`."""
        ctx, schema = self.ctx, self.ctx.schema
        adding = old is None
        values: dict[int, Any] = {} if adding else dict(old.values)
        system: dict[str, Any] = {}
        if write is None:
            write = {}
        if not isinstance(write, dict):
            self.errors.add(self.prefix, "not_object")
            return Prepared(values, system)
        plan = _write_plan(schema)
        lenient = ctx.lenient
        prefix = self.prefix
        written: set[str] = set()
        loaded_calcs: set[int] = set()  # CALC values an admin load gave explicitly
        for code, cell in write.items():
            entry = plan.get(code)
            if entry is None:
                continue  # unknown codes (and $id / $revision) are ignored, as kintone does
            kind, fld = entry
            raw = cell.get("value") if type(cell) is dict else cell
            if kind == _VALUE:
                written.add(code)
                values[fld.fid] = self._value(fld, raw, f"{prefix}.{code}", in_table=False)
            elif kind == _TABLE:
                written.add(code)
                old_rows = old.values.get(fld.fid, []) if old else []
                values[fld.fid] = self._table(fld, raw, f"{prefix}.{code}", old_rows)
            elif kind == _SYSTEM:
                if (adding and ctx.is_admin) or lenient:
                    self._system_value(fld, raw, f"{prefix}.{code}", system)
                else:
                    self.errors.add(f"{prefix}.{code}.value", "not_writable")
            elif kind == _NEVER:
                if lenient and fld.type != "RECORD_NUMBER":
                    values[fld.fid] = raw if raw is not None else empty_value(fld.type)
                    loaded_calcs.add(fld.fid)
                elif not lenient:
                    self.errors.add(f"{prefix}.{code}.value", "not_writable")
            # _TARGET: lookup copies are filled from the source app, sent values are ignored
        if adding:
            for fld, static in _default_plan(schema):
                if fld.fid in values:
                    continue
                if static is _DYNAMIC:
                    default = self._default(fld)
                    if default is not None:
                        values[fld.fid] = default
                else:
                    values[fld.fid] = list(static) if type(static) is list else static
        if not lenient:
            self._lookups(values, written, adding)
            self._required(values)
            self._unique(values, written, adding, None if adding else old.id)
        _calculate(schema, values, keep=loaded_calcs)
        return Prepared(values, system)

    # Values --------------------------------------------------------------------------------------

    def _value(self, fld: Field, raw: Any, base: str, *, in_table: bool) -> Any:
        ftype = fld.type
        try:
            if ftype in TEXT_TYPES:
                return self._text_value(fld, raw, base)
            if ftype == "NUMBER":
                return self._number_value(fld, raw, base, in_table)
            if ftype in ("CHECK_BOX", "MULTI_SELECT"):
                return self._multi_choice(fld, raw, base)
            if ftype in ("RADIO_BUTTON", "DROP_DOWN"):
                return self._choice(fld, raw, base)
            if ftype == "DATE":
                return self._temporal(normalize_date, raw, base, "bad_date")
            if ftype == "TIME":
                return self._temporal(normalize_time, raw, base, "bad_time")
            if ftype == "DATETIME":
                return self._temporal(normalize_datetime, raw, base, "bad_datetime")
            if ftype in ENTITY_TYPES:
                return self._entities(fld, raw)
            if ftype == "FILE":
                return self._files(fld, raw, base)
            if ftype == "CALC":
                return empty_value(ftype)
        except _Invalid:
            suffix = ".values" if ftype in ARRAY_TYPES or ftype in ENTITY_TYPES else ".value"
            self.errors.add(base + suffix, "bad_value")
            return empty_value(ftype)
        return raw

    def _text_value(self, fld: Field, raw: Any, base: str) -> str:
        value = _text(raw)
        if value == "" or self.ctx.lenient:
            return value
        prop = fld.prop
        if fld.type in LENGTH_TYPES:
            max_length = prop.get("maxLength", "")
            if max_length not in ("", None) and len(value) > int(max_length):
                self.errors.add(f"{base}.value", "max_length", n=int(max_length) + 1)
            min_length = prop.get("minLength", "")
            if min_length not in ("", None) and len(value) < int(min_length):
                self.errors.add(f"{base}.value", "min_length", n=int(min_length) - 1)
        if fld.type == "LINK":
            protocol = prop.get("protocol", "WEB")
            if protocol == "MAIL" and not _MAIL.fullmatch(value):
                self.errors.add(f"{base}.value", "bad_link_mail")
            elif protocol == "CALL" and not _PHONE.fullmatch(value):
                self.errors.add(f"{base}.value", "bad_link_call")
            elif protocol == "WEB" and any(c.isspace() for c in value):
                self.errors.add(f"{base}.value", "bad_link_web")
        return value

    def _number_value(self, fld: Field, raw: Any, base: str, in_table: bool) -> str:
        value = normalize_number(raw)
        if value is None:
            if in_table:
                return ""  # kintone silently stores a blank for a bad number inside a table
            code = base[len(self.prefix) + 1 :]
            self.errors.add(f"{self.prefix}[{code}].value", "not_number")
            return ""
        if value == "" or self.ctx.lenient:
            return value
        if sum(c.isdigit() for c in value) > 30:
            self.errors.add(f"{base}.value", "too_many_digits")
            return value
        number = Decimal(value)
        max_value = fld.prop.get("maxValue", "")
        if max_value not in ("", None) and number > Decimal(str(max_value)):
            self.errors.add(f"{base}.value", "max_value", v=max_value)
        min_value = fld.prop.get("minValue", "")
        if min_value not in ("", None) and number < Decimal(str(min_value)):
            self.errors.add(f"{base}.value", "min_value", v=min_value)
        return value

    def _multi_choice(self, fld: Field, raw: Any, base: str) -> list[str]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise _Invalid
        items = [_text(item) for item in raw]
        if not self.ctx.lenient:
            options = fld.prop.get("options", {})
            for i, item in enumerate(items):
                if item not in options:
                    self.errors.add(f"{base}.values[{i}].value", "not_in_options", v=item)
        return items

    def _choice(self, fld: Field, raw: Any, base: str) -> str | None:
        value = _text(raw)
        if value == "":
            return None if fld.type == "DROP_DOWN" else ""
        if not self.ctx.lenient and value not in fld.prop.get("options", {}):
            self.errors.add(f"{base}.value", "not_in_options", v=value)
        return value

    def _temporal(self, parse: Callable[[Any], Any], raw: Any, base: str, key: str) -> Any:
        try:
            value = parse(raw)
        except (ValueError, TypeError):
            self.errors.add(f"{base}.value", key)
            return None
        if value and key != "bad_time" and not _in_range(value):
            self.errors.add(f"{base}.value", "date_range")
        return value

    def _entities(self, fld: Field, raw: Any) -> list[dict]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise _Invalid
        out: list[dict] = []
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("code"), str):
                raise _Invalid
            out.append(self._entity(fld.type, item["code"]))
        return out

    def _entity(self, ftype: str, code: str) -> dict:
        if ftype in ("USER_SELECT", "CREATOR", "MODIFIER"):
            if code == ADMINISTRATOR["code"]:
                return ADMINISTRATOR
            user = self.ctx.domain.users.get(code)
            if user is not None:
                return user.entity()
            if self.ctx.lenient:
                return {"code": code, "name": code}
            raise coded(400, "GAIA_IL26", user=code)
        # Organizations and groups have no directory in the sandbox: any code is accepted.
        return {"code": code, "name": code}

    def _files(self, fld: Field, raw: Any, base: str) -> list[dict]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise _Invalid
        domain, txn = self.ctx.domain, self.ctx.txn
        out: list[dict] = []
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("fileKey"), str):
                raise _Invalid
            key = item["fileKey"]
            stored = domain.files.get(key)
            if stored is not None and stored.app == self.ctx.app.id:
                out.append(stored.entry())  # an existing attachment is kept by its download key
                continue
            temp = domain.temp_files.pop(key, None)
            if temp is None:
                raise coded(404, "GAIA_BL01", id=key)
            blob = Blob(
                key=_download_key(),
                name=temp.name,
                content_type=temp.content_type,
                data=temp.data,
                app=self.ctx.app.id,
            )
            domain.files[blob.key] = blob
            txn.on_rollback(lambda t=temp, b=blob: _undo_attach(domain, t, b))
            out.append(blob.entry())
        return out

    def _system_value(self, fld: Field, raw: Any, base: str, system: dict) -> None:
        ftype = fld.type
        try:
            if ftype in ("CREATOR", "MODIFIER"):
                if not isinstance(raw, dict) or not isinstance(raw.get("code"), str):
                    raise _Invalid
                system[ftype] = self._entity(ftype, raw["code"])
            else:
                text = normalize_datetime(raw)
                if text:
                    system[ftype] = text
        except (_Invalid, ValueError):
            self.errors.add(f"{base}.value", "bad_value")

    # Tables ----------------------------------------------------------------------------------------

    def _table(self, fld: Field, raw: Any, base: str, old_rows: list[dict]) -> list[dict]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.errors.add(f"{base}.value", "bad_value")
            return list(old_rows)
        by_id = {str(row["id"]): row for row in old_rows}
        inner = fld.inner or {}
        rows: list[dict] = []
        for index, row in enumerate(raw):
            row_base = f"{base}.value[{index}].value"
            if not isinstance(row, dict):
                self.errors.add(f"{base}.value[{index}]", "not_object")
                continue
            existing = by_id.pop(str(row.get("id")), None) if row.get("id") is not None else None
            cells = dict(existing["value"]) if existing else {}
            sent = row.get("value") or {}
            if not isinstance(sent, dict):
                self.errors.add(row_base, "not_object")
                sent = {}
            for code, cell in sent.items():
                inner_fld = inner.get(code)
                if inner_fld is None or inner_fld.type == "CALC":
                    continue
                raw_value = cell.get("value") if isinstance(cell, dict) else cell
                cells[inner_fld.fid] = self._value(
                    inner_fld, raw_value, f"{row_base}.{code}", in_table=True
                )
            if existing is None:
                for inner_fld in inner.values():
                    if inner_fld.code not in sent:
                        default = self._default(inner_fld)
                        if default is not None:
                            cells[inner_fld.fid] = default
                row_id = next(self.ctx.domain.row_ids)
            else:
                row_id = existing["id"]
            rows.append({"id": row_id, "value": cells})
        return rows

    # Defaults ------------------------------------------------------------------------------------

    def _default(self, fld: Field) -> Any:
        prop, ftype = fld.prop, fld.type
        default = prop.get("defaultValue")
        now = self.ctx.now
        if ftype in TEXT_TYPES:
            return default or ""
        if ftype == "NUMBER":
            return normalize_number(default) or ""
        if ftype in ("CHECK_BOX", "MULTI_SELECT"):
            return list(default or [])
        if ftype == "RADIO_BUTTON":
            return default or ""
        if ftype == "DROP_DOWN":
            return default or None
        if ftype == "DATE":
            if prop.get("defaultNowValue"):
                return now.astimezone(USER_TZ).date().isoformat()
            return _quiet(normalize_date, default)
        if ftype == "TIME":
            if prop.get("defaultNowValue"):
                return now.astimezone(USER_TZ).strftime("%H:%M")
            return _quiet(normalize_time, default)
        if ftype == "DATETIME":
            if prop.get("defaultNowValue"):
                return format_minute(now)
            return _quiet(normalize_datetime, default) or ""
        if ftype in ENTITY_TYPES:
            out = []
            for entity in default or []:
                code = entity.get("code", "")
                if entity.get("type") == "FUNCTION":
                    if code == "LOGINUSER()" and ftype == "USER_SELECT":
                        out.append(self.ctx.user)
                    continue
                try:
                    out.append(self._entity(ftype, code))
                except KintoneError:
                    continue
            return out
        return None

    # Record-level rules --------------------------------------------------------------------------

    def _lookups(self, values: dict[int, Any], written: set[str], adding: bool) -> None:
        schema = self.ctx.schema
        for fld in _lookup_fields(schema):
            if fld.code not in written:
                continue
            lookup = fld.prop["lookup"]
            targets = [
                (schema.fields.get(m["field"]), m["relatedField"]) for m in lookup["fieldMappings"]
            ]
            key = values.get(fld.fid)
            if key in (None, ""):
                for target, _ in targets:
                    if target is not None:
                        values[target.fid] = empty_value(target.type)
                continue
            source = self._lookup_source(lookup, key)
            if source is None:
                raise coded(400, "GAIA_LO04", field=fld.code, value=key)
            source_app, rec = source
            read = {code: get for code, _t, get in read_plan(source_app, source_app.live)}
            for target, related in targets:
                if target is None or related not in read:
                    continue
                value = read[related](rec)
                values[target.fid] = list(value) if isinstance(value, list) else value

    def _lookup_source(self, lookup: dict, key: Any) -> tuple[App, Rec] | None:
        try:
            app_id = int(lookup["relatedApp"]["app"])
        except (TypeError, ValueError):
            return None
        source_app = self.ctx.domain.apps.get(app_id)
        if source_app is None or source_app.live is None or not self.ctx.can_view(app_id):
            return None
        key_field = source_app.live.fields.get(lookup["relatedKeyField"])
        if key_field is None:
            return None
        if key_field.type == "RECORD_NUMBER":
            digits = str(key).rsplit("-", 1)[-1]
            rec = source_app.table.get(int(digits)) if digits.isdigit() else None
            return (source_app, rec) if rec is not None else None
        wanted = unique_key(key_field.type, key)
        if key_field.prop.get("unique"):
            rec_id = source_app.unique_index(key_field).get(wanted)
            rec = source_app.table.get(rec_id) if rec_id is not None else None
            return (source_app, rec) if rec is not None else None
        for rec in source_app.table.iterate(None, None, False):
            if unique_key(key_field.type, rec.values.get(key_field.fid)) == wanted:
                return source_app, rec
        return None

    def _required(self, values: dict[int, Any]) -> None:
        for fld in self.ctx.schema.record_fields():
            if fld.type == "SUBTABLE":
                self._required_in_table(fld, values.get(fld.fid) or [])
                continue
            if fld.type not in REQUIRED_TYPES or not fld.prop.get("required"):
                continue
            if _is_empty(values.get(fld.fid)):
                self.errors.add(_required_path(f"{self.prefix}.{fld.code}", fld.type), "required")

    def _required_in_table(self, table: Field, rows: list[dict]) -> None:
        required = [
            f
            for f in (table.inner or {}).values()
            if f.type in REQUIRED_TYPES and f.prop.get("required")
        ]
        if not required:
            return
        for index, row in enumerate(rows):
            for fld in required:
                if _is_empty(row["value"].get(fld.fid)):
                    base = f"{self.prefix}.{table.code}.value[{index}].value.{fld.code}"
                    self.errors.add(_required_path(base, fld.type), "required")

    def _unique(
        self, values: dict[int, Any], written: set[str], adding: bool, self_id: int | None
    ) -> None:
        app = self.ctx.app
        for fld in app.unique_fields():
            if not adding and fld.code not in written:
                continue
            value = values.get(fld.fid)
            key = unique_key(fld.type, value)
            if key is None:
                continue
            path = f"{self.prefix}.{fld.code}.value"
            if fld.type in ("SINGLE_LINE_TEXT", "LINK") and len(value) > 64:
                self.errors.add(path, "unique_too_long")
                continue
            other = app.unique_index(fld).get(key)
            if other is not None and other != self_id:
                self.errors.add(path, "unique")


_VALUE, _TABLE, _SYSTEM, _NEVER, _TARGET = range(5)
_DYNAMIC = object()


def _write_plan(schema: Schema) -> dict[str, tuple[int, Field]]:
    """How each writable-looking top-level code of a form is treated on write."""

    def build() -> dict[str, tuple[int, Field]]:
        targets = _lookup_targets(schema)
        plan: dict[str, tuple[int, Field]] = {}
        for fld in schema.record_fields():
            ftype = fld.type
            if ftype in ADMIN_ONLY_ON_ADD:
                kind = _SYSTEM
            elif ftype in NEVER_WRITABLE:
                kind = _NEVER
            elif fld.code in targets:
                kind = _TARGET
            elif ftype == "SUBTABLE":
                kind = _TABLE
            else:
                kind = _VALUE
            plan[fld.code] = (kind, fld)
        return plan

    return schema.derived("write_plan", build)


def _default_plan(schema: Schema) -> list[tuple[Field, Any]]:
    """Fields with a default worth storing on add: (field, value) or (field, _DYNAMIC)."""

    def build() -> list[tuple[Field, Any]]:
        plan: list[tuple[Field, Any]] = []
        for fld in schema.record_fields():
            prop, ftype = fld.prop, fld.type
            if ftype in ADMIN_ONLY_ON_ADD or ftype in NEVER_WRITABLE or ftype == "SUBTABLE":
                continue
            if ftype in ("DATE", "TIME", "DATETIME") and prop.get("defaultNowValue"):
                plan.append((fld, _DYNAMIC))
            elif ftype in ENTITY_TYPES:
                if prop.get("defaultValue"):
                    plan.append((fld, _DYNAMIC))
            else:
                static = _static_default(fld)
                if static not in (None, "", []):
                    plan.append((fld, static))
        return plan

    return schema.derived("default_plan", build)


def _static_default(fld: Field) -> Any:
    prop, ftype = fld.prop, fld.type
    default = prop.get("defaultValue")
    if ftype in TEXT_TYPES or ftype == "RADIO_BUTTON":
        return default or ""
    if ftype == "NUMBER":
        return normalize_number(default) or ""
    if ftype in ("CHECK_BOX", "MULTI_SELECT"):
        return list(default or [])
    if ftype == "DROP_DOWN":
        return default or None
    if ftype == "DATE":
        return _quiet(normalize_date, default)
    if ftype == "TIME":
        return _quiet(normalize_time, default)
    if ftype == "DATETIME":
        return _quiet(normalize_datetime, default) or ""
    return None


def _calculate(schema: Schema, values: dict[int, Any], keep: set[int]) -> None:
    """Fill the top-level CALC fields whose formula is in the arithmetic subset (calc.py)."""
    calcs = [f for f in schema.fields.values() if f.type == "CALC" and f.fid not in keep]
    if not calcs:
        return
    operands = {
        code: (f.type, f.prop.get("expression", "") if f.type == "CALC" else values.get(f.fid))
        for code, f in schema.fields.items()
        if f.type in calc.NUMERIC_SOURCES
    }
    for fld in calcs:
        try:
            values[fld.fid] = calc.compute(fld.prop.get("expression", ""), operands)
        except calc.Unsupported:
            values[fld.fid] = empty_value("CALC")


def _required_path(base: str, ftype: str) -> str:
    if ftype in ENTITY_TYPES:
        return f"{base}.values.value"
    if ftype in ARRAY_TYPES:
        return f"{base}.values"
    return f"{base}.value"


def _quiet(parse: Callable[[Any], Any], raw: Any) -> Any:
    try:
        return parse(raw)
    except (ValueError, TypeError):
        return None


def _lookup_fields(schema: Schema) -> list[Field]:
    return schema.derived(
        "lookups", lambda: [f for f in schema.fields.values() if f.prop.get("lookup")]
    )


def _lookup_targets(schema: Schema) -> frozenset[str]:
    return schema.derived(
        "lookup_targets",
        lambda: frozenset(
            m["field"] for f in _lookup_fields(schema) for m in f.prop["lookup"]["fieldMappings"]
        ),
    )


def _download_key() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(16)


def _undo_attach(domain: Domain, temp: Blob, blob: Blob) -> None:
    domain.files.pop(blob.key, None)
    domain.temp_files[temp.key] = temp
