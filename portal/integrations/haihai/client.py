"""`HaihaiClient`: typed 配配メール operations with daily budgets, retries, pagination and
import polling. It knows the *semantics* of the API (docs/specs/haihai-api.md §1–§3) but no URL,
parameter name or envelope (those are `transport`'s).

Import safety: the CSV import POST is retried only when the request provably never reached the
server (DNS failure, refused connection, connect timeout). After a read timeout, a dropped
connection or a 5xx answer the job may already be queued, and the API offers no idempotency
key, so the client raises `HaihaiImportUncertainError` (with the failure seen as its `cause`)
instead of sending the file twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from portal.integrations.haihai.errors import (
    HaihaiAuthError,
    HaihaiEmptyPartError,
    HaihaiError,
    HaihaiImportFailedError,
    HaihaiImportTimeoutError,
    HaihaiImportUncertainError,
    HaihaiIpRefusedError,
    HaihaiLimitError,
    HaihaiPartTooLargeError,
    HaihaiPlanError,
    HaihaiTimeoutError,
    HaihaiUnavailableError,
    HaihaiValidationError,
)
from portal.integrations.haihai.parsing import (
    parse_answer,
    parse_customer,
    parse_event,
    parse_form,
    parse_group,
    parse_item,
    parse_plan,
    parse_state_entry,
)
from portal.integrations.haihai.transport import Page, Transport
from portal.integrations.haihai.types import (
    EVENT_OPS,
    Customer,
    DatabaseItem,
    DeliveryState,
    DeliveryStateEntry,
    Event,
    EventKind,
    Form,
    FormAnswer,
    Group,
    ImportMode,
    ImportOptions,
    ImportResult,
    ImportStatus,
    Op,
    StepPlan,
)
from portal.integrations.haihai.urls import parse_haihai_url
from portal.integrations.haihai_csv import MAX_PART_BYTES
from portal.integrations.ledger import BudgetExceeded, DailyLedger
from portal.integrations.retrying import RetryPolicy, call_with_retries

log = logging.getLogger("portal.integrations.haihai")
T = TypeVar("T")

# At most two timed-out attempts and no retry after a minute (docs/decisions.md).
# The first import-result poll comes this long after the upload whatever the row count; the
# next ones aim at the finish the job's reported progress predicts (docs/decisions.md).
FIRST_POLL_SECONDS = 2.0
DEFAULT_RETRY = RetryPolicy(attempts=4, base_delay=1.0, max_delay=30.0, max_timeouts=2, budget=60.0)

# Errors the server rejects before counting the call (spec §3.4: only accepted calls count).
_UNCOUNTED = (
    HaihaiAuthError,
    HaihaiIpRefusedError,
    HaihaiPlanError,
    HaihaiValidationError,
    HaihaiLimitError,
)


def _remaining_estimate(
    status: ImportStatus,
    now: float,
    previous: tuple[float, int] | None,
    submitted_at: float | None,
) -> float | None:
    """Seconds until the job should finish, from the progress it reports (None: no idea)."""
    if status.processed is None or not status.total or status.processed <= 0:
        return None
    left = max(0, status.total - status.processed)
    if previous is not None and status.processed > previous[1] and now > previous[0]:
        rate = (status.processed - previous[1]) / (now - previous[0])
    elif submitted_at is not None and now > submitted_at:
        # Includes the time spent queued, so this underestimates the rate: a safe late guess.
        rate = status.processed / (now - submitted_at)
    else:
        return None
    return left / rate


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, HaihaiUnavailableError) and error.transient


class HaihaiClient:
    """Typed 配配メール operations with daily budgets, retries, pagination and import polling.

    Not thread-safe (one requests session); give each worker thread its own client. The ledger,
    when given, is shared by all processes: buckets are namespaced by the account URL so every
    connector using the same 配配メール account draws from one budget.

    `base_url` is validated with parse_haihai_url (`allow_local` for the sandbox); a given
    `transport` brings its own URL and credentials instead. `timeout` bounds the wait for each
    answer, `connect_timeout` (default: 10 s or `timeout` if shorter) each connection,
    `import_timeout` the answer to a CSV upload; `page_size` (≤ 10,000) sets records per list
    call; `sleep`/`monotonic` exist so tests can drive the polling clock. Construct it through
    `portal.syncs.clients` in the portal, which applies the documented timeouts and retries.
    """

    def __init__(
        self,
        base_url: str,
        login_id: str,
        api_token: str,
        *,
        timeout: float = 30.0,
        connect_timeout: float | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        ledger: DailyLedger | None = None,
        transport: Transport | None = None,
        allow_local: bool = False,
        import_timeout: float = 300.0,
        page_size: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        if not login_id or not api_token:
            raise ValueError("login_id and api_token are required")
        self.account = transport.account if transport else parse_haihai_url(base_url, allow_local)
        self.transport = transport or Transport(
            self.account, login_id, api_token, timeout=timeout, connect_timeout=connect_timeout
        )
        self.timeout = timeout
        self.import_timeout = max(import_timeout, timeout)
        self.retry = retry
        self.ledger = ledger
        self.page_size = min(
            page_size or self.transport.max_page_size, self.transport.max_page_size
        )
        self._sleep = sleep
        self._monotonic = monotonic
        self._submitted: dict[str, float] = {}

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Release the HTTP session."""
        self.transport.close()

    def __enter__(self) -> HaihaiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- settings sync --------------------------------------------------------------------

    def list_items(self) -> list[DatabaseItem]:
        """All customer-database item definitions (the email item has is_email=True)."""
        return [parse_item(raw) for raw in self._iter_raw(Op.ITEMS, {})]

    def list_groups(self) -> list[Group]:
        """All delivery groups."""
        return [parse_group(raw) for raw in self._iter_raw(Op.GROUPS, {})]

    def list_step_plans(self) -> list[StepPlan]:
        """All step-mail plans."""
        return [parse_plan(raw) for raw in self._iter_raw(Op.STEP_PLANS, {})]

    def list_forms(self) -> list[Form]:
        """All Bridge forms (HaihaiPlanError without the Bridge plan)."""
        return [parse_form(raw) for raw in self._iter_raw(Op.FORMS, {})]

    # -- streaming reads ------------------------------------------------------------------

    def iter_customers(
        self,
        *,
        group_id: str | None = None,
        plan_id: str | None = None,
        state: DeliveryState | None = None,
        updated_since: dt.datetime | None = None,
    ) -> Iterator[Customer]:
        """Customers page by page, optionally only members of a group/plan (in a state)."""
        filters = {
            "group_id": group_id,
            "plan_id": plan_id,
            "state": state,
            "updated_since": updated_since,
        }
        for raw in self._iter_raw(Op.CUSTOMERS, filters):
            yield parse_customer(raw)

    def iter_delivery_states(
        self,
        state: DeliveryState,
        *,
        group_id: str | None = None,
        plan_id: str | None = None,
        changed_since: dt.datetime | None = None,
    ) -> Iterator[DeliveryStateEntry]:
        """The 配信停止 / 配信禁止 (/ 可能) list, one entry per customer and group or plan.

        Without group_id/plan_id it covers every group and plan of the account (the database
        view); with one of them only that target.
        """
        if group_id is not None and plan_id is not None:
            raise ValueError("give either group_id or plan_id, not both")
        filters = {
            "state": DeliveryState(state),
            "group_id": group_id,
            "plan_id": plan_id,
            "changed_since": changed_since,
        }
        for raw in self._iter_raw(Op.DELIVERY_STATES, filters):
            yield parse_state_entry(raw)

    def iter_view_urls(self) -> Iterator[tuple[str, str]]:
        """(email, 顧客閲覧URL) for every customer that has one."""
        for customer in self.iter_customers():
            if customer.view_url:
                yield customer.email, customer.view_url

    def iter_events(
        self,
        kind: EventKind | str,
        since: dt.datetime,
        until: dt.datetime,
        *,
        mail_id: str | None = None,
    ) -> Iterator[Event]:
        """Events of one kind with since <= occurred_at < until (aware datetimes), page by page.

        Events become visible only after a lag; callers re-read a trailing window and
        de-duplicate by event_id (spec §3.7).
        """
        kind = EventKind(kind)
        if until <= since:
            return
        filters = {"since": since, "until": until, "mail_id": mail_id}
        for raw in self._iter_raw(EVENT_OPS[kind], filters):
            yield parse_event(raw, kind)

    def iter_form_answers(
        self, form_id: str, since: dt.datetime, until: dt.datetime
    ) -> Iterator[FormAnswer]:
        """Answers of one Bridge form with since <= answered_at < until, page by page."""
        if until <= since:
            return
        filters = {"form_id": form_id, "since": since, "until": until}
        for raw in self._iter_raw(Op.FORM_ANSWERS, filters):
            yield parse_answer(raw)

    # -- CSV import -----------------------------------------------------------------------

    def import_csv(self, part: bytes, options: ImportOptions) -> str:
        """Queue one CSV file (≤ 15 MB) as an import job and return its job id.

        Retried only when the upload provably never reached 配配メール; if it may have,
        HaihaiImportUncertainError is raised rather than risking a double import.
        """
        if len(part) > MAX_PART_BYTES:
            raise HaihaiPartTooLargeError(
                len(part), MAX_PART_BYTES, action=self.transport.action(Op.IMPORT)
            )
        if not part.strip():
            raise HaihaiEmptyPartError(action=self.transport.action(Op.IMPORT))

        def is_safe_to_retry(error: BaseException) -> bool:
            return _is_transient(error) and not error.maybe_delivered  # type: ignore[attr-defined]

        try:
            ticket = self._invoke(
                Op.IMPORT,
                lambda: self.transport.submit_import(part, options, self.import_timeout),
                mode=options.mode,
                transient=is_safe_to_retry,
            )
        except HaihaiImportUncertainError:
            raise
        except HaihaiUnavailableError as error:
            if not error.maybe_delivered:
                raise
            uncertain = HaihaiImportUncertainError(
                f"import upload may have been queued: {error.message}",
                cause=error,
                code=error.code,
                http_status=error.http_status,
                action=error.action,
            )
            uncertain.operation, uncertain.import_mode = error.operation, error.import_mode
            uncertain.attempts = error.attempts
            raise uncertain from error
        self._submitted[ticket.job_id] = self._monotonic()
        log.info(
            "haihai import queued job_id=%s mode=%s rows=%s bytes=%d",
            ticket.job_id,
            options.mode.value,
            ticket.row_count,
            len(part),
        )
        return ticket.job_id

    def import_status(self, import_id: str) -> ImportStatus:
        """One status poll of an import job (one call of the result API)."""
        return self._invoke(
            Op.IMPORT_RESULT,
            lambda: self.transport.import_status(import_id, 0, self.page_size),
        )

    def wait_for_import(
        self,
        import_id: str,
        *,
        max_wait: float = 3600.0,
        first_poll: float | None = None,
        min_interval: float = 5.0,
        max_interval: float = 300.0,
    ) -> ImportResult:
        """Poll until the job is finished and return its result with every row error.

        Each poll spends the result API's daily budget, so polls are sparse: the first comes
        FIRST_POLL_SECONDS after the upload (or after `first_poll`); later ones aim at the finish
        predicted from the reported progress, else back off exponentially from `min_interval`
        up to `max_interval`; a server Retry-After hint wins. Raises HaihaiImportFailedError
        for a failed job and HaihaiImportTimeoutError when `max_wait` seconds have passed.
        """
        started = self._monotonic()
        deadline = started + max_wait
        submitted_at = self._submitted.get(import_id)
        if first_poll is not None:
            delay = first_poll
        elif submitted_at is not None:
            delay = max(0.0, FIRST_POLL_SECONDS - (started - submitted_at))
        else:
            delay = FIRST_POLL_SECONDS
        interval = max(min_interval, 0.0)
        previous: tuple[float, int] | None = None
        while True:
            self._sleep(max(0.0, min(delay, deadline - self._monotonic())))
            status = self.import_status(import_id)
            now = self._monotonic()
            if status.result is not None:
                self._submitted.pop(import_id, None)
                result = self._with_all_errors(status)
                if result.state == "failed":
                    raise HaihaiImportFailedError(result)
                return result
            if now >= deadline:
                raise HaihaiImportTimeoutError(import_id, status.state, now - started)
            estimate = _remaining_estimate(status, now, previous, submitted_at)
            if status.processed is not None:
                previous = (now, status.processed)
            if status.retry_after is not None:
                delay = status.retry_after
            elif estimate is not None:
                # Aim slightly past the predicted finish so one more poll usually suffices.
                delay = min(max_interval, max(min_interval, estimate * 1.1 + 1.0))
            else:
                delay = interval
                interval = min(max_interval, interval * 2)

    def _with_all_errors(self, status: ImportStatus) -> ImportResult:
        """Fetch the remaining pages of row errors of a finished job (one call per page)."""
        result = status.result
        assert result is not None
        errors = list(result.errors)
        total = status.error_total or 0
        while len(errors) < total:
            offset = len(errors)

            def fetch(offset: int = offset) -> ImportStatus:
                return self.transport.import_status(result.job_id, offset, self.page_size)

            page = self._invoke(Op.IMPORT_RESULT, fetch)
            if page.result is None or not page.result.errors:
                break
            errors.extend(page.result.errors)
        return dataclasses.replace(result, errors=tuple(errors))

    # -- budget, retries, pagination ------------------------------------------------------

    def _bucket(self, op: Op, mode: ImportMode | None) -> str:
        return f"{self.account.netloc}/{self.account.account_key}:{self.transport.bucket(op, mode)}"

    def _charge(self, bucket: str, op: Op, mode: ImportMode | None) -> None:
        if self.ledger is None:
            return
        try:
            self.ledger.charge(bucket)
        except BudgetExceeded as exceeded:
            raise HaihaiLimitError(
                f"local daily budget for {bucket} is used up",
                resets_at=exceeded.resets_at,
                limit=exceeded.limit,
                used=exceeded.used,
                bucket=bucket,
                local=True,
                action=self.transport.action(op),
            ) from exceeded

    def _settle_failure(self, bucket: str, error: HaihaiError) -> None:
        """Mirror the server's counting in the ledger after a failed attempt."""
        if self.ledger is None:
            return
        if isinstance(error, HaihaiLimitError):
            # The server is out of calls for today (other systems share the account): use up the
            # local budget too so other workers stop before sending.
            remaining = self.ledger.remaining(bucket)
            if remaining:
                with contextlib.suppress(BudgetExceeded):
                    self.ledger.charge(bucket, remaining)
            return
        never_counted = isinstance(error, _UNCOUNTED) or (
            isinstance(error, HaihaiUnavailableError) and not error.maybe_delivered
        )
        if never_counted:
            self.ledger.refund(bucket)

    def _invoke(
        self,
        op: Op,
        send: Callable[[], T],
        *,
        mode: ImportMode | None = None,
        transient: Callable[[BaseException], bool] = _is_transient,
    ) -> T:
        bucket = self._bucket(op, mode)
        attempts = 0

        def attempt() -> T:
            nonlocal attempts
            attempts += 1
            try:
                self._charge(bucket, op, mode)
                return send()
            except HaihaiError as error:
                if not (isinstance(error, HaihaiLimitError) and error.local):
                    self._settle_failure(bucket, error)
                if isinstance(error, HaihaiLimitError):
                    error.bucket = bucket
                # Which API failed, so the message can name it (and the plan it needs).
                error.operation, error.import_mode = op, mode
                error.attempts = attempts
                raise

        def on_retry(error: BaseException, delay: float) -> None:
            log.warning(
                "haihai retry action=%s delay=%.1f error=%s",
                self.transport.action(op),
                delay,
                error,
            )

        return call_with_retries(
            attempt,
            transient,
            self.retry,
            sleep=self._sleep,
            on_retry=on_retry,
            retry_after=lambda error: getattr(error, "retry_after", None),
            is_timeout=lambda error: isinstance(error, HaihaiTimeoutError),
            clock=self._monotonic,
        )

    def _iter_raw(self, op: Op, filters: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        offset = 0
        limit = self.page_size
        while True:

            def fetch(offset: int = offset) -> Page:
                return self.transport.list_page(op, filters, offset, limit)

            page = self._invoke(op, fetch)
            yield from page.items
            offset += len(page.items)
            # The server may cap the page size below what was asked, so trust its total (or the
            # limit it echoes) rather than our own request to decide that this was the last page.
            if not page.items:
                return
            if page.total is not None:
                if offset >= page.total:
                    return
            elif len(page.items) < page.limit:
                return
