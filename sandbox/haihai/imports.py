"""`ac=ScheduleCsvImport` (spec §3.5): parameter rules, CSV reading, queued processing, reports."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from .clock import format_jst, jst_date
from .errors import BadParameter, CsvFormatError, FileTooLarge
from .model import Customer, Item
from .store import Account, Store
from .values import ValueInvalid, convert_value, email_key, normalize_date

MAX_CSV_BYTES = 15 * 1024 * 1024
CHARSETS = {"1": ("utf-8", "UTF-8"), "2": ("cp932", "Shift_JIS"), "3": ("euc_jp", "EUC-JP")}
DEFAULT_CHARSET = "2"
STEP_START_COLUMN = "ステップ開始日"
IMPORT_TYPES = {0: "登録", 1: "削除", 2: "停止", 3: "禁止", 5: "可能"}
STATE_OF_IMPORT = {2: "stop", 3: "ban", 5: "ok"}
REPORT_SUBJECT = "【配配メール】CSV一括登録・削除の処理結果"
REPORT_FROM = "no-reply@hm-f.jp"
REPORT_MAX_ERROR_LINES = 1000
UTF8_BOM = b"\xef\xbb\xbf"


def bucket_for(import_type: int) -> str:
    """The daily-limit bucket of an import: register, delete or state change (spec §3.4)."""
    if import_type == 0:
        return "ScheduleCsvImport/register"
    if import_type == 1:
        return "ScheduleCsvImport/delete"
    return "ScheduleCsvImport/state"


@dataclass
class ImportOptions:
    """Validated request options of one import."""

    import_type: int
    is_overwrite: bool
    blank_overwrite: bool
    target: tuple[str, str] | None
    status_change: bool
    status_change_type: int | None
    report_option: int
    charset: str


def _flag(form, name: str, default: str = "0") -> bool:
    raw = (form.get(name) or default).strip()
    if raw not in ("0", "1"):
        raise BadParameter(f"{name} は 0 または 1 を指定してください")
    return raw == "1"


def parse_options(form) -> ImportOptions:
    """Read and check the import parameters; raise BadParameter on any violation."""
    raw_type = (form.get("import_type") or "").strip()
    if raw_type == "":
        raise BadParameter("import_type を指定してください")
    if not raw_type.isdigit() or int(raw_type) not in IMPORT_TYPES:
        raise BadParameter("import_type は 0, 1, 2, 3, 5 のいずれかを指定してください")
    import_type = int(raw_type)
    gid = (form.get("gid") or "").strip()
    spid = (form.get("spid") or "").strip()
    if gid and spid:
        raise BadParameter("gid と spid は同時に指定できません")
    target = ("group", gid) if gid else (("step", spid) if spid else None)
    if import_type in (2, 3, 5) and target is None:
        raise BadParameter("停止・禁止・可能では gid または spid が必要です")
    is_overwrite = _flag(form, "is_overwrite")
    blank_overwrite = _flag(form, "blank_overwrite")
    status_change = _flag(form, "status_change")
    raw_change_type = (form.get("status_change_type") or "").strip()
    change_type: int | None = None
    if raw_change_type:
        if raw_change_type not in ("1", "2", "3"):
            raise BadParameter("status_change_type は 1, 2, 3 のいずれかを指定してください")
        change_type = int(raw_change_type)
    if status_change and change_type is None:
        raise BadParameter("status_change=1 では status_change_type が必要です")
    raw_report = (form.get("report_option") or "0").strip()
    if raw_report not in ("0", "1", "2"):
        raise BadParameter("report_option は 0, 1, 2 のいずれかを指定してください")
    charset = (form.get("charset") or DEFAULT_CHARSET).strip()
    if charset not in CHARSETS:
        raise BadParameter("charset は 1, 2, 3 のいずれかを指定してください")
    # Overwrite only means something for 登録 and 可能; blank overwrite only with overwrite on.
    if import_type not in (0, 5):
        is_overwrite = False
    if not is_overwrite:
        blank_overwrite = False
    # The status change belongs to 登録; without a target it is always type 1 (Reckoner).
    if import_type != 0:
        status_change = False
    if not status_change:
        change_type = None
    elif target is None:
        change_type = 1
    return ImportOptions(
        import_type=import_type,
        is_overwrite=is_overwrite,
        blank_overwrite=blank_overwrite,
        target=target,
        status_change=status_change,
        status_change_type=change_type,
        report_option=int(raw_report),
        charset=charset,
    )


@dataclass
class ParsedCsv:
    """Header and non-blank data rows (line number of the row's first line, cells)."""

    header: list[str]
    rows: list[tuple[int, list[str]]]


def check_size(data: bytes) -> None:
    """Raise FileTooLarge for files over 15 MB."""
    if len(data) > MAX_CSV_BYTES:
        raise FileTooLarge("CSVファイルのサイズが上限（15MB）を超えています")


def parse_csv(data: bytes, charset: str) -> ParsedCsv:
    """Decode and split the file; raise CsvFormatError when undecodable or headerless."""
    codec, charset_name = CHARSETS[charset]
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CsvFormatError(
            f"CSVファイルを{charset_name}として読み込めません（{line}行目）"
        ) from error
    # A huge cell should fail its row (900-character rule), not the whole file.
    if csv.field_size_limit() < MAX_CSV_BYTES:
        csv.field_size_limit(MAX_CSV_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    previous_line = 0
    try:
        for cells in reader:
            start_line = previous_line + 1
            previous_line = reader.line_num
            if not cells or all(cell == "" for cell in cells):
                continue
            if header is None:
                header = [cell.strip().lstrip("\ufeff") for cell in cells]
                continue
            rows.append((start_line, cells))
    except csv.Error as error:
        raise CsvFormatError(f"CSVファイルの形式が正しくありません（{error}）") from error
    if header is None:
        raise CsvFormatError("CSVファイルにヘッダー行がありません")
    return ParsedCsv(header=header, rows=rows)


@dataclass
class Columns:
    """How the header maps onto the account's items."""

    email_index: int
    step_index: int | None
    values: list[tuple[int, Item]]
    ignored: list[str]


def resolve_columns(header: list[str], account: Account, strict: bool) -> Columns:
    """Match header names to item labels; raise CsvFormatError for a bad header."""
    seen: set[str] = set()
    duplicates = sorted({name for name in header if name in seen or seen.add(name)})
    if duplicates:
        raise CsvFormatError(f"ヘッダー行に重複した項目名があります: {', '.join(duplicates)}")
    by_label = account.items_by_label()
    email_label = account.email_item().label
    email_index = None
    step_index = None
    values: list[tuple[int, Item]] = []
    unknown: list[str] = []
    for index, name in enumerate(header):
        item = by_label.get(name)
        if item is not None and item.type == "email":
            email_index = index
        elif item is not None:
            values.append((index, item))
        elif name == STEP_START_COLUMN:
            step_index = index
        else:
            unknown.append(name or f"（{index + 1}列目が空）")
    if email_index is None:
        raise CsvFormatError(f"メールアドレス項目「{email_label}」の列がありません")
    if unknown and strict:
        raise CsvFormatError(f"存在しない項目名です: {', '.join(unknown)}")
    return Columns(email_index, step_index, values, unknown)


# Why a row was skipped (GetImportResult `skip_reasons`; wording INVENTED like the API).
SKIP_NOT_OVERWRITTEN = (
    "同一メールアドレスの顧客が登録済みで、データを上書きしない設定のため、スキップしました"
)
SKIP_UNCHANGED = "配信状態・登録内容に変更がないため、スキップしました"


@dataclass
class ImportJob:
    """One queued CSV job and, once processed, its result."""

    job_id: str
    account: Account
    login_id: str
    report_to: str
    options: ImportOptions
    file_name: str
    header: list[str]
    columns: Columns
    rows: list[tuple[int, list[str]]]
    accepted_at: int
    ready_at: float
    state: str = "queued"
    started_at: int | None = None
    finished_at: int | None = None
    processed: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "inserted": 0,
            "updated": 0,
            "deleted": 0,
            "state_changed": 0,
            "skipped": 0,
            "failed": 0,
            "stopped_by_status_change": 0,
            "enabled_by_status_change": 0,
        }
    )
    errors: list[dict] = field(default_factory=list)
    skip_reasons: dict[str, int] = field(default_factory=dict)  # why rows were skipped → count
    message: str = ""
    report_mail_id: int | None = None
    # Processing state carried across chunks.
    seen: dict[str, int] = field(default_factory=dict)
    applied: list[Customer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.row_count = len(self.rows)

    def to_json(self, offset: int = 0, limit: int | None = None) -> dict:
        """The GetImportResult `data` object; `errors` paged by offset/limit."""
        options = self.options
        errors = self.errors[offset : None if limit is None else offset + limit]
        gid = options.target[1] if options.target and options.target[0] == "group" else None
        spid = options.target[1] if options.target and options.target[0] == "step" else None
        return {
            "job_id": self.job_id,
            "import_type": options.import_type,
            "state": self.state,
            "accepted_at": format_jst(self.accepted_at),
            "started_at": format_jst(self.started_at),
            "finished_at": format_jst(self.finished_at),
            "total": self.row_count,
            "processed": self.processed,
            **self.counts,
            "errors": errors,
            "error_total": len(self.errors),
            "skip_reasons": [
                {"message": message, "count": count} for message, count in self.skip_reasons.items()
            ],
            "message": self.message,
            "gid": gid,
            "spid": spid,
            "is_overwrite": int(options.is_overwrite),
            "blank_overwrite": int(options.blank_overwrite),
            "status_change": int(options.status_change),
            "status_change_type": options.status_change_type,
            "report_option": options.report_option,
            "charset": int(options.charset),
            "file_name": self.file_name,
            "ignored_columns": self.columns.ignored,
        }


def new_job_id(account: Account, now: int) -> str:
    """`JYYYYMMDD-NNNNNN`, numbered per account and JST day."""
    day = jst_date(now)
    seq = account.job_seq_by_day.get(day, 0) + 1
    account.job_seq_by_day[day] = seq
    return f"J{day.replace('-', '')}-{seq:06d}"


class _RowFailed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ImportRunner:
    """Applies a job's rows in chunks, then the status change, then the report mail."""

    def __init__(self, store: Store):
        self.store = store

    def run(self, job: ImportJob) -> None:
        """Process `job` to completion, releasing the store lock between chunks."""
        store = self.store
        with store.lock:
            if not self._still_current(job):
                return
            job.state = "processing"
            job.started_at = store.now()
            target = job.options.target
            if target and not job.account.target_exists(*target):
                self._finish(
                    job, "failed", "対象の配信グループ・ステップメールプランが存在しません"
                )
                return
        chunk = max(1, int(store.config.import_chunk_rows))
        for start in range(0, len(job.rows), chunk):
            with store.lock:
                if not self._still_current(job):
                    return
                if target and not job.account.target_exists(*target):
                    self._finish(
                        job, "failed", "処理中に配信グループ・ステップメールプランが削除されました"
                    )
                    return
                now = store.now()
                live_values = [
                    (index, item)
                    for index, item in job.columns.values
                    if job.account.items.get(item.item_id) is item
                ]
                for line, cells in job.rows[start : start + chunk]:
                    self._apply(job, line, cells, live_values, now)
                    job.processed += 1
                job.account.touch()
        with store.lock:
            if not self._still_current(job):
                return
            if job.options.status_change:
                self._status_change(job, store.now())
            failed = job.counts["failed"]
            self._finish(job, "completed", f"{failed}件のエラーがありました" if failed else "")

    def _still_current(self, job: ImportJob) -> bool:
        # A reset or re-created account abandons jobs of the old one.
        current = self.store.accounts.get(job.account.account_key) is job.account
        if not current and job.state in ("queued", "processing"):
            job.state = "failed"
            job.message = "アカウントが削除されました"
        return current

    def _finish(self, job: ImportJob, state: str, message: str) -> None:
        job.state = state
        job.message = message
        job.finished_at = self.store.now()
        # Keep the result, not the half-million-cell file.
        job.seen = {}
        job.applied = []
        job.rows = []
        option = job.options.report_option
        if option == 1 or (option == 2 and (job.counts["failed"] or state == "failed")):
            mail = self.store.deliver_mail(self._report_mail(job))
            job.report_mail_id = mail["outbox_id"]

    # ----- rows --------------------------------------------------------------------------

    def _apply(
        self,
        job: ImportJob,
        line: int,
        cells: list[str],
        values: list[tuple[int, Item]],
        now: int,
    ) -> None:
        try:
            outcome = self._apply_row(job, line, cells, values, now)
        except _RowFailed as failure:
            job.counts["failed"] += 1
            email = cells[job.columns.email_index] if job.columns.email_index < len(cells) else ""
            job.errors.append(
                {
                    "line": line,
                    "email": email,
                    "content": _csv_line(cells),
                    "message": failure.message,
                }
            )
            return
        job.counts[outcome] += 1
        if outcome == "skipped":
            kept = job.options.import_type == 0 and not job.options.is_overwrite
            reason = SKIP_NOT_OVERWRITTEN if kept else SKIP_UNCHANGED
            job.skip_reasons[reason] = job.skip_reasons.get(reason, 0) + 1

    def _apply_row(
        self,
        job: ImportJob,
        line: int,
        cells: list[str],
        values: list[tuple[int, Item]],
        now: int,
    ) -> str:
        account = job.account
        options = job.options
        if len(cells) != len(job.header):
            raise _RowFailed(
                f"項目数がヘッダー行と一致しません（ヘッダー{len(job.header)}項目、"
                f"データ{len(cells)}項目）"
            )
        email = cells[job.columns.email_index].strip()
        if not email:
            raise _RowFailed("メールアドレスが入力されていません")
        key = email_key(email)
        if key is None:
            raise _RowFailed("メールアドレスの形式が正しくありません")
        first_line = job.seen.get(key)
        if first_line is not None:
            raise _RowFailed(f"ファイル内でメールアドレスが重複しています（{first_line}行目）")
        # Every row with a valid address counts as "in the file" for status-change type 1,
        # even when another cell fails: a bad furigana must not stop a customer.
        job.seen[key] = line
        customer = account.customer_by_email(key)
        kind = options.import_type
        target = options.target
        if kind == 1:
            return self._delete(job, customer, now)
        if customer is None:
            if kind in (2, 3):
                raise _RowFailed("登録されていないメールアドレスです")
            new_values = self._convert(job, cells, values, creating=True)
            step_date = self._step_date(job, cells, creating_membership=True)
            customer = account.create_customer(email, key, now)
            self._store_values(customer, new_values)
            if target:
                state = "ok" if kind == 5 else None
                account.ensure_membership(
                    customer, target, now, "api", state=state, step_start_date=step_date
                )
            job.applied.append(customer)
            return "inserted"
        # Existing customer: validate everything first, then write.
        joining = target is not None and (
            not customer.memberships or target not in customer.memberships
        )
        new_values = {}
        if options.is_overwrite:
            new_values = self._convert(job, cells, values, creating=False)
        step_date = self._step_date(job, cells, creating_membership=joining)
        changed = self._store_values(customer, new_values)
        if kind in (2, 3, 5):
            assert target is not None
            state_changed = self._change_state(
                job, customer, target, STATE_OF_IMPORT[kind], step_date, now
            )
            if changed:
                customer.updated_at = now
                account.touch()
            job.applied.append(customer)
            if state_changed:
                return "state_changed"
            return "updated" if changed else "skipped"
        membership_added = False
        if target:
            membership, membership_added = account.ensure_membership(
                customer, target, now, "api", step_start_date=step_date
            )
            if (
                not membership_added
                and options.is_overwrite
                and step_date
                and membership.step_start_date != step_date
            ):
                membership.step_start_date = step_date
                changed = True
        if changed:
            customer.updated_at = now
            account.touch()
        job.applied.append(customer)
        if options.is_overwrite or membership_added:
            return "updated"
        return "skipped"

    def _delete(self, job: ImportJob, customer: Customer | None, now: int) -> str:
        if customer is None:
            raise _RowFailed("登録されていないメールアドレスです")
        target = job.options.target
        if target and self.store.config.delete_with_target_removes_membership_only:
            if not job.account.remove_membership(customer, target, now):
                raise _RowFailed("対象の配信グループ・ステップメールプランに登録されていません")
            return "deleted"
        job.account.delete_customer(customer)
        return "deleted"

    @staticmethod
    def _change_state(
        job: ImportJob,
        customer: Customer,
        target: tuple[str, str],
        state: str,
        step_date: str | None,
        now: int,
    ) -> bool:
        """Put the customer into `state` in `target`, registering it first (rule 4)."""
        account = job.account
        _, created = account.ensure_membership(
            customer, target, now, "api", state=state, step_start_date=step_date
        )
        changed = account.set_state(customer, target, state, now, "api")
        return created or bool(changed)

    def _convert(
        self, job: ImportJob, cells: list[str], values: list[tuple[int, Item]], creating: bool
    ) -> dict[str, str | tuple | None]:
        """Validated values to write; None means "clear this item"."""
        result: dict[str, str | tuple | None] = {}
        problems: list[str] = []
        present: set[str] = set()
        for index, item in values:
            text = cells[index]
            if text == "":
                if creating:
                    continue
                if job.options.blank_overwrite:
                    if item.required:
                        problems.append(f"{item.label}: 必須項目です")
                    else:
                        result[item.item_id] = None
                continue
            present.add(item.item_id)
            try:
                result[item.item_id] = convert_value(item, text)
            except ValueInvalid as invalid:
                problems.append(f"{item.label}: {invalid.message}")
        if creating:
            for item in job.account.items.values():
                if item.required and item.type != "email" and item.item_id not in present:
                    problems.append(f"{item.label}: 必須項目です")
        if problems:
            raise _RowFailed(" / ".join(problems))
        return result

    @staticmethod
    def _store_values(customer: Customer, new_values: dict) -> bool:
        changed = False
        for item_id, value in new_values.items():
            if value is None or value == () or value == "":
                if item_id in customer.values:
                    del customer.values[item_id]
                    changed = True
            elif customer.values.get(item_id) != value:
                customer.values[item_id] = value
                changed = True
        return changed

    def _step_date(self, job: ImportJob, cells: list[str], creating_membership: bool) -> str | None:
        target = job.options.target
        if not target or target[0] != "step":
            return None
        index = job.columns.step_index
        text = cells[index].strip() if index is not None else ""
        if text:
            normalized = normalize_date(text)
            if normalized is None:
                raise _RowFailed(f"{STEP_START_COLUMN}: 日付の形式が正しくありません（YYYY/MM/DD）")
            return normalized
        plan = job.account.plans.get(target[1])
        if creating_membership and plan is not None and plan.start_mode == "start_date":
            raise _RowFailed(f"{STEP_START_COLUMN}: このステップメールプランでは必須です")
        return None

    # ----- status change (配信状態変更タイプ 1/2/3) ----------------------------------------

    def _status_change(self, job: ImportJob, now: int) -> None:
        account = job.account
        options = job.options
        spare_ban = self.store.config.status_change_spares_ban
        change_type = options.status_change_type or 1
        in_file = job.seen
        target = options.target
        stopped = 0
        enabled = 0
        if change_type in (1, 3):
            if target is not None:
                member_ids = list(account.members.get(target, {}))
                for customer_id in member_ids:
                    customer = account.customers_by_id[customer_id]
                    if customer.key in in_file:
                        continue
                    membership = customer.memberships[target]
                    if membership.state == "ok" or (not spare_ban and membership.state == "ban"):
                        stopped += account.set_state(customer, target, "stop", now, "api")
            else:
                for customer in list(account.customers_by_id.values()):
                    if customer.key in in_file or not customer.memberships:
                        continue
                    for membership_target, membership in list(customer.memberships.items()):
                        if membership.state == "ok" or (
                            not spare_ban and membership.state == "ban"
                        ):
                            stopped += account.set_state(
                                customer, membership_target, "stop", now, "api"
                            )
        if change_type in (2, 3) and target is not None:
            for customer in job.applied:
                if account.customers_by_id.get(customer.customer_id) is not customer:
                    continue
                membership = (customer.memberships or {}).get(target)
                if membership is None or membership.state == "ok":
                    continue
                if membership.state == "ban" and spare_ban:
                    continue
                enabled += account.set_state(customer, target, "ok", now, "api")
        job.counts["stopped_by_status_change"] = stopped
        job.counts["enabled_by_status_change"] = enabled
        job.counts["state_changed"] += stopped + enabled

    # ----- report mail -------------------------------------------------------------------

    def _report_mail(self, job: ImportJob) -> dict:
        counts = job.counts
        lines = [
            f"{job.login_id} 様",
            "",
            "CSV一括登録・削除の処理が完了しました。"
            if job.state == "completed"
            else "CSV一括登録・削除の処理が失敗しました。",
            "",
            f"ジョブID: {job.job_id}",
            f"処理形式: {IMPORT_TYPES[job.options.import_type]}",
            f"ファイル名: {job.file_name}",
            f"受付日時: {format_jst(job.accepted_at)}",
            f"完了日時: {format_jst(job.finished_at)}",
            "",
            f"処理件数: {job.row_count}件",
            f"登録: {counts['inserted']}件",
            f"更新: {counts['updated']}件",
            f"削除: {counts['deleted']}件",
            f"状態変更: {counts['state_changed']}件",
            f"スキップ: {counts['skipped']}件",
            f"エラー: {counts['failed']}件",
        ]
        if job.message:
            lines += ["", job.message]
        if job.errors:
            lines += ["", "[エラー内容]"]
            for error in job.errors[:REPORT_MAX_ERROR_LINES]:
                lines.append(f"{error['line']}行目: {error['email']} {error['message']}")
            if len(job.errors) > REPORT_MAX_ERROR_LINES:
                lines.append(f"他 {len(job.errors) - REPORT_MAX_ERROR_LINES}件")
        return {
            "account": job.account.account_key,
            "kind": "import_report",
            "job_id": job.job_id,
            "to": job.report_to,
            "from": REPORT_FROM,
            "subject": REPORT_SUBJECT,
            "body": "\n".join(lines) + "\n",
            "sent_at": format_jst(job.finished_at),
            "has_errors": bool(job.errors) or job.state == "failed",
        }


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="").writerow(cells)
    return out.getvalue()
