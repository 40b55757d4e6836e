"""In-memory state of the sandbox: accounts, their customers and logs, config, counters.

One re-entrant lock (`Store.lock`) guards everything; callers hold it around each request.
The domain rules of spec §2 (email key, per-target states, shared-state switch, deletion)
live on `Account` so the CSV import, the admin hooks and the API all apply them the same way.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields

from .clock import SandboxClock, jst_date
from .model import (
    EVENT_TYPES,
    STATE_STRENGTH,
    Answer,
    Customer,
    Event,
    Form,
    Group,
    Item,
    Mail,
    Membership,
    StepPlan,
    User,
)

DEFAULT_EMAIL_LABEL = "メールアドレス"


@dataclass
class Config:
    """Sandbox-wide knobs set through `POST /_sandbox/config`."""

    latency_ms: int = 0
    event_lag_seconds: int = 600
    import_delay_seconds: float = 0.0
    daily_limit: int = 240
    dedicated_daily_limit: int = 86400
    daily_limits: dict[str, int] = field(default_factory=dict)
    strict_csv: bool = True
    delete_with_target_removes_membership_only: bool = True
    status_change_spares_ban: bool = True
    import_chunk_rows: int = 2000
    faults: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        """JSON-ready copy of every knob."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class SortedEvents:
    """Events kept sorted by (occurred_at, seq) with a parallel list of times for bisection."""

    __slots__ = ("times", "events")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.events: list[Event] = []

    def add_sorted(self, batch: list[Event]) -> None:
        """Insert a batch already sorted by (occurred_at, seq)."""
        if not batch:
            return
        if not self.events or batch[0].occurred_at >= self.times[-1]:
            # The common case (events arrive in time order) stays an append.
            self.events.extend(batch)
            self.times.extend(event.occurred_at for event in batch)
            return
        merged = self.events + batch
        # Timsort merges the two sorted runs in linear time.
        merged.sort(key=_event_order)
        self.events = merged
        self.times = [event.occurred_at for event in merged]

    def bounds(self, start: int | None, end: int | None) -> tuple[int, int]:
        """Index range of events with start <= occurred_at < end (None = open)."""
        lo = 0 if start is None else bisect.bisect_left(self.times, start)
        hi = len(self.times) if end is None else bisect.bisect_left(self.times, end)
        return lo, max(lo, hi)


def _event_order(event: Event) -> tuple[int, int]:
    return (event.occurred_at, event.seq)


class EventLog:
    """All events of one action type, plus a per-mail index for `mail_id` filters."""

    __slots__ = ("all", "by_mail")

    def __init__(self) -> None:
        self.all = SortedEvents()
        self.by_mail: dict[str, SortedEvents] = {}

    def add(self, batch: list[Event]) -> None:
        """Insert events of this type in any order."""
        batch.sort(key=_event_order)
        self.all.add_sorted(batch)
        per_mail: dict[str, list[Event]] = {}
        for event in batch:
            if event.mail_id is not None:
                per_mail.setdefault(event.mail_id, []).append(event)
        for mail_id, events in per_mail.items():
            self.by_mail.setdefault(mail_id, SortedEvents()).add_sorted(events)

    def view(self, mail_id: str | None) -> SortedEvents:
        """The sorted events to page through, optionally limited to one mail."""
        if mail_id is None:
            return self.all
        return self.by_mail.get(mail_id) or SortedEvents()


class AnswerLog:
    """Form answers sorted by (answered_at, seq), overall and per form."""

    __slots__ = ("times", "answers", "by_form")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.answers: list[Answer] = []
        self.by_form: dict[str, tuple[list[int], list[Answer]]] = {}

    def add(self, answer: Answer) -> None:
        """Insert one answer at its place in time order."""
        _insort(self.times, self.answers, answer)
        times, answers = self.by_form.setdefault(answer.form_id, ([], []))
        _insort(times, answers, answer)

    def view(self, form_id: str | None) -> tuple[list[int], list[Answer]]:
        """Times and answers to page through, optionally for one form."""
        if form_id is None:
            return self.times, self.answers
        return self.by_form.get(form_id, ([], []))


def _insort(times: list[int], answers: list[Answer], answer: Answer) -> None:
    index = bisect.bisect_right(times, answer.answered_at)
    times.insert(index, answer.answered_at)
    answers.insert(index, answer)


class Account:
    """One 配配メール account: settings, users, schema, customers, logs, jobs and counters."""

    def __init__(self, account_key: str, now: int):
        self.account_key = account_key
        self.aid: str | None = None
        self.host: str | None = None
        self.plan = "standard"
        self.api_option = True
        self.dedicated_server = False
        self.sync_states_across_groups = False
        self.ip_allowlist: list[str] = []
        self.max_items = 30
        self.max_groups = 20
        self.strict_csv: bool | None = None
        self.daily_limit: int | None = None
        self.view_url_base: str | None = None
        self.created_at = now

        self.users: dict[str, User] = {}
        self.items: dict[str, Item] = {}
        self.groups: dict[str, Group] = {}
        self.plans: dict[str, StepPlan] = {}
        self.forms: dict[str, Form] = {}
        self.mails: dict[str, Mail] = {}

        self.customers_by_key: dict[str, Customer] = {}
        self.customers_by_id: dict[int, Customer] = {}
        self.next_customer_id = 1
        # Set when an admin-given customer_id broke the ascending insertion order.
        self.ids_unordered = False
        # Ordered sets (dict keys) of customer ids per (kind, target_id).
        self.members: dict[tuple[str, str], dict[int, None]] = {}

        self.events: dict[str, EventLog] = {kind: EventLog() for kind in EVENT_TYPES}
        # One copy of each repeated event text (subjects, URLs, mail ids, tags).
        self.strings: dict[str, str] = {}
        self.next_event_seq = 1
        self.answers = AnswerLog()
        self.next_answer_seq = 1
        self.next_answer_id = 1
        self.answer_ids: dict[str, None] = {}
        self.next_mail_seq = 1
        self.next_item_seq = 1
        self.next_group_seq = 1
        self.next_plan_seq = 1
        self.next_form_seq = 1

        self.jobs: dict[str, object] = {}
        self.job_seq_by_day: dict[str, int] = {}

        self.usage: dict[tuple[str, str], int] = {}
        self.calls: dict[str, int] = {}
        self.results: dict[str, dict[str, int]] = {}

        self.version = 0
        self._cache: OrderedDict[tuple, object] = OrderedDict()

    # ----- bookkeeping -------------------------------------------------------------------

    def touch(self) -> None:
        """Record that data changed, so cached query results are rebuilt."""
        self.version += 1

    def cached(self, key: tuple, build: Callable[[], object]) -> object:
        """Result of `build` for `key` at the current version (small LRU)."""
        full_key = (self.version, *key)
        hit = self._cache.get(full_key)
        if hit is not None:
            self._cache.move_to_end(full_key)
            return hit
        value = build()
        self._cache[full_key] = value
        while len(self._cache) > 8:
            self._cache.popitem(last=False)
        return value

    # ----- schema ------------------------------------------------------------------------

    def email_item(self) -> Item:
        """The built-in email item (its label may have been renamed)."""
        for item in self.items.values():
            if item.type == "email":
                return item
        raise LookupError("account has no email item")

    def items_by_label(self) -> dict[str, Item]:
        """Current label -> item."""
        return {item.label: item for item in self.items.values()}

    def new_item_id(self) -> str:
        """Next `I<n>` item id; ids of deleted items are never handed out again."""
        while f"I{self.next_item_seq}" in self.items:
            self.next_item_seq += 1
        item_id = f"I{self.next_item_seq}"
        self.next_item_seq += 1
        return item_id

    def new_numeric_id(self, attr: str, taken: dict) -> str:
        """Next decimal id from the counter named `attr` (never reused) not a key of `taken`."""
        value = getattr(self, attr)
        while str(value) in taken:
            value += 1
        setattr(self, attr, value + 1)
        return str(value)

    def claim_id(self, attr: str, object_id: str, prefix: str = "") -> None:
        """Move the counter `attr` past an explicitly given id such as `I14` or `50`."""
        digits = object_id[len(prefix) :] if object_id.startswith(prefix) else ""
        if digits.isdigit():
            setattr(self, attr, max(getattr(self, attr), int(digits) + 1))

    def target_exists(self, kind: str, target_id: str) -> bool:
        """Whether a group (kind 'group') or step plan (kind 'step') exists."""
        return target_id in (self.groups if kind == "group" else self.plans)

    # ----- customers ---------------------------------------------------------------------

    def customer_by_email(self, key: str) -> Customer | None:
        """Customer for an already normalised email key."""
        return self.customers_by_key.get(key)

    def create_customer(self, email: str, key: str, now: int) -> Customer:
        """Add a customer with no values and no memberships."""
        customer = Customer(self.next_customer_id, email, key, now)
        self.next_customer_id += 1
        self.customers_by_key[key] = customer
        self.customers_by_id[customer.customer_id] = customer
        self.touch()
        return customer

    def delete_customer(self, customer: Customer) -> None:
        """Remove the customer, every membership and its state history (rule 6)."""
        if customer.memberships:
            for target in customer.memberships:
                self.members.get(target, {}).pop(customer.customer_id, None)
        del self.customers_by_key[customer.key]
        del self.customers_by_id[customer.customer_id]
        self.touch()

    def customer_alive(self, customer_id: int | None) -> bool:
        """Whether a customer id still exists (events of deleted customers show null)."""
        return customer_id is not None and customer_id in self.customers_by_id

    # ----- memberships and states (spec §2 rules 2-5) --------------------------------------

    def initial_state(self, customer: Customer) -> str:
        """State of a new membership: shared 停止/禁止 when 同期設定 is on, else 可能."""
        if not self.sync_states_across_groups or not customer.memberships:
            return "ok"
        strongest = max(customer.memberships.values(), key=lambda m: STATE_STRENGTH[m.state])
        return strongest.state

    def ensure_membership(
        self,
        customer: Customer,
        target: tuple[str, str],
        now: int,
        reason: str,
        state: str | None = None,
        step_start_date: str | None = None,
    ) -> tuple[Membership, bool]:
        """Return the membership in `target`, creating it if needed (created flag second)."""
        if customer.memberships is None:
            customer.memberships = {}
        membership = customer.memberships.get(target)
        if membership is not None:
            return membership, False
        kind, target_id = target
        if state is None:
            state = self.initial_state(customer)
        if kind == "step" and step_start_date is None:
            step_start_date = jst_date(now).replace("-", "/")
        lead_status = None
        if kind == "group" and self.plan == "bridge":
            group = self.groups.get(target_id)
            lead_status = group.lead_statuses[0] if group and group.lead_statuses else "未設定"
        membership = Membership(
            kind,
            target_id,
            state,
            now,
            reason,
            step_start_date if kind == "step" else None,
            lead_status,
        )
        customer.memberships[target] = membership
        self.members.setdefault(target, {})[customer.customer_id] = None
        customer.updated_at = now
        self.touch()
        return membership, True

    def remove_membership(self, customer: Customer, target: tuple[str, str], now: int) -> bool:
        """Drop the customer from one target; False if it was not a member."""
        if not customer.memberships or target not in customer.memberships:
            return False
        del customer.memberships[target]
        self.members.get(target, {}).pop(customer.customer_id, None)
        customer.updated_at = now
        self.touch()
        return True

    def set_state(
        self,
        customer: Customer,
        target: tuple[str, str],
        state: str,
        now: int,
        reason: str,
        spare_ban: bool = False,
    ) -> int:
        """Set the state in `target` (member required); with 同期設定 on, 停止/禁止 spread.

        Returns how many memberships changed. `spare_ban` leaves a 禁止 membership untouched
        (the automatic status-change rule 5). A spread 停止 never lowers another target's 禁止.
        """
        membership = customer.memberships[target]
        changed = 0
        if not (spare_ban and membership.state == "ban") and membership.state != state:
            self._change(membership, state, now, reason)
            changed += 1
        if self.sync_states_across_groups and state in ("stop", "ban"):
            for other in customer.memberships.values():
                if other is membership or other.state == state:
                    continue
                if STATE_STRENGTH[other.state] > STATE_STRENGTH[state]:
                    continue
                self._change(other, state, now, reason)
                changed += 1
        if changed:
            customer.updated_at = now
            self.touch()
        return changed

    @staticmethod
    def _change(membership: Membership, state: str, now: int, reason: str) -> None:
        membership.state = state
        membership.changed_at = now
        membership.reason = reason

    # ----- events, answers, mails --------------------------------------------------------

    def add_events(self, events: list[Event]) -> None:
        """Insert events of any types in any order."""
        by_type: dict[str, list[Event]] = {}
        for event in events:
            by_type.setdefault(event.action_type, []).append(event)
        for kind, batch in by_type.items():
            self.events[kind].add(batch)
        self.touch()

    def share(self, text: str | None) -> str | None:
        """The account's shared copy of a repeated text."""
        if text is None:
            return None
        return self.strings.setdefault(text, text)

    def next_event(self) -> int:
        """Allocate an event sequence number."""
        seq = self.next_event_seq
        self.next_event_seq += 1
        return seq

    def count_visible(self, kind: str, mail_id: str, visible_until: float) -> int:
        """Events of `kind` for `mail_id` that occurred at or before `visible_until`."""
        log = self.events[kind].by_mail.get(mail_id)
        if log is None:
            return 0
        return bisect.bisect_right(log.times, visible_until)

    # ----- views -------------------------------------------------------------------------

    def view_token(self, customer_id: int) -> str:
        """Opaque, stable per-customer token of the 顧客閲覧URL."""
        digest = hashlib.sha256(f"haihai-view:{self.account_key}:{customer_id}".encode())
        return f"{customer_id}-{digest.hexdigest()[:16]}"

    def customer_by_view_token(self, token: str) -> Customer | None:
        """Resolve a view token back to its customer (None when unknown or forged)."""
        head, _, _ = token.partition("-")
        if not head.isdigit():
            return None
        customer = self.customers_by_id.get(int(head))
        if customer is None or self.view_token(customer.customer_id) != token:
            return None
        return customer

    def view_url(self, customer_id: int, base_url: str) -> str:
        """The customer's view-page URL under the account's base (or the request's host)."""
        base = (self.view_url_base or base_url).rstrip("/")
        return f"{base}/{self.account_key}/view/{self.view_token(customer_id)}"

    # ----- counters ----------------------------------------------------------------------

    def count_call(self, action: str, code: int) -> None:
        """Record one request for the stats endpoint."""
        self.calls[action] = self.calls.get(action, 0) + 1
        per_code = self.results.setdefault(action, {})
        per_code[str(code)] = per_code.get(str(code), 0) + 1


class Store:
    """All accounts and sandbox-wide settings, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock = SandboxClock()
        self.config = Config()
        self.accounts: dict[str, Account] = {}
        self.outbox: list[dict] = []
        self.next_outbox_id = 1
        self.generation = 0
        # Signalled when a job is queued, the clock moves or the store is reset.
        self.wakeup = threading.Condition(self.lock)

    def now(self) -> int:
        """Sandbox time as whole Unix seconds."""
        return int(self.clock.now())

    def reset(self) -> None:
        """Forget every account, mail and counter; restore default config and real time."""
        self.accounts = {}
        self.outbox = []
        self.next_outbox_id = 1
        self.config = Config()
        self.clock.set(None)
        self.generation += 1
        self.wakeup.notify_all()

    def account(self, key: str) -> Account | None:
        """Account by key, or None."""
        return self.accounts.get(key)

    def account_by_aid(self, aid: str) -> Account | None:
        """Account by its legacy numeric `aid`, or None."""
        for account in self.accounts.values():
            if account.aid is not None and account.aid == aid:
                return account
        return None

    def daily_limit(self, account: Account, bucket: str) -> int:
        """The call limit per JST day for `bucket` of `account`."""
        if bucket in self.config.daily_limits:
            return int(self.config.daily_limits[bucket])
        if account.daily_limit is not None:
            return account.daily_limit
        if account.dedicated_server:
            return self.config.dedicated_daily_limit
        return self.config.daily_limit

    def usage(self, account: Account, bucket: str) -> int:
        """Calls counted today (JST) in `bucket`."""
        return account.usage.get((bucket, jst_date(self.now())), 0)

    def deliver_mail(self, mail: dict) -> dict:
        """Put a mail into the outbox and return it with its id."""
        mail = {"outbox_id": self.next_outbox_id, **mail}
        self.next_outbox_id += 1
        self.outbox.append(mail)
        return mail

    def iter_accounts(self, key: str | None) -> Iterable[Account]:
        """One account (by key) or all of them."""
        if key is None:
            return list(self.accounts.values())
        account = self.accounts.get(key)
        return [account] if account else []
