"""顧客情報連携 (kintone → 配配メール; manual 付録1, PRODUCT §6.1): the sync service.

`run_customer_sync` checks that the kintone fields it needs still exist, streams the matching
records (two concurrent `$id`-seek ranges, `customer_read`; a cursor when the plugin's filter
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

Counts: total = kintone records read; processed = rows 配配メール accepted. Rows 配配メール
refused, rows that could not be encoded and records without an address are listed in the
outcome's details. 0 records → success 0 / 0 without calling 配配メール.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import re
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from portal.connector_types.haihai_kintone.customer.conditions import (
    ConditionError,
    ConditionFieldMissingError,
    build_query,
)
from portal.connector_types.haihai_kintone.customer.config import CustomerSyncSetting
from portal.connector_types.haihai_kintone.customer.values import (
    RowConverter,
    UnsupportedFieldTypeError,
    email_key,
)
from portal.integrations.haihai import (
    DeliveryState,
    HaihaiError,
    HaihaiImportUncertainError,
    ImportMode,
    ImportOptions,
    ImportResult,
    ReportOption,
    StatusChange,
)
from portal.integrations.haihai_csv import (
    MAX_PART_BYTES,
    CsvEncodeError,
    CsvEncoding,
    CsvPart,
    CsvPartWriter,
    CsvRowTooLargeError,
)
from portal.integrations.kintone import KintoneError
from portal.messages.haihai import (
    IMPORT_REPORT,
    csv_message,
    csv_row_refusal,
    haihai_error_code,
    haihai_message,
)
from portal.messages.kintone import (
    TOO_MUCH_DATA,
    customer_sync_step,
    kintone_error_code,
    kintone_message,
)
from portal.syncs.config import ConnectorConfig, FieldMapping
from portal.syncs.record_read import read_records

if TYPE_CHECKING:
    from portal.syncs.context import PartJournal

log = logging.getLogger(__name__)

MAX_DETAIL_LINES = 1000
# kintone stops a `like` / `not like` filter at this many hits and answers a partial result.
LIKE_HIT_LIMIT = 100_000
_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_LIKE = re.compile(r"\blike\b", re.I)
REPORT_HINT = f"{IMPORT_REPORT}で取り込み結果を確認してください。"
_REPORTS = {
    "never": ReportOption.NONE,
    "always": ReportOption.ALWAYS,
    "on_error": ReportOption.ON_ERROR,
}
_STATE_MODES = {"stop": ImportMode.STOP, "ban": ImportMode.BAN, "allow": ImportMode.ENABLE}
_TARGET_LABELS = {"group": "配信グループ", "step_plan": "ステップメールプラン"}

ProgressCallback = Callable[[int, int], None]


# --------------------------------------------------------------------------------------------
# Outcome and errors


@dataclass
class CustomerSyncOutcome:
    """What a finished 顧客情報連携 did: 処理件数 processed / total and the details to show."""

    processed: int
    total: int
    parts: int = 0
    job_ids: tuple[str, ...] = ()
    # Customers set to 配信停止 because they are missing from kintone; None when 配配メール's own
    # option did it together with 配信可能 changes (its count does not separate the two).
    stopped: int | None = 0
    row_errors: list[str] = field(default_factory=list)  # Japanese, one line per refused row
    row_error_count: int = 0  # all refused rows (row_errors is capped)
    notes: list[str] = field(default_factory=list)  # Japanese summary lines

    @property
    def message_detail(self) -> str | None:
        """The メッセージ詳細 text: summary lines, then the refused rows; None when empty."""
        lines = list(self.notes)
        if self.row_error_count:
            lines.append(f"連携されなかったデータ: {self.row_error_count:,}件")
            lines.extend(f"・{line}" for line in self.row_errors)
            hidden = self.row_error_count - len(self.row_errors)
            if hidden > 0:
                lines.append(f"ほか{hidden:,}件")
        return "\n".join(lines) if lines else None


class CustomerSyncError(Exception):
    """A 顧客情報連携 run failed; `message` is the specific Japanese sentence for 「エラー詳細」.

    `code` classifies the failure: settings, kintone_field, kintone_too_many, or a code of
    `portal.messages.kintone.kintone_error_code` / `portal.messages.haihai.haihai_error_code`
    (kintone_auth, kintone_timeout, haihai_server, …). `parts_sent` and `job_ids` say what had
    already been sent to 配配メール when it failed (the message says so too).
    """

    code = "failed"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        processed: int = 0,
        total: int = 0,
        parts_sent: int = 0,
        rows_sent: int = 0,
        job_ids: Sequence[str] = (),
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.processed = processed
        self.total = total
        self.parts_sent = parts_sent
        self.rows_sent = rows_sent
        self.job_ids = tuple(job_ids)

    @property
    def user_message(self) -> str:
        """Same as `message`."""
        return self.message


class CustomerSyncSettingsError(CustomerSyncError):
    """The 顧客情報連携設定 is incomplete or contradictory (fix it on the settings page)."""

    code = "settings"


class KintoneFieldMissingError(CustomerSyncError):
    """A mapped or condition kintone field no longer exists (or changed its type)."""

    code = "kintone_field"

    def __init__(self, message: str, *, field_code: str, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.field_code = field_code


class KintoneAccessError(CustomerSyncError):
    """kintone refused or could not be reached (token, permission, app, query, network)."""

    code = "kintone_error"


class HaihaiAccessError(CustomerSyncError):
    """配配メール refused or could not be reached (token, daily limit, network, job failure)."""

    code = "haihai_error"


# --------------------------------------------------------------------------------------------
# Client protocols (what the service needs from the integrations)


class KintoneRecords(Protocol):
    """The part of KintoneClient the service uses."""

    def get_form_fields(self, app: int) -> dict[str, dict[str, Any]]: ...

    def get_records(
        self, app: int, query: str = "", fields: Sequence[str] | None = None, *, total_count=False
    ) -> tuple[list[dict[str, Any]], int | None]: ...

    def iter_records(self, app: int, query: str = "", fields: Sequence[str] | None = None): ...


class HaihaiImports(Protocol):
    """The part of HaihaiClient the service uses."""

    def import_csv(self, part: bytes, options: ImportOptions) -> str: ...

    def wait_for_import(self, import_id: str, **kwargs: Any) -> ImportResult: ...

    def import_status(self, import_id: str) -> Any: ...

    def iter_delivery_states(self, state: DeliveryState, **kwargs: Any) -> Iterator[Any]: ...

    def list_groups(self) -> list[Any]: ...

    def list_step_plans(self) -> list[Any]: ...


# --------------------------------------------------------------------------------------------
# Planning (pure)


@dataclass(frozen=True)
class ImportPlan:
    """How one setting is sent: options per part, columns, and the stop decision."""

    mode: ImportMode
    target_kind: str | None  # "group" / "plan" / None (顧客データベース)
    target_id: str | None
    options: ImportOptions  # for parts of a split upload
    single_options: ImportOptions  # for an upload that is the whole result in one file
    stop_missing: bool
    email_only: bool  # delete / 停止 / 禁止 need the address column only

    @property
    def needs_keys(self) -> bool:
        """Whether the addresses of the kintone result must be remembered."""
        return self.stop_missing


def _target_label(setting: CustomerSyncSetting) -> str:
    return _TARGET_LABELS.get(setting.target_type, "顧客データベース")


def plan_import(setting: CustomerSyncSetting, encoding: CsvEncoding) -> ImportPlan:
    """Turn a 顧客情報連携設定 into import options; raise CustomerSyncSettingsError if invalid."""
    number = setting.number
    prefix = f"顧客情報連携設定 {number}"
    target_id = (setting.target_id or "").strip() or None
    if setting.target_type == "database":
        kind = None
        target_id = None
    elif setting.target_type in ("group", "step_plan"):
        kind = "group" if setting.target_type == "group" else "plan"
        if target_id is None:
            id_label = "配信グループID" if kind == "group" else "ステップメールプランID"
            raise CustomerSyncSettingsError(
                f"{prefix}の{id_label}が設定されていません。連携設定画面で設定してください。"
            )
    else:
        raise CustomerSyncSettingsError(f"{prefix}の連携先種別が正しくありません。")

    if setting.mode == "register":
        mode = ImportMode.REGISTER
    elif setting.mode == "delete":
        mode = ImportMode.DELETE
    elif setting.mode == "status_change":
        if kind is None:
            raise CustomerSyncSettingsError(
                f"{prefix}: 「一括状態変更」は配信グループ指定またはステップメールプラン指定の場合のみ"
                "設定できます。連携設定画面で連携形式を確認してください。"
            )
        if setting.status_change not in _STATE_MODES:
            raise CustomerSyncSettingsError(
                f"{prefix}: 「一括状態変更」で変更後の状態（配信停止・配信禁止・配信可能）が"
                "選択されていません。"
            )
        mode = _STATE_MODES[setting.status_change]
    else:
        raise CustomerSyncSettingsError(f"{prefix}の連携形式が正しくありません。")

    # The settings page only offers these where they apply; ignore leftovers elsewhere.
    overwrite = setting.overwrite and mode in (ImportMode.REGISTER, ImportMode.ENABLE)
    blank = overwrite and setting.blank_overwrites
    stop_missing = setting.stop_missing and mode is ImportMode.REGISTER
    allow_present = setting.allow_present and mode is ImportMode.REGISTER and kind is not None
    report = _REPORTS.get(setting.report_mail, ReportOption.NONE)
    group_id = target_id if kind == "group" else None
    plan_id = target_id if kind == "plan" else None

    def options(status: StatusChange | None) -> ImportOptions:
        return ImportOptions(
            mode=mode,
            overwrite=overwrite,
            blank_overwrite=blank,
            group_id=group_id,
            plan_id=plan_id,
            status_change=status,
            report=report,
            encoding=encoding,
        )

    split_status = StatusChange.IN_FILE_TO_OK if allow_present else None
    if stop_missing and allow_present:
        single_status: StatusChange | None = StatusChange.BOTH
    elif stop_missing:
        single_status = StatusChange.NOT_IN_FILE_TO_STOP
    else:
        single_status = split_status
    return ImportPlan(
        mode=mode,
        target_kind=kind,
        target_id=target_id,
        options=options(split_status),
        single_options=options(single_status),
        stop_missing=stop_missing,
        email_only=mode in (ImportMode.DELETE, ImportMode.STOP, ImportMode.BAN),
    )


def check_kintone_fields(
    config: ConnectorConfig,
    setting: CustomerSyncSetting | None,
    properties: Mapping[str, Any],
    *,
    mappings: Sequence[FieldMapping] | None = None,
    include_conditions: bool = True,
) -> None:
    """Raise KintoneFieldMissingError naming the first mapped (or condition) field the app lacks
    or whose type changed since the last 「kintone項目の同期」 (`mappings`: those a run uses,
    default all)."""
    for mapping in config.mappings if mappings is None else mappings:
        _check_mapping(mapping, properties)
    if setting is None or not include_conditions:
        return
    for condition in setting.conditions.conditions:
        prop = properties.get(condition.field_code)
        if not _field_usable(prop):
            raise KintoneFieldMissingError(
                f"連携条件に指定したkintoneのフィールド（フィールドコード: {condition.field_code}）が"
                "kintoneアプリに存在しません。kintoneアプリでフィールドが削除またはフィールドコードが"
                "変更された可能性があります。「kintone項目の同期」を行い、連携条件を設定し直してください。",
                field_code=condition.field_code,
            )
        if prop.get("type") != condition.field_type:
            raise KintoneFieldMissingError(
                f"連携条件に指定したkintoneのフィールド「{prop.get('label') or condition.field_code}」"
                f"のフィールドタイプが変更されています（{condition.field_type} → {prop.get('type')}）。"
                "「kintone項目の同期」を行い、連携条件を設定し直してください。",
                field_code=condition.field_code,
            )


def _field_usable(prop: Any) -> bool:
    # Process-management fields stay listed with enabled=false when the feature is off.
    return isinstance(prop, Mapping) and prop.get("enabled", True) is not False


def _check_mapping(mapping: FieldMapping, properties: Mapping[str, Any]) -> None:
    prop = properties.get(mapping.kintone_code)
    if not _field_usable(prop):
        raise KintoneFieldMissingError(
            f"連携項目に設定したkintoneのフィールド「{mapping.kintone_label}」"
            f"（フィールドコード: {mapping.kintone_code}）がkintoneアプリに存在しません。"
            "kintoneアプリでフィールドが削除またはフィールドコードが変更された可能性があります。"
            "「kintone項目の同期」を行い、連携項目を設定し直してください。",
            field_code=mapping.kintone_code,
        )
    if prop.get("type") != mapping.kintone_type:
        raise KintoneFieldMissingError(
            f"連携項目に設定したkintoneのフィールド「{mapping.kintone_label}」のフィールドタイプが"
            f"変更されています（{mapping.kintone_type} → {prop.get('type')}）。"
            "「kintone項目の同期」を行い、連携項目を設定し直してください。",
            field_code=mapping.kintone_code,
        )


# --------------------------------------------------------------------------------------------
# The run


def uses_like(query: str) -> bool:
    """Whether a kintone query filters with `like` / `not like` (string literals ignored)."""
    return bool(_LIKE.search(_STRING_LITERAL.sub('""', query)))


def part_fingerprint(data: bytes, options: ImportOptions) -> str:
    """sha256 of a part's import options and its lines in sorted order.

    The parallel read hands records over in a varying order, so the same rows must give the same
    fingerprint whatever their order in the file.
    """
    digest = hashlib.sha256(repr(options).encode())
    for line in sorted(data.split(b"\n")):
        digest.update(len(line).to_bytes(8, "big"))
        digest.update(line)
    return digest.hexdigest()


def _hash_key(email: str) -> int:
    """64-bit hash of an address's comparison key (collisions: ~1e-8 at ten million rows)."""
    digest = hashlib.blake2b(email_key(email).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class _Sender:
    """Sends parts to 配配メール, remembers what was sent, waits for the results."""

    def __init__(
        self,
        haihai: HaihaiImports,
        *,
        first_poll: float | None,
        import_wait: float,
        clock: Callable[[], float] = time.monotonic,
        journal: PartJournal | None = None,
        first_number: int = 1,
    ):
        self.haihai = haihai
        self.first_poll = first_poll
        self.import_wait = import_wait
        self.clock = clock
        self.journal = journal
        self.first_number = first_number  # journal number of this sender's first part
        self.parts_sent = 0
        self.rows_sent = 0
        self.job_ids: list[str] = []
        self.reused: list[str] = []  # jobs of an earlier run that already carried a part
        self.pending: list[tuple[str, int, int, float]] = []  # job, part no, rows, sent at

    def send(self, part: CsvPart, options: ImportOptions, failure: Callable[..., Exception]):
        """Upload one part (part numbers count from 1 across the whole run).

        With a journal the part is recorded before the upload and with its job ID after it, and
        a part an interrupted earlier run already sent with the same content is not sent again.
        """
        number = self.parts_sent + 1
        journal_number = self.first_number + self.parts_sent
        fingerprint = part_fingerprint(part.data, options) if self.journal else ""
        job_id = self._reusable_job(fingerprint) if self.journal else None
        if job_id is not None:
            self.journal.sending(journal_number, fingerprint, part.row_count, part.size)
            self.journal.sent(journal_number, job_id, reused=True)
            self.reused.append(job_id)
        else:
            if self.journal is not None:
                self.journal.sending(journal_number, fingerprint, part.row_count, part.size)
            try:
                job_id = self.haihai.import_csv(part.data, options)
            except HaihaiError as error:
                raise failure(error, number) from error
            if self.journal is not None:
                self.journal.sent(journal_number, job_id)
        self.parts_sent = number
        self.rows_sent += part.row_count
        self.job_ids.append(job_id)
        self.pending.append((job_id, number, part.row_count, self.clock()))
        log.debug(  # the 配配メール client already logs each queued import at INFO
            "customer_sync part sent part=%d rows=%d bytes=%d job_id=%s mode=%s",
            number,
            part.row_count,
            part.size,
            job_id,
            options.mode.value,
        )
        return job_id

    def _reusable_job(self, fingerprint: str) -> str | None:
        """The job of an identical part sent by an interrupted earlier run, unless it failed."""
        candidate = self.journal.reusable_job(fingerprint)
        if candidate is None:
            return None
        try:
            status = self.haihai.import_status(candidate)
        except HaihaiError as error:
            log.warning("customer_sync earlier job unreadable job_id=%s error=%s", candidate, error)
            return None
        if status.state == "failed":
            return None
        log.info("customer_sync part already sent job_id=%s state=%s", candidate, status.state)
        return candidate

    def wait_all(self, failure: Callable[..., Exception]) -> list[tuple[int, ImportResult]]:
        """Wait for every pending job in order; [(part number, result)]."""
        results = []
        for job_id, number, _rows, _sent_at in self.pending:
            if job_id in self.reused:
                first = 0.0  # sent long ago by the earlier run
            elif self.first_poll is not None:
                first = self.first_poll
            else:
                first = None  # the client's: shortly after the upload, then aimed by progress
            try:
                result = self.haihai.wait_for_import(
                    job_id, max_wait=self.import_wait, first_poll=first
                )
            except HaihaiError as error:
                raise failure(error, number) from error
            results.append((number, result))
        self.pending = []
        return results


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
    reads with two `$id` ranges at once (`customer_read`), else with the client's iterator;
    `like_hit_limit` is where kintone cuts a keyword search short (its result is then refused);
    `journal` records each part sent to 配配メール (portal.runs.parts) and finds parts an
    interrupted earlier run already sent.
    """
    encoding = CsvEncoding.parse(encoding)
    report = progress or (lambda processed, total: None)
    if config.kintone is None or config.haihai is None:
        raise CustomerSyncSettingsError(
            "kintone連携設定または配配メール連携設定が完了していません。連携設定画面で設定してください。"
        )
    if config.email_mapping is None:
        raise CustomerSyncSettingsError(
            "連携項目にメールアドレスのkintone項目が設定されていません。"
            "「Step4. 連携項目設定」でメールアドレスの項目を設定してください。"
        )
    plan = plan_import(setting, encoding)
    try:
        app_id = int(config.kintone.app_id)
    except (TypeError, ValueError):
        raise CustomerSyncSettingsError(
            f"kintone アプリID（{config.kintone.app_id}）が正しくありません。"
        ) from None

    mappings = [config.email_mapping] if plan.email_only else list(config.mappings)
    try:
        converter = RowConverter(
            mappings, email_header=config.email_display_name, tz=config.timezone
        )
    except UnsupportedFieldTypeError as error:
        raise CustomerSyncSettingsError(
            f"{error.user_message}「Step4. 連携項目設定」を確認してください。"
        ) from error

    def kintone_failure(error: KintoneError, **counts: int) -> CustomerSyncError:
        # A keyword search kintone cut short (too many hits) is refused: sending the partial
        # result would be wrong.
        step = customer_sync_step(config.kintone.app_id)
        message = kintone_message(error, step)
        return KintoneAccessError(message, code=kintone_error_code(error, step), **counts)

    # 1. The fields this run needs must still exist (checked before reading any record).
    try:
        properties = kintone_client.get_form_fields(app_id)
    except KintoneError as error:
        raise kintone_failure(error) from error
    check_kintone_fields(
        config,
        setting,
        properties,
        mappings=mappings,
        include_conditions=query_override is None,
    )

    # 2. The query: the saved conditions, or the plugin's list-view filter as given.
    if query_override is not None:
        query = query_override.strip()
    else:
        try:
            query = build_query(setting.conditions, properties, tz=config.timezone)
        except ConditionFieldMissingError as error:
            raise KintoneFieldMissingError(
                error.message, field_code=error.field_code or ""
            ) from error
        except ConditionError as error:
            raise CustomerSyncSettingsError(
                f"顧客情報連携設定 {setting.number}の連携条件が正しくありません: {error.message}"
            ) from error

    sender = _Sender(haihai_client, first_poll=first_poll, import_wait=import_wait, journal=journal)
    state = _RunState()

    def haihai_failure(error: HaihaiError, part_number: int) -> CustomerSyncError:
        return HaihaiAccessError(
            _haihai_message(error, part_number, sender),
            code=haihai_error_code(error),
            processed=state.accepted,
            total=state.total,
            parts_sent=sender.parts_sent,
            rows_sent=sender.rows_sent,
            job_ids=sender.job_ids,
        )

    # 3. Stream records → rows → parts; send each finished part at once.
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
    try:
        try:
            state.total = int(records.total_count or 0)
        except KintoneError as error:
            raise kintone_failure(error) from error
        if state.total == 0:
            report(0, 0)
            return CustomerSyncOutcome(processed=0, total=0)
        if state.total >= like_hit_limit and uses_like(query):
            # kintone cut the keyword search short: the result is incomplete, and sending it
            # (worse: stopping everyone "missing" from it) would be wrong.
            raise KintoneAccessError(TOO_MUCH_DATA, code="kintone_too_many", total=state.total)
        report(0, state.total)
        try:
            writer = CsvPartWriter(converter.headers, encoding, max_part_bytes)
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
                    sender.send(part, plan.options, haihai_failure)
                if read % 500 == 0:
                    report(read, max(state.total, read))
        except KintoneError as error:
            raise _with_sent(kintone_failure(error), sender, state) from error
        state.total = max(state.total, read)
        last = writer.finish()
        report(read, state.total)
        single = sender.parts_sent == 0 and last is not None
        if last is not None:
            # The vendor's own stop option is right only when this one file is the whole result.
            use_single = single and not state.refused_with_address
            sender.send(last, plan.single_options if use_single else plan.options, haihai_failure)
        native_stop = single and not state.refused_with_address
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()

    # 4. Results of every part, then (if needed) the stop decision for the whole result.
    outcome = CustomerSyncOutcome(processed=0, total=state.total)
    for number, result in sender.wait_all(haihai_failure):
        state.accepted += result.accepted
        for row_error in result.errors:
            place = f"{number}番目のCSV " if sender.parts_sent > 1 else ""
            line = f"{row_error.line}行目" if row_error.line is not None else "行不明"
            who = f"（{row_error.email}）" if row_error.email else ""
            state.add_error(f"{place}{line}{who}: {row_error.message}")
        if number == 1 and native_stop and plan.stop_missing:
            both = plan.single_options.status_change is StatusChange.BOTH
            outcome.stopped = None if both else result.state_changed
    no_addresses = keys is not None and len(keys) == 0
    if plan.stop_missing and not native_stop and keys is not None and not no_addresses:
        outcome.stopped = _stop_missing_customers(
            haihai_client,
            plan,
            keys,
            sender,
            converter.headers[0],
            encoding,
            max_part_bytes,
            haihai_failure,
        )

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
    report(outcome.processed, outcome.total)
    log.debug(
        "customer_sync done setting=%s total=%d processed=%d parts=%d stopped=%d errors=%d",
        setting.number,
        outcome.total,
        outcome.processed,
        outcome.parts,
        outcome.stopped,
        outcome.row_error_count,
    )
    return outcome


@dataclass
class _RunState:
    total: int = 0
    accepted: int = 0
    refused_with_address: bool = False
    errors: list[str] = field(default_factory=list)
    error_count: int = 0

    def add_error(self, line: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_DETAIL_LINES:
            self.errors.append(line)


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
    state: _RunState,
) -> CsvPart | None:
    row = converter.row(record)
    email = row[0]
    if not email:
        state.add_error(
            f"{_record_label(record, position)}: メールアドレスが空のため連携しませんでした"
        )
        return None
    if keys is not None:
        keys.append(_hash_key(email))
    try:
        return writer.add_row(row)
    except CsvEncodeError as error:
        state.refused_with_address = True
        state.add_error(f"{_record_label(record, position)}（{email}）: {csv_row_refusal(error)}")
    except CsvRowTooLargeError as error:
        state.refused_with_address = True
        state.add_error(f"{_record_label(record, position)}（{email}）: {csv_row_refusal(error)}")
    return None


def _with_sent(error: CustomerSyncError, sender: _Sender, state: _RunState) -> CustomerSyncError:
    """Add what had been sent already to an error raised mid-run."""
    error.total = state.total
    error.parts_sent = sender.parts_sent
    error.rows_sent = sender.rows_sent
    error.job_ids = tuple(sender.job_ids)
    if sender.parts_sent:
        error.message += " " + _sent_sentence(sender)
    return error


def _sent_sentence(sender: _Sender) -> str:
    if sender.parts_sent == 1:
        which = "1番目のCSVファイル"
    else:
        which = f"1〜{sender.parts_sent}番目のCSVファイル"
    return (
        f"なお、分割したCSVファイルのうち{which}（計{sender.rows_sent:,}件）は"
        f"配配メールへ送信済みです（ジョブID: {', '.join(sender.job_ids)}）。{REPORT_HINT}"
    )


def _haihai_message(error: HaihaiError, part_number: int, sender: _Sender) -> str:
    base = haihai_message(error)
    if isinstance(error, HaihaiImportUncertainError):
        base += f"（{part_number}番目のCSVファイルの送信中）"
    if sender.parts_sent:
        base += " " + _sent_sentence(sender)
    return base


def _stop_missing_customers(
    haihai: HaihaiImports,
    plan: ImportPlan,
    keys: array,
    sender: _Sender,
    email_header: str,
    encoding: CsvEncoding,
    max_part_bytes: int,
    failure: Callable[..., Exception],
) -> int:
    """配信停止 for the deliverable customers of the target(s) missing from the kintone result."""
    ordered = array("Q", sorted(keys))
    del keys[:]  # the unsorted copy is not needed any more

    def in_kintone(email: str) -> bool:
        value = _hash_key(email)
        index = bisect.bisect_left(ordered, value)
        return index < len(ordered) and ordered[index] == value

    if plan.target_kind is not None:
        targets = [(plan.target_kind, plan.target_id)]
    else:
        try:
            targets = [("group", g.group_id) for g in haihai.list_groups()]
            targets += [("plan", p.plan_id) for p in haihai.list_step_plans()]
        except HaihaiError as error:
            raise failure(error, sender.parts_sent) from error

    stop_sender = _Sender(
        haihai,
        first_poll=sender.first_poll,
        import_wait=sender.import_wait,
        journal=sender.journal,
        first_number=sender.parts_sent + 1,
    )
    stopped = 0
    for kind, target_id in targets:
        filters = {"group_id": target_id} if kind == "group" else {"plan_id": target_id}
        # List the whole target first (spooled to disk past 4 MB): sending stops while paging
        # would shift the offsets of the list being read.
        with tempfile.SpooledTemporaryFile(
            max_size=4 * 1024 * 1024, mode="w+", encoding="utf-8"
        ) as spool:
            count = 0
            try:
                for entry in haihai.iter_delivery_states(DeliveryState.OK, **filters):
                    if not in_kintone(entry.email):
                        spool.write(entry.email.replace("\n", " ") + "\n")
                        count += 1
            except HaihaiError as error:
                raise failure(error, sender.parts_sent) from error
            if not count:
                continue
            spool.seek(0)
            options = ImportOptions(
                mode=ImportMode.STOP,
                group_id=target_id if kind == "group" else None,
                plan_id=target_id if kind == "plan" else None,
                report=plan.options.report,
                encoding=encoding,
            )
            writer = CsvPartWriter([email_header], encoding, max_part_bytes)
            for line in spool:
                try:
                    part = writer.add_row([line.rstrip("\n")])
                except (CsvEncodeError, CsvRowTooLargeError):
                    continue  # an address 配配メール itself holds is always encodable in practice
                if part is not None:
                    stop_sender.send(part, options, failure)
            last = writer.finish()
            if last is not None:
                stop_sender.send(last, options, failure)
        log.info("customer_sync stop target=%s:%s candidates=%d", kind, target_id, count)
    for _, result in stop_sender.wait_all(failure):
        stopped += result.state_changed
    sender.job_ids.extend(stop_sender.job_ids)
    return stopped


def describe_target(setting: CustomerSyncSetting) -> str:
    """「配信グループ（ID: 12）」-style Japanese description of a setting's target."""
    label = _target_label(setting)
    if setting.target_type == "database" or not setting.target_id:
        return label
    return f"{label}（ID: {setting.target_id}）"
