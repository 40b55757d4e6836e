"""kintone errors: one class per kind of failure, keyed on kintone's stable `code`.

The classes carry facts only (code, status, the request's outcome, field locations, timeouts);
the portal's Japanese wording of each lives in `portal.messages.kintone`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


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
        merged = merge_ranges(self.committed)
        if not merged:
            return "none"
        return ", ".join(f"{start}-{stop - 1}" for start, stop in merged)


class KintoneError(Exception):
    """An error answered by kintone (or a transport failure), keyed on the stable `code`.

    `attempts` is how many times the request was sent before the client gave up (set by the
    client once its retries are spent).
    """

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
        self.attempts = 1
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


class KintoneAppAccessError(KintonePermissionError):
    """The API token may do nothing at all on the app: it was issued for another app, or no app
    has this ID (kintone answers 403 GAIA_NO01 for both, not GAIA_AP01, to a token)."""


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
    """5xx (`status` says which) or an answer that is not kintone's JSON (maintenance, proxies)."""


class KintoneNetworkError(KintoneError):
    """No answer: the connection could not be opened (refused, unknown host) or broke off.

    `maybe_applied` is False only when the request provably never left the client.
    """


class KintoneConnectionLostError(KintoneNetworkError):
    """The connection was open and broke off before an answer came (reset, dropped)."""


class KintoneTimeoutError(KintoneNetworkError):
    """The request timed out: `phase` says whether connecting or waiting for the answer did,
    `timeout` is that attempt's limit in seconds."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        timeout: float | None = None,
        phase: Literal["connect", "read"] = "read",
        maybe_applied: bool = False,
    ):
        super().__init__(code, message, maybe_applied=maybe_applied)
        self.timeout = timeout
        self.phase = phase


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
    by_status: dict[int, type[KintoneError]] = {
        401: KintoneAuthError,
        403: KintonePermissionError,
        404: KintoneNotFoundError,
        409: KintoneConflictError,
        429: KintoneThrottledError,
        400: KintoneValidationError,
    }
    if status is not None and status >= 500:
        return KintoneServerError
    return by_status.get(status, KintoneError) if status is not None else KintoneError


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


def error_from_payload(
    status: int, payload: Mapping[str, Any], headers: Mapping[str, str]
) -> KintoneError:
    """The typed error of a kintone JSON error answer (of a bulkRequest: its failing request)."""
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
        retry_after=retry_after_seconds(headers),
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds of a Retry-After header (delta form only), else None."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted union of half-open ranges."""
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return merged
