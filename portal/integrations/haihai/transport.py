"""The wire format of spec §3 and nothing else: action names, parameter spellings, value
encodings, the response envelope, and how vendor codes and HTTP failures become typed errors.

The current class speaks the contract of spec §3 (token-era proposal). When the vendor's real
specification is at hand, subclass or replace `Transport`; records it returns must use the
canonical field names of spec §3.6–§3.9 (the names `parsing` reads).
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions

from portal.integrations.haihai.errors import (
    HaihaiAuthError,
    HaihaiConnectionError,
    HaihaiError,
    HaihaiIpRefusedError,
    HaihaiLimitError,
    HaihaiNotFoundError,
    HaihaiPlanError,
    HaihaiProtocolError,
    HaihaiServerError,
    HaihaiTimeoutError,
    HaihaiValidationError,
)
from portal.integrations.haihai.parsing import (
    float_or_none,
    int_or_none,
    parse_import_result,
    parse_time,
)
from portal.integrations.haihai.types import (
    JST,
    ImportMode,
    ImportOptions,
    ImportStatus,
    ImportTicket,
    Op,
    next_jst_midnight,
)
from portal.integrations.haihai.urls import HaihaiAccountUrl
from portal.integrations.haihai_csv import CsvEncoding

DEFAULT_CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list operation: records in canonical (spec §3.6) field names."""

    items: list[dict[str, Any]]
    total: int | None
    offset: int
    limit: int


def wire_time(moment: dt.datetime, *, ceil: bool = False) -> str:
    """Aware datetime → 'YYYY-MM-DD HH:MM:SS' JST; `ceil` rounds sub-seconds up (exclusive ends)."""
    if moment.tzinfo is None:
        raise ValueError("datetimes passed to the 配配メール client must be timezone-aware")
    local = moment.astimezone(JST)
    if ceil and local.microsecond:
        local = local.replace(microsecond=0) + dt.timedelta(seconds=1)
    return local.strftime("%Y-%m-%d %H:%M:%S")


def parse_http_time(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds only; dates are rare and ignored)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def connect_failed(error: requests.ConnectionError) -> bool:
    """True when the connection was never established, so the request was certainly not sent."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
            return True
        if isinstance(current, urllib3.exceptions.MaxRetryError):
            stack.append(current.reason)
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        stack.append(current.__cause__)
        stack.append(current.__context__)
    return False


class Transport:
    """The spec §3 wire format: POST {base}?ac=Action, form fields, JSON envelope with numeric codes.

    Owns the HTTP session. One call = one HTTP request; no retries or budgets here.
    """

    max_page_size = 10_000
    success_codes = frozenset({10200, 10202})

    _ACTIONS = {
        Op.ITEMS: "GetDatabaseItemList",
        Op.GROUPS: "GetGroupList",
        Op.STEP_PLANS: "GetStepPlanList",
        Op.FORMS: "GetFormList",
        Op.CUSTOMERS: "GetCustomerList",
        Op.DELIVERY_STATES: "GetDeliveryStateList",
        Op.OPEN_LOG: "GetOpenLog",
        Op.CLICK_LOG: "GetClickLog",
        Op.VISIT_LOG: "GetVisitLog",
        Op.CV_LOG: "GetConversionLog",
        Op.DOWNLOAD_LOG: "GetDownloadLog",
        Op.FORM_ANSWERS: "GetFormAnswerList",
        Op.IMPORT: "ScheduleCsvImport",
        Op.IMPORT_RESULT: "GetImportResult",
    }
    _IMPORT_TYPES = {
        ImportMode.REGISTER: 0,
        ImportMode.DELETE: 1,
        ImportMode.STOP: 2,
        ImportMode.BAN: 3,
        ImportMode.ENABLE: 5,
    }
    _CHARSETS = {CsvEncoding.UTF8: 1, CsvEncoding.SHIFT_JIS: 2, CsvEncoding.EUC_JP: 3}
    # Semantic filter name → wire parameter name.
    _FILTERS = {
        "group_id": "gid",
        "plan_id": "spid",
        "state": "state",
        "form_id": "form_id",
        "mail_id": "mail_id",
        "since": "from",
        "until": "to",
        "updated_since": "updated_from",
        "changed_since": "changed_from",
    }

    def __init__(
        self,
        account: HaihaiAccountUrl,
        login_id: str,
        api_token: str,
        *,
        timeout: float = 30.0,
        connect_timeout: float | None = None,
        session: requests.Session | None = None,
    ):
        self.account = account
        self._login_id = login_id
        self._api_token = api_token
        self.timeout = timeout
        self.connect_timeout = (
            min(timeout, DEFAULT_CONNECT_TIMEOUT) if connect_timeout is None else connect_timeout
        )
        self._session = session or requests.Session()
        self._owns_session = session is None
        self.calls = 0

    def close(self) -> None:
        """Release pooled connections."""
        if self._owns_session:
            self._session.close()

    def action(self, op: Op) -> str:
        """Wire action name of an operation."""
        return self._ACTIONS[op]

    def bucket(self, op: Op, mode: ImportMode | None = None) -> str:
        """Daily-limit bucket: one per action; the CSV call splits into 登録 / 削除 / 状態変更."""
        if op is Op.IMPORT:
            if mode is ImportMode.REGISTER:
                return "ScheduleCsvImport/register"
            if mode is ImportMode.DELETE:
                return "ScheduleCsvImport/delete"
            return "ScheduleCsvImport/state"
        return self._ACTIONS[op]

    # -- operations -----------------------------------------------------------------------

    def list_page(self, op: Op, filters: Mapping[str, Any], offset: int, limit: int) -> Page:
        """Fetch one page of a list operation."""
        fields: dict[str, str] = {
            "return_format": "json",
            "offset": str(offset),
            "limit": str(limit),
        }
        for name, value in filters.items():
            if value is None:
                continue
            wire_name = self._FILTERS[name]
            if isinstance(value, dt.datetime):
                fields[wire_name] = wire_time(value, ceil=name == "until")
            elif isinstance(value, enum.Enum):
                fields[wire_name] = str(value.value)
            else:
                fields[wire_name] = str(value)
        data, _ = self._post(op, fields, timeout=self.timeout)
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise HaihaiProtocolError(
                "list response without data.items", action=self.action(op), http_status=200
            )
        total = data.get("total")
        return Page(
            items=data["items"],
            total=int(total) if total is not None else None,
            offset=int(data.get("offset", offset)),
            limit=int(data.get("limit", limit)),
        )

    def submit_import(
        self, csv_bytes: bytes, options: ImportOptions, timeout: float
    ) -> ImportTicket:
        """Upload one CSV file as an import job (multipart)."""
        fields = {
            "import_type": str(self._IMPORT_TYPES[options.mode]),
            "is_overwrite": "1" if options.overwrite else "0",
            "blank_overwrite": "1" if options.blank_overwrite else "0",
            "report_option": str(options.report.value),
            "charset": str(self._CHARSETS[options.encoding]),
            "status_change": "1" if options.status_change is not None else "0",
        }
        if options.status_change is not None:
            fields["status_change_type"] = str(options.status_change.value)
        if options.group_id is not None:
            fields["gid"] = str(options.group_id)
        if options.plan_id is not None:
            fields["spid"] = str(options.plan_id)
        files = {"csvfile": ("import.csv", csv_bytes, "text/csv")}
        data, _ = self._post(Op.IMPORT, fields, files=files, timeout=timeout)
        if not isinstance(data, dict) or not data.get("job_id"):
            raise HaihaiProtocolError(
                "import response without job_id", action=self.action(Op.IMPORT), http_status=202
            )
        return ImportTicket(
            job_id=str(data["job_id"]),
            accepted_at=parse_time(data.get("accepted_at")),
            row_count=int_or_none(data.get("row_count")),
        )

    def import_status(
        self, job_id: str, error_offset: int = 0, error_limit: int | None = None
    ) -> ImportStatus:
        """Fetch the state of an import job and, when finished, its result with one error page."""
        fields = {"job_id": job_id, "offset": str(error_offset)}
        if error_limit is not None:
            fields["limit"] = str(error_limit)
        data, response = self._post(Op.IMPORT_RESULT, fields, timeout=self.timeout)
        if not isinstance(data, dict) or "state" not in data:
            raise HaihaiProtocolError(
                "import result without state", action=self.action(Op.IMPORT_RESULT)
            )
        state = str(data["state"])
        result = None
        if state in ("completed", "failed"):
            result = parse_import_result(data, {v: k for k, v in self._IMPORT_TYPES.items()})
        hint = parse_http_time(response.headers.get("Retry-After"))
        if hint is None and data.get("retry_after") is not None:
            hint = float_or_none(data.get("retry_after"))
        error_total = int_or_none(data.get("error_total"))
        if error_total is None and result is not None:
            error_total = error_offset + len(result.errors)
        return ImportStatus(
            job_id=job_id,
            state=state,
            result=result,
            processed=int_or_none(data.get("processed")),
            total=int_or_none(data.get("total")),
            error_total=error_total,
            retry_after=hint,
        )

    # -- HTTP and envelope ----------------------------------------------------------------

    def _post(
        self,
        op: Op,
        fields: dict[str, str],
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        timeout: float,
    ) -> tuple[Any, requests.Response]:
        action = self.action(op)
        body = {"login_id": self._login_id, "api_token": self._api_token, **fields}
        self.calls += 1
        connect = min(timeout, self.connect_timeout)
        try:
            response = self._session.post(
                self.account.base_url,
                params={"ac": action},
                data=body,
                files=files,
                timeout=(connect, timeout),
                allow_redirects=False,
            )
        except requests.ConnectTimeout as error:
            raise HaihaiTimeoutError(
                f"connect timeout after {connect}s",
                timeout=connect,
                phase="connect",
                maybe_delivered=False,
                action=action,
            ) from error
        except requests.ReadTimeout as error:
            raise _read_timeout(timeout, action) from error
        except requests.ConnectionError as error:
            if _read_timed_out(error):  # the body stopped coming: a read timeout too
                raise _read_timeout(timeout, action) from error
            raise HaihaiConnectionError(
                f"connection error: {error}",
                maybe_delivered=not connect_failed(error),
                action=action,
            ) from error
        except requests.RequestException as error:
            raise HaihaiConnectionError(f"request failed: {error}", action=action) from error
        with response:
            return self._decode(response, action), response

    def _decode(self, response: requests.Response, action: str) -> Any:
        status = response.status_code
        content = response.content
        payload: Any = None
        if content.lstrip()[:1] in (b"{", b"["):
            try:
                payload = json.loads(content)
            except ValueError:
                payload = None
        if isinstance(payload, dict) and "code" in payload:
            code = int_or_none(payload.get("code"))
            if code in self.success_codes:
                return payload.get("data")
            message = str(payload.get("message") or payload.get("status") or "")
            raise self._error(code, message, response, action)
        parsed_csv = csv_error(content)
        if parsed_csv is not None:
            code, message = parsed_csv
            raise self._error(code, message, response, action)
        if status >= 500:
            raise HaihaiServerError(
                f"HTTP {status} without an API envelope",
                http_status=status,
                retry_after=parse_http_time(response.headers.get("Retry-After")),
                action=action,
            )
        if status == 429:
            raise self._error(81404, "too many calls", response, action)
        raise HaihaiProtocolError(
            f"HTTP {status} is not an API response ({response.headers.get('Content-Type')})",
            http_status=status,
            action=action,
        )

    def _error(
        self, code: int | None, message: str, response: requests.Response, action: str
    ) -> HaihaiError:
        status = response.status_code
        kwargs = {"code": code, "http_status": status, "action": action}
        simple: dict[int | None, type[HaihaiError]] = {
            81401: HaihaiAuthError,
            81402: HaihaiPlanError,
            81403: HaihaiIpRefusedError,
            81410: HaihaiNotFoundError,
            81400: HaihaiValidationError,
            81413: HaihaiValidationError,
            81422: HaihaiValidationError,
        }
        if code in simple:
            return simple[code](message, **kwargs)
        if code == 81404:
            return HaihaiLimitError(
                message,
                resets_at=reset_header(response.headers.get("X-HM-RateLimit-Reset"))
                or next_jst_midnight(),
                limit=int_or_none(response.headers.get("X-HM-RateLimit-Limit")),
                **kwargs,
            )
        if (code is not None and 81500 <= code < 81600) or status >= 500:
            return HaihaiServerError(
                message,
                retry_after=parse_http_time(response.headers.get("Retry-After")),
                **kwargs,
            )
        return HaihaiError(message, **kwargs)


def _read_timeout(timeout: float, action: str) -> HaihaiTimeoutError:
    return HaihaiTimeoutError(
        f"read timeout after {timeout}s", timeout=timeout, phase="read", action=action
    )


def _read_timed_out(error: requests.ConnectionError) -> bool:
    reason = error.args[0] if error.args else None
    causes = (reason, getattr(reason, "reason", None))
    return any(isinstance(c, urllib3.exceptions.ReadTimeoutError) for c in causes)


def csv_error(content: bytes) -> tuple[int | None, str] | None:
    """Parse the CSV-mode error body (header CODE,STATUS,MESSAGE), if that is what we got."""
    head = content[:200].lstrip(b"\xef\xbb\xbf").replace(b'"', b"")
    if not head.upper().startswith(b"CODE,STATUS,MESSAGE"):
        return None
    for encoding in ("utf-8", "cp932"):
        try:
            text = content.decode(encoding).lstrip("\ufeff")
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2 or len(rows[1]) < 3:
        return None
    return int_or_none(rows[1][0]), rows[1][2] or rows[1][1]


def reset_header(value: str | None) -> dt.datetime | None:
    """X-HM-RateLimit-Reset: epoch seconds or 'YYYY-MM-DD HH:MM:SS' (JST) or ISO 8601."""
    if not value:
        return None
    try:
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    except ValueError:
        pass
    return parse_time(value)
