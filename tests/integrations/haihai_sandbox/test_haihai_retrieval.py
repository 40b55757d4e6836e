"""Retrieval family (spec §3.6–§3.9): schema lists, customers, mails, event logs, form answers."""

from __future__ import annotations

import re


def test_database_items_list_every_type_with_rules(hh):
    hh.setup()
    hh.admin("PATCH", "accounts/m12345/items/I2", {"required": True})
    items = hh.ok("GetDatabaseItemList")["items"]
    assert items[0] == {
        "item_id": "I1",
        "label": "メールアドレス",
        "type": "email",
        "type_label": "メールアドレス",
        "options": [],
        "input_rule": "none",
        "required": False,
        "is_email": True,
        "max_length": 900,
    }
    by_label = {item["label"]: item for item in items}
    assert by_label["氏名"]["required"] is True
    assert by_label["ふりがな"]["input_rule"] == "hiragana"
    assert by_label["関心"]["options"] == ["料金", "導入事例", "セミナー"]
    assert by_label["資格"]["type_label"] == "セレクトボックス(複数選択)"
    assert {item["type"] for item in items} == {
        "email",
        "text",
        "textarea",
        "select",
        "multiselect",
        "radio",
        "checkbox",
        "date",
        "int",
        "decimal",
    }
    assert all(item["max_length"] == 900 for item in items)


def test_groups_and_plans_with_member_counts(hh):
    hh.setup()
    hh.config(now="2025-01-01 00:00:00")
    hh.admin("POST", "accounts/m12345/groups", {"name": "新規グループ"}, expect=201)
    hh.customers(
        [
            {"email": "a@example.jp", "memberships": [{"gid": "1"}, {"spid": "10"}]},
            {"email": "b@example.jp", "memberships": [{"gid": "1", "state": "ban"}]},
        ]
    )
    groups = hh.ok("GetGroupList")["items"]
    assert [(g["gid"], g["name"], g["member_count"]) for g in groups] == [
        ("1", "メルマガ", 2),
        ("2", "セミナー案内", 0),
        ("3", "新規グループ", 0),
    ]
    assert groups[0]["from_address"] == "news@example.jp"
    assert groups[2]["created_at"] == "2025-01-01 00:00:00"
    plans = hh.ok("GetStepPlanList")["items"]
    assert [(p["spid"], p["member_count"], p["start_mode"]) for p in plans] == [
        ("10", 1, "registration"),
        ("11", 0, "start_date"),
    ]
    paged = hh.ok("GetGroupList", offset="1", limit="1")
    assert (paged["total"], [g["gid"] for g in paged["items"]]) == (3, ["2"])


def test_form_list(hh):
    hh.setup()
    [form] = hh.ok("GetFormList")["items"]
    assert form["form_id"] == "50"
    assert form["form_name"] == "資料請求フォーム"
    assert form["status"] == "open"
    assert (form["target_gids"], form["target_spids"], form["item_ids"]) == (
        ["2"],
        ["10"],
        ["I2", "I5"],
    )


def test_customer_list_fields_order_and_paging(hh):
    hh.setup()
    hh.config(now="2025-03-01 12:00:00")
    hh.customers(
        [
            {
                "email": f"c{i}@example.jp",
                "values": {"氏名": f"顧客{i}", "関心": ["料金"]},
                "memberships": [{"spid": "10", "step_start_date": "2025-03-10"}] if i == 0 else [],
            }
            for i in range(5)
        ]
    )
    page = hh.ok("GetCustomerList", offset="1", limit="2")
    assert (page["total"], page["offset"], page["limit"]) == (5, 1, 2)
    assert [c["customer_id"] for c in page["items"]] == [2, 3]
    first = hh.ok("GetCustomerList", limit="1")["items"][0]
    assert first["email"] == "c0@example.jp"
    assert first["values"]["氏名"] == "顧客0"
    assert first["values"]["関心"] == ["料金"]
    assert first["values"]["都道府県"] == ""
    assert first["values"]["資格"] == []
    assert "メールアドレス" not in first["values"]
    assert (first["created_at"], first["updated_at"]) == (
        "2025-03-01 12:00:00",
        "2025-03-01 12:00:00",
    )
    assert first["memberships"] == [
        {
            "type": "step",
            "id": "10",
            "state": "ok",
            "state_label": "配信可能",
            "registered_at": "2025-03-01 12:00:00",
            "changed_at": "2025-03-01 12:00:00",
            "reason": "admin",
            "step_start_date": "2025/03/10",
            "lead_status": None,
        }
    ]
    beyond = hh.ok("GetCustomerList", offset="10")
    assert (beyond["total"], beyond["items"]) == (5, [])


def test_customer_list_filters(hh):
    hh.setup()
    hh.config(now="2025-01-01 00:00:00")
    hh.customers(
        [
            {"email": "a@example.jp", "memberships": [{"gid": "1", "state": "stop"}]},
            {
                "email": "b@example.jp",
                "memberships": [{"gid": "1"}, {"spid": "10", "state": "ban"}],
            },
        ]
    )
    hh.config(now="2025-01-02 00:00:00")
    hh.customers([{"email": "c@example.jp", "memberships": [{"gid": "2"}]}])

    def emails(**params):
        return [c["email"] for c in hh.ok("GetCustomerList", **params)["items"]]

    assert emails(gid="1") == ["a@example.jp", "b@example.jp"]
    assert emails(gid="1", state="stop") == ["a@example.jp"]
    assert emails(spid="10") == ["b@example.jp"]
    assert emails(state="ban") == ["b@example.jp"]
    assert emails(updated_from="2025-01-01 12:00:00") == ["c@example.jp"]
    assert emails(updated_to="2025-01-01 12:00:00") == ["a@example.jp", "b@example.jp"]
    hh.error("GetCustomerList", 404, 81410, spid="99")


def test_bridge_groups_carry_a_lead_status(hh):
    hh.setup()
    hh.admin("PATCH", "accounts/m12345/groups/1", {"lead_statuses": ["見込み", "商談中"]})
    hh.customers(
        [
            {"email": "a@example.jp", "memberships": [{"gid": "1", "lead_status": "商談中"}]},
            {"email": "b@example.jp", "memberships": [{"gid": "1"}]},
        ]
    )
    statuses = [c["memberships"][0]["lead_status"] for c in hh.ok("GetCustomerList")["items"]]
    assert statuses == ["商談中", "未設定"]
    assert hh.ok("GetGroupList")["items"][0]["lead_statuses"] == ["未設定", "見込み", "商談中"]


def test_view_url_is_stable_and_opens_the_customer_page(hh):
    hh.setup()
    hh.customers([{"email": "a@example.jp", "values": {"氏名": "<山田>"}}])
    [customer] = hh.ok("GetCustomerList")["items"]
    url = customer["view_url"]
    assert re.fullmatch(rf"{re.escape(hh.base)}/m12345/view/1-[0-9a-f]{{16}}", url)
    assert hh.ok("GetCustomerList")["items"][0]["view_url"] == url
    page = hh.session.get(url)
    assert page.status_code == 200
    assert "&lt;山田&gt;" in page.text and "a@example.jp" in page.text
    forged = hh.session.get(url[:-1] + ("0" if url[-1] != "0" else "1"))
    assert forged.status_code == 404
    hh.admin("PATCH", "accounts/m12345", {"view_url_base": "https://a03.hm-f.jp"})
    assert hh.ok("GetCustomerList")["items"][0]["view_url"].startswith(
        "https://a03.hm-f.jp/m12345/view/1-"
    )


def _seed_events(hh):
    hh.customers([{"email": "a@example.jp"}])
    hh.admin(
        "POST",
        "mails",
        {
            "account": "m12345",
            "mails": [
                {
                    "mail_id": "1001",
                    "mail_type": "group",
                    "gid": "1",
                    "subject": "1月号",
                    "sent_at": "2025-01-10 09:00:00",
                    "sent_count": 120,
                    "error_count": 2,
                },
                {
                    "mail_id": "1002",
                    "mail_type": "step",
                    "spid": "10",
                    "subject": "ようこそ",
                    "sent_at": "2025-01-11 09:00:00",
                },
            ],
        },
    )
    # Deliberately out of time order, split over two batches.
    hh.events(
        [
            {
                "action_type": "click",
                "email": "a@example.jp",
                "occurred_at": "2025-01-10 10:05:00",
                "mail_id": "1001",
                "url": "https://example.jp/price",
                "click_url_code": "C1",
            },
            {
                "action_type": "open",
                "email": "a@example.jp",
                "occurred_at": "2025-01-10 10:00:00",
                "mail_id": "1001",
            },
            {
                "action_type": "open",
                "email": "b@example.jp",
                "occurred_at": "2025-01-11 10:00:00",
                "mail_id": "1002",
            },
        ]
    )
    hh.events(
        [
            {
                "action_type": "open",
                "email": "a@example.jp",
                "occurred_at": "2025-01-10 09:30:00",
                "mail_id": "1001",
            },
            {
                "action_type": "visit",
                "email": "a@example.jp",
                "occurred_at": "2025-01-12 08:00:00",
                "tag_name": "料金ページ",
                "page_url": "https://example.jp/price",
            },
            {
                "action_type": "cv",
                "email": "a@example.jp",
                "occurred_at": "2025-01-12 08:10:00",
                "tag_name": "申込完了",
                "page_url": "https://example.jp/thanks",
            },
            {
                "action_type": "download",
                "email": "a@example.jp",
                "occurred_at": "2025-01-12 09:00:00",
                "file_name": "catalog.pdf",
            },
        ]
    )


def test_event_logs_by_type_with_full_fields(hh):
    hh.setup()
    _seed_events(hh)
    opens = hh.ok("GetOpenLog")
    assert opens["total"] == 3
    assert [e["occurred_at"] for e in opens["items"]] == [
        "2025-01-10 09:30:00",
        "2025-01-10 10:00:00",
        "2025-01-11 10:00:00",
    ]
    first = opens["items"][0]
    assert first == {
        "event_id": first["event_id"],
        "action_type": "open",
        "occurred_at": "2025-01-10 09:30:00",
        "email": "a@example.jp",
        "customer_id": 1,
        "mail_type": "group",
        "mail_id": "1001",
        "subject": "1月号",
        "url": None,
        "click_url_code": None,
        "tag_name": None,
        "page_url": None,
        "file_name": None,
        "detail": "1月号",
    }
    assert opens["items"][2]["customer_id"] is None
    assert opens["items"][2]["mail_type"] == "step"
    [click] = hh.ok("GetClickLog")["items"]
    assert (click["url"], click["click_url_code"], click["detail"]) == (
        "https://example.jp/price",
        "C1",
        "1月号 / https://example.jp/price",
    )
    [visit] = hh.ok("GetVisitLog")["items"]
    assert (visit["tag_name"], visit["page_url"], visit["mail_id"], visit["mail_type"]) == (
        "料金ページ",
        "https://example.jp/price",
        None,
        None,
    )
    [cv] = hh.ok("GetConversionLog")["items"]
    assert cv["detail"] == "申込完了 / https://example.jp/thanks"
    [download] = hh.ok("GetDownloadLog")["items"]
    assert (download["file_name"], download["action_type"]) == ("catalog.pdf", "download")
    ids = [e["event_id"] for e in opens["items"]] + [click["event_id"], visit["event_id"]]
    assert len(set(ids)) == len(ids)


def test_event_log_range_is_inclusive_from_and_exclusive_to_and_filters_mail(hh):
    hh.setup()
    _seed_events(hh)
    window = hh.ok("GetOpenLog", from_="2025-01-10 10:00:00", to="2025-01-11 10:00:00")
    assert [e["occurred_at"] for e in window["items"]] == ["2025-01-10 10:00:00"]
    assert hh.ok("GetOpenLog", mail_id="1001")["total"] == 2
    assert hh.ok("GetOpenLog", mail_id="1001", from_="2025-01-10 09:45:00")["total"] == 1
    assert hh.ok("GetOpenLog", mail_id="9999")["total"] == 0


def test_event_lag_hides_recent_events_until_it_passes(hh):
    hh.setup()
    hh.config(now="2025-02-01 12:00:00", event_lag_seconds=600)
    hh.events(
        [
            {
                "action_type": "open",
                "email": "a@example.jp",
                "occurred_at": "2025-02-01 11:50:00",
                "mail_id": "1",
            },
            {
                "action_type": "open",
                "email": "a@example.jp",
                "occurred_at": "2025-02-01 11:50:01",
                "mail_id": "1",
            },
            {
                "action_type": "click",
                "email": "a@example.jp",
                "occurred_at": "2025-02-01 11:59:00",
                "mail_id": "1",
            },
        ]
    )
    assert [e["occurred_at"] for e in hh.ok("GetOpenLog")["items"]] == ["2025-02-01 11:50:00"]
    assert hh.ok("GetClickLog")["total"] == 0
    [mail] = hh.ok("GetMailList")["items"]
    assert (mail["open_count"], mail["click_count"]) == (1, 0)
    hh.config(advance_seconds=1)
    assert hh.ok("GetOpenLog")["total"] == 2
    assert hh.ok("GetClickLog")["total"] == 0
    hh.config(advance_seconds=539)
    assert hh.ok("GetClickLog")["total"] == 1
    [mail] = hh.ok("GetMailList")["items"]
    assert (mail["open_count"], mail["click_count"]) == (2, 1)


def test_event_paging_walks_every_event_once(hh):
    hh.setup()
    hh.events(
        [
            {
                "action_type": "open",
                "email": f"u{i}@example.jp",
                "occurred_at": f"2025-01-01 00:{59 - i % 60:02d}:00",
            }
            for i in range(250)
        ]
    )
    seen = []
    offset = 0
    while True:
        page = hh.ok("GetOpenLog", offset=str(offset), limit="100")
        assert page["total"] == 250
        if not page["items"]:
            break
        seen.extend(page["items"])
        offset += len(page["items"])
    assert len(seen) == 250
    assert len({e["event_id"] for e in seen}) == 250
    times = [e["occurred_at"] for e in seen]
    assert times == sorted(times)


def test_mail_list_filters_and_hides_future_sends(hh):
    hh.setup()
    hh.config(now="2025-01-20 00:00:00")
    _seed_events(hh)
    hh.admin(
        "POST",
        "mails",
        {
            "account": "m12345",
            "mails": [
                {
                    "mail_id": "1003",
                    "mail_type": "spot",
                    "subject": "予約",
                    "sent_at": "2025-02-01 00:00:00",
                }
            ],
        },
    )
    mails = hh.ok("GetMailList")["items"]
    assert [m["mail_id"] for m in mails] == ["1001", "1002"]
    assert mails[0] == {
        "mail_id": "1001",
        "mail_type": "group",
        "target_id": "1",
        "subject": "1月号",
        "sent_at": "2025-01-10 09:00:00",
        "sent_count": 120,
        "error_count": 2,
        "open_count": 2,
        "click_count": 1,
    }
    assert [m["mail_id"] for m in hh.ok("GetMailList", mail_type="step")["items"]] == ["1002"]
    assert [m["mail_id"] for m in hh.ok("GetMailList", gid="1")["items"]] == ["1001"]
    assert [m["mail_id"] for m in hh.ok("GetMailList", from_="2025-01-11 00:00:00")["items"]] == [
        "1002"
    ]
    hh.error("GetMailList", 400, 81400, mail_type="sms")


def test_form_answers_are_listed_with_seconds_and_written_into_the_db(hh):
    hh.setup()
    response = hh.admin(
        "POST",
        "answers",
        {
            "account": "m12345",
            "answers": [
                {
                    "form_id": "50",
                    "email": "lead@example.jp",
                    "answered_at": "2025-03-24 08:00:07",
                    "answers": [
                        {"label": "氏名", "value": "株式会社サンプル 山田"},
                        {"item_id": "I5", "value": ["料金", "導入事例"]},
                    ],
                },
                {
                    "form_id": "50",
                    "email": "lead2@example.jp",
                    "answered_at": "2025-03-24 07:00:00",
                    "answers": {"氏名": "佐藤"},
                },
            ],
        },
    )
    assert [a["answer_id"] for a in response["answers"]] == ["1", "2"]
    data = hh.ok("GetFormAnswerList", form_id="50")
    assert data["total"] == 2
    assert [a["email"] for a in data["items"]] == ["lead2@example.jp", "lead@example.jp"]
    answer = data["items"][1]
    assert answer == {
        "form_id": "50",
        "form_name": "資料請求フォーム",
        "answer_id": "1",
        "answered_at": "2025-03-24 08:00:07",
        "customer_id": answer["customer_id"],
        "email": "lead@example.jp",
        "answers": [
            {"item_id": "I2", "label": "氏名", "value": "株式会社サンプル 山田"},
            {"item_id": "I5", "label": "関心", "value": ["料金", "導入事例"]},
        ],
        "answer_text": "氏名: 株式会社サンプル 山田\n関心: 料金, 導入事例",
    }
    customer = hh.customer("lead@example.jp")
    assert customer["customer_id"] == answer["customer_id"]
    assert customer["values"]["関心"] == ["料金", "導入事例"]
    # The form registers into its targets.
    assert hh.states("lead@example.jp") == {("group", "2"): "ok", ("step", "10"): "ok"}
    window = hh.ok("GetFormAnswerList", from_="2025-03-24 07:30:00", to="2025-03-24 08:00:07")
    assert window["total"] == 0
    window = hh.ok("GetFormAnswerList", from_="2025-03-24 07:30:00", to="2025-03-24 08:00:08")
    assert [a["answer_id"] for a in window["items"]] == ["1"]
    hh.error("GetFormAnswerList", 404, 81410, form_id="404")


def test_form_answer_labels_follow_renames_and_values_stay_as_answered(hh):
    hh.setup()
    hh.admin(
        "POST",
        "answers",
        {
            "account": "m12345",
            "answers": [{"form_id": "50", "email": "a@example.jp", "answers": {"氏名": "回答時"}}],
        },
    )
    hh.admin("PATCH", "accounts/m12345/items/I2", {"label": "お名前"})
    hh.run_import(
        hh.csv("メールアドレス,お名前", "a@example.jp,変更後"), import_type="0", is_overwrite="1"
    )
    [answer] = hh.ok("GetFormAnswerList")["items"]
    assert answer["answers"] == [{"item_id": "I2", "label": "お名前", "value": "回答時"}]
    assert answer["answer_text"] == "お名前: 回答時"
