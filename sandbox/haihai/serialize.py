"""JSON shapes of the retrieval actions (spec §3.6, §3.8, §3.9), shared with the admin API."""

from __future__ import annotations

import csv
import io
import json

from .clock import format_jst
from .model import STATE_LABELS, Answer, Customer, Event, Form, Group, Item, Mail, Membership
from .store import Account
from .values import ITEM_TYPE_LABELS, MAX_VALUE_LENGTH, output_value, text_value

ITEM_FIELDS = [
    "item_id",
    "label",
    "type",
    "type_label",
    "options",
    "input_rule",
    "required",
    "is_email",
    "max_length",
]
GROUP_FIELDS = ["gid", "name", "from_address", "member_count", "created_at", "lead_statuses"]
PLAN_FIELDS = ["spid", "name", "member_count", "created_at", "start_mode"]
FORM_FIELDS = [
    "form_id",
    "form_name",
    "status",
    "target_gids",
    "target_spids",
    "item_ids",
    "created_at",
]
CUSTOMER_FIELDS = [
    "customer_id",
    "email",
    "values",
    "created_at",
    "updated_at",
    "view_url",
    "memberships",
]
STATE_FIELDS = [
    "email",
    "customer_id",
    "target_type",
    "target_id",
    "state",
    "state_label",
    "changed_at",
    "reason",
]
MAIL_FIELDS = [
    "mail_id",
    "mail_type",
    "target_id",
    "subject",
    "sent_at",
    "sent_count",
    "error_count",
    "open_count",
    "click_count",
]
EVENT_FIELDS = [
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
    "detail",
]
ANSWER_FIELDS = [
    "form_id",
    "form_name",
    "answer_id",
    "answered_at",
    "customer_id",
    "email",
    "answers",
    "answer_text",
]


def item_json(item: Item) -> dict:
    """GetDatabaseItemList item."""
    return {
        "item_id": item.item_id,
        "label": item.label,
        "type": item.type,
        "type_label": ITEM_TYPE_LABELS[item.type],
        "options": list(item.options),
        "input_rule": item.input_rule,
        "required": item.required,
        "is_email": item.is_email,
        "max_length": MAX_VALUE_LENGTH,
    }


def group_json(account: Account, group: Group) -> dict:
    """GetGroupList item."""
    return {
        "gid": group.gid,
        "name": group.name,
        "from_address": group.from_address,
        "member_count": len(account.members.get(("group", group.gid), ())),
        "created_at": format_jst(group.created_at),
        "lead_statuses": list(group.lead_statuses),
    }


def plan_json(account: Account, plan) -> dict:
    """GetStepPlanList item."""
    return {
        "spid": plan.spid,
        "name": plan.name,
        "member_count": len(account.members.get(("step", plan.spid), ())),
        "created_at": format_jst(plan.created_at),
        "start_mode": plan.start_mode,
    }


def form_json(form: Form) -> dict:
    """GetFormList item."""
    return {
        "form_id": form.form_id,
        "form_name": form.form_name,
        "status": form.status,
        "target_gids": list(form.target_gids),
        "target_spids": list(form.target_spids),
        "item_ids": list(form.item_ids),
        "created_at": format_jst(form.created_at),
    }


def membership_json(membership: Membership) -> dict:
    """One entry of a customer's `memberships`."""
    return {
        "type": membership.kind,
        "id": membership.target_id,
        "state": membership.state,
        "state_label": STATE_LABELS[membership.state],
        "registered_at": format_jst(membership.registered_at),
        "changed_at": format_jst(membership.changed_at),
        "reason": membership.reason,
        "step_start_date": membership.step_start_date,
        "lead_status": membership.lead_status,
    }


def customer_values(account: Account, customer: Customer) -> dict:
    """`{label: value}` for every non-email item, blank items included."""
    result = {}
    for item in account.items.values():
        if item.type == "email":
            continue
        result[item.label] = output_value(item, customer.values.get(item.item_id))
    return result


def customer_json(account: Account, customer: Customer, base_url: str) -> dict:
    """GetCustomerList item."""
    memberships = customer.memberships or {}
    return {
        "customer_id": customer.customer_id,
        "email": customer.email,
        "values": customer_values(account, customer),
        "created_at": format_jst(customer.created_at),
        "updated_at": format_jst(customer.updated_at),
        "view_url": account.view_url(customer.customer_id, base_url),
        "memberships": [membership_json(m) for m in memberships.values()],
    }


def state_json(customer: Customer, membership: Membership) -> dict:
    """GetDeliveryStateList item."""
    return {
        "email": customer.email,
        "customer_id": customer.customer_id,
        "target_type": membership.kind,
        "target_id": membership.target_id,
        "state": membership.state,
        "state_label": STATE_LABELS[membership.state],
        "changed_at": format_jst(membership.changed_at),
        "reason": membership.reason,
    }


def mail_json(account: Account, mail: Mail, visible_until: float) -> dict:
    """GetMailList item; open/click counts include only events already visible."""
    return {
        "mail_id": mail.mail_id,
        "mail_type": mail.mail_type,
        "target_id": mail.target_id,
        "subject": mail.subject,
        "sent_at": format_jst(mail.sent_at),
        "sent_count": mail.sent_count,
        "error_count": mail.error_count,
        "open_count": account.count_visible("open", mail.mail_id, visible_until),
        "click_count": account.count_visible("click", mail.mail_id, visible_until),
    }


def event_detail(event: Event) -> str:
    """Human-readable summary: the non-empty of subject, url, tag, page and file, ` / `-joined."""
    parts = (event.subject, event.url, event.tag_name, event.page_url, event.file_name)
    return " / ".join(part for part in parts if part)


def event_json(account: Account, event: Event) -> dict:
    """Event item of the five log actions (one schema for all)."""
    customer_id = event.customer_id if account.customer_alive(event.customer_id) else None
    return {
        "event_id": event.event_id if event.event_id is not None else str(event.seq),
        "action_type": event.action_type,
        "occurred_at": format_jst(event.occurred_at),
        "email": event.email,
        "customer_id": customer_id,
        "mail_type": event.mail_type,
        "mail_id": event.mail_id,
        "subject": event.subject,
        "url": event.url,
        "click_url_code": event.click_url_code,
        "tag_name": event.tag_name,
        "page_url": event.page_url,
        "file_name": event.file_name,
        "detail": event_detail(event),
    }


def answer_json(account: Account, answer: Answer) -> dict:
    """GetFormAnswerList item; labels are the items' current labels when they still exist."""
    form = account.forms.get(answer.form_id)
    entries = []
    lines = []
    for item_id, label_then, value in answer.answers:
        item = account.items.get(item_id)
        label = item.label if item is not None else label_then
        shown = list(value) if isinstance(value, tuple) else value
        entries.append({"item_id": item_id, "label": label, "value": shown})
        flat = ", ".join(value) if isinstance(value, tuple) else text_value(value)
        lines.append(f"{label}: {flat}")
    customer_id = answer.customer_id if account.customer_alive(answer.customer_id) else None
    return {
        "form_id": answer.form_id,
        "form_name": form.form_name if form else None,
        "answer_id": answer.answer_id,
        "answered_at": format_jst(answer.answered_at),
        "customer_id": customer_id,
        "email": answer.email,
        "answers": entries,
        "answer_text": "\n".join(lines),
    }


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list) and all(not isinstance(part, dict | list) for part in value):
        return ",".join(str(part) for part in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def to_csv(field_names: list[str], rows: list[dict]) -> str:
    """CSV text (CRLF, all quoted): header of field names, scalars as text, nested as JSON."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(field_names)
    for row in rows:
        writer.writerow([_csv_cell(row.get(name)) for name in field_names])
    return out.getvalue()
