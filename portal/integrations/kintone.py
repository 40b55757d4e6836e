"""kintone REST API client: records (cursor + `$id` seek), bulk writes, form settings, errors, retries.

The client speaks the public REST API (`/k/v1/...`) and works unchanged against
`https://<subdomain>.cybozu.com` and against the local sandbox (`http://127.0.0.1:P/<subdomain>`).

Retry rules (why writes never double-apply):

* Reads (GET, and POST tunnelled as GET) are retried on every transient failure: connection
  errors, timeouts, 429 (`GAIA_TO04`), 5xx.
* A write is retried on an ambiguous failure (read timeout, dropped connection, 500/502/504) only
  when repeating it cannot change the outcome: updates by id/updateKey without a revision check,
  and upserts keyed only by updateKey without a revision check.
* Every other write (adds, deletes, upserts by id, anything with a revision) is retried only on
  failures that prove kintone never applied it: the connection could not be opened, 429
  `GAIA_TO04` (refused at admission) and 503 (maintenance). Otherwise the error is raised with
  `maybe_applied=True` so the caller can check before repeating the work.
* Cursor pages are never re-requested after an ambiguous failure (the position may have moved);
  cursor creation refused with `GAIA_TM12` frees this client's idle cursors and is retried.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import json
import logging
import queue
import re
import threading
import time
import weakref
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from portal.integrations.ledger import DailyLedger
from portal.integrations.retrying import RetryPolicy, call_with_retries

log = logging.getLogger(__name__)

URL_LENGTH_LIMIT = 4096  # switch GET → POST + X-HTTP-Method-Override above this (js-sdk rule)
MAX_PAGE_SIZE = 500  # records per GET records / cursor page
MAX_OFFSET = 10_000
RECORDS_PER_REQUEST = 100  # POST/PUT/DELETE records.json
REQUESTS_PER_BULK = 20  # bulkRequest.json
RECORDS_PER_BULK = RECORDS_PER_REQUEST * REQUESTS_PER_BULK
MAX_TOKENS_PER_REQUEST = 9
MAX_QUERY_STRING_FIELDS = 100
DEFAULT_RETRY = RetryPolicy(attempts=5, base_delay=0.5, max_delay=20.0)
# kintone ids are positive and grow by one per record; no app reaches this one, so a write aimed
# at it can only fail (not found when permitted, permission error otherwise).
_IMPOSSIBLE_RECORD_ID = 2_147_483_647
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


# --------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class FieldError:
    """One entry of a kintone `errors` object, located in the caller's input when possible."""

    key: str
    messages: tuple[str, ...]
    field_code: str | None = None
    record_index: int | None = None  # index in the caller's input (writes) or in the request
    record_id: int | None = None
    update_key: Mapping[str, Any] | None = None
    subtable_row: int | None = None
    inner_field_code: str | None = None

    def describe(self) -> str:
        """Human-readable location + messages, e.g. `record #3 (id 17) field "qty": Required.`."""
        parts = []
        if self.record_index is not None:
            where = f"record #{self.record_index}"
            if self.record_id is not None:
                where += f" (id {self.record_id})"
            elif self.update_key is not None:
                where += (
                    f" (updateKey {self.update_key.get('field')}="
                    f"{json.dumps(self.update_key.get('value'), ensure_ascii=False)})"
                )
            parts.append(where)
        if self.field_code is not None:
            target = f'field "{self.field_code}"'
            if self.inner_field_code is not None:
                target += f' row {self.subtable_row} cell "{self.inner_field_code}"'
            parts.append(target)
        elif not parts:
            parts.append(f'parameter "{self.key}"')
        return " ".join(parts) + ": " + " ".join(self.messages)


@dataclass
class WriteReport:
    """What a multi-chunk write achieved before it stopped (input indexes, half-open ranges)."""

    total: int | None
    done: int = 0
    calls: int = 0
    committed: list[tuple[int, int]] = field(default_factory=list)
    failed: list[tuple[int, int]] = field(default_factory=list)
    sent_until: int = 0  # input index after the last record sent
    stopped_early: bool = False  # input was left unsent because a chunk failed

    def committed_ranges_text(self) -> str:
        """Compact text of the committed ranges, e.g. `0-1999, 4000-5999` (inclusive ends)."""
        merged = _merge_ranges(self.committed)
        if not merged:
            return "none"
        return ", ".join(f"{start}-{stop - 1}" for start, stop in merged)


class KintoneError(Exception):
    """An error answered by kintone (or a transport failure), keyed on the stable `code`."""

    def __init__(
        self,
        code: str,
        message: str,
        errors: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        status: int | None = None,
        *,
        bulk_index: int | None = None,
        retry_after: float | None = None,
        maybe_applied: bool = False,
    ):
        self.code = code
        self.message = message
        self.errors = dict(errors or {})
        self.request_id = request_id
        self.status = status
        self.bulk_index = bulk_index
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied
        self.field_errors: list[FieldError] = parse_field_errors(self.errors)
        self.write_report: WriteReport | None = None
        self.context = ""
        super().__init__(message)

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        if self.status is not None:
            text = f"[{self.status}] {text}"
        if self.field_errors:
            text += " — " + "; ".join(err.describe() for err in self.field_errors[:5])
            if len(self.field_errors) > 5:
                text += f"; … {len(self.field_errors) - 5} more"
        if self.context:
            text += f" ({self.context})"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text

    def _first_known(self, attribute: str) -> Any:
        """The first field error's value of `attribute` that is not None, else None."""
        values = (getattr(e, attribute) for e in self.field_errors)
        return next((v for v in values if v is not None), None)

    @property
    def record_index(self) -> int | None:
        """Input index of the first failing record, when known."""
        return self._first_known("record_index")

    @property
    def record_id(self) -> int | None:
        """Record id of the first failing record, when known."""
        return self._first_known("record_id")

    @property
    def update_key(self) -> Mapping[str, Any] | None:
        """updateKey of the first failing record, when known."""
        return self._first_known("update_key")

    @property
    def field_code(self) -> str | None:
        """Field code of the first field error, when known."""
        return self._first_known("field_code")


class KintoneAuthError(KintoneError):
    """Credentials refused: no/invalid password, unknown or undeployed API token (401/GAIA_IA02)."""


class KintonePermissionError(KintoneError):
    """Authenticated but not allowed (403 GAIA_NO01 / CB_NO02)."""


class KintoneValidationError(KintoneError):
    """Request or record values rejected (CB_VA01, query errors, lookup misses, limits)."""


class KintoneNotFoundError(KintoneError):
    """App, record, cursor or file does not exist (GAIA_AP01/RE01/CN01/BL01)."""


class KintoneConflictError(KintoneError):
    """Revision mismatch: someone changed the record since it was read (409 GAIA_CO02)."""


class KintoneThrottledError(KintoneError):
    """Too many concurrent requests on the domain (429 GAIA_TO04); always safe to retry."""


class KintoneCursorLimitError(KintoneThrottledError):
    """The domain already has 10 live cursors (429 GAIA_TM12)."""


class KintoneServerError(KintoneError):
    """5xx or a non-JSON answer (maintenance pages, proxies)."""


class KintoneNetworkError(KintoneError):
    """No answer: connection refused/reset or timed out. `maybe_applied` says if it was sent."""


class KintoneTimeoutError(KintoneNetworkError):
    """The request timed out (connect or read)."""


class KintoneFilterAbortedError(KintoneError):
    """A `like` filter stopped at kintone's hit limit: the answer would be incomplete."""


class KintoneDeployError(KintoneError):
    """Deploying app settings ended in FAIL/CANCEL or did not finish in time."""


_CODE_CLASSES: dict[str, type[KintoneError]] = {
    "CB_AU01": KintoneAuthError,
    "CB_WA01": KintoneAuthError,
    "CB_TW02": KintoneAuthError,
    "GAIA_IA02": KintoneAuthError,
    "GAIA_DA03": KintoneAuthError,
    "GAIA_NO01": KintonePermissionError,
    "CB_NO02": KintonePermissionError,
    "GAIA_FU01": KintonePermissionError,
    "CB_VA01": KintoneValidationError,
    "CB_IJ01": KintoneValidationError,
    "GAIA_LO04": KintoneValidationError,
    "GAIA_IL23": KintoneValidationError,
    "GAIA_AP01": KintoneNotFoundError,
    "GAIA_RE01": KintoneNotFoundError,
    "GAIA_RE02": KintoneNotFoundError,
    "GAIA_BL01": KintoneNotFoundError,
    "GAIA_CN01": KintoneNotFoundError,
    "GAIA_CO02": KintoneConflictError,
    "GAIA_TO04": KintoneThrottledError,
    "GAIA_TM12": KintoneCursorLimitError,
}
_VALIDATION_PREFIXES = ("GAIA_IQ", "GAIA_QU", "GAIA_IL", "GAIA_IR")


def error_class_for(code: str, status: int | None) -> type[KintoneError]:
    """Pick the exception class for a kintone error: by `code` first, the HTTP status as a hint."""
    if code in _CODE_CLASSES:
        return _CODE_CLASSES[code]
    if code.startswith(_VALIDATION_PREFIXES):
        return KintoneValidationError
    if status == 401:
        return KintoneAuthError
    if status == 403:
        return KintonePermissionError
    if status == 404:
        return KintoneNotFoundError
    if status == 409:
        return KintoneConflictError
    if status == 429:
        return KintoneThrottledError
    if status is not None and status >= 500:
        return KintoneServerError
    if status == 400:
        return KintoneValidationError
    return KintoneError


# `records[3].title.value`, `record[qty].value`, `records[0].record.title.value`,
# `record.items.value[2].value.name.value`, `record.tags.values[0].value`
_KEY_PREFIX_RE = re.compile(r"^(?:records\[(?P<index>\d+)\]|record)(?=[.\[])")
_BRACKET_CODE_RE = re.compile(r"^\[(?P<code>[^\]]+)\]")
_SUBTABLE_RE = re.compile(r"^value\[(?P<row>\d+)\]\.value\.(?P<inner>[^.\[]+)")


def parse_field_errors(errors: Mapping[str, Any]) -> list[FieldError]:
    """Turn a kintone `errors` object into FieldErrors (record index within the request)."""
    parsed = []
    for key, detail in errors.items():
        messages = detail.get("messages", []) if isinstance(detail, Mapping) else [str(detail)]
        parsed.append(_parse_error_key(str(key), tuple(str(m) for m in messages)))
    return parsed


def _parse_error_key(key: str, messages: tuple[str, ...]) -> FieldError:
    match = _KEY_PREFIX_RE.match(key)
    if not match:
        return FieldError(key=key, messages=messages)
    index = int(match.group("index")) if match.group("index") is not None else None
    rest = key[match.end() :]
    bracket = _BRACKET_CODE_RE.match(rest)
    if bracket:
        return FieldError(key, messages, field_code=bracket.group("code"), record_index=index)
    rest = rest[1:]  # the dot
    # Update requests nest the values under `record`; a field may itself be named "record",
    # which shows as `record.value...` right away.
    if rest.startswith("record.") and not rest.startswith(("record.value", "record.values")):
        rest = rest[len("record.") :]
    code, _, tail = rest.partition(".")
    if "[" in code:  # `tags[0]`-like forms keep the code before the bracket
        code = code.split("[", 1)[0]
    if code in ("id", "updateKey", "revision"):
        return FieldError(key, messages, field_code=None, record_index=index)
    sub = _SUBTABLE_RE.match(tail)
    if sub:
        return FieldError(
            key,
            messages,
            field_code=code,
            record_index=index,
            subtable_row=int(sub.group("row")),
            inner_field_code=sub.group("inner"),
        )
    return FieldError(key, messages, field_code=code or None, record_index=index)


def _error_from_payload(
    status: int, payload: Mapping[str, Any], headers: Mapping[str, str]
) -> KintoneError:
    bulk_index = None
    if "code" not in payload and isinstance(payload.get("results"), list):
        # bulkRequest: `{}` everywhere except the failing request.
        for index, item in enumerate(payload["results"]):
            if isinstance(item, Mapping) and item.get("code"):
                payload, bulk_index = item, index
                break
    code = str(payload.get("code") or f"HTTP_{status}")
    cls = error_class_for(code, status)
    return cls(
        code,
        str(payload.get("message") or ""),
        payload.get("errors") if isinstance(payload.get("errors"), Mapping) else None,
        payload.get("id"),
        status,
        bulk_index=bulk_index,
        retry_after=_retry_after(headers),
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return merged


# --------------------------------------------------------------------------------------------
# URLs, parameters, queries


def kintone_base_url(template: str, subdomain: str) -> str:
    """Fill `{subdomain}` of a base-URL template after validating the subdomain syntax."""
    if template.count("{subdomain}") != 1:
        raise ValueError("the kintone URL template must contain {subdomain} exactly once")
    candidate = subdomain.strip().lower()
    if not _SUBDOMAIN_RE.match(candidate):
        raise ValueError(
            f"invalid kintone subdomain {subdomain!r}: use letters, digits and hyphens "
            "(no dots, no leading or trailing hyphen, at most 63 characters)"
        )
    url = template.replace("{subdomain}", candidate).rstrip("/")
    _check_base_url(url)
    return url


def _check_base_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid kintone base URL {url!r}")
    # Credentials travel in headers: plain HTTP is acceptable only to a local sandbox.
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ValueError(f"kintone base URL must use https: {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"kintone base URL must not carry a query or fragment: {url!r}")


def encode_query_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Serialise GET parameters the kintone way: `ids[0]=1`, booleans as `true`/`false`."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            for index, item in enumerate(value):
                pairs.append((f"{key}[{index}]", _scalar(item)))
        elif isinstance(value, Mapping):
            raise TypeError(f"parameter {key!r} cannot be sent in a query string")
        else:
            pairs.append((key, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list | tuple):
        raise TypeError("nested values cannot be sent in a query string")
    return str(value)


_STRING_LITERAL_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_ORDER_BY_RE = re.compile(r"\border\s+by\b", re.I)
_LIMIT_OFFSET_RE = re.compile(r"\b(limit|offset)\s+\d+", re.I)


@dataclass(frozen=True)
class SplitQuery:
    """A kintone query split into its condition and its `order by ...` clause (without limit)."""

    condition: str
    order_by: str


def split_query(query: str) -> SplitQuery:
    """Split `query` into condition and `order by` (string literals are not looked into).

    Raises ValueError when the query carries `limit`/`offset`: reading everything owns those.
    """
    masked = _STRING_LITERAL_RE.sub(lambda m: "_" * len(m.group(0)), query)
    if _LIMIT_OFFSET_RE.search(masked):
        raise ValueError("the query must not contain limit/offset when reading every record")
    match = _ORDER_BY_RE.search(masked)
    if not match:
        return SplitQuery(query.strip(), "")
    return SplitQuery(query[: match.start()].strip(), query[match.start() :].strip())


def seek_query(
    condition: str,
    after: int,
    page_size: int,
    *,
    before: int | None = None,
    descending: bool = False,
) -> str:
    """The `$id` seek query of one page: ids in (after, before), `page_size` of them, in id order."""
    head = f"$id > {after}"
    if before is not None:
        head += f" and $id < {before}"
    if condition:
        head = f"({head}) and ({condition})"
    return f"{head} order by $id {'desc' if descending else 'asc'} limit {page_size}"


def _record_id(record: Mapping[str, Any]) -> int:
    return int(record["$id"]["value"])


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class WriteResult:
    """Outcome of a multi-chunk write; ids/revisions in input order (compact int arrays)."""

    count: int = 0
    calls: int = 0
    ids: array = field(default_factory=lambda: array("q"))
    revisions: array = field(default_factory=lambda: array("q"))
    operations: list[str] = field(default_factory=list)  # upsert only: INSERT / UPDATE


class _Safety(enum.Enum):
    """How freely a request may be repeated after a failure."""

    REPEATABLE = "repeatable"  # reads and idempotent writes
    ONCE = "once"  # retry only when the failure proves kintone did not apply it


@dataclass
class _Chunk:
    start: int
    items: list[Any]


# --------------------------------------------------------------------------------------------
# Client


class KintoneClient:
    """Client of one kintone domain (or guest space) with token or password authentication.

    One client may be shared by several threads. Close it (or use it as a context manager) to
    delete its open cursors, stop its worker threads and close the HTTP session it created.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_tokens: Sequence[str] | None = None,
        username: str | None = None,
        password: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        timeout: float = 30,
        retry: RetryPolicy = DEFAULT_RETRY,
        ledger: DailyLedger | None = None,
        guest_space_id: int | None = None,
        session: requests.Session | None = None,
        max_workers: int = 8,
        sleep: Callable[[float], None] = time.sleep,
    ):
        base_url = base_url.rstrip("/")
        _check_base_url(base_url)
        tokens = [t.strip() for t in (api_tokens or [])]
        if any(not t or "," in t for t in tokens):
            raise ValueError("API tokens must be non-empty and contain no comma")
        if len(tokens) > MAX_TOKENS_PER_REQUEST:
            raise ValueError(f"at most {MAX_TOKENS_PER_REQUEST} API tokens per request")
        if (username is None) != (password is None):
            raise ValueError("username and password go together")
        if not tokens and username is None:
            raise ValueError("give API tokens or username/password")
        if guest_space_id is not None and int(guest_space_id) < 1:
            raise ValueError("guest_space_id must be a positive integer")
        self.base_url = base_url
        parts = urlsplit(base_url)
        self.host = parts.netloc + parts.path
        self.timeout = timeout
        self.retry = retry
        self.ledger = ledger
        self.guest_space_id = int(guest_space_id) if guest_space_id is not None else None
        self._sleep = sleep
        self._headers = {"User-Agent": "kintone-connector-portal/1", "Accept": "application/json"}
        if username is not None:
            # Password auth wins over tokens on kintone's side; send only what was configured.
            raw = f"{username}:{password}".encode()
            self._headers["X-Cybozu-Authorization"] = base64.b64encode(raw).decode("ascii")
        if tokens:
            self._headers["X-Cybozu-API-Token"] = ",".join(tokens)
        if basic_auth is not None:
            raw = f"{basic_auth[0]}:{basic_auth[1]}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        self._owns_session = session is None
        self.session = session or requests.Session()
        if self._owns_session:
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(4, max_workers * 2))
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._read_pool: ThreadPoolExecutor | None = None
        self._lock = threading.RLock()
        self._cursors: dict[str, _CursorHandle] = {}
        self._doomed: queue.SimpleQueue = queue.SimpleQueue()  # cursors of dropped iterators
        self._janitor: threading.Thread | None = None
        self.calls = 0  # HTTP requests sent (retries included)
        self.retries = 0
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> KintoneClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Delete this client's open cursors, stop its worker threads, close its session."""
        if self._closed:
            return
        self._closed = True
        if self._janitor is not None:
            self._doomed.put(None)
            self._janitor.join(timeout=self.timeout * 2)
        for cursor_id, handle in list(self._cursors.items()):
            self._delete_cursor_quietly(cursor_id, handle.app)
        for pool in (self._pool, self._read_pool):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        if self._owns_session:
            self.session.close()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="kintone")
            return self._pool

    def _reader(self) -> ThreadPoolExecutor:
        # Page requests issued from inside background work get their own pool: they never wait
        # on anything, so the outer pool can never fill up with tasks waiting on queued ones.
        with self._lock:
            if self._read_pool is None:
                self._read_pool = ThreadPoolExecutor(
                    self._max_workers, thread_name_prefix="kintone-read"
                )
            return self._read_pool

    # -- transport -------------------------------------------------------------------------

    def api_path(self, endpoint: str, *, preview: bool = False) -> str:
        """Path of an endpoint as kintone names it, e.g. `/k/guest/3/v1/preview/app.json`."""
        guest = f"/guest/{self.guest_space_id}" if self.guest_space_id else ""
        middle = "/preview" if preview else ""
        return f"/k{guest}/v1{middle}/{endpoint}.json"

    def _charge(self, app: int | str | None) -> None:
        if self.ledger is not None:
            self.ledger.charge(f"kintone:{self.host}:{app if app is not None else '-'}")

    def request(
        self,
        method: str,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        *,
        app: int | str | None = None,
        preview: bool = False,
        safety: _Safety | None = None,
        is_transient: Callable[[BaseException], bool] | None = None,
    ) -> dict[str, Any]:
        """Send one API call (with retries) and return its JSON body; raise KintoneError."""
        method = method.upper()
        if safety is None:
            safety = _Safety.REPEATABLE if method == "GET" else _Safety.ONCE
        url = self.base_url + self.api_path(endpoint, preview=preview)
        params = dict(params or {})

        def attempt() -> dict[str, Any]:
            self._charge(app)
            return self._send(method, url, params)

        def transient(error: BaseException) -> bool:
            if is_transient is not None and is_transient(error):
                return True
            return _is_transient(error, safety)

        def on_retry(error: BaseException, delay: float) -> None:
            with self._lock:
                self.retries += 1
            log.warning(
                "kintone_retry method=%s endpoint=%s app=%s delay=%.2f error=%s",
                method,
                endpoint,
                app,
                delay,
                getattr(error, "code", type(error).__name__),
            )

        try:
            return call_with_retries(
                attempt,
                transient,
                self.retry,
                sleep=self._sleep,
                on_retry=on_retry,
                retry_after=lambda error: getattr(error, "retry_after", None),
            )
        except KintoneError as error:
            if not error.context:
                error.context = f"{method} {endpoint}" + (f" app={app}" if app else "")
            raise

    def _send(self, method: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
        headers = dict(self._headers)
        body: bytes | None = None
        send_method = method
        if method in ("GET", "DELETE"):
            too_many_fields = len(params.get("fields") or ()) > MAX_QUERY_STRING_FIELDS
            query_string = urlencode(encode_query_params(params), quote_via=quote)
            full = f"{url}?{query_string}" if query_string else url
            if method == "GET" and (len(full) > URL_LENGTH_LIMIT or too_many_fields):
                send_method = "POST"
                headers["X-HTTP-Method-Override"] = "GET"
                headers["Content-Type"] = "application/json"
                body = json.dumps(params, ensure_ascii=False).encode()
            elif method == "DELETE" and (len(full) > URL_LENGTH_LIMIT or too_many_fields):
                # DELETE parameters may travel as a JSON body instead of the query string.
                headers["Content-Type"] = "application/json"
                body = json.dumps(params, ensure_ascii=False).encode()
            else:
                url = full
        else:
            headers["Content-Type"] = "application/json"
            body = json.dumps(params, ensure_ascii=False).encode()
        with self._lock:
            self.calls += 1
        try:
            response = self.session.request(
                send_method, url, data=body, headers=headers, timeout=self.timeout
            )
        except requests.exceptions.ConnectTimeout as exc:
            raise KintoneTimeoutError("TIMEOUT", f"connecting to kintone timed out: {exc}") from exc
        except requests.exceptions.Timeout as exc:
            raise KintoneTimeoutError(
                "TIMEOUT", f"kintone did not answer within {self.timeout}s", maybe_applied=True
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            sent = not _never_connected(exc)
            raise KintoneNetworkError(
                "NETWORK", f"connection to kintone failed: {exc}", maybe_applied=sent
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise KintoneNetworkError(
                "NETWORK", f"request to kintone failed: {exc}", maybe_applied=True
            ) from exc
        return _decode(response)

    # -- records: single page / single record ----------------------------------------------

    def get_record(self, app: int, record_id: int) -> dict[str, Any]:
        """One record by id (GET record.json)."""
        body = self.request("GET", "record", {"app": app, "id": record_id}, app=app)
        return body["record"]

    def get_records(
        self,
        app: int,
        query: str = "",
        fields: Sequence[str] | None = None,
        *,
        total_count: bool = False,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of records (≤500, offset ≤10,000) and the total count when asked for."""
        params: dict[str, Any] = {"app": app, "query": query}
        if fields is not None:
            params["fields"] = list(fields)
        if total_count:
            params["totalCount"] = True
        body = self.request("GET", "records", params, app=app)
        total = body.get("totalCount")
        return body["records"], int(total) if total is not None else None

    # -- records: everything ---------------------------------------------------------------

    def iter_records(
        self,
        app: int,
        query: str = "",
        fields: Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
        *,
        prefetch: bool = True,
        parallel: bool = True,
    ) -> RecordIterator:
        """Stream every record matching `query`: `$id` seek without `order by`, else a cursor.

        The iterator has `.total_count` (after the first page) and `.close()`; the cursor, when
        used, is deleted on exhaustion, on close, on error and when the iterator is dropped.
        Records always carry `$id` (it is added to `fields` for the seek). With `parallel` the
        seek reads from both ends of the `$id` range at once, so records come in no particular
        order; `parallel=False` yields them in ascending `$id` order. `prefetch` fetches the
        next page(s) in the background while the caller works on the current one.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        split = split_query(query)
        wanted = list(fields) if fields is not None else None
        return RecordIterator(
            self, app, split, wanted, page_size, prefetch=prefetch, parallel=parallel
        )

    def create_cursor(
        self, app: int, query: str = "", fields: Sequence[str] | None = None, size: int = 500
    ) -> tuple[str, int]:
        """Create a cursor (POST records/cursor.json) → (cursor id, total count)."""
        params: dict[str, Any] = {"app": app, "query": query, "size": size}
        if fields is not None:
            params["fields"] = list(fields)
        freed: list[int] = [0]

        def cursor_limit(error: BaseException) -> bool:
            # The refusal proves no cursor was made; make room among our own and try again.
            if isinstance(error, KintoneCursorLimitError):
                freed[0] += self.release_idle_cursors()
                return True
            return False

        body = self.request(
            "POST",
            "records/cursor",
            params,
            app=app,
            safety=_Safety.ONCE,
            is_transient=cursor_limit,
        )
        return str(body["id"]), int(body.get("totalCount") or 0)

    def get_cursor_page(self, cursor_id: str, *, app: int | None = None) -> tuple[list, bool]:
        """Next page of a cursor → (records, next); never repeated after an ambiguous failure."""
        body = self.request(
            "GET", "records/cursor", {"id": cursor_id}, app=app, safety=_Safety.ONCE
        )
        return body["records"], bool(body.get("next"))

    def delete_cursor(self, cursor_id: str, *, app: int | None = None) -> None:
        """Delete a cursor; a cursor that is already gone (GAIA_CN01) counts as deleted."""
        try:
            self.request("DELETE", "records/cursor", {"id": cursor_id}, app=app)
        except KintoneNotFoundError:
            pass
        finally:
            with self._lock:
                self._cursors.pop(cursor_id, None)

    def release_idle_cursors(self) -> int:
        """Delete this client's cursors that no iterator is fetching from right now."""
        with self._lock:
            idle = [(cid, h) for cid, h in self._cursors.items() if not h.busy]
        for cursor_id, handle in idle:
            owner = handle.owner() if handle.owner else None
            if owner is not None:
                owner._released = True
                owner._cursor_id = None
            self._delete_cursor_quietly(cursor_id, handle.app)
        return len(idle)

    def _start_janitor(self) -> None:
        with self._lock:
            if self._janitor is None and not self._closed:
                self._janitor = threading.Thread(
                    target=self._sweep, name="kintone-cursor-janitor", daemon=True
                )
                self._janitor.start()

    def _sweep(self) -> None:
        """Delete the cursors of iterators that were dropped unfinished, until told to stop."""
        while True:
            item = self._doomed.get()
            if item is None:
                return
            self._delete_cursor_quietly(*item)

    def _delete_cursor_quietly(self, cursor_id: str, app: int | None) -> None:
        try:
            self.delete_cursor(cursor_id, app=app)
        except Exception as error:  # noqa: BLE001 - cleanup must not mask the caller's error
            log.warning("kintone_cursor_delete_failed cursor=%s error=%s", cursor_id, error)

    # -- records: writes -------------------------------------------------------------------

    def add_records(
        self,
        app: int,
        records: Iterable[Mapping[str, Any]],
        *,
        on_progress: Callable[[int, int | None], None] | None = None,
        max_in_flight: int = 3,
    ) -> WriteResult:
        """Add any number of records (2,000 per bulkRequest); ids come back in input order."""

        def payloads(items: list[Any]) -> list[dict[str, Any]]:
            return [{"app": app, "records": list(part)} for part in _parts(items)]

        def collect(result: WriteResult, items: list[Any], answers: list[dict]) -> None:
            for answer in answers:
                result.ids.extend(int(i) for i in answer["ids"])
                result.revisions.extend(int(r) for r in answer["revisions"])

        return self._bulk_write(
            app,
            records,
            "POST",
            payloads,
            collect,
            repeatable=lambda items: False,
            on_progress=on_progress,
            max_in_flight=max_in_flight,
        )

    def update_records(
        self,
        app: int,
        records: Iterable[Mapping[str, Any]],
        *,
        on_progress: Callable[[int, int | None], None] | None = None,
        max_in_flight: int = 3,
    ) -> WriteResult:
        """Update records given as `{"id"|"updateKey": …, "record": {…}, "revision"?: n}`."""
        return self._put_records(app, records, False, on_progress, max_in_flight)

    def upsert_records(
        self,
        app: int,
        records: Iterable[Mapping[str, Any]],
        *,
        on_progress: Callable[[int, int | None], None] | None = None,
        max_in_flight: int = 3,
    ) -> WriteResult:
        """Insert-or-update (PUT records.json with upsert); `operations` tells which happened."""
        return self._put_records(app, records, True, on_progress, max_in_flight)

    def _put_records(
        self,
        app: int,
        records: Iterable[Mapping[str, Any]],
        upsert: bool,
        on_progress: Callable[[int, int | None], None] | None,
        max_in_flight: int,
    ) -> WriteResult:
        def check(item: Mapping[str, Any]) -> Mapping[str, Any]:
            if ("id" in item) == ("updateKey" in item):
                raise ValueError("each record needs exactly one of 'id' and 'updateKey'")
            return item

        def payloads(items: list[Any]) -> list[dict[str, Any]]:
            out = []
            for part in _parts(items):
                payload: dict[str, Any] = {"app": app, "records": [check(i) for i in part]}
                if upsert:
                    payload["upsert"] = True
                out.append(payload)
            return out

        def collect(result: WriteResult, items: list[Any], answers: list[dict]) -> None:
            for answer in answers:
                for row in answer["records"]:
                    result.ids.append(int(row["id"]))
                    result.revisions.append(int(row["revision"]))
                    if upsert:
                        result.operations.append(
                            "INSERT" if row.get("operation") == "INSERT" else "UPDATE"
                        )

        def repeatable(items: list[Any]) -> bool:
            # Same values twice give the same data; a revision check or an upsert by id
            # (which inserts under a new id) would not.
            for item in items:
                if item.get("revision") not in (None, -1, "-1"):
                    return False
                if upsert and "updateKey" not in item:
                    return False
            return True

        return self._bulk_write(
            app,
            records,
            "PUT",
            payloads,
            collect,
            repeatable=repeatable,
            on_progress=on_progress,
            max_in_flight=max_in_flight,
        )

    def delete_records(
        self,
        app: int,
        ids: Iterable[int],
        revisions: Iterable[int] | None = None,
        *,
        on_progress: Callable[[int, int | None], None] | None = None,
        max_in_flight: int = 3,
    ) -> WriteResult:
        """Delete records by id (optionally checking revisions; -1 skips a check)."""
        if revisions is None:
            items: Iterable[Any] = ({"id": int(i)} for i in ids)
        else:
            id_list, rev_list = list(ids), list(revisions)
            if len(id_list) != len(rev_list):
                raise ValueError("ids and revisions must have the same length")
            items = (
                {"id": int(i), "revision": int(r)} for i, r in zip(id_list, rev_list, strict=True)
            )
        total = len(ids) if isinstance(ids, Sequence) else None

        def payloads(chunk: list[Any]) -> list[dict[str, Any]]:
            out = []
            for part in _parts(chunk):
                payload: dict[str, Any] = {"app": app, "ids": [i["id"] for i in part]}
                if revisions is not None:
                    payload["revisions"] = [i["revision"] for i in part]
                out.append(payload)
            return out

        def collect(result: WriteResult, chunk: list[Any], answers: list[dict]) -> None:
            result.ids.extend(i["id"] for i in chunk)

        return self._bulk_write(
            app,
            items,
            "DELETE",
            payloads,
            collect,
            repeatable=lambda chunk: False,
            on_progress=on_progress,
            max_in_flight=max_in_flight,
            total=total,
        )

    def _bulk_write(
        self,
        app: int,
        items: Iterable[Any],
        method: str,
        payloads: Callable[[list[Any]], list[dict[str, Any]]],
        collect: Callable[[WriteResult, list[Any], list[dict]], None],
        *,
        repeatable: Callable[[list[Any]], bool],
        on_progress: Callable[[int, int | None], None] | None,
        max_in_flight: int,
        total: int | None = None,
    ) -> WriteResult:
        if total is None and isinstance(items, Sequence):
            total = len(items)
        report = WriteReport(total=total)
        result = WriteResult()
        # Chunks may finish out of order; keep answers until every earlier chunk has arrived.
        finished: dict[int, tuple[_Chunk, list[dict]]] = {}
        next_start = [0]
        failures: list[tuple[_Chunk, BaseException]] = []
        in_flight: dict[Future, _Chunk] = {}
        api = self.api_path("records")

        def send(chunk: _Chunk) -> list[dict]:
            requests_ = [
                {"method": method, "api": api, "payload": payload}
                for payload in payloads(chunk.items)
            ]
            safety = _Safety.REPEATABLE if repeatable(chunk.items) else _Safety.ONCE
            body = self.request(
                "POST", "bulkRequest", {"requests": requests_}, app=app, safety=safety
            )
            return body["results"]

        def settle(future: Future) -> None:
            chunk = in_flight.pop(future)
            report.calls += 1
            try:
                answers = future.result()
            except BaseException as error:  # noqa: BLE001 - reported after the others settle
                failures.append((chunk, error))
                report.failed.append((chunk.start, chunk.start + len(chunk.items)))
                return
            report.committed.append((chunk.start, chunk.start + len(chunk.items)))
            report.done += len(chunk.items)
            finished[chunk.start] = (chunk, answers)
            while next_start[0] in finished:
                done_chunk, done_answers = finished.pop(next_start[0])
                collect(result, done_chunk.items, done_answers)
                next_start[0] += len(done_chunk.items)
            if on_progress is not None:
                on_progress(report.done, report.total)

        pool = self._executor() if max_in_flight > 1 else None
        try:
            chunks = _chunks(items, RECORDS_PER_BULK)
            for chunk in chunks:
                if pool is None:
                    future: Future = Future()
                    try:
                        future.set_result(send(chunk))
                    except BaseException as error:  # noqa: BLE001
                        future.set_exception(error)
                    in_flight[future] = chunk
                    settle(future)
                else:
                    while len(in_flight) >= max_in_flight:
                        done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                        for item in done:
                            settle(item)
                    if failures:
                        report.stopped_early = True
                        break
                    in_flight[pool.submit(send, chunk)] = chunk
                report.sent_until = chunk.start + len(chunk.items)
                if failures:
                    report.stopped_early = next(chunks, None) is not None
                    break
        finally:
            # Let every request already sent finish so the report says what was committed.
            for future in list(in_flight):
                future.exception()
                settle(future)
        result.count = report.done
        result.calls = report.calls
        if failures:
            chunk, error = min(failures, key=lambda f: f[0].start)
            if isinstance(error, KintoneError):
                _locate_write_error(error, chunk)
                error.write_report = report
                error.context = (
                    f"bulk {method} app={app}: records #{chunk.start}-"
                    f"#{chunk.start + len(chunk.items) - 1} were not written (a bulk request is "
                    f"all or nothing); committed: {report.committed_ranges_text()}"
                )
                if report.stopped_early:
                    error.context += f"; records from #{report.sent_until} on were not sent"
            raise error
        return result

    # -- apps and settings -----------------------------------------------------------------

    def get_app(self, app: int) -> dict[str, Any]:
        """App information (GET app.json): appId, code, name, spaceId, creator …"""
        return self.request("GET", "app", {"id": app}, app=app)

    def get_form_fields(
        self, app: int, preview: bool = False, *, lang: str | None = None
    ) -> dict[str, dict[str, Any]]:
        """Field properties keyed by field code (live settings unless `preview`)."""
        params: dict[str, Any] = {"app": app}
        if lang:
            params["lang"] = lang
        body = self.request("GET", "app/form/fields", params, app=app, preview=preview)
        return body["properties"]

    def get_form_layout(self, app: int, preview: bool = False) -> list[dict[str, Any]]:
        """Form layout rows (GET app/form/layout.json)."""
        body = self.request("GET", "app/form/layout", {"app": app}, app=app, preview=preview)
        return body["layout"]

    def probe_permissions(self, app: int) -> set[str]:
        """Which of view/add/edit/delete/manage the credentials allow on `app`; changes no data.

        view: a one-record read. add: an add of zero records. edit/delete: an update / delete of
        a record id that cannot exist (not found ⇒ allowed). manage: reading preview settings.
        Raises KintoneAuthError for bad credentials and KintoneNotFoundError for a missing app.
        """
        found: set[str] = set()
        probes: list[tuple[str, Callable[[], Any]]] = [
            (
                "view",
                lambda: self.request(
                    "GET", "records", {"app": app, "query": "limit 1", "fields": ["$id"]}, app=app
                ),
            ),
            (
                "add",
                lambda: self.request("POST", "records", {"app": app, "records": []}, app=app),
            ),
            (
                "edit",
                lambda: self.request(
                    "PUT",
                    "records",
                    {"app": app, "records": [{"id": _IMPOSSIBLE_RECORD_ID, "record": {}}]},
                    app=app,
                ),
            ),
            (
                "delete",
                lambda: self.request(
                    "DELETE", "records", {"app": app, "ids": [_IMPOSSIBLE_RECORD_ID]}, app=app
                ),
            ),
            (
                "manage",
                lambda: self.request("GET", "app/form/fields", {"app": app}, app=app, preview=True),
            ),
        ]
        for name, probe in probes:
            try:
                probe()
            except KintonePermissionError:
                continue
            except (KintoneNotFoundError, KintoneValidationError, KintoneConflictError) as error:
                if error.code == "GAIA_AP01":
                    raise
                # Reached the record/validation stage: the permission check passed.
            found.add(name)
        return found

    def create_app(self, name: str, *, space: int | None = None, thread: int | None = None) -> int:
        """Create a pre-live app (POST preview/app.json; password auth) → app id."""
        params: dict[str, Any] = {"name": name}
        if space is not None:
            params["space"] = space
            params["thread"] = thread
        body = self.request("POST", "app", params, preview=True)
        return int(body["app"])

    def add_form_fields(
        self, app: int, properties: Mapping[str, Any], *, revision: int | None = None
    ) -> int:
        """Add fields to the pre-live form → new settings revision."""
        params: dict[str, Any] = {"app": app, "properties": dict(properties)}
        return self._change_form("POST", "app/form/fields", app, params, revision)

    def update_form_fields(
        self, app: int, properties: Mapping[str, Any], *, revision: int | None = None
    ) -> int:
        """Change pre-live field settings (key = current code) → new settings revision."""
        params: dict[str, Any] = {"app": app, "properties": dict(properties)}
        return self._change_form(
            "PUT", "app/form/fields", app, params, revision, safety=_Safety.REPEATABLE
        )

    def delete_form_fields(
        self, app: int, codes: Sequence[str], *, revision: int | None = None
    ) -> int:
        """Delete pre-live fields by code → new settings revision."""
        params: dict[str, Any] = {"app": app, "fields": list(codes)}
        return self._change_form("DELETE", "app/form/fields", app, params, revision)

    def update_form_layout(
        self, app: int, layout: Sequence[Mapping[str, Any]], *, revision: int | None = None
    ) -> int:
        """Replace the pre-live form layout → new settings revision."""
        params: dict[str, Any] = {"app": app, "layout": list(layout)}
        return self._change_form(
            "PUT", "app/form/layout", app, params, revision, safety=_Safety.REPEATABLE
        )

    def _change_form(
        self,
        method: str,
        endpoint: str,
        app: int,
        params: dict[str, Any],
        revision: int | None,
        *,
        safety: _Safety | None = None,
    ) -> int:
        """Send one pre-live form change (revision-checked when given) → new settings revision."""
        if revision is not None:
            params["revision"] = revision
        body = self.request(method, endpoint, params, app=app, preview=True, safety=safety)
        return int(body["revision"])

    def get_deploy_status(self, apps: Sequence[int]) -> dict[int, str]:
        """Deploy status per app: PROCESSING, SUCCESS, FAIL or CANCEL."""
        body = self.request(
            "GET", "app/deploy", {"apps": list(apps)}, app=apps[0] if apps else None, preview=True
        )
        return {int(item["app"]): str(item["status"]) for item in body["apps"]}

    def deploy_app_settings(
        self,
        apps: Sequence[int],
        *,
        revert: bool = False,
        wait: bool = True,
        timeout: float = 120.0,
        poll_interval: float = 1.0,
    ) -> dict[int, str]:
        """Deploy pre-live settings and, with `wait`, poll until done; raise KintoneDeployError."""
        params: dict[str, Any] = {"apps": [{"app": a} for a in apps]}
        if revert:
            params["revert"] = True
        self.request("POST", "app/deploy", params, app=apps[0] if apps else None, preview=True)
        if not wait:
            return {int(a): "PROCESSING" for a in apps}
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.get_deploy_status(apps)
            if all(s != "PROCESSING" for s in statuses.values()):
                bad = {a: s for a, s in statuses.items() if s != "SUCCESS"}
                if bad:
                    raise KintoneDeployError(
                        "DEPLOY_FAILED", f"deploying app settings ended with {bad}"
                    )
                return statuses
            if time.monotonic() >= deadline:
                raise KintoneDeployError(
                    "DEPLOY_TIMEOUT", f"app settings were still deploying after {timeout:g}s"
                )
            self._sleep(poll_interval)


# --------------------------------------------------------------------------------------------
# Iteration


@dataclass
class _CursorHandle:
    app: int
    owner: weakref.ref | None
    busy: bool = False


class RecordIterator(Iterator[dict[str, Any]]):
    """Iterator over every record of a query; one page in memory plus at most one prefetched."""

    def __init__(
        self,
        client: KintoneClient,
        app: int,
        query: SplitQuery,
        fields: list[str] | None,
        page_size: int,
        *,
        prefetch: bool = True,
        parallel: bool = True,
    ):
        self._client = client
        self.app = app
        self._query = query
        self.mode = "cursor" if query.order_by else "seek"
        if fields is not None and self.mode == "seek" and "$id" not in fields:
            fields = [*fields, "$id"]
        self._fields = fields
        self._page_size = page_size
        self._prefetch = prefetch
        self._buffer: deque[dict[str, Any]] = deque()
        self._pending: Future | None = None
        self._started = False
        self._exhausted = False  # no further page will be fetched
        self._closed = False
        self._released = False
        self._total: int | None = None
        self._fetched = 0
        self._low = 0  # highest id taken by the ascending chain
        self._high: int | None = None  # lowest id taken by the descending chain
        self._parallel = parallel
        self._cursor_id: str | None = None
        self.calls = 0

    # -- public ----------------------------------------------------------------------------

    @property
    def total_count(self) -> int | None:
        """Number of matching records when iteration started (fetches the first page if needed)."""
        if not self._started and not self._closed:
            self._fill()
        return self._total

    def __iter__(self) -> RecordIterator:
        return self

    def __next__(self) -> dict[str, Any]:
        while not self._buffer:
            if self._closed or (self._exhausted and self._pending is None):
                self.close()
                raise StopIteration
            self._fill()
        return self._buffer.popleft()

    def close(self) -> None:
        """Stop iterating: wait for an in-flight page and delete the cursor if one is open."""
        if self._closed:
            return
        self._closed = True
        pending, self._pending = self._pending, None
        if pending is not None and not pending.cancel():
            pending.exception()  # wait; its error does not matter any more
        self._buffer.clear()
        if self._cursor_id is not None:
            cursor_id, self._cursor_id = self._cursor_id, None
            self._client._delete_cursor_quietly(cursor_id, self.app)

    def __enter__(self) -> RecordIterator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # The collector may run this in any thread, even one holding a lock the DELETE would
        # need, so hand the deletion to a worker instead of calling out from here. A fetch in
        # flight holds a reference to the iterator, so none can be running now. A finaliser
        # must never raise; the cursor expires on its own if this fails.
        with contextlib.suppress(Exception):
            self._closed = True
            if self._pending is not None:
                self._pending.cancel()
            cursor_id, self._cursor_id = self._cursor_id, None
            if cursor_id is not None:
                # SimpleQueue.put is safe to call from a finaliser (reentrant, no Python lock).
                self._client._doomed.put((cursor_id, self.app))

    # -- paging ----------------------------------------------------------------------------

    def _fill(self) -> None:
        """Move the next page into the buffer and start fetching the one after it."""
        try:
            if self._pending is not None:
                future, self._pending = self._pending, None
                records = future.result()
            else:
                records = self._fetch()
            self._started = True
            self._buffer.extend(records)
            if not self._exhausted and self._prefetch and not self._closed:
                self._pending = self._client._executor().submit(self._fetch)
        except BaseException:
            self.close()
            raise

    def _fetch(self) -> list[dict[str, Any]]:
        if self.mode == "seek":
            return self._fetch_seek()
        return self._fetch_cursor()

    def _fetch_seek(self) -> list[dict[str, Any]]:
        """One step of the seek: the lowest page, plus the highest page while much remains.

        Two exact `$id` chains (ascending from the bottom, descending from the top) meet in the
        middle, so no offset is ever used, no record can be skipped by concurrent deletes, and
        twice the pages are in flight. Calls stay within ⌈N/500⌉+1 when nothing changes.
        """
        size = self._page_size
        if not self._started and self._total is None:
            records, total = self._seek_page(self._low, None, descending=False, total=True)
            self._total = total or 0
            self._take_ascending(records)
            # The count taken with the first page ends an ascending-only walk exactly, sparing
            # an empty trailing call; new records (higher ids) would come after the old ones.
            if len(records) < size or self._fetched >= self._total:
                self._exhausted = True
            return records
        remaining = (self._total or 0) - self._fetched
        both = self._parallel and remaining > size
        future = None
        if both:
            future = self._client._reader().submit(
                self._seek_page, self._low, self._high, descending=True
            )
        try:
            ascending, _ = self._seek_page(self._low, self._high, descending=False)
        except BaseException:
            if future is not None:
                future.exception()  # do not leave the other request running unobserved
            raise
        descending = future.result()[0] if future is not None else None
        if descending is None:
            self._take_ascending(ascending)
            if (
                len(ascending) < size
                or (self._high is None and self._fetched >= self._total)
                or (self._high is not None and self._low + 1 >= self._high)
            ):
                self._exhausted = True
            return ascending
        if len(ascending) < size:
            # The ascending page holds everything left between the two frontiers.
            self._take_ascending(ascending)
            self._exhausted = True
            return ascending
        if len(descending) < size:
            self._take_descending(descending)
            self._exhausted = True
            return descending
        top_of_ascending = _record_id(ascending[-1])
        if top_of_ascending >= _record_id(descending[-1]):
            # The chains crossed: keep the descending records above the ascending page.
            rest = [r for r in descending if _record_id(r) > top_of_ascending]
            self._take_ascending(ascending)
            self._fetched += len(rest)
            self._exhausted = True
            return ascending + rest
        self._take_ascending(ascending)
        self._take_descending(descending)
        if self._low + 1 >= self._high:
            self._exhausted = True
        return ascending + descending

    def _seek_page(
        self, after: int, before: int | None, *, descending: bool, total: bool = False
    ) -> tuple[list[dict[str, Any]], int | None]:
        params: dict[str, Any] = {
            "app": self.app,
            "query": seek_query(
                self._query.condition,
                after,
                self._page_size,
                before=before,
                descending=descending,
            ),
        }
        if self._fields is not None:
            params["fields"] = self._fields
        if total:
            params["totalCount"] = True
        body = self._client.request("GET", "records", params, app=self.app)
        with self._client._lock:
            self.calls += 1
        count = body.get("totalCount")
        return body["records"], int(count) if count is not None else None

    def _take_ascending(self, records: list[dict[str, Any]]) -> None:
        self._fetched += len(records)
        if records:
            self._low = _record_id(records[-1])

    def _take_descending(self, records: list[dict[str, Any]]) -> None:
        self._fetched += len(records)
        if records:
            self._high = _record_id(records[-1])

    def _fetch_cursor(self) -> list[dict[str, Any]]:
        client = self._client
        if self._cursor_id is None:
            if self._released:
                raise KintoneNotFoundError(
                    "GAIA_CN01", "the cursor was released to make room for another (GAIA_TM12)"
                )
            query = self._query.condition
            if query:
                query += " "
            query += self._query.order_by
            cursor_id, total = client.create_cursor(
                self.app, query, self._fields, size=self._page_size
            )
            self.calls += 1
            client._start_janitor()
            with client._lock:
                client._cursors[cursor_id] = _CursorHandle(self.app, weakref.ref(self))
            self._cursor_id = cursor_id
            self._total = total
        cursor_id = self._cursor_id
        handle = client._cursors.get(cursor_id)
        if handle is None or self._released:
            raise KintoneNotFoundError(
                "GAIA_CN01", "the cursor was released to make room for another (GAIA_TM12)"
            )
        handle.busy = True
        try:
            records, more = client.get_cursor_page(cursor_id, app=self.app)
            self.calls += 1
        finally:
            handle.busy = False
        self._fetched += len(records)
        if not more:
            # kintone deleted the cursor with its last page.
            self._exhausted = True
            self._cursor_id = None
            with client._lock:
                client._cursors.pop(cursor_id, None)
        return records


# --------------------------------------------------------------------------------------------
# Helpers


def _decode(response: requests.Response) -> dict[str, Any]:
    status = response.status_code
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if 200 <= status < 300:
        if not isinstance(payload, dict):
            raise KintoneServerError(
                "INVALID_RESPONSE",
                f"kintone answered {status} without a JSON object",
                status=status,
                maybe_applied=True,
            )
        warning = response.headers.get("X-Cybozu-Warning", "")
        if "aborted" in warning.lower():
            # kintone still answers 200, with part of the matches: never pass that on as whole.
            raise KintoneFilterAbortedError("FILTER_ABORTED", warning, status=status)
        return payload
    if isinstance(payload, dict):
        error = _error_from_payload(status, payload, response.headers)
    else:
        text = response.text.strip().replace("\n", " ")[:200]
        cls = KintoneServerError if status >= 500 else error_class_for(f"HTTP_{status}", status)
        error = cls(
            f"HTTP_{status}",
            text or response.reason or "no body",
            status=status,
            retry_after=_retry_after(response.headers),
        )
    # kintone rolls a refused request back (4xx); a 5xx other than maintenance (503) may come
    # from a proxy after kintone finished, so the outcome of a write is unknown.
    error.maybe_applied = status >= 500 and status != 503
    raise error


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", reason)
    return isinstance(inner, NewConnectionError | ConnectionRefusedError)


def _is_transient(error: BaseException, safety: _Safety) -> bool:
    """Whether repeating the request is safe and may help."""
    if isinstance(error, KintoneCursorLimitError):
        return False  # handled by the cursor creation, which first frees cursors
    if isinstance(error, KintoneThrottledError):
        return True  # refused at admission: nothing was applied
    if isinstance(error, KintoneNetworkError):
        return safety is _Safety.REPEATABLE or not error.maybe_applied
    if isinstance(error, KintoneServerError):
        return safety is _Safety.REPEATABLE or error.status == 503
    return False


def _chunks(items: Iterable[Any], size: int) -> Iterator[_Chunk]:
    chunk: list[Any] = []
    start = 0
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield _Chunk(start, chunk)
            start += size
            chunk = []
    if chunk:
        yield _Chunk(start, chunk)


def _parts(items: list[Any]) -> Iterator[list[Any]]:
    for offset in range(0, len(items), RECORDS_PER_REQUEST):
        yield items[offset : offset + RECORDS_PER_REQUEST]


_ID_IN_MESSAGE_RE = re.compile(r"\d+")


def _locate_write_error(error: KintoneError, chunk: _Chunk) -> None:
    """Rewrite request-relative record indexes of `error` into input indexes with id/updateKey."""
    part = error.bulk_index or 0
    base = chunk.start + part * RECORDS_PER_REQUEST
    items = chunk.items[part * RECORDS_PER_REQUEST : (part + 1) * RECORDS_PER_REQUEST]
    located = []
    for err in error.field_errors:
        if err.record_index is None or err.record_index >= len(items):
            located.append(err)
            continue
        item = items[err.record_index]
        located.append(
            FieldError(
                key=err.key,
                messages=err.messages,
                field_code=err.field_code,
                record_index=base + err.record_index,
                record_id=_item_id(item),
                update_key=item.get("updateKey") if isinstance(item, Mapping) else None,
                subtable_row=err.subtable_row,
                inner_field_code=err.inner_field_code,
            )
        )
    if not located and error.code in ("GAIA_RE01", "GAIA_CO02"):
        # These name the record only in the (localised) message; match its number to an input id.
        numbers = {int(n) for n in _ID_IN_MESSAGE_RE.findall(error.message)}
        for offset, item in enumerate(items):
            record_id = _item_id(item)
            if record_id is not None and record_id in numbers:
                located.append(
                    FieldError(
                        key="id",
                        messages=(error.message,),
                        record_index=base + offset,
                        record_id=record_id,
                    )
                )
                break
    error.field_errors = located


def _item_id(item: Any) -> int | None:
    if isinstance(item, Mapping) and item.get("id") is not None:
        try:
            return int(item["id"])
        except (TypeError, ValueError):
            return None
    return None
