"""The 配配メール domain: customers, groups, plans, forms, events, states and CSV imports.

Enum labels are 配配メール's own names for its values (they also appear in its data), not
portal wording.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from portal.integrations.haihai_csv import CsvEncoding

JST = ZoneInfo("Asia/Tokyo")


def next_jst_midnight(now: dt.datetime | None = None) -> dt.datetime:
    """The next 00:00 in Japan after `now` (default: the current time)."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(JST)
    return dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), JST)


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
    skip_reasons: tuple[
        tuple[str, int], ...
    ] = ()  # (配配メール's reason, rows), when it gives them

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
