"""The sandbox-only admin API (`/_sandbox/…`) and the `--data` start-up document."""

from __future__ import annotations

import json

import requests

from sandbox.haihai import create_app
from sandbox.serve import serve_in_thread


def test_reset_empties_everything_and_restores_defaults(hh):
    hh.setup()
    hh.config(latency_ms=5, now="2025-01-01 00:00:00")
    hh.customers([{"email": "a@example.jp"}])
    hh.admin("POST", "reset")
    assert hh.admin("GET", "accounts") == {"accounts": []}
    config = hh.admin("GET", "config")
    assert (config["latency_ms"], config["event_lag_seconds"], config["daily_limit"]) == (
        0,
        600,
        240,
    )
    assert (config["import_delay_seconds"], config["strict_csv"]) == (0.0, True)
    assert config["clock"]["mode"] == "real"
    hh.account = "m12345"
    hh.error("GetGroupList", 404, 81410)


def test_account_definition_echoes_ids_tokens_and_base_url(hh):
    created = hh.setup()
    assert created["base_url"] == f"{hh.base}/m12345/"
    assert created["users"][0]["api_token"] == "tok-123"
    assert [g["gid"] for g in created["groups"]] == ["1", "2"]
    assert created["items"][0]["label"] == "メールアドレス"
    generated = hh.admin(
        "POST",
        "accounts",
        {
            "account_key": "m55555",
            "users": [{"login_id": "u", "mail": "u@example.jp"}],
            "groups": [{"name": "G"}],
        },
        expect=201,
    )
    token = generated["users"][0]["api_token"]
    assert len(token) == 32 and generated["users"][0]["email"] == "u@example.jp"
    assert generated["groups"][0]["gid"] == "1"
    assert generated["plan"] == "standard"
    listed = hh.admin("GET", "accounts")["accounts"]
    assert [a["account_key"] for a in listed] == ["m12345", "m55555"]
    hh.admin("DELETE", "accounts/m55555")
    hh.admin("GET", "accounts/m55555", expect=404)


def test_posting_an_existing_account_replaces_it(hh):
    hh.setup()
    hh.customers([{"email": "a@example.jp"}])
    hh.setup(plan="light")
    assert hh.admin("GET", "accounts/m12345")["customer_count"] == 0
    assert hh.admin("GET", "accounts/m12345")["plan"] == "light"


def test_account_validation_errors(hh):
    bad = [
        ({"account_key": "m1", "plan": "gold"}, "plan must be one of"),
        ({"account_key": "m1", "items": [{"label": "a", "type": "color"}]}, "type must be one of"),
        (
            {"account_key": "m1", "items": [{"label": "a", "type": "select"}]},
            "choice items need options",
        ),
        (
            {
                "account_key": "m1",
                "items": [{"label": "a", "type": "checkbox", "options": ["x,y"]}],
            },
            "may not be empty or contain",
        ),
        ({"account_key": "m1", "items": [{"label": "a"}, {"label": "a"}]}, "already exists"),
        ({"account_key": "m1", "items": [{"label": "ステップ開始日"}]}, "is not allowed"),
        (
            {"account_key": "m1", "forms": [{"form_name": "f", "target_gids": ["9"]}]},
            "unknown gids",
        ),
        ({"plan": "light"}, "account_key is required"),
    ]
    for body, message in bad:
        answer = hh.admin("POST", "accounts", body, expect=400)
        assert message in answer["error"], answer


def test_item_and_group_caps(hh):
    many_items = [{"label": f"項目{i}"} for i in range(31)]
    answer = hh.admin("POST", "accounts", {"account_key": "m1", "items": many_items}, expect=400)
    assert "at most 30 items" in answer["error"]
    ok = hh.admin(
        "POST", "accounts", {"account_key": "m1", "max_items": 100, "items": many_items}, expect=201
    )
    assert len(ok["items"]) == 32
    groups = [{"name": f"G{i}"} for i in range(21)]
    answer = hh.admin("POST", "accounts", {"account_key": "m2", "groups": groups}, expect=400)
    assert "at most 20 delivery groups" in answer["error"]


def test_renaming_and_deleting_items_between_two_syncs(hh):
    hh.setup()
    hh.customers([{"email": "a@example.jp", "values": {"氏名": "山田", "購入回数": "4"}}])
    hh.admin("PATCH", "accounts/m12345/items/I2", {"label": "お名前"})
    hh.admin("DELETE", "accounts/m12345/items/I7")
    added = hh.admin("POST", "accounts/m12345/items", {"label": "会社名"}, expect=201)
    assert added["items"][0]["item_id"] == "I15"
    labels = [i["label"] for i in hh.ok("GetDatabaseItemList")["items"]]
    assert "お名前" in labels and "会社名" in labels
    assert "氏名" not in labels and "購入回数" not in labels
    values = hh.customer("a@example.jp")["values"]
    assert values["お名前"] == "山田" and "購入回数" not in values
    # The deleted item is gone from the customers too: re-adding it starts empty.
    hh.admin("POST", "accounts/m12345/items", {"label": "購入回数", "type": "int"}, expect=201)
    assert hh.customer("a@example.jp")["values"]["購入回数"] == ""
    assert hh.admin("DELETE", "accounts/m12345/items/I1", expect=400)["error"] == (
        "the email item cannot be deleted"
    )
    taken = hh.admin("PATCH", "accounts/m12345/items/I3", {"label": "お名前"}, expect=400)
    assert "already exists" in taken["error"]
    assert hh.ok("GetDatabaseItemList")["items"][2]["label"] == "ふりがな"
    hh.admin("PATCH", "accounts/m12345/items/I4", {"options": ["東京都", "大阪府", "京都府"]})
    result = hh.run_import(
        hh.csv("メールアドレス,都道府県", "a@example.jp,京都府"), import_type="0", is_overwrite="1"
    )
    assert result["updated"] == 1


def test_renaming_and_deleting_groups_plans_and_forms(hh):
    hh.setup()
    hh.customers(
        [{"email": "a@example.jp", "memberships": [{"gid": "1"}, {"gid": "2"}, {"spid": "10"}]}]
    )
    hh.admin("PATCH", "accounts/m12345/groups/1", {"name": "ニュース"})
    hh.admin("PATCH", "accounts/m12345/plans/10", {"name": "新オンボーディング"})
    hh.admin("PATCH", "accounts/m12345/forms/50", {"form_name": "お問い合わせフォーム"})
    assert hh.ok("GetGroupList")["items"][0]["name"] == "ニュース"
    assert hh.ok("GetStepPlanList")["items"][0]["name"] == "新オンボーディング"
    assert hh.ok("GetFormList")["items"][0]["form_name"] == "お問い合わせフォーム"
    hh.admin("DELETE", "accounts/m12345/groups/2")
    hh.admin("DELETE", "accounts/m12345/plans/10")
    assert [g["gid"] for g in hh.ok("GetGroupList")["items"]] == ["1"]
    assert hh.states("a@example.jp") == {("group", "1"): "ok"}
    form = hh.ok("GetFormList")["items"][0]
    assert (form["target_gids"], form["target_spids"]) == ([], [])
    response = hh.submit(hh.csv("メールアドレス", "a@example.jp"), import_type="2", gid="2")
    assert response.json()["code"] == 81410
    hh.admin("DELETE", "accounts/m12345/forms/50")
    assert hh.ok("GetFormList")["total"] == 0
    hh.admin("DELETE", "accounts/m12345/forms/50", expect=404)


def test_customers_admin_shapes(hh):
    hh.setup()
    answer = hh.customers(
        [
            {
                "email": "a@example.jp",
                "values": {"氏名": "山田", "I5": ["料金"]},
                "memberships": [{"gid": "1"}],
            },
            {"email": "b@example.jp", "customer_id": 100},
        ]
    )
    assert (answer["created"], answer["updated"]) == (2, 0)
    again = hh.customers([{"email": "a@EXAMPLE.JP", "values": {"購入回数": 7}}])
    assert (again["created"], again["updated"]) == (0, 1)
    one = hh.customer("a@example.jp")
    assert one["values_by_id"] == {"I2": "山田", "I5": ["料金"], "I7": "7"}
    assert one["view_url"].startswith(f"{hh.base}/m12345/view/1-")
    assert hh.customer("b@example.jp")["customer_id"] == 100
    hh.customers([{"email": "c@example.jp"}])
    everyone = hh.admin("GET", "customers", params={"account": "m12345"})
    assert everyone["total"] == 3
    assert [c["customer_id"] for c in everyone["customers"]] == [1, 100, 101]
    paged = hh.admin("GET", "customers", params={"account": "m12345", "offset": 1, "limit": 1})
    assert [c["email"] for c in paged["customers"]] == ["b@example.jp"]
    bad = hh.admin(
        "POST",
        "customers",
        {
            "account": "m12345",
            "customers": [{"email": "x@example.jp", "values": {"購入回数": "多い"}}],
        },
        expect=400,
    )
    assert bad["error"] == "customers[0].values.購入回数: 半角数字（整数）で入力してください"
    hh.admin("POST", "customers", {"account": "nope", "customers": []}, expect=404)


def test_customer_ids_given_out_of_order_still_list_ascending(hh):
    hh.setup()
    hh.customers(
        [
            {"email": "late@example.jp", "customer_id": 50},
            {"email": "early@example.jp", "customer_id": 5},
        ]
    )
    assert [c["customer_id"] for c in hh.ok("GetCustomerList")["items"]] == [5, 50]


def test_config_rejects_unknown_keys_and_reports_the_clock(hh):
    answer = hh.admin("POST", "config", {"lag": 5}, expect=400)
    assert answer["error"] == "unknown config keys: lag"
    hh.admin("POST", "config", {"latency_ms": -1}, expect=400)
    config = hh.config(now="2025-07-07 07:07:07")
    assert config["clock"] == {"now": "2025-07-07 07:07:07", "mode": "frozen"}
    config = hh.config(advance_seconds=3)
    assert config["clock"]["now"] == "2025-07-07 07:07:10"
    running = hh.config(now="2030-01-01 00:00:00", clock_running=True)
    assert running["clock"]["mode"] == "shifted"
    assert running["clock"]["now"].startswith("2030-01-01 00:00")
    assert hh.config(now=None)["clock"]["mode"] == "real"


def test_outbox_can_be_read_per_recipient_and_cleared(hh):
    hh.setup()
    hh.run_import(hh.csv("メールアドレス", "a@example.jp"), import_type="0", report_option="1")
    assert len(hh.admin("GET", "outbox", params={"to": "ops@example.jp"})["mails"]) == 1
    assert hh.admin("GET", "outbox", params={"to": "other@example.jp"})["mails"] == []
    hh.admin("DELETE", "outbox", params={"account": "m12345"})
    assert hh.outbox() == []


def test_events_admin_resolves_customers_and_declares_unknown_mails(hh):
    hh.setup()
    hh.customers([{"email": "a@example.jp"}])
    answer = hh.events(
        [
            {
                "action_type": "open",
                "email": "a@example.jp",
                "mail_id": "77",
                "subject": "自動",
                "occurred_at": "2025-01-02 00:00:00",
            },
            {
                "action_type": "open",
                "email": "z@example.jp",
                "mail_id": "77",
                "occurred_at": "2025-01-01 00:00:00",
                "event_id": "E-1",
            },
        ]
    )
    assert answer["count"] == 2 and answer["event_ids"][1] == "E-1"
    [mail] = hh.ok("GetMailList")["items"]
    assert (mail["mail_id"], mail["subject"], mail["sent_at"], mail["open_count"]) == (
        "77",
        "自動",
        "2025-01-01 00:00:00",
        2,
    )
    bad = hh.admin(
        "POST",
        "events",
        {"account": "m12345", "events": [{"action_type": "bounce", "email": "a@example.jp"}]},
        expect=400,
    )
    assert "action_type must be one of" in bad["error"]


def test_jobs_listing_shows_every_job(hh):
    hh.setup()
    result = hh.run_import(hh.csv("メールアドレス", "a@example.jp"), import_type="0")
    jobs = hh.admin("GET", "jobs", params={"account": "m12345"})["jobs"]
    assert [(j["job_id"], j["state"], j["inserted"]) for j in jobs] == [
        (result["job_id"], "completed", 1)
    ]


def test_data_file_is_loaded_at_start_and_on_reset(tmp_path):
    document = {
        "accounts": [
            {
                "account_key": "m777",
                "plan": "bridge",
                "users": [
                    {"login_id": "demo", "email": "demo@example.jp", "api_token": "demo-token"}
                ],
                "items": [{"item_id": "I2", "label": "氏名"}],
                "groups": [{"gid": "5", "name": "デモ"}],
                "forms": [{"form_id": "8", "form_name": "デモフォーム", "target_gids": ["5"]}],
            }
        ],
        "customers": [
            {
                "account": "m777",
                "customers": [
                    {
                        "email": "d@example.jp",
                        "values": {"氏名": "デモ"},
                        "memberships": [{"gid": "5", "state": "stop"}],
                    }
                ],
            }
        ],
        "events": [
            {
                "account": "m777",
                "action_type": "click",
                "email": "d@example.jp",
                "occurred_at": "2025-01-01 10:00:00",
                "url": "https://example.jp/",
            }
        ],
        "answers": [
            {
                "account": "m777",
                "answers": [
                    {"form_id": "8", "email": "f@example.jp", "answers": {"氏名": "回答者"}}
                ],
            }
        ],
        "config": {"event_lag_seconds": 0},
    }
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    app = create_app(data_file=str(path))
    server = serve_in_thread(app)
    try:
        with requests.Session() as session:
            auth = {"login_id": "demo", "api_token": "demo-token"}

            def call(action):
                response = session.post(f"{server.url}/m777/", params={"ac": action}, data=auth)
                return response.json()["data"]

            assert call("GetDeliveryStateList")["items"][0]["email"] == "d@example.jp"
            assert call("GetClickLog")["items"][0]["url"] == "https://example.jp/"
            assert call("GetFormAnswerList")["items"][0]["answer_text"] == "氏名: 回答者"
            session.post(
                f"{server.url}/_sandbox/customers",
                json={"account": "m777", "customers": [{"email": "x@example.jp"}]},
            )
            assert call("GetCustomerList")["total"] == 3
            session.post(f"{server.url}/_sandbox/reset").raise_for_status()
            assert call("GetCustomerList")["total"] == 2
            session.post(f"{server.url}/_sandbox/reset", json={"empty": True}).raise_for_status()
            assert session.get(f"{server.url}/_sandbox/accounts").json() == {"accounts": []}
    finally:
        server.stop()
        app.close()


def test_unknown_admin_paths_are_404(hh):
    assert "no admin endpoint" in hh.admin("GET", "nothing", expect=404)["error"]
    assert hh.session.get(f"{hh.base}/m12345/somewhere/else").status_code == 404
