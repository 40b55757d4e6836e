"""Reading records: the read wire format, field references for queries, query execution."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sandbox.kintone.errors import coded
from sandbox.kintone.query import CompiledQuery, FieldRef, sort_records, strip_tags
from sandbox.kintone.schema import Field, Schema
from sandbox.kintone.store import App, Domain, Rec

# The value a record shows for a field it holds nothing for.
EMPTY: dict[str, Any] = {
    "NUMBER": "",
    "CALC": "",
    "CHECK_BOX": [],
    "MULTI_SELECT": [],
    "CATEGORY": [],
    "DROP_DOWN": None,
    "DATE": None,
    "TIME": None,
    "DATETIME": "",
    "USER_SELECT": [],
    "ORGANIZATION_SELECT": [],
    "GROUP_SELECT": [],
    "STATUS_ASSIGNEE": [],
    "FILE": [],
    "SUBTABLE": [],
}


def empty_value(ftype: str) -> Any:
    """The empty read value of a field type (shared object: never mutate it)."""
    return EMPTY.get(ftype, "")


PlanEntry = tuple[str, str, Callable[[Rec], Any]]


def _read_getter(app: App, fld: Field) -> Callable[[Rec], Any]:
    ftype = fld.type
    if ftype == "RECORD_NUMBER":
        return lambda rec: f"{app.code}-{rec.id}" if app.code else str(rec.id)
    if ftype == "CREATOR":
        return lambda rec: rec.creator
    if ftype == "MODIFIER":
        return lambda rec: rec.modifier
    if ftype == "CREATED_TIME":
        return lambda rec: rec.created_at
    if ftype == "UPDATED_TIME":
        return lambda rec: rec.updated_at
    fid = fld.fid
    if ftype == "SUBTABLE":
        inner = [(f.code, f.type, f.fid, empty_value(f.type)) for f in (fld.inner or {}).values()]

        def rows(rec: Rec) -> list[dict]:
            return [
                {
                    "id": str(row["id"]),
                    "value": {
                        code: {"type": itype, "value": row["value"].get(ifid, empty)}
                        for code, itype, ifid, empty in inner
                    },
                }
                for row in rec.values.get(fid, ())
            ]

        return rows
    empty = empty_value(ftype)
    return lambda rec: rec.values.get(fid, empty)


def read_plan(app: App, schema: Schema) -> list[PlanEntry]:
    """(code, type, getter) for every field a record shows, in form order."""
    return schema.derived(
        "read_plan",
        lambda: [(f.code, f.type, _read_getter(app, f)) for f in schema.record_fields()],
    )


@dataclass
class Selection:
    """Which fields to output (the `fields` parameter)."""

    plan: list[PlanEntry]
    with_id: bool = True
    with_revision: bool = True


def selection(app: App, schema: Schema, codes: list[str] | None) -> Selection:
    """The output selection for a `fields` parameter (None = everything)."""
    plan = read_plan(app, schema)
    if codes is None:
        return Selection(plan)
    wanted = set(codes)
    return Selection(
        [entry for entry in plan if entry[0] in wanted], "$id" in wanted, "$revision" in wanted
    )


def record_json(rec: Rec, sel: Selection) -> dict:
    """One record in the read format."""
    out: dict[str, dict] = {}
    if sel.with_id:
        out["$id"] = {"type": "__ID__", "value": str(rec.id)}
    if sel.with_revision:
        out["$revision"] = {"type": "__REVISION__", "value": str(rec.revision)}
    for code, ftype, get in sel.plan:
        out[code] = {"type": ftype, "value": get(rec)}
    return out


# -- query field references ---------------------------------------------------------------------


def _file_text(domain: Domain) -> Callable[[Any], str]:
    def text(value: Any) -> str:
        parts: list[str] = []
        for entry in value or ():
            parts.append(entry.get("name", ""))
            blob = domain.files.get(entry.get("fileKey", ""))
            if blob is not None and blob.content_type.startswith("text/"):
                parts.append(blob.data.decode("utf-8", "replace"))
        return "\n".join(parts)

    return text


def _rich_text(value: Any) -> str:
    return strip_tags(value or "")


def _query_ref(domain: Domain, fld: Field, table: Field | None) -> FieldRef:
    ftype, fid = fld.type, fld.fid
    text = None
    if ftype == "FILE":
        text = _file_text(domain)
    elif ftype == "RICH_TEXT":
        text = _rich_text
    empty = empty_value(ftype)
    if table is not None:
        table_fid = table.fid
        return FieldRef(
            fld.code,
            ftype,
            get=lambda row: row.get(fid, empty),
            table=table.code,
            rows=lambda rec: [row["value"] for row in rec.values.get(table_fid, ())],
            text=text,
        )
    getters: dict[str, Callable[[Rec], Any]] = {
        "RECORD_NUMBER": lambda rec: rec.id,
        "CREATOR": lambda rec: rec.creator,
        "MODIFIER": lambda rec: rec.modifier,
        "CREATED_TIME": lambda rec: rec.created_at,
        "UPDATED_TIME": lambda rec: rec.updated_at,
    }
    getter = getters.get(ftype) or (lambda rec: rec.values.get(fid, empty))
    return FieldRef(fld.code, ftype, get=getter, text=text)


def resolver(domain: Domain, schema: Schema) -> Callable[[str], FieldRef]:
    """Field-code -> FieldRef for the query compiler (GAIA_IQ11 / GAIA_IR02 on bad codes)."""

    def build() -> dict[str, FieldRef]:
        refs = {"$id": FieldRef("$id", "__ID__", get=lambda rec: rec.id)}
        for fld in schema.record_fields():
            refs[fld.code] = _query_ref(domain, fld, None)
            for inner in (fld.inner or {}).values():
                refs[inner.code] = _query_ref(domain, inner, fld)
        return refs

    refs = schema.derived("query_refs", build)

    def resolve(code: str) -> FieldRef:
        ref = refs.get(code)
        if ref is not None:
            return ref
        if "." in code:
            table = schema.fields.get(code.split(".", 1)[0])
            if table is not None and table.type == "SUBTABLE":
                raise coded(400, "GAIA_IR02", field=code)
        raise coded(400, "GAIA_IQ11", field=code)

    return resolve


# -- execution ---------------------------------------------------------------------------------


@dataclass
class Result:
    """Records of one page, the total when asked for, and whether `like` hit its cap."""

    records: list[Rec]
    total: int | None
    aborted: bool = False


def _scan_all(app: App, cq: CompiledQuery, like_limit: int) -> tuple[list[Rec], bool]:
    """Every match in result order (used when the order is not plain id order, or for like)."""
    pred = cq.predicate
    matches: list[Rec] = []
    aborted = False
    for rec in app.table.iterate(cq.id_low, cq.id_high, True):
        if pred is None or pred(rec):
            matches.append(rec)
            if cq.uses_like and len(matches) >= like_limit:
                aborted = True
                break
    direction = cq.id_direction()
    if direction == "asc":
        matches.reverse()
    elif direction is None:
        sort_records(matches, cq.order)
    return matches, aborted


def execute(
    app: App, cq: CompiledQuery, *, limit: int, offset: int, want_total: bool, like_limit: int
) -> Result:
    """Run a compiled query and return one page (id-ordered queries stop early)."""
    if cq.impossible:
        return Result([], 0 if want_total else None)
    direction = cq.id_direction()
    pred = cq.predicate
    if direction is not None and not cq.uses_like:
        iterator = app.table.iterate(cq.id_low, cq.id_high, direction == "desc")
        if pred is None:
            page = list(islice(iterator, offset, offset + limit))
            total = app.table.count(cq.id_low, cq.id_high) if want_total else None
            return Result(page, total)
        page: list[Rec] = []
        matched = 0
        end = offset + limit
        for rec in iterator:
            if pred(rec):
                if offset <= matched < end:
                    page.append(rec)
                matched += 1
                if matched >= end and not want_total:
                    break
        return Result(page, matched if want_total else None)
    matches, aborted = _scan_all(app, cq, like_limit)
    return Result(matches[offset : offset + limit], len(matches) if want_total else None, aborted)


def matching_ids(app: App, cq: CompiledQuery, like_limit: int) -> tuple[list[int], bool]:
    """Ids of every match in result order (a cursor's snapshot)."""
    if cq.impossible:
        return [], False
    direction = cq.id_direction()
    if direction is not None and cq.predicate is None and not cq.uses_like:
        return app.table.ids(cq.id_low, cq.id_high, direction == "desc"), False
    matches, aborted = _scan_all(app, cq, like_limit)
    return [rec.id for rec in matches], aborted
