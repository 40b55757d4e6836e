"""Delivery-state rules of spec §2 and the stop/ban list (`ac=GetDeliveryStateList`)."""

from __future__ import annotations


def test_states_are_kept_per_group_and_plan(hh):
    hh.setup()
    hh.customers(
        [{"email": "a@example.jp", "memberships": [{"gid": "1"}, {"gid": "2"}, {"spid": "10"}]}]
    )
    hh.run_import(hh.csv("メールアドレス", "a@example.jp"), import_type="2", gid="1")
    assert hh.states("a@example.jp") == {
        ("group", "1"): "stop",
        ("group", "2"): "ok",
        ("step", "10"): "ok",
    }


def test_shared_states_spread_stop_and_ban_to_every_membership(hh):
    hh.setup(sync_states_across_groups=True)
    hh.customers(
        [
            {"email": "a@example.jp", "memberships": [{"gid": "1"}, {"gid": "2"}, {"spid": "10"}]},
            {"email": "b@example.jp", "memberships": [{"gid": "1"}, {"gid": "2", "state": "ban"}]},
        ]
    )
    result = hh.run_import(
        hh.csv("メールアドレス", "a@example.jp", "b@example.jp"), import_type="2", gid="1"
    )
    assert result["state_changed"] == 2
    assert set(hh.states("a@example.jp").values()) == {"stop"}
    # A spread 停止 never lowers a 禁止 elsewhere.
    assert hh.states("b@example.jp") == {("group", "1"): "stop", ("group", "2"): "ban"}
    hh.run_import(hh.csv("メールアドレス", "a@example.jp"), import_type="3", spid="10")
    assert set(hh.states("a@example.jp").values()) == {"ban"}


def test_shared_states_do_not_spread_deliverable(hh):
    hh.setup(sync_states_across_groups=True)
    hh.customers(
        [
            {
                "email": "a@example.jp",
                "memberships": [{"gid": "1", "state": "stop"}, {"gid": "2", "state": "stop"}],
            }
        ]
    )
    hh.run_import(hh.csv("メールアドレス", "a@example.jp"), import_type="5", gid="1")
    assert hh.states("a@example.jp") == {("group", "1"): "ok", ("group", "2"): "stop"}


def test_shared_states_apply_to_new_memberships(hh):
    hh.setup(sync_states_across_groups=True)
    hh.customers([{"email": "a@example.jp", "memberships": [{"gid": "1", "state": "stop"}]}])
    hh.run_import(
        hh.csv("メールアドレス", "a@example.jp", "b@example.jp"), import_type="0", gid="2"
    )
    assert hh.states("a@example.jp") == {("group", "1"): "stop", ("group", "2"): "stop"}
    assert hh.states("b@example.jp") == {("group", "2"): "ok"}


def test_without_shared_states_a_new_membership_is_deliverable(hh):
    hh.setup()
    hh.customers([{"email": "a@example.jp", "memberships": [{"gid": "1", "state": "ban"}]}])
    hh.run_import(hh.csv("メールアドレス", "a@example.jp"), import_type="0", gid="2")
    assert hh.states("a@example.jp") == {("group", "1"): "ban", ("group", "2"): "ok"}


def test_admin_written_states_are_taken_as_given(hh):
    hh.setup(sync_states_across_groups=True)
    hh.customers(
        [
            {
                "email": "a@example.jp",
                "memberships": [
                    {"gid": "1", "state": "配信停止", "reason": "unsubscribe_form"},
                    {"gid": "2", "state": "ok"},
                ],
            }
        ]
    )
    customer = hh.customer("a@example.jp")
    assert hh.states("a@example.jp") == {("group", "1"): "stop", ("group", "2"): "ok"}
    first = customer["memberships"][0]
    assert (first["state_label"], first["reason"]) == ("配信停止", "unsubscribe_form")


def test_deleted_customer_loses_history_and_a_new_registration_is_a_new_customer(hh):
    hh.setup()
    hh.customers(
        [
            {
                "email": "a@example.jp",
                "values": {"氏名": "旧"},
                "memberships": [{"gid": "1", "state": "stop"}],
            }
        ]
    )
    old = hh.customer("a@example.jp")
    hh.events(
        [{"action_type": "open", "email": "a@example.jp", "occurred_at": "2025-01-01 10:00:00"}]
    )
    assert hh.ok("GetOpenLog")["items"][0]["customer_id"] == old["customer_id"]
    hh.run_import(hh.csv("メールアドレス", "a@example.jp"), import_type="1")
    # Events of a deleted customer keep the address but lose the id.
    event = hh.ok("GetOpenLog")["items"][0]
    assert (event["email"], event["customer_id"]) == ("a@example.jp", None)
    hh.run_import(hh.csv("メールアドレス", "a@example.jp"), import_type="0", gid="1")
    new = hh.customer("a@example.jp")
    assert new["customer_id"] != old["customer_id"]
    assert new["view_url"] != old["view_url"]
    assert new["values"]["氏名"] == ""
    assert new["error_count"] == 0
    assert hh.states("a@example.jp") == {("group", "1"): "ok"}
    assert hh.ok("GetOpenLog")["items"][0]["customer_id"] is None


def test_state_list_defaults_to_stop_and_ban_oldest_change_first(hh):
    hh.setup()
    hh.customers(
        [
            {
                "email": "late@example.jp",
                "memberships": [{"gid": "1", "state": "stop", "changed_at": "2025-02-01 00:00:00"}],
            },
            {
                "email": "early@example.jp",
                "memberships": [
                    {
                        "gid": "2",
                        "state": "ban",
                        "reason": "error",
                        "changed_at": "2025-01-01 00:00:00",
                    }
                ],
            },
            {"email": "ok@example.jp", "memberships": [{"gid": "1"}]},
        ]
    )
    data = hh.ok("GetDeliveryStateList")
    assert data["total"] == 2
    first, second = data["items"]
    assert first == {
        "email": "early@example.jp",
        "customer_id": 2,
        "target_type": "group",
        "target_id": "2",
        "state": "ban",
        "state_label": "配信禁止",
        "changed_at": "2025-01-01 00:00:00",
        "reason": "error",
    }
    assert (second["email"], second["state"], second["reason"]) == (
        "late@example.jp",
        "stop",
        "admin",
    )
    assert [i["email"] for i in hh.ok("GetDeliveryStateList", state="ok")["items"]] == [
        "ok@example.jp"
    ]
    assert hh.ok("GetDeliveryStateList", state="stop,ok")["total"] == 2
    hh.error("GetDeliveryStateList", 400, 81400, state="paused")


def test_state_list_filters_by_target_and_change_time(hh):
    hh.setup()
    hh.customers(
        [
            {
                "email": "a@example.jp",
                "memberships": [
                    {"gid": "1", "state": "stop", "changed_at": "2025-01-01 00:00:00"},
                    {"spid": "10", "state": "stop", "changed_at": "2025-01-03 00:00:00"},
                ],
            }
        ]
    )
    assert [i["target_id"] for i in hh.ok("GetDeliveryStateList", gid="1")["items"]] == ["1"]
    assert [i["target_type"] for i in hh.ok("GetDeliveryStateList", spid="10")["items"]] == ["step"]
    window = hh.ok(
        "GetDeliveryStateList", changed_from="2025-01-01 00:00:01", changed_to="2025-01-03 00:00:01"
    )
    assert [i["target_id"] for i in window["items"]] == ["10"]
    exclusive = hh.ok("GetDeliveryStateList", changed_to="2025-01-03 00:00:00")
    assert [i["target_id"] for i in exclusive["items"]] == ["1"]
    hh.error("GetDeliveryStateList", 404, 81410, gid="77")
    hh.error("GetDeliveryStateList", 400, 81400, gid="1", spid="10")


def test_import_state_change_is_listed_with_api_reason_and_time(hh):
    hh.setup()
    hh.config(now="2025-05-05 05:05:05")
    hh.customers([{"email": "a@example.jp", "memberships": [{"gid": "1"}]}])
    hh.run_import(hh.csv("メールアドレス", "a@example.jp"), import_type="2", gid="1")
    [item] = hh.ok("GetDeliveryStateList", changed_from="2025-05-05 00:00:00")["items"]
    assert (item["state"], item["reason"], item["changed_at"]) == (
        "stop",
        "api",
        "2025-05-05 05:05:05",
    )
