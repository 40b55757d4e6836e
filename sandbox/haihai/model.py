"""Entities of one 配配メール account (spec §2). Plain slotted classes: the store owns the rules."""

from __future__ import annotations

from dataclasses import dataclass, field

PLANS = ("light", "standard", "premium", "bridge")
STATES = ("ok", "stop", "ban")
STATE_LABELS = {"ok": "配信可能", "stop": "配信停止", "ban": "配信禁止"}
STATE_BY_LABEL = {label: code for code, label in STATE_LABELS.items()}
# 禁止 beats 停止 beats 可能 when a shared state has to be derived from several memberships.
STATE_STRENGTH = {"ok": 0, "stop": 1, "ban": 2}
TARGET_KINDS = ("group", "step")
MAIL_TYPES = ("group", "step", "spot", "trigger")
EVENT_TYPES = ("open", "click", "visit", "cv", "download")
STATE_REASONS = ("unsubscribe_form", "admin", "api", "error")
MAX_VALUE_LENGTH = 900


@dataclass
class User:
    """An account user: the login ID, the report-mail address and the API token."""

    login_id: str
    email: str
    api_token: str | None
    is_admin: bool = True
    transport_password: str | None = None


@dataclass
class Item:
    """A customer-database item (field definition)."""

    item_id: str
    label: str
    type: str
    options: list[str] = field(default_factory=list)
    input_rule: str = "none"
    required: bool = False
    option_set: frozenset = frozenset()
    # Shared instances of option labels and multi-choice tuples: half a million customers
    # holding the same few choices should not hold half a million copies of them.
    shared: dict = field(default_factory=dict, repr=False)

    @property
    def is_email(self) -> bool:
        """Whether this is the built-in, unique email item."""
        return self.type == "email"

    def refresh(self) -> None:
        """Recompute derived lookups after the options changed."""
        self.option_set = frozenset(self.options)
        self.shared = {option: option for option in self.options}


@dataclass
class Group:
    """A delivery group (配信グループ)."""

    gid: str
    name: str
    from_address: str = ""
    created_at: int = 0
    lead_statuses: list[str] = field(default_factory=lambda: ["未設定"])


@dataclass
class StepPlan:
    """A step-mail plan (ステップメールプラン)."""

    spid: str
    name: str
    start_mode: str = "registration"
    created_at: int = 0


@dataclass
class Form:
    """A Bridge form with its auto-registration targets."""

    form_id: str
    form_name: str
    status: str = "open"
    target_gids: list[str] = field(default_factory=list)
    target_spids: list[str] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)
    created_at: int = 0


@dataclass
class Mail:
    """A sent mail (group, step, spot or trigger)."""

    mail_id: str
    mail_type: str
    target_id: str | None
    subject: str
    sent_at: int
    sent_count: int = 0
    error_count: int = 0


class Membership:
    """The state of one customer in one delivery group or step plan."""

    __slots__ = (
        "kind",
        "target_id",
        "state",
        "registered_at",
        "changed_at",
        "reason",
        "step_start_date",
        "lead_status",
    )

    def __init__(
        self,
        kind: str,
        target_id: str,
        state: str,
        registered_at: int,
        reason: str,
        step_start_date: str | None = None,
        lead_status: str | None = None,
    ):
        self.kind = kind
        self.target_id = target_id
        self.state = state
        self.registered_at = registered_at
        self.changed_at = registered_at
        self.reason = reason
        self.step_start_date = step_start_date
        self.lead_status = lead_status


class Customer:
    """One customer-database record; `values` maps item_id to str (or tuple for multi-choice)."""

    __slots__ = (
        "customer_id",
        "email",
        "key",
        "values",
        "created_at",
        "updated_at",
        "memberships",
        "error_count",
    )

    def __init__(self, customer_id: int, email: str, key: str, now: int):
        self.customer_id = customer_id
        self.email = email
        self.key = key
        self.values: dict[str, str | tuple] = {}
        self.created_at = now
        self.updated_at = now
        # None until the first membership, to keep half a million DB-only customers small.
        self.memberships: dict[tuple[str, str], Membership] | None = None
        # Delivery errors (bounces); kept only while the customer exists (rule 6).
        self.error_count = 0


class Event:
    """One reaction event (open, click, visit, cv, download)."""

    __slots__ = (
        "seq",
        "event_id",
        "action_type",
        "occurred_at",
        "email",
        "customer_id",
        "mail_type",
        "mail_id",
        "subject",
        "url",
        "click_url_code",
        "tag_name",
        "page_url",
        "file_name",
    )

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))


class Answer:
    """One Bridge form answer; `answers` is a list of (item_id, label-at-answer-time, value)."""

    __slots__ = ("seq", "answer_id", "form_id", "answered_at", "email", "customer_id", "answers")

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))
