"""顧客情報連携 (kintone → 配配メール; manual 付録1, PRODUCT §6.1): the sync service.

`run_customer_sync` checks that the kintone fields it needs still exist, streams the matching
records (concurrent `$id` partitions, `portal.syncs.record_read`; a cursor when the plugin's filter
sorts — so no app size is too large and kintone never refuses the read), converts them
(`values`), writes CSV parts of at most 15 MB (`haihai_csv`) and sends each part as soon as it
is complete with the setting's target, mode, overwrite, blank rule and report option. Memory
holds a few record pages and one CSV part; with 「kintoneアプリのデータに存在しない顧客を配信停止にする」 also an 8-byte
hash per record (8 MB per million records).

Stopping customers missing from kintone (the manual's 付録1.4 flaw, fixed here):
配配メール's own option (status change type 1) stops everyone of the target who is not in *the
uploaded file*, so with several files each file would stop the customers of the others. The
decision is therefore taken once, for the whole kintone result:

* If the result fits into one part and every record with an address is in it, that single
  upload carries the vendor option (type 1, or 3 with 「…存在する顧客を配信可能にする」) — the
  file *is* the whole result, and it costs no extra call.
* Otherwise every part is uploaded without the stop option (with type 2 when 配信可能 is
  wanted: that one is per row and split-safe). After all parts are processed, the service lists
  the target's deliverable (配信可能) customers, keeps those whose address is not in the kintone
  result, and sends them as 一括状態変更 (停止) imports. For the 顧客データベース target this is
  done for every delivery group and step-mail plan, which is what the vendor option does
  without a target. 配信禁止 is never touched, like the vendor option.

Both ways end in the same delivery states. A run that fails before all parts were processed
stops nobody (a partial result must not stop anyone).

Counts: total = kintone records read; processed = rows 配配メール took (`import_tally`: not
the rows it refused, nor rows whose data it kept). Rows 配配メール
refused, rows that could not be encoded and records without an address are listed in the
outcome's details. 0 records → success 0 / 0 without calling 配配メール.

The run's phases, each in its own module of this folder: the settings, fields and query
(`sync_checks`, with the import plan of `import_plan`) → the kintone read (`_open_records`
below) → records to CSV parts (`_send_parts`) → sending and awaiting the parts (`part_sender`)
→ the stop decision (`stop_missing`) → the outcome or error (`sync_result`).
"""

from __future__ import annotations

import logging
import re
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from portal.connector_types.haihai_kintone.customer.config import CustomerSyncSetting
from portal.connector_types.haihai_kintone.customer.import_plan import (
    ImportPlan,
    describe_target,
    plan_import,
)
from portal.connector_types.haihai_kintone.customer.import_tally import ImportTally
from portal.connector_types.haihai_kintone.customer.part_sender import (
    HaihaiImports,
    PartSender,
    haihai_failure,
    part_fingerprint,
    with_sent,
)
from portal.connector_types.haihai_kintone.customer.stop_missing import (
    address_hash,
    stop_missing_customers,
)
from portal.connector_types.haihai_kintone.customer.sync_checks import (
    RunInputs,
    check_kintone_fields,
    checked_query,
    prepare_run,
)
from portal.connector_types.haihai_kintone.customer.sync_result import (
    CustomerSyncError,
    CustomerSyncOutcome,
    CustomerSyncSettingsError,
    HaihaiAccessError,
    KintoneAccessError,
    KintoneFieldMissingError,
    RunState,
)
from portal.connector_types.haihai_kintone.customer.values import RowConverter
from portal.integrations.haihai import HaihaiError, StatusChange
from portal.integrations.haihai_csv import (
    MAX_PART_BYTES,
    CsvEncodeError,
    CsvEncoding,
    CsvPart,
    CsvPartWriter,
    CsvRowTooLargeError,
)
from portal.integrations.kintone import KintoneError
from portal.messages.haihai import csv_message, csv_row_refusal
from portal.messages.kintone import (
    TOO_MUCH_DATA,
    customer_sync_step,
    kintone_error_code,
    kintone_message,
)
from portal.syncs.config import ConnectorConfig
from portal.syncs.record_read import read_records

if TYPE_CHECKING:
    from portal.syncs.context import PartJournal

# The service's API (its callers and tests import these names from here).
__all__ = [
    "LIKE_HIT_LIMIT",
    "CustomerSyncError",
    "CustomerSyncOutcome",
    "CustomerSyncSettingsError",
    "HaihaiAccessError",
    "HaihaiImports",
    "ImportPlan",
    "KintoneAccessError",
    "KintoneFieldMissingError",
    "KintoneRecords",
    "check_kintone_fields",
    "describe_target",
    "part_fingerprint",
    "plan_import",
    "run_customer_sync",
    "uses_like",
]

log = logging.getLogger(__name__)

# kintone stops a `like` / `not like` filter at this many hits and answers a partial result.
LIKE_HIT_LIMIT = 100_000
_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_LIKE = re.compile(r"\blike\b", re.I)

ProgressCallback = Callable[[int, int], None]


class KintoneRecords(Protocol):
    """The part of KintoneClient the service uses."""

    def get_form_fields(self, app: int) -> dict[str, dict[str, Any]]: ...

    def get_records(
        self, app: int, query: str = "", fields: Sequence[str] | None = None, *, total_count=False
    ) -> tuple[list[dict[str, Any]], int | None]: ...

    def iter_records(self, app: int, query: str = "", fields: Sequence[str] | None = None): ...


def uses_like(query: str) -> bool:
    """Whether a kintone query filters with `like` / `not like` (string literals ignored)."""
    return bool(_LIKE.search(_STRING_LITERAL.sub('""', query)))


@dataclass
class _Run:
    """One run's inputs and moving parts, shared by its phases."""

    inputs: RunInputs
    query: str
    encoding: CsvEncoding
    max_part_bytes: int
    like_hit_limit: int
    report: ProgressCallback
    sender: PartSender
    state: RunState
    kintone_failure: Callable[..., CustomerSyncError]
    haihai_failure: Callable[[HaihaiError, int], CustomerSyncError]
    tally: ImportTally | None = None  # 配配メール's own counts, once the results are in


def run_customer_sync(
    config: ConnectorConfig,
    setting: CustomerSyncSetting,
    *,
    kintone_client: KintoneRecords,
    haihai_client: HaihaiImports,
    progress: ProgressCallback | None = None,
    query_override: str | None = None,
    max_part_bytes: int = MAX_PART_BYTES,
    encoding: CsvEncoding | str = CsvEncoding.UTF8,
    first_poll: float | None = None,
    import_wait: float = 3600.0,
    parallel_read: bool = True,
    like_hit_limit: int = LIKE_HIT_LIMIT,
    journal: PartJournal | None = None,
) -> CustomerSyncOutcome:
    """Run one 顧客情報連携: kintone records matching the conditions (or `query_override`, the
    plugin's list-view filter) → 配配メール; raise CustomerSyncError subclasses on failure.

    `first_poll` overrides the wait before the first import-result poll (None: the client's,
    shortly after the upload); `import_wait` caps the wait for one import job in seconds; `parallel_read`
    reads in `$id` partitions at once (`portal.syncs.record_read`), else with the client's
    iterator;
    `like_hit_limit` is where kintone cuts a keyword search short (its result is then refused);
    `journal` records each part sent to 配配メール (portal.runs.parts) and finds parts an
    interrupted earlier run already sent.
    """
    encoding = CsvEncoding.parse(encoding)
    report = progress or (lambda processed, total: None)
    inputs = prepare_run(config, setting, encoding)
    kintone_failure = _kintone_failure(config)

    # 1–2. The fields this run needs must still exist (checked before reading any record);
    # the query: the saved conditions, or the plugin's list-view filter as given.
    query = checked_query(
        kintone_client, config, setting, inputs, query_override, failure=kintone_failure
    )

    sender = PartSender(
        haihai_client, first_poll=first_poll, import_wait=import_wait, journal=journal
    )
    state = RunState()
    run = _Run(
        inputs,
        query,
        encoding,
        max_part_bytes,
        like_hit_limit,
        report,
        sender,
        state,
        kintone_failure,
        haihai_failure(sender, state),
    )

    # 3. Read kintone: the stream of the matching records.
    records = _open_records(
        kintone_client, inputs.app_id, query, inputs.converter, parallel_read, kintone_failure
    )
    # 4. Records → rows → parts; send each finished part at once.
    try:
        streamed = _send_parts(run, records)
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()
    if streamed is None:
        return CustomerSyncOutcome(processed=0, total=0)
    keys, native_stop = streamed

    # 5. Results of every part, then (if needed) the stop decision for the whole result.
    outcome = _collect_results(run, native_stop)
    no_addresses = _stop_missing(run, haihai_client, keys, native_stop, outcome)

    # 6. The outcome: counts and the summary lines of メッセージ詳細.
    _describe_outcome(run, outcome, no_addresses)
    report(outcome.processed, outcome.total)
    _log_done(setting, outcome)
    return outcome


def _log_done(setting: CustomerSyncSetting, outcome: CustomerSyncOutcome) -> None:
    log.debug(
        "customer_sync done setting=%s total=%d processed=%d parts=%d stopped=%d errors=%d",
        setting.number,
        outcome.total,
        outcome.processed,
        outcome.parts,
        outcome.stopped,
        outcome.row_error_count,
    )


def _kintone_failure(config: ConnectorConfig) -> Callable[..., CustomerSyncError]:
    """The error a kintone failure of a run becomes (counts given as keywords)."""

    def failure(error: KintoneError, **counts: int) -> CustomerSyncError:
        # A keyword search kintone cut short (too many hits) is refused: sending the partial
        # result would be wrong.
        step = customer_sync_step(config.kintone.app_id)
        message = kintone_message(error, step)
        return KintoneAccessError(message, code=kintone_error_code(error, step), **counts)

    return failure


def _open_records(
    kintone_client: KintoneRecords,
    app_id: int,
    query: str,
    converter: RowConverter,
    parallel_read: bool,
    kintone_failure: Callable[..., CustomerSyncError],
):
    """The run's one kintone read: a stream of the matching records with `total_count`
    (and `close`), reading only the fields `converter` needs."""
    try:
        records = read_records(
            kintone_client, app_id, query, list(converter.codes), parallel=parallel_read
        )
    except KintoneError as error:
        raise kintone_failure(error) from error
    except ValueError as error:
        # The plugin's filter carried limit/offset, which reading every record cannot honour.
        raise CustomerSyncSettingsError(
            "kintoneから送信された絞り込み条件を利用できません（limit/offsetは指定できません）。"
        ) from error
    return records


def _send_parts(run: _Run, records) -> tuple[array | None, bool] | None:
    """Stream records → rows → CSV parts, sending each finished part at once.

    → (the address hashes when the stop decision needs them, whether the single upload carried
    配配メール's own stop option), or None for 0 records (reported as 0 / 0, nothing sent).
    """
    state, sender, plan, converter = run.state, run.sender, run.inputs.plan, run.inputs.converter
    try:
        state.total = int(records.total_count or 0)
    except KintoneError as error:
        raise run.kintone_failure(error) from error
    if state.total == 0:
        run.report(0, 0)
        return None
    if state.total >= run.like_hit_limit and uses_like(run.query):
        # kintone cut the keyword search short: the result is incomplete, and sending it
        # (worse: stopping everyone "missing" from it) would be wrong.
        raise KintoneAccessError(TOO_MUCH_DATA, code="kintone_too_many", total=state.total)
    run.report(0, state.total)
    try:
        writer = CsvPartWriter(converter.headers, run.encoding, run.max_part_bytes)
    except (CsvEncodeError, CsvRowTooLargeError) as error:
        raise CustomerSyncSettingsError(
            f"{csv_message(error)}「Step4. 連携項目設定」の配配メール項目名を確認してください。"
        ) from error
    keys = array("Q") if plan.needs_keys else None
    read = 0
    try:
        for record in records:
            read += 1
            part = _add_record(record, read, converter, writer, keys, state)
            if part is not None:
                # The writer closes a part only when the next row opened another one, so
                # this part is not the whole result: it goes without the stop option.
                sender.send(part, plan.options, run.haihai_failure)
            if read % 500 == 0:
                run.report(read, max(state.total, read))
    except KintoneError as error:
        raise with_sent(run.kintone_failure(error), sender, state) from error
    state.total = max(state.total, read)
    last = writer.finish()
    run.report(read, state.total)
    single = sender.parts_sent == 0 and last is not None
    if last is not None:
        # The vendor's own stop option is right only when this one file is the whole result.
        use_single = single and not state.refused_with_address
        sender.send(last, plan.single_options if use_single else plan.options, run.haihai_failure)
    return keys, single and not state.refused_with_address


def _record_label(record: Mapping[str, Any], position: int) -> str:
    entry = record.get("$id")
    if isinstance(entry, Mapping) and entry.get("value"):
        return f"レコードID {entry['value']}"
    return f"{position}件目のレコード"


def _add_record(
    record: Mapping[str, Any],
    position: int,
    converter: RowConverter,
    writer: CsvPartWriter,
    keys: array | None,
    state: RunState,
) -> CsvPart | None:
    """Write one record's row; → the part it closed, if any (refused rows go to `state`)."""
    row = converter.row(record)
    email = row[0]
    if not email:
        state.add_error(
            f"{_record_label(record, position)}: メールアドレスが空のため連携しませんでした"
        )
        return None
    if keys is not None:
        keys.append(address_hash(email))
    try:
        return writer.add_row(row)
    except CsvEncodeError as error:
        state.refused_with_address = True
        state.add_error(f"{_record_label(record, position)}（{email}）: {csv_row_refusal(error)}")
    except CsvRowTooLargeError as error:
        state.refused_with_address = True
        state.add_error(f"{_record_label(record, position)}（{email}）: {csv_row_refusal(error)}")
    return None


def _collect_results(run: _Run, native_stop: bool) -> CustomerSyncOutcome:
    """Wait for every part's import result: rows accepted, rows refused, and the customers
    配配メール's own option stopped (when the single upload carried it)."""
    state, sender, plan = run.state, run.sender, run.inputs.plan
    outcome = CustomerSyncOutcome(processed=0, total=state.total)
    tally = run.tally = ImportTally.for_options(plan.options)
    for number, result in sender.wait_all(run.haihai_failure):
        state.accepted += tally.add(result)
        for row_error in result.errors:
            place = f"{number}番目のCSV " if sender.parts_sent > 1 else ""
            line = f"{row_error.line}行目" if row_error.line is not None else "行不明"
            who = f"（{row_error.email}）" if row_error.email else ""
            state.add_error(f"{place}{line}{who}: {row_error.message}")
        if number == 1 and native_stop and plan.stop_missing:
            both = plan.single_options.status_change is StatusChange.BOTH
            outcome.stopped = None if both else result.state_changed
    return outcome


def _stop_missing(
    run: _Run,
    haihai_client: HaihaiImports,
    keys: array | None,
    native_stop: bool,
    outcome: CustomerSyncOutcome,
) -> bool:
    """The stop decision for the whole result, unless the single upload carried 配配メール's own
    option: sets `outcome.stopped`; → whether the result had no address at all (nobody stopped)."""
    plan = run.inputs.plan
    no_addresses = keys is not None and len(keys) == 0
    if plan.stop_missing and not native_stop and keys is not None and not no_addresses:
        outcome.stopped = stop_missing_customers(
            haihai_client,
            plan,
            keys,
            run.sender,
            run.inputs.converter.headers[0],
            run.encoding,
            run.max_part_bytes,
            run.haihai_failure,
        )
    return no_addresses


def _describe_outcome(run: _Run, outcome: CustomerSyncOutcome, no_addresses: bool) -> None:
    """Fill in the outcome's counts, job IDs, refused rows and summary lines."""
    state, sender, plan = run.state, run.sender, run.inputs.plan
    outcome.processed = state.accepted
    outcome.parts = sender.parts_sent
    part_jobs = sender.job_ids[: sender.parts_sent]
    outcome.job_ids = tuple(sender.job_ids)
    outcome.row_errors = state.errors
    outcome.row_error_count = state.error_count
    if sender.reused:
        outcome.notes.append(
            "前回中断された実行で配配メールへ送信済みの同じ内容のCSVファイルは、再送信していません"
            f"（ジョブID: {', '.join(sender.reused)}）。"
        )
    if sender.parts_sent > 1:
        outcome.notes.append(
            f"CSVファイルを{sender.parts_sent}ファイルに分割して連携しました"
            f"（ジョブID: {', '.join(part_jobs)}）。"
        )
    elif part_jobs:
        outcome.notes.append(f"配配メールのジョブID: {part_jobs[0]}")
    if run.tally is not None:
        outcome.notes.extend(run.tally.lines())
    if plan.stop_missing and no_addresses:
        # Records without a single address say nothing about who left; stopping the whole
        # target on such a result would be a disaster, so nobody is stopped.
        outcome.stopped = 0
        outcome.notes.append(
            "kintoneアプリのデータにメールアドレスが1件もないため、配信停止への変更は行いませんでした。"
        )
    elif plan.stop_missing:
        count = "" if outcome.stopped is None else f" {outcome.stopped:,}件"
        stop_jobs = sender.job_ids[sender.parts_sent :]
        jobs = f"（ジョブID: {', '.join(stop_jobs)}）" if stop_jobs else ""
        outcome.notes.append(
            f"kintoneアプリのデータに存在しない顧客{count}を配信停止にしました{jobs}。"
        )
