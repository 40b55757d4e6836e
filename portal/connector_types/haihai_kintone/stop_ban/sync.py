"""配信停止/禁止顧客一覧連携 (manual 付録2): 配配メール's stop and ban lists written into kintone.

1. The kintone fields are checked (`get_form_fields`): the mail-address field and every field
   the setting writes must exist with the saved type, chosen options must still exist, and a
   required 日付/日時 cannot be blanked. Nothing is written when a check fails.
2. The 配信停止 / 配信禁止 lists the 連携種別 needs are read (both at once).
3. Every kintone record is streamed (address, target fields, revision; `KINTONE_READ_PARTITIONS`
   `$id` partitions at once, portal.syncs.record_read), its values decided
   (values.RecordPlanner) and, only when a value differs, queued for writing; chunks of 2,000
   go out while reading continues, each record with its revision.

Counts (処理件数): total = the records the setting applies to (an address in a list it uses, or
any address when 「…ではなくなった場合」 is on); processed = those written or already holding their
values. Records without an address, or in no list when nothing is written for the others, are
skipped and counted in メッセージ詳細. No kintone record, or nothing to apply, ends 成功 0 / 0.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from portal.connector_types.haihai_kintone.stop_ban.config import (
    stop_ban_setting,
    uses_ban,
    uses_stop,
)
from portal.connector_types.haihai_kintone.stop_ban.lists import DeliveryLists, load_lists
from portal.connector_types.haihai_kintone.stop_ban.messages import (
    MSG_NO_EMAIL,
    MSG_OFF,
    conflict_message,
    email_field_missing,
    kintone_failure,
    summary,
    write_failure,
)
from portal.connector_types.haihai_kintone.stop_ban.values import (
    CHANGE,
    NO_EMAIL,
    UNCHANGED,
    UNTARGETED,
    Decision,
    FieldPlan,
    PlanError,
    RecordPlanner,
    field_plans,
)
from portal.connector_types.haihai_kintone.stop_ban.writer import (
    ChunkResult,
    ChunkWriteFailed,
    RevisionWriter,
)
from portal.integrations.haihai import DeliveryState, HaihaiClient, HaihaiError
from portal.integrations.kintone import KintoneClient, KintoneError
from portal.integrations.ledger import BudgetExceeded, DailyLedger
from portal.messages.haihai import haihai_message
from portal.syncs.clients import (
    BUDGET_PREFIX,
    HAIHAI_DAILY_CALLS,
    MSG_NO_HAIHAI,
    MSG_NO_KINTONE,
    haihai_client,
    make_sync_clients,
)
from portal.syncs.config import ConnectorConfig
from portal.syncs.context import RunContext, RunFailed, RunOutcome
from portal.syncs.record_read import read_records

log = logging.getLogger(__name__)

KINTONE_DAILY_CALLS = 10_000  # per app (kintone's documented daily request limit)
PROGRESS_EVERY = 500  # records between progress reports
EARLY_RECORDS = 50_000  # records kept while the lists are still loading (~150 bytes each)


@dataclass
class Tally:
    """Counts of one run, updated as records are read and chunks settle."""

    total_records: int = 0  # kintone's totalCount when the read started
    read: int = 0
    decided: int = 0
    targets: int = 0
    written: int = 0
    unchanged: int = 0
    no_email: int = 0
    untargeted: int = 0
    vanished: int = 0
    conflicted: list[int] = field(default_factory=list)
    per_value: Counter = field(default_factory=Counter)
    write_calls: int = 0

    @property
    def processed(self) -> int:
        """Target records written or already holding their values."""
        return self.written + self.unchanged

    def estimate_total(self) -> int:
        """Targets found so far plus the records not decided yet (shrinks to the final total)."""
        return self.targets + max(0, self.total_records - self.decided)

    def count(self, decision: Decision) -> None:
        """A record decided while reading."""
        self.decided += 1
        if decision.status == NO_EMAIL:
            self.no_email += 1
        elif decision.status == UNTARGETED:
            self.untargeted += 1
        else:
            self.targets += 1
            if decision.status == UNCHANGED:
                self.unchanged += 1

    def settle(self, result: ChunkResult) -> None:
        """A chunk finished: what was written and what turned out differently on re-reading."""
        self.write_calls += result.calls
        self.written += len(result.written)
        for write in result.written:
            self.per_value.update(write.counted)
        for status, number in result.redecided.items():
            if status == UNCHANGED:
                self.unchanged += number
                continue
            self.targets -= number  # no longer a target (address removed, …)
            if status == NO_EMAIL:
                self.no_email += number
            else:
                self.untargeted += number
        self.targets -= result.vanished
        self.vanished += result.vanished
        self.conflicted.extend(result.conflicted)


@dataclass(frozen=True)
class StopBanResult:
    """What one run did."""

    tally: Tally
    stopped: int | None  # distinct addresses in the 配信停止 list (None: not read)
    banned: int | None
    kintone_calls: int
    haihai_calls: int
    message_detail: str


def _required_access(config: ConnectorConfig):
    setting = stop_ban_setting(config)
    if setting.timing == "off":
        raise RunFailed(MSG_OFF, code="settings")
    if config.kintone is None:
        raise RunFailed(MSG_NO_KINTONE, code="settings")
    if config.haihai is None:
        raise RunFailed(MSG_NO_HAIHAI, code="settings")
    mapping = config.email_mapping
    if mapping is None:
        raise RunFailed(MSG_NO_EMAIL, code="settings")
    return setting, mapping.kintone_code


def sync_stop_ban(
    config: ConnectorConfig,
    *,
    kintone: KintoneClient,
    open_haihai: Callable[[], HaihaiClient],
    moment: dt.datetime,
    progress: Callable[[int, int], None] | None = None,
) -> StopBanResult:
    """Write the values of the Step6 setting into every kintone record they apply to.

    `moment` is the run's start (the 日付/日時 written). Raises RunFailed with a Japanese
    message for every failure; records written before a failure stay written.
    """
    setting, email_code = _required_access(config)
    assert config.kintone is not None
    app = int(config.kintone.app_id)
    tally = Tally()
    stopped = banned = None
    haihai_calls = 0
    properties: dict = {}
    try:
        properties = kintone.get_form_fields(app)
        if email_code not in properties:
            raise RunFailed(email_field_missing(email_code), code="field_missing")
        plans = field_plans(setting, properties, moment, config.timezone)
        states = [DeliveryState.STOP] if uses_stop(setting.mode) else []
        states += [DeliveryState.BAN] if uses_ban(setting.mode) else []
        # The lists load while kintone is already being read; nothing is written before both
        # lists are complete (a 配配メール failure leaves kintone untouched).
        with ThreadPoolExecutor(1, thread_name_prefix="stop-ban-lists") as pool:
            pending_lists = pool.submit(load_lists, open_haihai, states)
            lists = _apply(kintone, app, email_code, plans, pending_lists, tally, progress)
        haihai_calls = lists.calls
        stopped = len(lists.stopped) if uses_stop(setting.mode) else None
        banned = len(lists.banned) if uses_ban(setting.mode) else None
    except PlanError as error:
        raise RunFailed(error.message, code="settings") from error
    except ChunkWriteFailed as failure:
        raise RunFailed(
            write_failure(failure, properties, config.kintone.app_id, tally.written),
            code="kintone",
            processed=tally.processed,
            total=tally.targets,
        ) from failure
    except (KintoneError, BudgetExceeded) as error:
        raise RunFailed(
            kintone_failure(error, config.kintone.app_id, tally.written),
            code="kintone",
            processed=tally.processed,
            total=tally.targets,
        ) from error
    except HaihaiError as error:
        raise RunFailed(haihai_message(error), code="haihai", processed=0, total=0) from error
    if tally.conflicted:
        raise RunFailed(
            conflict_message(tally.conflicted, tally.written),
            code="conflict",
            processed=tally.processed,
            total=tally.targets,
        )
    return StopBanResult(
        tally=tally,
        stopped=stopped,
        banned=banned,
        kintone_calls=kintone.calls,
        haihai_calls=haihai_calls,
        message_detail=summary(tally, stopped, banned),
    )


def _compact(record: Mapping[str, Any], fields: Sequence[str]) -> tuple:
    """A record read before the lists arrived, kept small until it can be decided."""
    return tuple((record.get(code) or {}).get("value") for code in fields)


def _expand(values: tuple, fields: Sequence[str]) -> dict[str, Any]:
    return {code: {"value": value} for code, value in zip(fields, values, strict=True)}


def _apply(
    kintone: KintoneClient,
    app: int,
    email_code: str,
    plans: Sequence[FieldPlan],
    pending_lists: Future,
    tally: Tally,
    progress: Callable[[int, int], None] | None,
) -> DeliveryLists:
    """Stream the records, decide each one, write what differs (chunks settle meanwhile).

    Records read before the lists are complete are kept (at most EARLY_RECORDS, compactly)
    and decided as soon as the lists arrive. Returns the lists.
    """
    fields = RecordPlanner.fields_for(email_code, plans)
    early: list[tuple] = []
    state: dict[str, Any] = {"planner": None, "writer": None, "lists": None}

    def report() -> None:
        if progress is not None:
            progress(tally.processed, tally.estimate_total())

    def settled(result: ChunkResult) -> None:
        tally.settle(result)
        report()

    def start() -> None:
        lists = pending_lists.result()  # waits; raises the lists' failure
        planner = RecordPlanner(
            email_code, plans, lists.stopped.__contains__, lists.banned.__contains__
        )
        state.update(
            lists=lists,
            planner=planner,
            writer=RevisionWriter(kintone, app, planner.decide, fields, settled),
        )
        for values in early:
            handle(_expand(values, fields))
        early.clear()

    def handle(record: Mapping[str, Any]) -> None:
        decision = state["planner"].decide(record)
        tally.count(decision)
        if decision.status == CHANGE and decision.write is not None:
            state["writer"].add(decision.write)

    records = read_records(kintone, app, "", fields)
    try:
        tally.total_records = records.total_count or 0
        report()
        for record in records:
            tally.read += 1
            if state["planner"] is None:
                if not pending_lists.done() and len(early) < EARLY_RECORDS:
                    early.append(_compact(record, fields))
                    continue
                start()
            handle(record)
            if tally.read % PROGRESS_EVERY == 0:
                report()
        if state["planner"] is None:
            start()
    except BaseException:
        records.close()
        if state["writer"] is not None:
            state["writer"].abandon()
        raise
    records.close()
    state["writer"].close()
    tally.total_records = tally.read
    report()
    return state["lists"]


# --- the run handler -----------------------------------------------------------------------


def haihai_opener(
    config: ConnectorConfig, *, allow_local: bool, redis_conn=None
) -> Callable[[], HaihaiClient]:
    """A factory of 配配メール clients sharing the account's daily budgets (one per thread)."""
    assert config.haihai is not None
    access = config.haihai
    ledger = (
        DailyLedger(redis_conn, BUDGET_PREFIX, limit=HAIHAI_DAILY_CALLS)
        if redis_conn is not None
        else None
    )

    def open_client() -> HaihaiClient:
        return haihai_client(access, allow_local=allow_local, ledger=ledger)

    return open_client


def run_stop_ban(context: RunContext) -> RunOutcome:
    """Run handler of 配信停止 / 禁止顧客一覧連携."""
    config = context.config
    _required_access(config)
    kintone, haihai = make_sync_clients(
        config,
        allow_local=context.allow_local_urls,
        redis_conn=context.redis,
        kintone_daily_limit=KINTONE_DAILY_CALLS,
    )
    haihai.close()  # the lists are read by clients of their own, one per thread
    try:
        result = sync_stop_ban(
            config,
            kintone=kintone,
            open_haihai=haihai_opener(
                config, allow_local=context.allow_local_urls, redis_conn=context.redis
            ),
            moment=context.started_at,
            progress=context.progress,
        )
    finally:
        kintone.close()
    tally = result.tally
    log.info(
        "stop/ban sync done run_id=%s task_id=%s read=%s targets=%s written=%s unchanged=%s "
        "kintone_calls=%s haihai_calls=%s",
        context.run_id,
        context.run_id,
        tally.read,
        tally.targets,
        tally.written,
        tally.unchanged,
        result.kintone_calls,
        result.haihai_calls,
    )
    return RunOutcome(
        processed=tally.processed, total=tally.targets, message_detail=result.message_detail
    )
