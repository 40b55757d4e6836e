"""The HTTP side of the kintone client: session, authentication headers, one API call with
retries and timeouts, and the decoding of answers into JSON or typed errors.

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

Time bounds: each attempt waits at most `connect_timeout` to connect and `timeout` for the
answer; the retry policy caps the attempts that may time out and the time after which no retry
starts (see `portal.integrations.retrying`).
"""

from __future__ import annotations

import base64
import enum
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError, ReadTimeoutError

from portal.integrations.kintone.errors import (
    KintoneConnectionLostError,
    KintoneCursorLimitError,
    KintoneError,
    KintoneFilterAbortedError,
    KintoneNetworkError,
    KintoneServerError,
    KintoneThrottledError,
    KintoneTimeoutError,
    error_class_for,
    error_from_payload,
    retry_after_seconds,
)
from portal.integrations.kintone.query import (
    MAX_QUERY_STRING_FIELDS,
    MAX_TOKENS_PER_REQUEST,
    URL_LENGTH_LIMIT,
    check_base_url,
    encode_query_params,
)
from portal.integrations.ledger import DailyLedger
from portal.integrations.retrying import RetryPolicy, call_with_retries

log = logging.getLogger("portal.integrations.kintone")

# At most two timed-out attempts and no retry after a minute: a frozen kintone is reported
# after about two read timeouts instead of five (docs/decisions.md).
DEFAULT_RETRY = RetryPolicy(attempts=5, base_delay=0.5, max_delay=20.0, max_timeouts=2, budget=60.0)
DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0


class Safety(enum.Enum):
    """How freely a request may be repeated after a failure."""

    REPEATABLE = "repeatable"  # reads and idempotent writes
    ONCE = "once"  # retry only when the failure proves kintone did not apply it


class KintoneTransport:
    """Session, credentials, worker pools and `request()` of one kintone domain (or guest space).

    The base of `KintoneClient`; the record, write and app operations build on `request()`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_tokens: Sequence[str] | None = None,
        username: str | None = None,
        password: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        ledger: DailyLedger | None = None,
        guest_space_id: int | None = None,
        session: requests.Session | None = None,
        max_workers: int = 8,
        sleep: Callable[[float], None] = time.sleep,
    ):
        base_url = base_url.rstrip("/")
        check_base_url(base_url)
        tokens = _checked_tokens(api_tokens, username, password)
        if guest_space_id is not None and int(guest_space_id) < 1:
            raise ValueError("guest_space_id must be a positive integer")
        self.base_url = base_url
        parts = urlsplit(base_url)
        self.host = parts.netloc + parts.path
        self.timeout = timeout
        self.connect_timeout = (
            min(timeout, DEFAULT_CONNECT_TIMEOUT) if connect_timeout is None else connect_timeout
        )
        self.retry = retry
        self.ledger = ledger
        self.guest_space_id = int(guest_space_id) if guest_space_id is not None else None
        self._sleep = sleep
        self._headers = _auth_headers(tokens, username, password, basic_auth)
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
        self.calls = 0  # HTTP requests sent (retries included)
        self.retries = 0
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker threads and close the HTTP session this client created."""
        self._closed = True
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

    # -- one API call ----------------------------------------------------------------------

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
        safety: Safety | None = None,
        is_transient: Callable[[BaseException], bool] | None = None,
    ) -> dict[str, Any]:
        """Send one API call (with retries) and return its JSON body; raise KintoneError."""
        method = method.upper()
        if safety is None:
            safety = Safety.REPEATABLE if method == "GET" else Safety.ONCE
        url = self.base_url + self.api_path(endpoint, preview=preview)
        params = dict(params or {})
        attempts = [0]

        def attempt() -> dict[str, Any]:
            attempts[0] += 1
            self._charge(app)
            return self._send(method, url, params)

        def transient(error: BaseException) -> bool:
            if is_transient is not None and is_transient(error):
                return True
            return is_transient_error(error, safety)

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
                is_timeout=lambda error: isinstance(error, KintoneTimeoutError),
            )
        except KintoneError as error:
            error.attempts = attempts[0]
            if not error.context:
                error.context = f"{method} {endpoint}" + (f" app={app}" if app else "")
            raise

    def _send(self, method: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
        send_method, url, headers, body = self._encode(method, url, params)
        with self._lock:
            self.calls += 1
        try:
            response = self.session.request(
                send_method,
                url,
                data=body,
                headers=headers,
                timeout=(self.connect_timeout, self.timeout),
            )
        except requests.exceptions.ConnectTimeout as exc:
            raise KintoneTimeoutError(
                "TIMEOUT",
                f"connecting to kintone timed out after {self.connect_timeout}s",
                timeout=self.connect_timeout,
                phase="connect",
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise self._read_timeout() from exc
        except requests.exceptions.ConnectionError as exc:
            if _read_timed_out(exc):  # the body stopped coming: a read timeout too
                raise self._read_timeout() from exc
            if _never_connected(exc):
                raise KintoneNetworkError(
                    "NETWORK", f"connection to kintone failed: {exc}", maybe_applied=False
                ) from exc
            raise KintoneConnectionLostError(
                "NETWORK", f"connection to kintone broke off: {exc}", maybe_applied=True
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise KintoneNetworkError(
                "NETWORK", f"request to kintone failed: {exc}", maybe_applied=True
            ) from exc
        return decode_response(response)

    def _read_timeout(self) -> KintoneTimeoutError:
        return KintoneTimeoutError(
            "TIMEOUT",
            f"kintone did not answer within {self.timeout}s",
            timeout=self.timeout,
            phase="read",
            maybe_applied=True,
        )

    def _encode(
        self, method: str, url: str, params: dict[str, Any]
    ) -> tuple[str, str, dict[str, str], bytes | None]:
        """(method to send, URL, headers, body) of one call; long GETs tunnel through POST."""
        headers = dict(self._headers)
        if method not in ("GET", "DELETE"):
            headers["Content-Type"] = "application/json"
            return method, url, headers, json.dumps(params, ensure_ascii=False).encode()
        too_many_fields = len(params.get("fields") or ()) > MAX_QUERY_STRING_FIELDS
        query_string = urlencode(encode_query_params(params), quote_via=quote)
        full = f"{url}?{query_string}" if query_string else url
        if len(full) <= URL_LENGTH_LIMIT and not too_many_fields:
            return method, full, headers, None
        headers["Content-Type"] = "application/json"
        body = json.dumps(params, ensure_ascii=False).encode()
        if method == "GET":
            headers["X-HTTP-Method-Override"] = "GET"
            return "POST", url, headers, body
        # DELETE parameters may travel as a JSON body instead of the query string.
        return method, url, headers, body


def _checked_tokens(
    api_tokens: Sequence[str] | None, username: str | None, password: str | None
) -> list[str]:
    tokens = [t.strip() for t in (api_tokens or [])]
    if any(not t or "," in t for t in tokens):
        raise ValueError("API tokens must be non-empty and contain no comma")
    if len(tokens) > MAX_TOKENS_PER_REQUEST:
        raise ValueError(f"at most {MAX_TOKENS_PER_REQUEST} API tokens per request")
    if (username is None) != (password is None):
        raise ValueError("username and password go together")
    if not tokens and username is None:
        raise ValueError("give API tokens or username/password")
    return tokens


def _auth_headers(
    tokens: list[str],
    username: str | None,
    password: str | None,
    basic_auth: tuple[str, str] | None,
) -> dict[str, str]:
    headers = {"User-Agent": "kintone-connector-portal/1", "Accept": "application/json"}
    if username is not None:
        # Password auth wins over tokens on kintone's side; send only what was configured.
        raw = f"{username}:{password}".encode()
        headers["X-Cybozu-Authorization"] = base64.b64encode(raw).decode("ascii")
    if tokens:
        headers["X-Cybozu-API-Token"] = ",".join(tokens)
    if basic_auth is not None:
        raw = f"{basic_auth[0]}:{basic_auth[1]}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
    return headers


def decode_response(response: requests.Response) -> dict[str, Any]:
    """The JSON object of a successful answer; raise the typed KintoneError of any other."""
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
        error = error_from_payload(status, payload, response.headers)
    else:
        text = response.text.strip().replace("\n", " ")[:200]
        cls = KintoneServerError if status >= 500 else error_class_for(f"HTTP_{status}", status)
        error = cls(
            f"HTTP_{status}",
            text or response.reason or "no body",
            status=status,
            retry_after=retry_after_seconds(response.headers),
        )
    # kintone rolls a refused request back (4xx); a 5xx other than maintenance (503) may come
    # from a proxy after kintone finished, so the outcome of a write is unknown.
    error.maybe_applied = status >= 500 and status != 503
    raise error


def _causes(exc: BaseException) -> list[Any]:
    reason = exc.args[0] if exc.args else None
    return [reason, getattr(reason, "reason", None)]


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    return any(isinstance(c, NewConnectionError | ConnectionRefusedError) for c in _causes(exc))


def _read_timed_out(exc: requests.exceptions.ConnectionError) -> bool:
    return any(isinstance(c, ReadTimeoutError) for c in _causes(exc))


def is_transient_error(error: BaseException, safety: Safety) -> bool:
    """Whether repeating the request is safe and may help."""
    if isinstance(error, KintoneCursorLimitError):
        return False  # handled by the cursor creation, which first frees cursors
    if isinstance(error, KintoneThrottledError):
        return True  # refused at admission: nothing was applied
    if isinstance(error, KintoneNetworkError):
        return safety is Safety.REPEATABLE or not error.maybe_applied
    if isinstance(error, KintoneServerError):
        return safety is Safety.REPEATABLE or error.status == 503
    return False
