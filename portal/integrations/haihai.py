"""配配メール API client.

Layers, top to bottom:

* `HaihaiClient` — typed operations (lists, streaming iterators, CSV import and its result), the
  daily call budget, retries, pagination and polling. It knows the *semantics* of the API
  (docs/specs/haihai-api.md §1–§3) but no URL, parameter name or envelope.
* `Transport` — the wire format, and nothing else: action names, parameter spellings, value
  encodings, the response envelope and how vendor codes become typed errors. The current class
  speaks the contract of spec §3 (token-era proposal). When the vendor's real specification is
  at hand, subclass or replace `Transport`; records it returns must use the canonical field
  names of spec §3.6–§3.9 (the same names the parsers below read).

Import safety: the CSV import POST is retried only when the request provably never reached the
server (DNS failure, refused connection, connect timeout). After a read timeout, a dropped
connection or a 5xx answer the job may already be queued, and the API offers no idempotency
key, so the client raises `HaihaiImportUncertainError` instead of sending the file twice.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import enum
import io
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import requests
import urllib3.exceptions

from portal.integrations.haihai_csv import MAX_PART_BYTES, CsvEncoding
from portal.integrations.ledger import BudgetExceeded, DailyLedger
from portal.integrations.retrying import RetryPolicy, call_with_retries

log = logging.getLogger(__name__)

JST = ZoneInfo("Asia/Tokyo")
T = TypeVar("T")

DEFAULT_RETRY = RetryPolicy(attempts=4, base_delay=1.0, max_delay=30.0)

# --------------------------------------------------------------------------------------------
# Account URL
# --------------------------------------------------------------------------------------------

URL_FORMAT_MESSAGE = (
    "正しい配配メールURLではありません。https://xxxx.hm-f.jp/mXXXXX/の形式で入力してください。"
)

# One DNS label under hm-f.jp (the manual's xxxx, e.g. a03), then the account path mXXXXX.
_PRODUCTION_URL = re.compile(
    r"https://(?P<host>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.hm-f\.jp)/(?P<key>m[0-9a-z]{1,32})/?",
    re.IGNORECASE,
)
_LOCAL_URL = re.compile(
    r"http://(?P<host>127\.0\.0\.1|localhost):(?P<port>[0-9]{1,5})/(?P<key>m[0-9a-z]{1,32})/?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class HaihaiAccountUrl:
    """A validated 配配メール account URL; `base_url` always ends with a slash."""

    scheme: str
    host: str
    port: int | None
    account_key: str

    @property
    def is_local(self) -> bool:
        """True for the loopback sandbox URLs accepted only with allow_local."""
        return self.scheme == "http"

    @property
    def netloc(self) -> str:
        """Host with the port when one is given."""
        return f"{self.host}:{self.port}" if self.port is not None else self.host

    @property
    def base_url(self) -> str:
        """Normalised URL, e.g. https://a03.hm-f.jp/m12345/."""
        return f"{self.scheme}://{self.netloc}/{self.account_key}/"

    def __str__(self) -> str:
        return self.base_url


def parse_haihai_url(url: str, allow_local: bool = False) -> HaihaiAccountUrl:
    """Validate a 配配メール URL (https://xxxx.hm-f.jp/mXXXXX/); raise ValueError with the manual's message.

    With `allow_local` (demo/test configuration) http://127.0.0.1:P/mXXXXX/ and
    http://localhost:P/mXXXXX/ are accepted too. The trailing slash is optional; surrounding
    whitespace is ignored; nothing else (query, fragment, extra path, credentials) is allowed.
    """
    if not isinstance(url, str):
        raise ValueError(URL_FORMAT_MESSAGE)
    text = url.strip()
    match = _PRODUCTION_URL.fullmatch(text)
    if match:
        return HaihaiAccountUrl("https", match["host"].lower(), None, match["key"])
    if allow_local:
        match = _LOCAL_URL.fullmatch(text)
        if match and 0 < int(match["port"]) < 65536:
            return HaihaiAccountUrl("http", match["host"].lower(), int(match["port"]), match["key"])
    raise ValueError(URL_FORMAT_MESSAGE)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def format_jst(moment: dt.datetime) -> str:
    """Render an aware datetime the way the portal shows times: 2025年01月02日 00:00 (JST)."""
    return moment.astimezone(JST).strftime("%Y年%m月%d日 %H:%M")


def next_jst_midnight(now: dt.datetime | None = None) -> dt.datetime:
    """The next 00:00 in Japan after `now` (default: the current time)."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(JST)
    return dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), JST)


class HaihaiError(Exception):
    """Any failure reported by or on the way to 配配メール; `code` is the vendor code when known."""

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
        super().__init__(f"{message} (code={code}, http={http_status}, action={action})")

    @property
    def user_message(self) -> str:
        """Japanese text the portal shows in the run log or on the settings screen."""
        detail = f"（コード: {self.code}）" if self.code is not None else ""
        return (
            f"配配メールAPIでエラーが発生しました{detail}。{self.message}".rstrip("。") + "。"
            "時間を置いて再度実行しても解消しない場合は、サポートにご連絡ください。"
        )


class HaihaiAuthError(HaihaiError):
    """The login ID or API token was refused (unknown user, wrong, regenerated or deleted token)."""

    @property
    def user_message(self) -> str:
        """Tell the user which settings to check."""
        return (
            "配配メールのログインIDまたはAPIトークンが正しくありません。"
            "「Step2. 配配メール連携設定」のログインIDとAPIトークンを確認してください。"
            "APIトークンを再生成・削除した場合や、このログインIDのユーザーが配配メールで削除された場合は、"
            "設定し直してください。"
        )


class HaihaiIpRefusedError(HaihaiError):
    """配配メール's API IP allowlist does not contain the portal's address."""

    @property
    def user_message(self) -> str:
        """Point to the allowlist setting in 配配メール."""
        return (
            "配配メールがこのサーバーのIPアドレスからのAPI接続を拒否しました。"
            "配配メールの[各種設定] > [システム設定] > [基本設定]の「API IPアドレス制限」に、"
            "このサーバーのIPアドレスを登録してください。"
        )


class HaihaiPlanError(HaihaiError):
    """The account's plan does not include the requested feature (Bridge, Standard and above)."""

    feature: str | None = None
    required_plan: str | None = None

    @property
    def user_message(self) -> str:
        """Name the feature and the plan it needs when known."""
        feature = self.feature or "この機能"
        if self.required_plan:
            return (
                f"{feature}は、ご契約中の配配メールのプランではご利用いただけません"
                f"（{self.required_plan}が必要です）。配配メールのご契約プランを確認してください。"
            )
        return f"{feature}は、ご契約中の配配メールのプランではご利用いただけません。"


class HaihaiLimitError(HaihaiError):
    """The daily call limit of one API (240/day, code 81404) is used up; `resets_at` is when it ends."""

    def __init__(
        self,
        message: str,
        *,
        resets_at: dt.datetime,
        limit: int | None = None,
        used: int | None = None,
        api_label: str | None = None,
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
        self.api_label = api_label
        self.bucket = bucket
        # True when the portal's own ledger refused the call (nothing was sent).
        self.local = local

    @property
    def user_message(self) -> str:
        """Say which API hit its limit and when (JST) it resets."""
        api = f"（{self.api_label}）" if self.api_label else ""
        limit = f"（{self.limit}回）" if self.limit else ""
        return (
            f"配配メールAPI{api}の1日あたりの実行回数の上限{limit}に達したため、処理を中止しました。"
            f"実行回数は{format_jst(self.resets_at)}（日本時間）にリセットされます。"
            "リセット後に再度実行してください。"
        )


class HaihaiValidationError(HaihaiError):
    """The request was refused as invalid (parameters, file size, CSV format); nothing was queued."""

    @property
    def user_message(self) -> str:
        """Include the vendor's own explanation."""
        detail = f"（コード: {self.code}）" if self.code is not None else ""
        reason = f"{self.message.rstrip('。')}。" if self.message else ""
        return (
            f"配配メールが送信内容を受け付けませんでした{detail}。{reason}"
            "連携設定の内容を確認してください。"
        )


class HaihaiNotFoundError(HaihaiValidationError):
    """The account, group, step plan, form or import job named does not exist (code 81410)."""

    @property
    def user_message(self) -> str:
        """Suggest checking the URL and re-syncing the 配配メール settings."""
        return (
            f"指定された対象が配配メールに見つかりません（{self.message}）。"
            "配配メールURLが正しいか確認し、「配配メール設定の同期」を行って連携設定を確認してください。"
        )


class HaihaiUnavailableError(HaihaiError):
    """配配メール could not be reached or answered 5xx (raised after the retries are spent)."""

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
        # False only when the request provably never reached the server (connect failure).
        self.maybe_delivered = maybe_delivered
        self.retry_after = retry_after

    @property
    def user_message(self) -> str:
        """Distinguish an unreachable host from a server-side failure."""
        if self.http_status is None:
            return (
                "配配メールに接続できませんでした。配配メールURLが正しいか確認し、"
                "時間を置いて再度実行してください。"
            )
        return (
            f"配配メールでエラーが発生しました（HTTP {self.http_status}）。"
            "時間を置いて再度実行してください。"
        )


class HaihaiImportUncertainError(HaihaiUnavailableError):
    """The CSV upload broke off after it may have reached 配配メール; it was not sent again."""

    @property
    def user_message(self) -> str:
        """Ask the user to check the vendor's import report before running again."""
        return (
            "配配メールへのCSV送信中に応答が途絶えたため、取り込みが受け付けられたか確認できませんでした。"
            "二重に取り込まれるのを防ぐため、自動では再送していません。"
            "配配メールの[レポート] > [レポートメニュー] > [一括登録・削除の処理結果]を確認してから、"
            "必要に応じて再度実行してください。"
        )


class HaihaiProtocolError(HaihaiError):
    """The answer was not a 配配メール API response (wrong URL, proxy page, redirect)."""

    @property
    def user_message(self) -> str:
        """Most often the URL points somewhere else."""
        status = f"（HTTP {self.http_status}）" if self.http_status is not None else ""
        return (
            f"配配メールから想定外の応答がありました{status}。"
            "「Step2. 配配メール連携設定」の配配メールURLが正しいか確認してください。"
        )


class HaihaiImportFailedError(HaihaiError):
    """配配メール ended an import job in state failed; `result` holds what it reported."""

    def __init__(self, result: ImportResult):
        super().__init__(f"import job {result.job_id} failed", action="import")
        self.result = result

    @property
    def user_message(self) -> str:
        """Name the job so support can find it."""
        return (
            f"配配メールでCSVの取り込み処理が失敗しました（ジョブID: {self.result.job_id}）。"
            "配配メールの[レポート] > [レポートメニュー] > [一括登録・削除の処理結果]を確認してください。"
        )


class HaihaiImportTimeoutError(HaihaiError):
    """An import job was still unfinished when wait_for_import gave up; it may finish later."""

    def __init__(self, job_id: str, state: str, waited: float):
        super().__init__(f"import job {job_id} still {state} after {waited:.0f}s", action="import")
        self.job_id = job_id
        self.state = state
        self.waited = waited

    @property
    def user_message(self) -> str:
        """The job goes on at the vendor; say where to look."""
        minutes = max(1, math.ceil(self.waited / 60))
        return (
            f"配配メールでのCSV取り込み処理が{minutes}分以内に完了しませんでした"
            f"（ジョブID: {self.job_id}）。処理は配配メールで継続している可能性があります。"
            "配配メールの[レポート] > [レポートメニュー] > [一括登録・削除の処理結果]で結果を確認してください。"
        )


# --------------------------------------------------------------------------------------------
# Domain types (spec §2, §3.6–§3.9)
# --------------------------------------------------------------------------------------------


class ItemType(enum.StrEnum):
    """Customer-database item types (spec §4.1)."""

    TEXT = "text"
    TEXTAREA = "textarea"
    SELECT = "select"
    MULTISELECT = "multiselect"
    RADIO = "radio"
    CHECKBOX = "checkbox"
    DATE = "date"
    INT = "int"
    DECIMAL = "decimal"
    EMAIL = "email"


class DeliveryState(enum.StrEnum):
    """配信状態 of a customer in one group or step plan."""

    OK = "ok"
    STOP = "stop"
    BAN = "ban"

    @property
    def label(self) -> str:
        """The Japanese name shown in 配配メール."""
        return {"ok": "配信可能", "stop": "配信停止", "ban": "配信禁止"}[self.value]


class TargetType(enum.StrEnum):
    """What a membership or state entry belongs to."""

    GROUP = "group"
    PLAN = "plan"


class EventKind(enum.StrEnum):
    """Reaction-history event kinds."""

    OPEN = "open"
    CLICK = "click"
    VISIT = "visit"
    CV = "cv"
    DOWNLOAD = "download"

    @property
    def label(self) -> str:
        """The kintone RH01ActionType value."""
        return {
            "open": "開封",
            "click": "クリック",
            "visit": "Web来訪",
            "cv": "CV",
            "download": "ダウンロード",
        }[self.value]


class ImportMode(enum.Enum):
    """処理形式 of a CSV import."""

    REGISTER = "register"  # 登録
    DELETE = "delete"  # 削除
    STOP = "stop"  # 停止
    BAN = "ban"  # 禁止
    ENABLE = "enable"  # 可能

    @property
    def label(self) -> str:
        """Japanese name of the mode."""
        return {
            "register": "登録",
            "delete": "削除",
            "stop": "停止",
            "ban": "禁止",
            "enable": "可能",
        }[self.value]

    @property
    def is_state_change(self) -> bool:
        """True for 停止 / 禁止 / 可能, which need a group or a step plan."""
        return self in (ImportMode.STOP, ImportMode.BAN, ImportMode.ENABLE)


class StatusChange(enum.Enum):
    """配信状態の変更 after a registration."""

    NOT_IN_FILE_TO_STOP = 1  # customers not in the file become 配信停止
    IN_FILE_TO_OK = 2  # customers in the file become 配信可能
    BOTH = 3


class ReportOption(enum.Enum):
    """連携終了後のレポートメールの送信."""

    NONE = 0  # 送信しない
    ALWAYS = 1  # 送信する
    ON_ERROR = 2  # エラー時のみ送信する


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """Options of one CSV import; combinations the spec rules out raise ValueError at once."""

    mode: ImportMode = ImportMode.REGISTER
    overwrite: bool = False
    blank_overwrite: bool = False
    group_id: str | None = None
    plan_id: str | None = None
    status_change: StatusChange | None = None
    report: ReportOption = ReportOption.NONE
    encoding: CsvEncoding = CsvEncoding.UTF8

    def __post_init__(self) -> None:
        if self.group_id is not None and self.plan_id is not None:
            raise ValueError("give either group_id or plan_id, not both")
        has_target = self.group_id is not None or self.plan_id is not None
        if self.mode.is_state_change and not has_target:
            raise ValueError(f"{self.mode.label} needs group_id or plan_id")
        if self.overwrite and self.mode not in (ImportMode.REGISTER, ImportMode.ENABLE):
            raise ValueError("overwrite only applies to 登録 and 可能")
        if self.blank_overwrite and not self.overwrite:
            raise ValueError("blank_overwrite needs overwrite")
        if self.status_change is not None:
            if self.mode is not ImportMode.REGISTER:
                raise ValueError("status_change only applies to 登録")
            if self.status_change is not StatusChange.NOT_IN_FILE_TO_STOP and not has_target:
                raise ValueError("making customers in the file deliverable needs a group or plan")


@dataclass(frozen=True, slots=True)
class DatabaseItem:
    """One customer-database item definition."""

    item_id: str
    label: str
    type: ItemType | str
    options: tuple[str, ...] = ()
    input_rule: str | None = None
    required: bool = False
    is_email: bool = False
    max_length: int | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """A delivery group (配信グループ)."""

    group_id: str
    name: str
    from_address: str | None = None
    member_count: int | None = None
    created_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class StepPlan:
    """A step-mail plan (ステップメールプラン)."""

    plan_id: str
    name: str
    member_count: int | None = None
    created_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Form:
    """A Bridge form."""

    form_id: str
    name: str
    status: str | None = None
    group_ids: tuple[str, ...] = ()
    plan_ids: tuple[str, ...] = ()


# Records that are streamed in bulk (customers, states, events, answers) are plain slotted
# dataclasses: a frozen one pays an object.__setattr__ per field, which roughly triples the cost
# of building the million events a full reaction-history import can read.
@dataclass(slots=True)
class Membership:
    """A customer's membership in a group or plan, with its delivery state."""

    target_type: TargetType
    target_id: str
    state: DeliveryState
    registered_at: dt.datetime | None = None
    step_start_date: dt.date | None = None
    lead_status: str | None = None


@dataclass(slots=True)
class Customer:
    """A customer record; `values` is keyed by item label."""

    customer_id: int | None
    email: str
    values: dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    view_url: str | None = None
    memberships: tuple[Membership, ...] = ()


@dataclass(slots=True)
class DeliveryStateEntry:
    """One line of the stop / ban (/ ok) list: a customer's state in one group or plan."""

    email: str
    customer_id: int | None
    target_type: TargetType | None
    target_id: str | None
    state: DeliveryState
    changed_at: dt.datetime | None = None
    reason: str | None = None


@dataclass(slots=True)
class Event:
    """One open / click / visit / CV / download event; times are aware (JST)."""

    event_id: str
    kind: EventKind
    occurred_at: dt.datetime
    email: str
    customer_id: int | None = None
    mail_type: str | None = None
    mail_id: str | None = None
    subject: str | None = None
    url: str | None = None
    tag_name: str | None = None
    file_name: str | None = None
    detail: str | None = None


@dataclass(slots=True)
class FormAnswerValue:
    """One answered form item; `value` is a list for multi-value items."""

    item_id: str | None
    label: str
    value: str | list[str]


@dataclass(slots=True)
class FormAnswer:
    """One Bridge form answer; `answered_at` keeps the seconds."""

    form_id: str
    form_name: str | None
    answer_id: str
    answered_at: dt.datetime
    customer_id: int | None
    email: str | None
    answers: tuple[FormAnswerValue, ...] = ()
    answer_text: str | None = None


@dataclass(frozen=True, slots=True)
class ImportRowError:
    """A row the import job refused; `line` is the vendor's line number in the uploaded file."""

    line: int | None
    email: str | None
    content: str | None
    message: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    """Outcome of a finished import job."""

    job_id: str
    mode: ImportMode | None
    state: str
    accepted_at: dt.datetime | None
    finished_at: dt.datetime | None
    total: int
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    state_changed: int = 0
    skipped: int = 0
    failed: int = 0
    errors: tuple[ImportRowError, ...] = ()

    @property
    def accepted(self) -> int:
        """Rows the vendor took without an error (skipped rows count: skipping was requested)."""
        return self.total - self.failed

    @property
    def applied(self) -> int:
        """Rows that changed something (neither failed nor skipped)."""
        return self.total - self.failed - self.skipped


@dataclass(frozen=True, slots=True)
class ImportTicket:
    """What the import call answers: the job id and what was accepted for processing."""

    job_id: str
    accepted_at: dt.datetime | None
    row_count: int | None


@dataclass(frozen=True, slots=True)
class ImportStatus:
    """One poll of an import job.

    `result` is set once the job is finished; its `errors` may be only the first page of row
    errors when `error_total` is larger (HaihaiClient.wait_for_import fetches the rest).
    `processed`/`total` report progress when the server tells; `retry_after` is its hint.
    """

    job_id: str
    state: str
    result: ImportResult | None
    processed: int | None = None
    total: int | None = None
    error_total: int | None = None
    retry_after: float | None = None


# --------------------------------------------------------------------------------------------
# Transport: the wire format of spec §3
# --------------------------------------------------------------------------------------------


class Op(enum.Enum):
    """Semantic API operations; the transport maps each to a wire action."""

    ITEMS = "items"
    GROUPS = "groups"
    STEP_PLANS = "step_plans"
    FORMS = "forms"
    CUSTOMERS = "customers"
    DELIVERY_STATES = "delivery_states"
    OPEN_LOG = "open"
    CLICK_LOG = "click"
    VISIT_LOG = "visit"
    CV_LOG = "cv"
    DOWNLOAD_LOG = "download"
    FORM_ANSWERS = "form_answers"
    IMPORT = "import"
    IMPORT_RESULT = "import_result"


EVENT_OPS = {
    EventKind.OPEN: Op.OPEN_LOG,
    EventKind.CLICK: Op.CLICK_LOG,
    EventKind.VISIT: Op.VISIT_LOG,
    EventKind.CV: Op.CV_LOG,
    EventKind.DOWNLOAD: Op.DOWNLOAD_LOG,
}


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list operation: records in canonical (spec §3.6) field names."""

    items: list[dict[str, Any]]
    total: int | None
    offset: int
    limit: int


def _wire_time(moment: dt.datetime, *, ceil: bool = False) -> str:
    """Aware datetime → 'YYYY-MM-DD HH:MM:SS' JST; `ceil` rounds sub-seconds up (exclusive ends)."""
    if moment.tzinfo is None:
        raise ValueError("datetimes passed to the 配配メール client must be timezone-aware")
    local = moment.astimezone(JST)
    if ceil and local.microsecond:
        local = local.replace(microsecond=0) + dt.timedelta(seconds=1)
    return local.strftime("%Y-%m-%d %H:%M:%S")


def _parse_http_time(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds only; dates are rare and ignored)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _connect_failed(error: requests.ConnectionError) -> bool:
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
        session: requests.Session | None = None,
    ):
        self.account = account
        self._login_id = login_id
        self._api_token = api_token
        self.timeout = timeout
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
                fields[wire_name] = _wire_time(value, ceil=name == "until")
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
            accepted_at=_parse_time(data.get("accepted_at")),
            row_count=_int_or_none(data.get("row_count")),
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
            result = _parse_import_result(data, {v: k for k, v in self._IMPORT_TYPES.items()})
        hint = _parse_http_time(response.headers.get("Retry-After"))
        if hint is None and data.get("retry_after") is not None:
            hint = _float_or_none(data.get("retry_after"))
        error_total = _int_or_none(data.get("error_total"))
        if error_total is None and result is not None:
            error_total = error_offset + len(result.errors)
        return ImportStatus(
            job_id=job_id,
            state=state,
            result=result,
            processed=_int_or_none(data.get("processed")),
            total=_int_or_none(data.get("total")),
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
        try:
            response = self._session.post(
                self.account.base_url,
                params={"ac": action},
                data=body,
                files=files,
                timeout=(min(timeout, 10.0), timeout),
                allow_redirects=False,
            )
        except requests.ConnectTimeout as error:
            raise HaihaiUnavailableError(
                f"connect timeout: {error}", maybe_delivered=False, action=action
            ) from error
        except requests.ReadTimeout as error:
            raise HaihaiUnavailableError(f"read timeout after {timeout}s", action=action) from error
        except requests.ConnectionError as error:
            raise HaihaiUnavailableError(
                f"connection error: {error}",
                maybe_delivered=not _connect_failed(error),
                action=action,
            ) from error
        except requests.RequestException as error:
            raise HaihaiUnavailableError(f"request failed: {error}", action=action) from error
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
            code = _int_or_none(payload.get("code"))
            if code in self.success_codes:
                return payload.get("data")
            message = str(payload.get("message") or payload.get("status") or "")
            raise self._error(code, message, response, action)
        csv_error = _csv_error(content)
        if csv_error is not None:
            code, message = csv_error
            raise self._error(code, message, response, action)
        retry_after = _parse_http_time(response.headers.get("Retry-After"))
        if status >= 500:
            raise HaihaiUnavailableError(
                f"HTTP {status} without an API envelope",
                http_status=status,
                retry_after=retry_after,
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
        if code == 81401:
            return HaihaiAuthError(message, **kwargs)
        if code == 81402:
            return HaihaiPlanError(message, **kwargs)
        if code == 81403:
            return HaihaiIpRefusedError(message, **kwargs)
        if code == 81404:
            return HaihaiLimitError(
                message,
                resets_at=_reset_header(response.headers.get("X-HM-RateLimit-Reset"))
                or next_jst_midnight(),
                limit=_int_or_none(response.headers.get("X-HM-RateLimit-Limit")),
                **kwargs,
            )
        if code == 81410:
            return HaihaiNotFoundError(message, **kwargs)
        if code in (81400, 81413, 81422):
            return HaihaiValidationError(message, **kwargs)
        if (code is not None and 81500 <= code < 81600) or status >= 500:
            return HaihaiUnavailableError(
                message,
                retry_after=_parse_http_time(response.headers.get("Retry-After")),
                **kwargs,
            )
        return HaihaiError(message, **kwargs)


def _csv_error(content: bytes) -> tuple[int | None, str] | None:
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
    return _int_or_none(rows[1][0]), rows[1][2] or rows[1][1]


def _reset_header(value: str | None) -> dt.datetime | None:
    """X-HM-RateLimit-Reset: epoch seconds or 'YYYY-MM-DD HH:MM:SS' (JST) or ISO 8601."""
    if not value:
        return None
    try:
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    except ValueError:
        pass
    return _parse_time(value)


# --------------------------------------------------------------------------------------------
# Record parsing (canonical §3 field names → typed objects)
# --------------------------------------------------------------------------------------------


def _parse_time(value: Any) -> dt.datetime | None:
    """'YYYY-MM-DD HH:MM:SS' (JST, spec) or ISO 8601 with offset → aware datetime."""
    if value in (None, ""):
        return None
    text = str(value).replace("/", "-")
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=JST)


def _parse_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    return dt.date.fromisoformat(str(value).replace("/", "-")[:10])


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _item_type(value: Any) -> ItemType | str:
    try:
        return ItemType(value)
    except ValueError:
        return str(value)


def _target_type(value: Any) -> TargetType | None:
    if value in (None, ""):
        return None
    text = str(value)
    if text in ("plan", "step", "step_plan", "spid"):
        return TargetType.PLAN
    return TargetType.GROUP


def _state(value: Any) -> DeliveryState:
    text = str(value)
    aliases = {"配信可能": "ok", "配信停止": "stop", "配信禁止": "ban"}
    return DeliveryState(aliases.get(text, text))


def _parse_item(raw: Mapping[str, Any]) -> DatabaseItem:
    return DatabaseItem(
        item_id=str(raw["item_id"]),
        label=str(raw["label"]),
        type=_item_type(raw.get("type")),
        options=tuple(str(option) for option in raw.get("options") or ()),
        input_rule=_str_or_none(raw.get("input_rule")),
        required=bool(raw.get("required", False)),
        is_email=bool(raw.get("is_email", False)),
        max_length=_int_or_none(raw.get("max_length")),
    )


def _parse_group(raw: Mapping[str, Any]) -> Group:
    return Group(
        group_id=str(raw["gid"]),
        name=str(raw.get("name", "")),
        from_address=_str_or_none(raw.get("from_address")),
        member_count=_int_or_none(raw.get("member_count")),
        created_at=_parse_time(raw.get("created_at")),
    )


def _parse_plan(raw: Mapping[str, Any]) -> StepPlan:
    return StepPlan(
        plan_id=str(raw["spid"]),
        name=str(raw.get("name", "")),
        member_count=_int_or_none(raw.get("member_count")),
        created_at=_parse_time(raw.get("created_at")),
    )


def _parse_form(raw: Mapping[str, Any]) -> Form:
    return Form(
        form_id=str(raw["form_id"]),
        name=str(raw.get("form_name") or raw.get("name") or ""),
        status=_str_or_none(raw.get("status")),
        group_ids=tuple(str(gid) for gid in raw.get("target_gids") or ()),
        plan_ids=tuple(str(spid) for spid in raw.get("target_spids") or ()),
    )


def _parse_membership(raw: Mapping[str, Any]) -> Membership:
    return Membership(
        target_type=_target_type(raw.get("type")) or TargetType.GROUP,
        target_id=str(raw.get("id")),
        state=_state(raw.get("state", "ok")),
        registered_at=_parse_time(raw.get("registered_at")),
        step_start_date=_parse_date(raw.get("step_start_date")),
        lead_status=_str_or_none(raw.get("lead_status")),
    )


def _parse_customer(raw: Mapping[str, Any]) -> Customer:
    return Customer(
        customer_id=_int_or_none(raw.get("customer_id")),
        email=str(raw["email"]),
        values=dict(raw.get("values") or {}),
        created_at=_parse_time(raw.get("created_at")),
        updated_at=_parse_time(raw.get("updated_at")),
        view_url=_str_or_none(raw.get("view_url")) or None,
        memberships=tuple(_parse_membership(m) for m in raw.get("memberships") or ()),
    )


def _parse_state_entry(raw: Mapping[str, Any]) -> DeliveryStateEntry:
    return DeliveryStateEntry(
        email=str(raw["email"]),
        customer_id=_int_or_none(raw.get("customer_id")),
        target_type=_target_type(raw.get("target_type")),
        target_id=_str_or_none(raw.get("target_id")),
        state=_state(raw["state"]),
        changed_at=_parse_time(raw.get("changed_at")),
        reason=_str_or_none(raw.get("reason")),
    )


_EVENT_KINDS = {kind.value: kind for kind in EventKind}


def _parse_event(raw: Mapping[str, Any], kind: EventKind) -> Event:
    get = raw.get
    # The spec's JST wall-clock format parses fast with fromisoformat (Python 3.11+).
    try:
        occurred_at = dt.datetime.fromisoformat(raw["occurred_at"])
    except (TypeError, ValueError):
        occurred_at = _parse_time(raw["occurred_at"])
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=JST)
    customer_id = get("customer_id")
    mail_id = get("mail_id")
    return Event(
        str(raw["event_id"]),
        _EVENT_KINDS.get(get("action_type"), kind),
        occurred_at,
        raw["email"],
        int(customer_id) if customer_id is not None else None,
        get("mail_type"),
        str(mail_id) if mail_id is not None else None,
        get("subject"),
        get("url"),
        get("tag_name"),
        get("file_name"),
        get("detail"),
    )


def _parse_answer(raw: Mapping[str, Any]) -> FormAnswer:
    answers = []
    for item in raw.get("answers") or ():
        value = item.get("value")
        answers.append(
            FormAnswerValue(
                item_id=_str_or_none(item.get("item_id")),
                label=str(item.get("label", "")),
                value=[str(v) for v in value] if isinstance(value, list) else str(value or ""),
            )
        )
    return FormAnswer(
        form_id=str(raw["form_id"]),
        form_name=_str_or_none(raw.get("form_name")),
        answer_id=str(raw["answer_id"]),
        answered_at=_parse_time(raw["answered_at"]),
        customer_id=_int_or_none(raw.get("customer_id")),
        email=_str_or_none(raw.get("email")),
        answers=tuple(answers),
        answer_text=_str_or_none(raw.get("answer_text")),
    )


def _parse_import_result(
    raw: Mapping[str, Any], modes_by_code: Mapping[int, ImportMode]
) -> ImportResult:
    errors = tuple(
        ImportRowError(
            line=_int_or_none(error.get("line")),
            email=_str_or_none(error.get("email")),
            content=_str_or_none(error.get("content")),
            message=str(error.get("message", "")),
        )
        for error in raw.get("errors") or ()
    )
    code = _int_or_none(raw.get("import_type"))
    return ImportResult(
        job_id=str(raw["job_id"]),
        mode=modes_by_code.get(code) if code is not None else None,
        state=str(raw["state"]),
        accepted_at=_parse_time(raw.get("accepted_at")),
        finished_at=_parse_time(raw.get("finished_at")),
        total=int(raw.get("total") or 0),
        inserted=int(raw.get("inserted") or 0),
        updated=int(raw.get("updated") or 0),
        deleted=int(raw.get("deleted") or 0),
        state_changed=int(raw.get("state_changed") or 0),
        skipped=int(raw.get("skipped") or 0),
        failed=int(raw.get("failed") or 0),
        errors=errors,
    )


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------

# Japanese names of each API for messages (the daily limit is counted per API).
_API_LABELS = {
    Op.ITEMS: "データベース項目の取得",
    Op.GROUPS: "配信グループの取得",
    Op.STEP_PLANS: "ステップメールプランの取得",
    Op.FORMS: "Bridgeフォームの取得",
    Op.CUSTOMERS: "顧客情報の取得",
    Op.DELIVERY_STATES: "配信停止・禁止顧客の取得",
    Op.OPEN_LOG: "メール開封履歴の取得",
    Op.CLICK_LOG: "URLクリック履歴の取得",
    Op.VISIT_LOG: "Web来訪履歴の取得",
    Op.CV_LOG: "CV履歴の取得",
    Op.DOWNLOAD_LOG: "添付ダウンロード履歴の取得",
    Op.FORM_ANSWERS: "Bridgeフォーム回答の取得",
    Op.IMPORT_RESULT: "一括登録・削除の処理結果の取得",
}
_IMPORT_LABELS = {
    ImportMode.REGISTER: "CSV一括登録",
    ImportMode.DELETE: "CSV一括削除",
}
# Features that need a particular plan (spec §1.7, §1.8): label and required plan.
_PLAN_NEEDS = {
    Op.VISIT_LOG: ("Web来訪の取得", "Bridgeプラン"),
    Op.CV_LOG: ("CVの取得", "スタンダードプラン以上"),
    # Forms are also visible to admin users only (spec §1.8).
    Op.FORMS: ("Bridgeフォームの取得", "Bridgeプランと管理者権限のあるログインID"),
    Op.FORM_ANSWERS: ("Bridgeフォーム回答の取得", "Bridgeプランと管理者権限のあるログインID"),
}
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
    `transport` brings its own URL and credentials instead. `timeout` bounds every call (connect
    and read), `import_timeout` the CSV upload; `page_size` (≤ 10,000) sets records per list
    call; `sleep`/`monotonic` exist so tests can drive the polling clock.
    """

    def __init__(
        self,
        base_url: str,
        login_id: str,
        api_token: str,
        *,
        timeout: float = 30.0,
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
        self.transport = transport or Transport(self.account, login_id, api_token, timeout=timeout)
        self.timeout = timeout
        self.import_timeout = max(import_timeout, timeout)
        self.retry = retry
        self.ledger = ledger
        self.page_size = min(
            page_size or self.transport.max_page_size, self.transport.max_page_size
        )
        self._sleep = sleep
        self._monotonic = monotonic
        self._row_counts: dict[str, int | None] = {}
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
        return [_parse_item(raw) for raw in self._iter_raw(Op.ITEMS, {})]

    def list_groups(self) -> list[Group]:
        """All delivery groups."""
        return [_parse_group(raw) for raw in self._iter_raw(Op.GROUPS, {})]

    def list_step_plans(self) -> list[StepPlan]:
        """All step-mail plans."""
        return [_parse_plan(raw) for raw in self._iter_raw(Op.STEP_PLANS, {})]

    def list_forms(self) -> list[Form]:
        """All Bridge forms (HaihaiPlanError without the Bridge plan)."""
        return [_parse_form(raw) for raw in self._iter_raw(Op.FORMS, {})]

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
            yield _parse_customer(raw)

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
            yield _parse_state_entry(raw)

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
            yield _parse_event(raw, kind)

    def iter_form_answers(
        self, form_id: str, since: dt.datetime, until: dt.datetime
    ) -> Iterator[FormAnswer]:
        """Answers of one Bridge form with since <= answered_at < until, page by page."""
        if until <= since:
            return
        filters = {"form_id": form_id, "since": since, "until": until}
        for raw in self._iter_raw(Op.FORM_ANSWERS, filters):
            yield _parse_answer(raw)

    # -- CSV import -----------------------------------------------------------------------

    def import_csv(self, part: bytes, options: ImportOptions) -> str:
        """Queue one CSV file (≤ 15 MB) as an import job and return its job id.

        Retried only when the upload provably never reached 配配メール; if it may have,
        HaihaiImportUncertainError is raised rather than risking a double import.
        """
        if len(part) > MAX_PART_BYTES:
            raise HaihaiValidationError(
                f"CSVファイルが15MBを超えています（{len(part):,}バイト）",
                action=self.transport.action(Op.IMPORT),
            )
        if not part.strip():
            raise HaihaiValidationError(
                "CSVファイルが空です", action=self.transport.action(Op.IMPORT)
            )

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
            raise HaihaiImportUncertainError(
                f"import upload may have been queued: {error.message}",
                code=error.code,
                http_status=error.http_status,
                action=error.action,
            ) from error
        self._row_counts[ticket.job_id] = ticket.row_count
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
        after an estimate from the row count (or `first_poll`); later ones aim at the finish
        predicted from the reported progress, else back off exponentially from `min_interval`
        up to `max_interval`; a server Retry-After hint wins. Raises HaihaiImportFailedError
        for a failed job and HaihaiImportTimeoutError when `max_wait` seconds have passed.
        """
        started = self._monotonic()
        deadline = started + max_wait
        submitted_at = self._submitted.get(import_id)
        rows = self._row_counts.get(import_id)
        delay = first_poll if first_poll is not None else self._first_poll_estimate(rows)
        interval = max(min_interval, 0.0)
        previous: tuple[float, int] | None = None
        while True:
            self._sleep(max(0.0, min(delay, deadline - self._monotonic())))
            status = self.import_status(import_id)
            now = self._monotonic()
            if status.result is not None:
                self._row_counts.pop(import_id, None)
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

    @staticmethod
    def _first_poll_estimate(rows: int | None) -> float:
        # Roughly what a queued job needs: a couple of seconds plus ~1 s per 5,000 rows.
        if rows is None:
            return 5.0
        return min(120.0, 2.0 + rows / 5000)

    # -- budget, retries, pagination ------------------------------------------------------

    def _bucket(self, op: Op, mode: ImportMode | None) -> str:
        return f"{self.account.netloc}/{self.account.account_key}:{self.transport.bucket(op, mode)}"

    def _api_label(self, op: Op, mode: ImportMode | None) -> str:
        if op is Op.IMPORT:
            return _IMPORT_LABELS.get(mode, "CSV一括状態変更")  # type: ignore[arg-type]
        return _API_LABELS[op]

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
                api_label=self._api_label(op, mode),
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

        def attempt() -> T:
            self._charge(bucket, op, mode)
            try:
                return send()
            except HaihaiError as error:
                self._settle_failure(bucket, error)
                if isinstance(error, HaihaiLimitError):
                    error.api_label = self._api_label(op, mode)
                    error.bucket = bucket
                if isinstance(error, HaihaiPlanError) and op in _PLAN_NEEDS:
                    error.feature, error.required_plan = _PLAN_NEEDS[op]
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
