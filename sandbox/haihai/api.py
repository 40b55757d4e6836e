"""The 配配メール HTTP surface: `POST /{account_key}/?ac={Action}` (spec §3)."""

from __future__ import annotations

import bisect
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from werkzeug.wrappers import Request, Response

from .clock import ClockFormatError, format_jst, jst_compact, jst_date, next_jst_midnight, parse_jst
from .errors import (
    ACCEPTED,
    OK,
    STATUS_TEXT_BY_CODE,
    ApiError,
    BadParameter,
    InternalError,
    IpDenied,
    NotFound,
    PlanNotAllowed,
    TooManyCalls,
    Unauthorized,
)
from .imports import (
    CHARSETS,
    DEFAULT_CHARSET,
    ImportJob,
    ParsedCsv,
    bucket_for,
    check_size,
    new_job_id,
    parse_csv,
    parse_options,
    resolve_columns,
)
from .model import MAIL_TYPES, STATES, User
from .serialize import (
    ANSWER_FIELDS,
    CUSTOMER_FIELDS,
    EVENT_FIELDS,
    FORM_FIELDS,
    GROUP_FIELDS,
    ITEM_FIELDS,
    MAIL_FIELDS,
    PLAN_FIELDS,
    STATE_FIELDS,
    answer_json,
    customer_json,
    event_json,
    form_json,
    group_json,
    item_json,
    mail_json,
    plan_json,
    state_json,
    to_csv,
)
from .store import Account, Store

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000
PLAN_RANK = {"light": 0, "standard": 1, "premium": 2, "bridge": 3}
LOG_ACTIONS = {
    "GetOpenLog": "open",
    "GetClickLog": "click",
    "GetVisitLog": "visit",
    "GetConversionLog": "cv",
    "GetDownloadLog": "download",
}


@dataclass
class ListResult:
    """A page of a list action."""

    total: int
    offset: int
    limit: int
    items: list[dict]
    fields: list[str]


@dataclass
class Context:
    """Everything a handler needs for one call."""

    store: Store
    account: Account
    user: User
    form: dict
    files: dict
    base_url: str
    now: int
    precomputed: dict
    charge: Callable[[str], None]
    rate: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ActionSpec:
    """How an action is gated and counted."""

    handler: Callable[[Context], object]
    min_plan: str | None = None
    admin_only: bool = False
    charges_itself: bool = False


def _param(ctx: Context, name: str) -> str:
    return (ctx.form.get(name) or "").strip()


def _paging(ctx: Context) -> tuple[int, int]:
    raw_offset = _param(ctx, "offset") or "0"
    raw_limit = _param(ctx, "limit") or str(DEFAULT_LIMIT)
    if not raw_offset.isdigit():
        raise BadParameter("offset は 0 以上の整数を指定してください")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise BadParameter(f"limit は 1〜{MAX_LIMIT} の整数を指定してください")
    return int(raw_offset), int(raw_limit)


def _time(ctx: Context, name: str) -> int | None:
    raw = _param(ctx, name)
    if not raw:
        return None
    try:
        return parse_jst(raw)
    except ClockFormatError as error:
        raise BadParameter(f"{name} は YYYY-MM-DD HH:MM:SS 形式で指定してください") from error


def _range(ctx: Context, start_name: str, end_name: str) -> tuple[int | None, int | None]:
    start = _time(ctx, start_name)
    end = _time(ctx, end_name)
    if start is not None and end is not None and start > end:
        raise BadParameter(f"{start_name} は {end_name} 以前の日時を指定してください")
    return start, end


def _target(ctx: Context) -> tuple[str, str] | None:
    gid = _param(ctx, "gid")
    spid = _param(ctx, "spid")
    if gid and spid:
        raise BadParameter("gid と spid は同時に指定できません")
    if gid:
        if gid not in ctx.account.groups:
            raise NotFound(f"配信グループが存在しません（gid={gid}）")
        return ("group", gid)
    if spid:
        if spid not in ctx.account.plans:
            raise NotFound(f"ステップメールプランが存在しません（spid={spid}）")
        return ("step", spid)
    return None


def _states(ctx: Context, default: tuple[str, ...] | None) -> tuple[str, ...] | None:
    raw = _param(ctx, "state")
    if not raw:
        return default
    states = tuple(sorted({part.strip() for part in raw.split(",") if part.strip()}))
    unknown = [state for state in states if state not in STATES]
    if unknown or not states:
        raise BadParameter("state は ok, stop, ban（カンマ区切り可）で指定してください")
    return states


def _page(items: list, ctx: Context, fields: list[str], render: Callable) -> ListResult:
    offset, limit = _paging(ctx)
    chunk = items[offset : offset + limit]
    return ListResult(len(items), offset, limit, [render(entry) for entry in chunk], fields)


# ----- handlers ----------------------------------------------------------------------------


def get_database_item_list(ctx: Context) -> ListResult:
    """All customer-DB items in display order, the email item included."""
    return _page(list(ctx.account.items.values()), ctx, ITEM_FIELDS, item_json)


def get_group_list(ctx: Context) -> ListResult:
    """Delivery groups with member counts."""
    account = ctx.account
    return _page(list(account.groups.values()), ctx, GROUP_FIELDS, lambda g: group_json(account, g))


def get_step_plan_list(ctx: Context) -> ListResult:
    """Step-mail plans with member counts."""
    account = ctx.account
    return _page(list(account.plans.values()), ctx, PLAN_FIELDS, lambda p: plan_json(account, p))


def get_form_list(ctx: Context) -> ListResult:
    """Bridge forms."""
    return _page(list(ctx.account.forms.values()), ctx, FORM_FIELDS, form_json)


def get_customer_list(ctx: Context) -> ListResult:
    """Customers by ascending customer_id, filtered by update time, target and state."""
    account = ctx.account
    target = _target(ctx)
    states = _states(ctx, None)
    updated_from = _time(ctx, "updated_from")
    updated_to = _time(ctx, "updated_to")

    def build() -> list[int]:
        if target is not None:
            ids = sorted(account.members.get(target, {}))
        else:
            ids = list(account.customers_by_id)
            if account.ids_unordered:
                ids.sort()
        if states is None and updated_from is None and updated_to is None:
            return ids
        by_id = account.customers_by_id
        kept = []
        for customer_id in ids:
            customer = by_id[customer_id]
            if updated_from is not None and customer.updated_at < updated_from:
                continue
            if updated_to is not None and customer.updated_at >= updated_to:
                continue
            if states is not None:
                memberships = customer.memberships or {}
                if target is not None:
                    if memberships[target].state not in states:
                        continue
                elif not any(m.state in states for m in memberships.values()):
                    continue
            kept.append(customer_id)
        return kept

    ids = account.cached(("customers", target, states, updated_from, updated_to), build)
    by_id = account.customers_by_id
    return _page(
        ids, ctx, CUSTOMER_FIELDS, lambda cid: customer_json(account, by_id[cid], ctx.base_url)
    )


def get_delivery_state_list(ctx: Context) -> ListResult:
    """Per-target states (default 停止 and 禁止), oldest change first."""
    account = ctx.account
    target = _target(ctx)
    states = _states(ctx, ("ban", "stop"))
    changed_from, changed_to = _range(ctx, "changed_from", "changed_to")

    def build() -> list[tuple]:
        rows = []

        def consider(customer, membership) -> None:
            if membership.state not in states:
                return
            if changed_from is not None and membership.changed_at < changed_from:
                return
            if changed_to is not None and membership.changed_at >= changed_to:
                return
            rows.append(
                (
                    membership.changed_at,
                    customer.customer_id,
                    membership.kind,
                    membership.target_id,
                    customer,
                    membership,
                )
            )

        if target is not None:
            for customer_id in account.members.get(target, {}):
                customer = account.customers_by_id[customer_id]
                consider(customer, customer.memberships[target])
        else:
            for customer in account.customers_by_id.values():
                if customer.memberships:
                    for membership in customer.memberships.values():
                        consider(customer, membership)
        rows.sort(key=lambda row: row[:4])
        return rows

    rows = account.cached(("states", target, states, changed_from, changed_to), build)
    return _page(rows, ctx, STATE_FIELDS, lambda row: state_json(row[4], row[5]))


def get_mail_list(ctx: Context) -> ListResult:
    """Mails already sent, by send time, with open/click counts of visible events."""
    account = ctx.account
    start, end = _range(ctx, "from", "to")
    mail_type = _param(ctx, "mail_type")
    if mail_type and mail_type not in MAIL_TYPES:
        raise BadParameter("mail_type は group, step, spot, trigger のいずれかを指定してください")
    target = _target(ctx)
    now = ctx.now
    mails = []
    for mail in account.mails.values():
        if mail.sent_at > now:
            continue
        if start is not None and mail.sent_at < start:
            continue
        if end is not None and mail.sent_at >= end:
            continue
        if mail_type and mail.mail_type != mail_type:
            continue
        if target is not None:
            expected_type = "group" if target[0] == "group" else "step"
            if mail.mail_type != expected_type or mail.target_id != target[1]:
                continue
        mails.append(mail)
    mails.sort(key=lambda mail: (mail.sent_at, mail.mail_id))
    visible_until = now - ctx.store.config.event_lag_seconds
    return _page(mails, ctx, MAIL_FIELDS, lambda mail: mail_json(account, mail, visible_until))


def _log_handler(kind: str) -> Callable[[Context], ListResult]:
    def handler(ctx: Context) -> ListResult:
        account = ctx.account
        start, end = _range(ctx, "from", "to")
        mail_id = _param(ctx, "mail_id") or None
        offset, limit = _paging(ctx)
        # An event is visible once occurred_at + lag <= now: an exclusive upper bound.
        visible_end = ctx.now - ctx.store.config.event_lag_seconds + 1
        end = visible_end if end is None else min(end, visible_end)
        view = account.events[kind].view(mail_id)
        lo, hi = view.bounds(start, end)
        first = lo + offset
        chunk = view.events[first : min(hi, first + limit)] if first < hi else []
        items = [event_json(account, event) for event in chunk]
        return ListResult(hi - lo, offset, limit, items, EVENT_FIELDS)

    handler.__doc__ = f"The {kind} log: visible events in [from, to), oldest first."
    return handler


def get_form_answer_list(ctx: Context) -> ListResult:
    """Bridge form answers in [from, to), oldest first, optionally of one form."""
    account = ctx.account
    form_id = _param(ctx, "form_id") or None
    if form_id is not None and form_id not in account.forms:
        raise NotFound(f"フォームが存在しません（form_id={form_id}）")
    start, end = _range(ctx, "from", "to")
    offset, limit = _paging(ctx)
    times, answers = account.answers.view(form_id)
    lo = 0 if start is None else bisect.bisect_left(times, start)
    hi = len(times) if end is None else bisect.bisect_left(times, end)
    hi = max(lo, hi)
    first = lo + offset
    chunk = answers[first : min(hi, first + limit)] if first < hi else []
    items = [answer_json(account, answer) for answer in chunk]
    return ListResult(hi - lo, offset, limit, items, ANSWER_FIELDS)


def get_import_result(ctx: Context) -> tuple:
    """State and result of an import job; `errors` paged by offset/limit."""
    job_id = _param(ctx, "job_id")
    if not job_id:
        raise BadParameter("job_id を指定してください")
    job = ctx.account.jobs.get(job_id)
    if job is None:
        raise NotFound(f"ジョブが存在しません（job_id={job_id}）")
    offset, limit = _paging(ctx)
    return OK, job.to_json(offset, limit)


def schedule_csv_import(ctx: Context) -> tuple:
    """Validate and queue a CSV register/delete/state-change job."""
    account = ctx.account
    options = parse_options(ctx.form)
    if options.target and not account.target_exists(*options.target):
        kind, target_id = options.target
        name = "配信グループ" if kind == "group" else "ステップメールプラン"
        key = "gid" if kind == "group" else "spid"
        raise NotFound(f"{name}が存在しません（{key}={target_id}）")
    pre = ctx.precomputed
    if pre.get("data") is None:
        raise BadParameter("csvfile を指定してください")
    check_size(pre["data"])
    parsed: ParsedCsv | None = pre.get("parsed")
    if parsed is None or pre.get("parsed_charset") != options.charset:
        parsed = parse_csv(pre["data"], options.charset)
    strict = ctx.store.config.strict_csv if account.strict_csv is None else account.strict_csv
    columns = resolve_columns(parsed.header, account, strict)
    ctx.charge(bucket_for(options.import_type))
    now = ctx.now
    job = ImportJob(
        job_id=new_job_id(account, now),
        account=account,
        login_id=ctx.user.login_id,
        report_to=ctx.user.email,
        options=options,
        file_name=pre.get("file_name") or "",
        header=parsed.header,
        columns=columns,
        rows=parsed.rows,
        accepted_at=now,
        ready_at=now + float(ctx.store.config.import_delay_seconds),
    )
    account.jobs[job.job_id] = job
    ctx.precomputed["queued_job"] = job
    return ACCEPTED, {
        "job_id": job.job_id,
        "accepted_at": format_jst(now),
        "row_count": job.row_count,
        "state": job.state,
    }


ACTIONS: dict[str, ActionSpec] = {
    "ScheduleCsvImport": ActionSpec(schedule_csv_import, charges_itself=True),
    "GetImportResult": ActionSpec(get_import_result),
    "GetDatabaseItemList": ActionSpec(get_database_item_list),
    "GetGroupList": ActionSpec(get_group_list),
    "GetStepPlanList": ActionSpec(get_step_plan_list),
    "GetCustomerList": ActionSpec(get_customer_list),
    "GetDeliveryStateList": ActionSpec(get_delivery_state_list),
    "GetMailList": ActionSpec(get_mail_list),
    "GetOpenLog": ActionSpec(_log_handler("open")),
    "GetClickLog": ActionSpec(_log_handler("click")),
    "GetVisitLog": ActionSpec(_log_handler("visit"), min_plan="bridge"),
    "GetConversionLog": ActionSpec(_log_handler("cv"), min_plan="standard"),
    "GetDownloadLog": ActionSpec(_log_handler("download")),
    "GetFormList": ActionSpec(get_form_list, min_plan="bridge", admin_only=True),
    "GetFormAnswerList": ActionSpec(get_form_answer_list, min_plan="bridge", admin_only=True),
}
PLAN_NAMES = {"standard": "スタンダードプラン以上", "bridge": "Bridgeプラン"}


# ----- transport ---------------------------------------------------------------------------


def _json_response(http_status: int, body: dict, headers: dict | None = None) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(
        text, status=http_status, content_type="application/json; charset=utf-8", headers=headers
    )


def _csv_response(
    http_status: int, text: str, charset: str, now: float, headers: dict | None = None
) -> Response:
    codec, name = CHARSETS[charset]
    # Characters the charset cannot carry (e.g. 𠮷 in Shift_JIS) come out as "?".
    body = text.encode(codec, errors="replace")
    response = Response(body, status=http_status, content_type=f"text/csv; charset={name}")
    response.headers["Content-Disposition"] = f"attachment; filename={jst_compact(now)}.csv"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _credentials_match(given: str, expected: str | None) -> bool:
    return expected is not None and given != "" and hmac.compare_digest(given, expected)


class ApiHandler:
    """Routes `?ac=` calls: IP, faults, auth, plan gating, validation, daily limits, envelope."""

    def __init__(self, store: Store, submit_job: Callable[[ImportJob], None]):
        self.store = store
        self.submit_job = submit_job

    def handle(self, request: Request, account_key: str | None) -> Response:
        """Answer one API request (`account_key` None = legacy root URL with `aid`)."""
        form = request.form
        action = (request.args.get("ac") or form.get("ac") or "").strip()
        return_format = (form.get("return_format") or "json").strip().lower()
        charset = (form.get("charset") or DEFAULT_CHARSET).strip()
        wants_csv = return_format == "csv" and action in ACTIONS and action not in _NON_LIST_ACTIONS
        if charset not in CHARSETS:
            wants_csv = False
        precomputed = self._precompute(request, action)
        latency = self.store.config.latency_ms
        if latency:
            time.sleep(latency / 1000)
        rate_headers: dict[str, str] = {}
        with self.store.lock:
            now = self.store.now()
            account = None
            try:
                if request.method != "POST":
                    raise BadParameter("POST で送信してください", http_status=405)
                account = self._account(request, account_key)
                result = self._call(request, account, action, precomputed, rate_headers, now)
            except ApiError as error:
                if account is not None:
                    account.count_call(action or "(none)", error.code)
                return self._error(error, wants_csv, charset, now, rate_headers)
            account.count_call(action, result[0][1] if isinstance(result, tuple) else 10200)
            job = precomputed.get("queued_job")
            if job is not None:
                self.submit_job(job)
        if isinstance(result, ListResult):
            if wants_csv:
                headers = {
                    **rate_headers,
                    "X-HM-Total": str(result.total),
                    "X-HM-Offset": str(result.offset),
                    "X-HM-Limit": str(result.limit),
                }
                return _csv_response(
                    200, to_csv(result.fields, result.items), charset, now, headers
                )
            data = {
                "total": result.total,
                "offset": result.offset,
                "limit": result.limit,
                "items": result.items,
            }
            return _json_response(200, _envelope(OK, data), rate_headers)
        status, data = result
        return _json_response(status[0], _envelope(status, data), rate_headers)

    # ----- steps -------------------------------------------------------------------------

    def _precompute(self, request: Request, action: str) -> dict:
        """Read and decode the CSV outside the lock; errors surface later, in spec order."""
        result: dict = {}
        if action != "ScheduleCsvImport" or request.method != "POST":
            return result
        upload = request.files.get("csvfile")
        if upload is None:
            return result
        data = upload.read()
        result["data"] = data
        result["file_name"] = upload.filename or ""
        charset = (request.form.get("charset") or DEFAULT_CHARSET).strip()
        if charset in CHARSETS and len(data) <= 15 * 1024 * 1024:
            try:
                result["parsed"] = parse_csv(data, charset)
                result["parsed_charset"] = charset
            except ApiError:
                pass
        return result

    def _account(self, request: Request, account_key: str | None) -> Account:
        if account_key is not None:
            account = self.store.account(account_key)
        else:
            aid = (request.form.get("aid") or "").strip()
            account = self.store.account_by_aid(aid) if aid else None
        if account is None:
            raise NotFound("アカウントが存在しません")
        return account

    def _call(
        self,
        request: Request,
        account: Account,
        action: str,
        precomputed: dict,
        rate_headers: dict,
        now: int,
    ):
        remote = request.remote_addr or ""
        if account.ip_allowlist and remote not in account.ip_allowlist:
            raise IpDenied(f"許可されていないIPアドレスからのアクセスです（{remote}）")
        spec = ACTIONS.get(action)
        if spec is None:
            raise BadParameter(f"ac の値が正しくありません（{action or '未指定'}）")
        self._inject_fault(account, action)
        user = self._authenticate(request, account, action)
        if not account.api_option:
            raise PlanNotAllowed("API連携オプションが契約されていません")
        if spec.min_plan and PLAN_RANK[account.plan] < PLAN_RANK[spec.min_plan]:
            raise PlanNotAllowed(f"この機能は{PLAN_NAMES[spec.min_plan]}でのみ利用できます")
        if spec.admin_only and not user.is_admin:
            raise PlanNotAllowed("この機能は管理者ユーザーのみ利用できます")

        if (request.form.get("return_format") or "json").strip().lower() not in ("json", "csv"):
            raise BadParameter("return_format は json または csv を指定してください")
        if (request.form.get("charset") or DEFAULT_CHARSET).strip() not in CHARSETS:
            raise BadParameter("charset は 1, 2, 3 のいずれかを指定してください")

        def charge(bucket: str) -> None:
            self._charge(account, bucket, now, rate_headers)

        ctx = Context(
            store=self.store,
            account=account,
            user=user,
            form=request.form,
            files=request.files,
            base_url=request.host_url,
            now=now,
            precomputed=precomputed,
            charge=charge,
        )
        result = spec.handler(ctx)
        if not spec.charges_itself:
            charge(action)
        return result

    def _inject_fault(self, account: Account, action: str) -> None:
        for fault in self.store.config.faults:
            if fault.get("action", "*") not in ("*", action):
                continue
            if fault.get("account") not in (None, account.account_key):
                continue
            times = fault.get("times", 1)
            if times is not None:
                if times <= 0:
                    continue
                fault["times"] = times - 1
            code = int(fault.get("code", 81500))
            raise InternalError(
                fault.get("message") or "障害を再現しています",
                http_status=int(fault.get("status", 500)),
                code=code,
            )

    def _authenticate(self, request: Request, account: Account, action: str) -> User:
        form = request.form
        login_id = (form.get("login_id") or request.headers.get("X-HM-Login-Id") or "").strip()
        token = (form.get("api_token") or request.headers.get("X-HM-Api-Token") or "").strip()
        if login_id or token:
            user = account.users.get(login_id)
            if user is not None and _credentials_match(token, user.api_token):
                return user
            raise Unauthorized("ログインIDまたはAPIトークンが正しくありません")
        legacy_id = (form.get("loginid") or "").strip()
        password = (form.get("transport_password") or "").strip()
        if action == "ScheduleCsvImport" and legacy_id:
            user = account.users.get(legacy_id)
            if user is not None:
                expected = user.transport_password or user.api_token
                if _credentials_match(password, expected):
                    return user
            raise Unauthorized("ログインIDまたは外部システム連携接続用パスワードが正しくありません")
        raise Unauthorized("login_id と api_token を指定してください")

    def _charge(self, account: Account, bucket: str, now: int, rate_headers: dict) -> None:
        limit = self.store.daily_limit(account, bucket)
        key = (bucket, jst_date(now))
        used = account.usage.get(key, 0)
        rate_headers["X-HM-RateLimit-Bucket"] = bucket
        rate_headers["X-HM-RateLimit-Limit"] = str(limit)
        rate_headers["X-HM-RateLimit-Reset"] = str(next_jst_midnight(now))
        if used >= limit:
            rate_headers["X-HM-RateLimit-Remaining"] = "0"
            raise TooManyCalls("API の実行回数が制限を超えました。")
        account.usage[key] = used + 1
        rate_headers["X-HM-RateLimit-Remaining"] = str(limit - used - 1)

    def _error(
        self, error: ApiError, wants_csv: bool, charset: str, now: float, headers: dict
    ) -> Response:
        status_text = STATUS_TEXT_BY_CODE.get(error.code, error.status)
        if wants_csv:
            text = to_csv(
                ["CODE", "STATUS", "MESSAGE"],
                [{"CODE": error.code, "STATUS": status_text, "MESSAGE": error.message}],
            )
            return _csv_response(error.http_status, text, charset, now, headers)
        body = {"code": error.code, "status": status_text, "message": error.message, "data": None}
        return _json_response(error.http_status, body, headers)


_NON_LIST_ACTIONS = frozenset({"ScheduleCsvImport", "GetImportResult"})


def _envelope(status: tuple, data) -> dict:
    return {"code": status[1], "status": status[2], "message": "", "data": data}
