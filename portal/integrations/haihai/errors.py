"""配配メール errors: one class per kind of failure, carrying facts only.

`operation` and `import_mode` (set by the client) say which API failed; the portal's Japanese
wording of every error lives in `portal.messages.haihai`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from portal.integrations.haihai.types import ImportMode, ImportResult, Op


class HaihaiError(Exception):
    """Any failure reported by or on the way to 配配メール; `code` is the vendor code when known.

    `attempts` is how many times the call was sent before the client gave up.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        action: str | None = None,
    ):
        self.message = message
        self.code = code
        self.http_status = http_status
        self.action = action
        self.operation: Op | None = None
        self.import_mode: ImportMode | None = None
        self.attempts = 1
        super().__init__(f"{message} (code={code}, http={http_status}, action={action})")


class HaihaiAuthError(HaihaiError):
    """The login ID or API token was refused (unknown user, wrong, regenerated or deleted token)."""


class HaihaiIpRefusedError(HaihaiError):
    """配配メール's API IP allowlist does not contain the portal's address."""


class HaihaiPlanError(HaihaiError):
    """The account's plan does not include the requested feature (Bridge, Standard and above)."""


class HaihaiLimitError(HaihaiError):
    """The daily call limit of one API (240/day, code 81404) is used up; `resets_at` is when it ends."""

    def __init__(
        self,
        message: str,
        *,
        resets_at: dt.datetime,
        limit: int | None = None,
        used: int | None = None,
        bucket: str | None = None,
        local: bool = False,
        code: int | None = 81404,
        http_status: int | None = None,
        action: str | None = None,
    ):
        super().__init__(message, code=code, http_status=http_status, action=action)
        self.resets_at = resets_at
        self.limit = limit
        self.used = used
        self.bucket = bucket
        # True when the portal's own ledger refused the call (nothing was sent).
        self.local = local


class HaihaiValidationError(HaihaiError):
    """The request was refused as invalid (parameters, file size, CSV format); nothing was queued."""


class HaihaiNotFoundError(HaihaiValidationError):
    """The account, group, step plan, form or import job named does not exist (code 81410)."""


class HaihaiPartTooLargeError(HaihaiValidationError):
    """A CSV file over the 15 MB limit was refused before sending (`size`, `limit` in bytes)."""

    def __init__(self, size: int, limit: int, *, action: str | None = None):
        super().__init__(f"CSV file of {size} bytes exceeds {limit} bytes", action=action)
        self.size = size
        self.limit = limit


class HaihaiEmptyPartError(HaihaiValidationError):
    """An empty CSV file was refused before sending."""

    def __init__(self, *, action: str | None = None):
        super().__init__("the CSV file is empty", action=action)


class HaihaiUnavailableError(HaihaiError):
    """配配メール could not be reached or failed on its side (raised after the retries are spent).

    `maybe_delivered` is False only when the request provably never reached the server.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool = True,
        maybe_delivered: bool = True,
        retry_after: float | None = None,
        code: int | None = None,
        http_status: int | None = None,
        action: str | None = None,
    ):
        super().__init__(message, code=code, http_status=http_status, action=action)
        self.transient = transient
        self.maybe_delivered = maybe_delivered
        self.retry_after = retry_after


class HaihaiConnectionError(HaihaiUnavailableError):
    """No answer: the connection could not be opened, or it broke off before the answer."""


class HaihaiTimeoutError(HaihaiUnavailableError):
    """No answer in time: `phase` says whether connecting or waiting for the answer timed out,
    `timeout` is that attempt's limit in seconds."""

    def __init__(
        self,
        message: str,
        *,
        timeout: float,
        phase: Literal["connect", "read"] = "read",
        maybe_delivered: bool = True,
        action: str | None = None,
    ):
        super().__init__(message, maybe_delivered=maybe_delivered, action=action)
        self.timeout = timeout
        self.phase = phase


class HaihaiServerError(HaihaiUnavailableError):
    """配配メール answered with a server-side failure (HTTP 5xx or a vendor code 815xx)."""


class HaihaiImportUncertainError(HaihaiUnavailableError):
    """The CSV upload failed after it may have reached 配配メール; it was not sent again.

    `cause` is the failure seen (a timeout, a server error or a broken connection), or None.
    """

    def __init__(self, message: str, *, cause: HaihaiUnavailableError | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.cause = cause


class HaihaiProtocolError(HaihaiError):
    """The answer was not a 配配メール API response (wrong URL, proxy page, redirect)."""


class HaihaiImportFailedError(HaihaiError):
    """配配メール ended an import job in state failed; `result` holds what it reported."""

    def __init__(self, result: ImportResult):
        super().__init__(f"import job {result.job_id} failed", action="import")
        self.result = result


class HaihaiImportTimeoutError(HaihaiError):
    """An import job was still unfinished when wait_for_import gave up; it may finish later."""

    def __init__(self, job_id: str, state: str, waited: float):
        super().__init__(f"import job {job_id} still {state} after {waited:.0f}s", action="import")
        self.job_id = job_id
        self.state = state
        self.waited = waited
