"""Retrieval operations of HaihaiClient against the sandbox over real HTTP."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.integrations.haihai import (
    JST,
    Customer,
    DeliveryState,
    EventKind,
    Group,
    ItemType,
    StepPlan,
    TargetType,
)

T0 = dt.datetime(2025, 1, 10, 9, 0, 0, tzinfo=JST)


def jst(moment: dt.datetime) -> str:
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")


def test_list_items_reports_labels_types_options_and_the_email_item(client):
    items = client.list_items()
    by_label = {item.label: item for item in items}
    assert list(by_label) == ["メールアドレス", "氏名", "ふりがな", "都道府県", "関心", "誕生日"]
    email = by_label["メールアドレス"]
    assert email.is_email and email.type is ItemType.EMAIL
    assert [item.label for item in items if item.is_email] == ["メールアドレス"]
    prefecture = by_label["都道府県"]
    assert prefecture.type is ItemType.SELECT
    assert prefecture.options == ("東京都", "大阪府")
    assert prefecture.required is True
    assert by_label["ふりがな"].input_rule == "hiragana"
    assert by_label["関心"].type is ItemType.CHECKBOX
    assert by_label["誕生日"].type is ItemType.DATE
    assert by_label["氏名"].max_length == 900
    assert by_label["氏名"].item_id == "I2"


def test_renamed_email_item_is_reported_under_its_new_label(admin, make_client):
    admin.create_account(email_label="E-mail")
    items = make_client().list_items()
    assert [item.label for item in items if item.is_email] == ["E-mail"]


def test_list_groups_and_step_plans_with_member_counts(admin, client):
    admin.add_customers(
        [
            {"email": "a@example.jp", "memberships": [{"gid": "1"}, {"spid": "10"}]},
            {"email": "b@example.jp", "memberships": [{"gid": "1"}]},
        ]
    )
    groups = client.list_groups()
    assert [(g.group_id, g.name, g.from_address, g.member_count) for g in groups] == [
        ("1", "メルマガ", "news@example.jp", 2),
        ("2", "セミナー案内", "seminar@example.jp", 0),
    ]
    assert all(isinstance(g, Group) and g.created_at.tzinfo is not None for g in groups)
    plans = client.list_step_plans()
    assert [(p.plan_id, p.name, p.member_count) for p in plans] == [
        ("10", "オンボーディング", 1),
        ("11", "開始日指定", 0),
    ]
    assert all(isinstance(p, StepPlan) for p in plans)


def test_list_forms_with_targets(client):
    forms = client.list_forms()
    assert len(forms) == 1
    form = forms[0]
    assert (form.form_id, form.name, form.status) == ("50", "資料請求フォーム", "open")
    assert form.group_ids == ("2",) and form.plan_ids == ()


def test_iter_customers_streams_every_page_with_values_and_memberships(admin, make_client):
    admin.add_customers(
        [
            {
                "email": f"user{i:02d}@example.jp",
                "values": {"氏名": f"利用者{i}", "関心": ["料金", "事例"] if i % 2 else []},
                "memberships": [{"gid": "1", "state": "stop" if i == 3 else "ok"}],
            }
            for i in range(23)
        ]
    )
    client = make_client(page_size=5)
    customers = list(client.iter_customers())
    assert [c.email for c in customers] == [f"user{i:02d}@example.jp" for i in range(23)]
    assert all(isinstance(c, Customer) for c in customers)
    first, second = customers[0], customers[1]
    assert first.values["氏名"] == "利用者0"
    assert second.values["関心"] == ["料金", "事例"]
    assert first.customer_id == 1 and first.view_url
    membership = customers[3].memberships[0]
    assert (membership.target_type, membership.target_id) == (TargetType.GROUP, "1")
    assert membership.state is DeliveryState.STOP
    # 23 customers in pages of 5 take exactly five calls, not one more to find the end.
    assert admin.calls("GetCustomerList") == 5


def test_iter_customers_filters_by_target_and_state(admin, client):
    admin.add_customers(
        [
            {"email": "a@example.jp", "memberships": [{"gid": "1", "state": "ok"}]},
            {"email": "b@example.jp", "memberships": [{"gid": "1", "state": "ban"}]},
            {"email": "c@example.jp", "memberships": [{"spid": "10"}]},
            {"email": "d@example.jp"},
        ]
    )
    assert [c.email for c in client.iter_customers(group_id="1")] == [
        "a@example.jp",
        "b@example.jp",
    ]
    banned = list(client.iter_customers(group_id="1", state=DeliveryState.BAN))
    assert [c.email for c in banned] == ["b@example.jp"]
    in_plan = list(client.iter_customers(plan_id="10"))
    assert [c.email for c in in_plan] == ["c@example.jp"]
    assert in_plan[0].memberships[0].target_type is TargetType.PLAN
    assert in_plan[0].memberships[0].step_start_date is not None


def test_iter_customers_updated_since(admin, client):
    admin.config(now=jst(T0))
    admin.add_customers([{"email": "old@example.jp"}])
    admin.config(advance_seconds=3600)
    admin.add_customers([{"email": "new@example.jp"}])
    since = T0 + dt.timedelta(minutes=30)
    assert [c.email for c in client.iter_customers(updated_since=since)] == ["new@example.jp"]
    assert len(list(client.iter_customers())) == 2


def test_delivery_state_lists_per_database_group_and_plan(admin, client):
    admin.add_customers(
        [
            {
                "email": "stop-news@example.jp",
                "memberships": [
                    {"gid": "1", "state": "stop", "reason": "unsubscribe_form"},
                    {"gid": "2", "state": "ok"},
                ],
            },
            {"email": "ban@example.jp", "memberships": [{"gid": "2", "state": "ban"}]},
            {"email": "stop-step@example.jp", "memberships": [{"spid": "10", "state": "stop"}]},
            {"email": "fine@example.jp", "memberships": [{"gid": "1", "state": "ok"}]},
        ]
    )
    stopped = list(client.iter_delivery_states(DeliveryState.STOP))
    assert sorted((e.email, e.target_type, e.target_id) for e in stopped) == [
        ("stop-news@example.jp", TargetType.GROUP, "1"),
        ("stop-step@example.jp", TargetType.PLAN, "10"),
    ]
    entry = next(e for e in stopped if e.target_id == "1")
    assert entry.state is DeliveryState.STOP and entry.reason == "unsubscribe_form"
    assert entry.customer_id is not None and entry.changed_at.tzinfo is not None
    banned = list(client.iter_delivery_states("ban"))
    assert [(e.email, e.target_id, e.state) for e in banned] == [
        ("ban@example.jp", "2", DeliveryState.BAN)
    ]
    assert [e.email for e in client.iter_delivery_states(DeliveryState.STOP, group_id="1")] == [
        "stop-news@example.jp"
    ]
    assert list(client.iter_delivery_states(DeliveryState.STOP, group_id="2")) == []
    assert [e.email for e in client.iter_delivery_states(DeliveryState.STOP, plan_id="10")] == [
        "stop-step@example.jp"
    ]
    with pytest.raises(ValueError):
        list(client.iter_delivery_states(DeliveryState.STOP, group_id="1", plan_id="10"))


def test_delivery_states_changed_since(admin, client):
    admin.add_customers(
        [
            {
                "email": "old@example.jp",
                "memberships": [{"gid": "1", "state": "stop", "changed_at": jst(T0)}],
            },
            {
                "email": "new@example.jp",
                "memberships": [
                    {"gid": "1", "state": "stop", "changed_at": jst(T0 + dt.timedelta(days=2))}
                ],
            },
        ]
    )
    since = T0 + dt.timedelta(days=1)
    recent = list(client.iter_delivery_states(DeliveryState.STOP, changed_since=since))
    assert [e.email for e in recent] == ["new@example.jp"]


def test_iter_view_urls_maps_every_email_to_its_page(admin, client, haihai_sandbox):
    admin.add_customers([{"email": "a@example.jp"}, {"email": "b@example.jp"}])
    urls = dict(client.iter_view_urls())
    assert set(urls) == {"a@example.jp", "b@example.jp"}
    assert urls["a@example.jp"] != urls["b@example.jp"]
    assert all(url.startswith(f"{haihai_sandbox}/") for url in urls.values())


def _event(kind: str, minute: int, **extra) -> dict:
    return {
        "action_type": kind,
        "email": "reader@example.jp",
        "occurred_at": jst(T0 + dt.timedelta(minutes=minute)),
        **extra,
    }


@pytest.mark.parametrize(
    ("kind", "extra", "field", "expected"),
    [
        (EventKind.OPEN, {"mail_id": "7", "subject": "1月号"}, "subject", "1月号"),
        (
            EventKind.CLICK,
            {"mail_id": "7", "url": "https://example.jp/p"},
            "url",
            "https://example.jp/p",
        ),
        (EventKind.VISIT, {"tag_name": "料金ページ"}, "tag_name", "料金ページ"),
        (EventKind.CV, {"tag_name": "申込完了"}, "tag_name", "申込完了"),
        (EventKind.DOWNLOAD, {"file_name": "catalog.pdf"}, "file_name", "catalog.pdf"),
    ],
)
def test_iter_events_per_kind_with_inclusive_since_and_exclusive_until(
    admin, client, kind, extra, field, expected
):
    admin.add_customers([{"email": "reader@example.jp"}])
    admin.add_events([_event(kind.value, minute, **extra) for minute in (0, 1, 2, 3)])
    admin.add_events([_event("open" if kind is not EventKind.OPEN else "click", 1)])
    since = T0 + dt.timedelta(minutes=1)
    until = T0 + dt.timedelta(minutes=3)
    events = list(client.iter_events(kind, since, until))
    assert [e.occurred_at for e in events] == [since, T0 + dt.timedelta(minutes=2)]
    assert all(e.kind is kind and e.email == "reader@example.jp" for e in events)
    assert getattr(events[0], field) == expected
    assert events[0].customer_id is not None
    assert len({e.event_id for e in events}) == 2


def test_iter_events_converts_aware_times_and_rejects_naive_ones(admin, client):
    admin.add_events([_event("open", 0)])
    utc_since = (T0 - dt.timedelta(seconds=1)).astimezone(dt.UTC)
    events = list(client.iter_events("open", utc_since, utc_since + dt.timedelta(minutes=1)))
    assert [e.occurred_at for e in events] == [T0]
    # An exclusive end with sub-seconds still includes the event of that second.
    assert len(list(client.iter_events("open", T0, T0 + dt.timedelta(microseconds=1)))) == 1
    with pytest.raises(ValueError, match="timezone-aware"):
        list(client.iter_events("open", dt.datetime(2025, 1, 10), dt.datetime(2025, 1, 11)))
    assert list(client.iter_events("open", T0, T0)) == []


def test_iter_events_pages_through_many_events(admin, make_client):
    admin.add_events(
        [_event("click", minute, url=f"https://example.jp/{minute}") for minute in range(57)]
    )
    client = make_client(page_size=10)
    events = list(client.iter_events(EventKind.CLICK, T0, T0 + dt.timedelta(days=1)))
    assert [e.url for e in events] == [f"https://example.jp/{m}" for m in range(57)]
    assert admin.calls("GetClickLog") == 6


def test_event_lag_hides_recent_events_until_they_become_visible(admin, client):
    admin.config(now=jst(T0 + dt.timedelta(minutes=9)), event_lag_seconds=600)
    admin.add_events([_event("open", 0), _event("open", 8)])
    window = (T0 - dt.timedelta(hours=1), T0 + dt.timedelta(hours=1))
    assert list(client.iter_events("open", *window)) == []
    admin.config(advance_seconds=60)
    visible = list(client.iter_events("open", *window))
    assert [e.occurred_at for e in visible] == [T0]
    admin.config(advance_seconds=480)
    # Re-reading the trailing window picks up the late event; event_id de-duplicates.
    again = list(client.iter_events("open", *window))
    assert [e.occurred_at for e in again] == [T0, T0 + dt.timedelta(minutes=8)]
    assert again[0].event_id == visible[0].event_id


def test_iter_form_answers_with_values_and_flattened_text(admin, client):
    admin.add_answers(
        [
            {
                "form_id": "50",
                "email": "lead@example.jp",
                "answered_at": jst(T0 + dt.timedelta(seconds=s)),
                "answers": {"氏名": f"見込{s}", "関心": ["料金", "事例"]},
            }
            for s in (0, 7, 30)
        ]
    )
    answers = list(client.iter_form_answers("50", T0, T0 + dt.timedelta(seconds=30)))
    assert [a.answered_at for a in answers] == [T0, T0 + dt.timedelta(seconds=7)]
    first = answers[0]
    assert (first.form_id, first.form_name, first.email) == (
        "50",
        "資料請求フォーム",
        "lead@example.jp",
    )
    assert first.customer_id is not None and first.answer_id
    by_label = {value.label: value.value for value in first.answers}
    assert by_label == {"氏名": "見込0", "関心": ["料金", "事例"]}
    assert first.answer_text == "氏名: 見込0\n関心: 料金, 事例"
