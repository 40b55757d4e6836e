"""In-memory state of the sandbox: domains, apps, records, tokens, users, cursors and files.

Every mutation happens under `State.lock`. Records of an app live in `RecordTable`: a list of
ids in increasing order (deleted ids stay as tombstones until compaction) plus a dict from id
to an immutable-by-convention `Rec`; an update stores a new `Rec` (copy on write), so reads never
copy whole records and a transaction can undo by putting old objects back.
"""

from __future__ import annotations

import itertools
import threading
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.kintone.clock import Clock, format_minute
from sandbox.kintone.schema import Field, Schema, fid_counter

ADMINISTRATOR = {"code": "Administrator", "name": "Administrator"}
PERMISSIONS = ("view", "add", "edit", "delete", "manage")


class Rec:
    """One stored record. Treat as immutable: updates replace the object."""

    __slots__ = ("id", "revision", "values", "created_at", "updated_at", "creator", "modifier")

    def __init__(
        self,
        rec_id: int,
        revision: int,
        values: dict[int, Any],
        created_at: str,
        updated_at: str,
        creator: dict,
        modifier: dict,
    ) -> None:
        self.id = rec_id
        self.revision = revision
        self.values = values
        self.created_at = created_at
        self.updated_at = updated_at
        self.creator = creator
        self.modifier = modifier


class Txn:
    """Undo log: every mutation registers how to revert it; `rollback` reverts in reverse."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []
        self.touched: set[App] = set()

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Register one undo step."""
        self._undo.append(undo)

    def rollback(self) -> None:
        """Revert every registered mutation, newest first."""
        while self._undo:
            self._undo.pop()()

    def commit(self) -> None:
        """Forget the undo steps and let touched tables compact their tombstones."""
        self._undo.clear()
        for app in self.touched:
            app.table.maybe_compact()
        self.touched.clear()


class RecordTable:
    """Records of one app in id order, with bisect on ids."""

    def __init__(self) -> None:
        self.order: list[int] = []
        self.recs: dict[int, Rec] = {}
        self.next_id = 1
        self.dead = 0

    def __len__(self) -> int:
        return len(self.recs)

    def get(self, rec_id: int) -> Rec | None:
        """The live record with this id."""
        return self.recs.get(rec_id)

    def append(self, rec: Rec) -> None:
        """Add a record whose id is larger than every id so far."""
        self.order.append(rec.id)
        self.recs[rec.id] = rec
        self.next_id = rec.id + 1

    def unappend(self, rec: Rec, previous_next_id: int) -> None:
        """Undo `append` of the newest record."""
        self.recs.pop(rec.id, None)
        if self.order and self.order[-1] == rec.id:
            self.order.pop()
        self.next_id = previous_next_id

    def put(self, rec: Rec) -> None:
        """Replace a live record (same id) or bring back a removed one."""
        if rec.id not in self.recs:
            self.dead -= 1
        self.recs[rec.id] = rec

    def remove(self, rec_id: int) -> Rec:
        """Remove a record, leaving a tombstone in `order`."""
        rec = self.recs.pop(rec_id)
        self.dead += 1
        return rec

    def maybe_compact(self) -> None:
        """Drop tombstones once they make up a large part of `order` (outside transactions)."""
        if self.dead > 1000 and self.dead * 4 > len(self.order):
            recs = self.recs
            self.order = [i for i in self.order if i in recs]
            self.dead = 0

    def bounds(self, low: int | None, high: int | None) -> tuple[int, int]:
        """Index range in `order` of ids within [low, high]."""
        start = bisect_left(self.order, low) if low is not None else 0
        end = bisect_right(self.order, high) if high is not None else len(self.order)
        return start, max(start, end)

    def iterate(self, low: int | None, high: int | None, descending: bool) -> Iterator[Rec]:
        """Live records with ids in [low, high], in id order."""
        start, end = self.bounds(low, high)
        order, recs = self.order, self.recs
        indexes = range(end - 1, start - 1, -1) if descending else range(start, end)
        for index in indexes:
            rec = recs.get(order[index])
            if rec is not None:
                yield rec

    def ids(self, low: int | None, high: int | None, descending: bool) -> list[int]:
        """Live ids within [low, high] as a new list (cheap when there are no tombstones)."""
        start, end = self.bounds(low, high)
        if self.dead == 0:
            ids = self.order[start:end]
        else:
            recs = self.recs
            ids = [i for i in self.order[start:end] if i in recs]
        if descending:
            ids.reverse()
        return ids

    def count(self, low: int | None, high: int | None) -> int:
        """Number of live records with ids in [low, high]."""
        start, end = self.bounds(low, high)
        if self.dead == 0:
            return end - start
        recs = self.recs
        return sum(1 for i in self.order[start:end] if i in recs)


def unique_key(ftype: str, value: Any) -> Any:
    """The comparison key of a value in a no-duplicates field (None when exempt)."""
    if value is None or value == "":
        return None
    if ftype == "NUMBER":
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return value


class App:
    """One app: settings (preview and live schema), records and unique indexes."""

    def __init__(
        self,
        app_id: int,
        name: str,
        *,
        locale: str,
        creator: dict,
        now: str,
        code: str = "",
        description: str = "",
        space_id: int | None = None,
        thread_id: int | None = None,
        guest_space: int | None = None,
    ) -> None:
        self.id = app_id
        self.name = name
        self.code = code
        self.description = description
        self.space_id = space_id
        self.thread_id = thread_id
        self.guest_space = guest_space
        self.locale = locale
        self.created_at = now
        self.modified_at = now
        self.creator = creator
        self.modifier = creator
        self.fids = fid_counter()
        self.preview = Schema(self.fids)
        self.preview.ensure_system_fields(locale)
        self.live: Schema | None = None
        self.table = RecordTable()
        self.deploy_status: str | None = None
        self.deploy_polls_left = 0
        self._unique: dict[int, dict[Any, int]] = {}

    def set_live(self, schema: Schema) -> None:
        """Make `schema` the live form (indexes are rebuilt on demand)."""
        self.live = schema
        self._unique.clear()

    def info(self) -> dict:
        """app.json / apps.json shape."""
        return {
            "appId": str(self.id),
            "code": self.code,
            "name": self.name,
            "description": self.description,
            "spaceId": str(self.space_id) if self.space_id is not None else None,
            "threadId": str(self.thread_id) if self.thread_id is not None else None,
            "createdAt": self.created_at,
            "creator": self.creator,
            "modifiedAt": self.modified_at,
            "modifier": self.modifier,
        }

    # -- no-duplicates indexes -------------------------------------------------------------

    def unique_fields(self) -> list[Field]:
        """Live top-level fields that prohibit duplicate values."""
        schema = self.live
        if schema is None:
            return []
        return schema.derived(
            "unique",
            lambda: [f for f in schema.fields.values() if f.prop.get("unique") and f.inner is None],
        )

    def unique_index(self, fld: Field) -> dict[Any, int]:
        """Value key -> record id for a no-duplicates field, built on first use."""
        index = self._unique.get(fld.fid)
        if index is None:
            index = {}
            fid, ftype = fld.fid, fld.type
            for rec in self.table.recs.values():
                key = unique_key(ftype, rec.values.get(fid))
                if key is not None:
                    index.setdefault(key, rec.id)
            self._unique[fld.fid] = index
        return index

    def drop_unique_indexes(self) -> None:
        """Forget every index (after bulk loads or schema changes)."""
        self._unique.clear()

    def _index_change(self, old: Rec | None, new: Rec | None, txn: Txn | None) -> None:
        for fld in self.unique_fields():
            index = self._unique.get(fld.fid)
            if index is None:
                continue
            old_key = unique_key(fld.type, old.values.get(fld.fid)) if old else None
            new_key = unique_key(fld.type, new.values.get(fld.fid)) if new else None
            if old_key == new_key:
                continue
            rec_id = (old or new).id
            if old_key is not None and index.get(old_key) == rec_id:
                del index[old_key]
                if txn:
                    txn.on_rollback(lambda i=index, k=old_key, r=rec_id: i.__setitem__(k, r))
            if new_key is not None and new_key not in index:
                index[new_key] = rec_id
                if txn:
                    txn.on_rollback(lambda i=index, k=new_key: i.pop(k, None))

    # -- record mutations --------------------------------------------------------------------

    def insert(self, rec: Rec, txn: Txn | None) -> None:
        """Store a new record (its id must be `table.next_id` or larger)."""
        previous = self.table.next_id
        self.table.append(rec)
        if txn:
            txn.touched.add(self)
            txn.on_rollback(lambda: self.table.unappend(rec, previous))
        self._index_change(None, rec, txn)

    def replace(self, old: Rec, new: Rec, txn: Txn | None) -> None:
        """Swap a record for its updated version."""
        self.table.put(new)
        if txn:
            txn.touched.add(self)
            txn.on_rollback(lambda: self.table.put(old))
        self._index_change(old, new, txn)

    def delete(self, rec: Rec, txn: Txn | None) -> None:
        """Remove a record."""
        self.table.remove(rec.id)
        if txn:
            txn.touched.add(self)
            txn.on_rollback(lambda: self.table.put(rec))
        self._index_change(rec, None, txn)


@dataclass
class User:
    """A login created through the admin API (acts as an administrator)."""

    code: str
    name: str
    password: str

    def entity(self) -> dict:
        """`{code, name}` as kintone shows users."""
        return {"code": self.code, "name": self.name}


@dataclass
class Token:
    """An API token bound to one app."""

    value: str
    app: int
    permissions: frozenset[str]
    active: bool = True


@dataclass
class Blob:
    """An uploaded file (temporary key) or an attachment (download key)."""

    key: str
    name: str
    content_type: str
    data: bytes
    app: int | None = None

    def entry(self) -> dict:
        """The FILE field value element."""
        return {
            "contentType": self.content_type,
            "fileKey": self.key,
            "name": self.name,
            "size": str(len(self.data)),
        }


@dataclass
class Cursor:
    """A records cursor: the matching ids fixed at creation, read page by page."""

    id: str
    app: int
    ids: list[int]
    size: int
    selection: Any
    expires_at: float
    total: int
    position: int = 0


class Domain:
    """One kintone domain (subdomain) and everything in it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.apps: dict[int, App] = {}
        self.next_app_id = 1
        self.tokens: dict[str, Token] = {}
        self.users: dict[str, User] = {}
        self.cursors: dict[str, Cursor] = {}
        self.temp_files: dict[str, Blob] = {}
        self.files: dict[str, Blob] = {}
        self.row_ids = itertools.count(1)
        self.calls: Counter[str] = Counter()
        self.daily: Counter[tuple[str, int]] = Counter()
        self.running = 0
        # Screens (sandbox/kintone/screens.py): browser sessions, list views, plugins.
        self.sessions: set[str] = set()
        self.views: dict[int, list[View]] = {}
        self.plugins: dict[str, Any] = {}  # plugin id -> sandbox.kintone.plugins.Plugin
        self.app_plugins: dict[int, list[str]] = {}  # app id -> plugin ids added to it
        self.plugin_configs: dict[tuple[int, str], dict[str, str]] = {}
        # (app, plugin) -> {(method, url): {"headers": {...}, "data": {...}}} (setProxyConfig)
        self.proxy_configs: dict[tuple[int, str], dict[tuple[str, str], dict]] = {}
        # Highest number of requests served at once, and 429 GAIA_TO04 refusals (stats).
        self.peak_running = 0
        self.rejected_concurrent = 0

    def new_app_id(self, wanted: int | None = None) -> int:
        """Allocate an app id (a fixed one when `wanted`)."""
        if wanted is None:
            wanted = self.next_app_id
        self.next_app_id = max(self.next_app_id, wanted + 1)
        return wanted


@dataclass
class View:
    """A record-list view of an app: its filter condition and sort (no columns or charts)."""

    id: int
    name: str
    filter_cond: str = ""
    sort: str = "$id desc"


@dataclass
class Fault:
    """An injected failure for the next `times` matching calls."""

    path: str
    status: int
    code: str | None
    times: int
    method: str | None = None
    message: str | None = None


@dataclass
class Config:
    """Knobs settable through POST /_sandbox/config."""

    latency_ms: int = 0
    faults: list[Fault] = field(default_factory=list)
    concurrency_limit: int = 100
    like_hit_limit: int = 100_000
    deploy_polls: int = 1
    max_cursors: int = 10
    cursor_ttl_seconds: int = 600
    language: str = "en"


class State:
    """Everything the sandbox holds, plus the lock that serialises access to it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.running_lock = threading.Lock()
        self.clock = Clock()
        self.config = Config()
        self.domains: dict[str, Domain] = {}

    def domain(self, name: str) -> Domain:
        """The domain called `name`, created on first use."""
        found = self.domains.get(name)
        if found is None:
            found = self.domains[name] = Domain(name)
        return found

    def now_text(self) -> str:
        """The clock's instant in kintone's minute-precision wire form."""
        return format_minute(self.clock.now())

    def reset(self) -> None:
        """Forget every domain and restore default knobs and the real clock."""
        self.domains.clear()
        self.config = Config()
        self.clock.set(None)
