"""Typed errors of the 配配メール API surface (spec §3.3) and of the admin API."""

from __future__ import annotations

OK = (200, 10200, "OK")
ACCEPTED = (202, 10202, "ACCEPTED")


class ApiError(Exception):
    """An error answered in the §3.3 envelope: HTTP status, numeric code, status text, message."""

    http_status = 400
    code = 81400
    status = "bad parameter"

    def __init__(self, message: str, *, http_status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.message = message
        if http_status is not None:
            self.http_status = http_status
        if code is not None:
            self.code = code


class BadParameter(ApiError):
    """400 / 81400: a missing or invalid parameter."""


class Unauthorized(ApiError):
    """401 / 81401: unknown login ID, wrong or deleted token."""

    http_status = 401
    code = 81401
    status = "unauthorized"


class PlanNotAllowed(ApiError):
    """403 / 81402: the account's plan or options do not include the action."""

    http_status = 403
    code = 81402
    status = "plan not allowed"


class IpDenied(ApiError):
    """403 / 81403: the caller's address is not in the account's allowlist."""

    http_status = 403
    code = 81403
    status = "ip denied"


class NotFound(ApiError):
    """404 / 81410: unknown account, gid, spid, form_id or job_id."""

    http_status = 404
    code = 81410
    status = "not found"


class FileTooLarge(ApiError):
    """413 / 81413: the CSV file is larger than 15 MB."""

    http_status = 413
    code = 81413
    status = "file too large"


class CsvFormatError(ApiError):
    """422 / 81422: undecodable file, no header, no email column, unknown column."""

    http_status = 422
    code = 81422
    status = "csv format error"


class TooManyCalls(ApiError):
    """429 / 81404: the daily call limit of the action's bucket is used up."""

    http_status = 429
    code = 81404
    status = "too many calls"


class InternalError(ApiError):
    """500 / 81500: an injected fault or an unexpected failure."""

    http_status = 500
    code = 81500
    status = "internal error"


STATUS_TEXT_BY_CODE = {
    cls.code: cls.status
    for cls in (
        BadParameter,
        Unauthorized,
        PlanNotAllowed,
        IpDenied,
        NotFound,
        FileTooLarge,
        CsvFormatError,
        TooManyCalls,
        InternalError,
    )
}


class AdminError(Exception):
    """A refused admin (`/_sandbox/…`) request, answered as `{"error": message}`."""

    def __init__(self, message: str, http_status: int = 400):
        super().__init__(message)
        self.message = message
        self.http_status = http_status
