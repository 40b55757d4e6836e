"""Records in the canonical field names of spec §3.6–§3.9 → the typed domain objects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from portal.integrations.haihai.types import (
    JST,
    Customer,
    DatabaseItem,
    DeliveryState,
    DeliveryStateEntry,
    Event,
    EventKind,
    Form,
    FormAnswer,
    FormAnswerValue,
    Group,
    ImportMode,
    ImportResult,
    ImportRowError,
    ItemType,
    Membership,
    StepPlan,
    TargetType,
)


def parse_time(value: Any) -> dt.datetime | None:
    """'YYYY-MM-DD HH:MM:SS' (JST, spec) or ISO 8601 with offset → aware datetime."""
    if value in (None, ""):
        return None
    text = str(value).replace("/", "-")
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=JST)


def parse_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    return dt.date.fromisoformat(str(value).replace("/", "-")[:10])


def int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def str_or_none(value: Any) -> str | None:
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


def parse_item(raw: Mapping[str, Any]) -> DatabaseItem:
    return DatabaseItem(
        item_id=str(raw["item_id"]),
        label=str(raw["label"]),
        type=_item_type(raw.get("type")),
        options=tuple(str(option) for option in raw.get("options") or ()),
        input_rule=str_or_none(raw.get("input_rule")),
        required=bool(raw.get("required", False)),
        is_email=bool(raw.get("is_email", False)),
        max_length=int_or_none(raw.get("max_length")),
    )


def parse_group(raw: Mapping[str, Any]) -> Group:
    return Group(
        group_id=str(raw["gid"]),
        name=str(raw.get("name", "")),
        from_address=str_or_none(raw.get("from_address")),
        member_count=int_or_none(raw.get("member_count")),
        created_at=parse_time(raw.get("created_at")),
    )


def parse_plan(raw: Mapping[str, Any]) -> StepPlan:
    return StepPlan(
        plan_id=str(raw["spid"]),
        name=str(raw.get("name", "")),
        member_count=int_or_none(raw.get("member_count")),
        created_at=parse_time(raw.get("created_at")),
    )


def parse_form(raw: Mapping[str, Any]) -> Form:
    return Form(
        form_id=str(raw["form_id"]),
        name=str(raw.get("form_name") or raw.get("name") or ""),
        status=str_or_none(raw.get("status")),
        group_ids=tuple(str(gid) for gid in raw.get("target_gids") or ()),
        plan_ids=tuple(str(spid) for spid in raw.get("target_spids") or ()),
    )


def parse_membership(raw: Mapping[str, Any]) -> Membership:
    return Membership(
        target_type=_target_type(raw.get("type")) or TargetType.GROUP,
        target_id=str(raw.get("id")),
        state=_state(raw.get("state", "ok")),
        registered_at=parse_time(raw.get("registered_at")),
        step_start_date=parse_date(raw.get("step_start_date")),
        lead_status=str_or_none(raw.get("lead_status")),
    )


def parse_customer(raw: Mapping[str, Any]) -> Customer:
    return Customer(
        customer_id=int_or_none(raw.get("customer_id")),
        email=str(raw["email"]),
        values=dict(raw.get("values") or {}),
        created_at=parse_time(raw.get("created_at")),
        updated_at=parse_time(raw.get("updated_at")),
        view_url=str_or_none(raw.get("view_url")) or None,
        memberships=tuple(parse_membership(m) for m in raw.get("memberships") or ()),
    )


def parse_state_entry(raw: Mapping[str, Any]) -> DeliveryStateEntry:
    return DeliveryStateEntry(
        email=str(raw["email"]),
        customer_id=int_or_none(raw.get("customer_id")),
        target_type=_target_type(raw.get("target_type")),
        target_id=str_or_none(raw.get("target_id")),
        state=_state(raw["state"]),
        changed_at=parse_time(raw.get("changed_at")),
        reason=str_or_none(raw.get("reason")),
    )


_EVENT_KINDS = {kind.value: kind for kind in EventKind}


def parse_event(raw: Mapping[str, Any], kind: EventKind) -> Event:
    get = raw.get
    # The spec's JST wall-clock format parses fast with fromisoformat (Python 3.11+).
    try:
        occurred_at = dt.datetime.fromisoformat(raw["occurred_at"])
    except (TypeError, ValueError):
        occurred_at = parse_time(raw["occurred_at"])
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


def parse_answer(raw: Mapping[str, Any]) -> FormAnswer:
    answers = []
    for item in raw.get("answers") or ():
        value = item.get("value")
        answers.append(
            FormAnswerValue(
                item_id=str_or_none(item.get("item_id")),
                label=str(item.get("label", "")),
                value=[str(v) for v in value] if isinstance(value, list) else str(value or ""),
            )
        )
    return FormAnswer(
        form_id=str(raw["form_id"]),
        form_name=str_or_none(raw.get("form_name")),
        answer_id=str(raw["answer_id"]),
        answered_at=parse_time(raw["answered_at"]),
        customer_id=int_or_none(raw.get("customer_id")),
        email=str_or_none(raw.get("email")),
        answers=tuple(answers),
        answer_text=str_or_none(raw.get("answer_text")),
    )


def parse_import_result(
    raw: Mapping[str, Any], modes_by_code: Mapping[int, ImportMode]
) -> ImportResult:
    errors = tuple(
        ImportRowError(
            line=int_or_none(error.get("line")),
            email=str_or_none(error.get("email")),
            content=str_or_none(error.get("content")),
            message=str(error.get("message", "")),
        )
        for error in raw.get("errors") or ()
    )
    code = int_or_none(raw.get("import_type"))
    return ImportResult(
        job_id=str(raw["job_id"]),
        mode=modes_by_code.get(code) if code is not None else None,
        state=str(raw["state"]),
        accepted_at=parse_time(raw.get("accepted_at")),
        finished_at=parse_time(raw.get("finished_at")),
        total=int(raw.get("total") or 0),
        inserted=int(raw.get("inserted") or 0),
        updated=int(raw.get("updated") or 0),
        deleted=int(raw.get("deleted") or 0),
        state_changed=int(raw.get("state_changed") or 0),
        skipped=int(raw.get("skipped") or 0),
        failed=int(raw.get("failed") or 0),
        errors=errors,
        skip_reasons=tuple(
            (str(reason.get("message", "")), int(reason.get("count") or 0))
            for reason in raw.get("skip_reasons") or ()
            if isinstance(reason, Mapping)
        ),
    )
