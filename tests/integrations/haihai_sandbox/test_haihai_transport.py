"""Wire contract of spec §3.1–§3.4: addressing, envelope, auth, IP allowlist, plans, daily limits."""

from __future__ import annotations

import csv
import io
import threading
import time

import requests

HEADER = "メールアドレス,氏名"


def test_success_envelope_and_account_path(hh):
    hh.setup()
    response = hh.call("GetGroupList")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "status", "message", "data"}
    assert (body["code"], body["status"], body["message"]) == (10200, "OK", "")
    assert [g["gid"] for g in body["data"]["items"]] == ["1", "2"]
    # Without the trailing slash the account path still resolves.
    bare = hh.session.post(
        f"{hh.base}/m12345",
        params={"ac": "GetGroupList"},
        data={"login_id": "api-user", "api_token": "tok-123"},
    )
    assert bare.json()["data"]["total"] == 2


def test_get_requests_and_unknown_actions_are_refused(hh):
    hh.setup()
    got = hh.session.get(hh.url, params={"ac": "GetGroupList"})
    assert got.status_code == 405
    assert got.json()["code"] == 81400
    body = hh.error("GetEverything", 400, 81400)
    assert body["status"] == "bad parameter"
    assert "GetEverything" in body["message"]
    missing = hh.session.post(hh.url, data={"login_id": "api-user", "api_token": "tok-123"})
    assert missing.json()["code"] == 81400


def test_unknown_account_is_not_found(hh):
    hh.setup()
    hh.account = "m99999"
    body = hh.error("GetGroupList", 404, 81410)
    assert body["status"] == "not found"


def test_missing_wrong_and_unknown_credentials_are_unauthorized(hh):
    hh.setup()
    body = hh.error("GetGroupList", 401, 81401, auth=False)
    assert body["status"] == "unauthorized"
    hh.error("GetGroupList", 401, 81401, auth=False, login_id="api-user", api_token="nope")
    hh.error("GetGroupList", 401, 81401, auth=False, login_id="someone", api_token="tok-123")
    hh.error("GetGroupList", 401, 81401, auth=False, login_id="api-user")


def test_header_credentials_are_accepted(hh):
    hh.setup()
    response = hh.call(
        "GetGroupList",
        auth=False,
        headers={"X-HM-Login-Id": "api-user", "X-HM-Api-Token": "tok-123"},
    )
    assert response.json()["code"] == 10200


def test_regenerated_token_invalidates_the_old_one_and_deleted_token_refuses(hh):
    hh.setup()
    updated = hh.admin("PATCH", "accounts/m12345/users/api-user", {"regenerate_token": True})
    new_token = updated["updated"]["api_token"]
    assert new_token and new_token != "tok-123"
    hh.error("GetGroupList", 401, 81401)
    response = hh.call("GetGroupList", auth=False, login_id="api-user", api_token=new_token)
    assert response.json()["code"] == 10200
    hh.admin("PATCH", "accounts/m12345/users/api-user", {"api_token": None})
    response = hh.call("GetGroupList", auth=False, login_id="api-user", api_token=new_token)
    assert response.status_code == 401


def test_deleted_user_cannot_call(hh):
    hh.setup()
    hh.admin("DELETE", "accounts/m12345/users/api-user")
    hh.error("GetGroupList", 401, 81401)


def test_legacy_import_credentials_on_account_path_and_aid_root(hh):
    hh.setup()
    legacy = {"loginid": "api-user", "transport_password": "legacy-pass", "import_type": "0"}
    files = {"csvfile": ("a.csv", hh.csv(HEADER, "old@example.jp,旧").encode("cp932"))}
    response = hh.call("ScheduleCsvImport", auth=False, files=files, **legacy)
    assert response.status_code == 202, response.text
    hh.wait(response.json()["data"]["job_id"])
    root = hh.session.post(
        f"{hh.base}/?ac=ScheduleCsvImport",
        data={**legacy, "aid": "3"},
        files={"csvfile": ("b.csv", hh.csv(HEADER, "root@example.jp,根").encode("cp932"))},
    )
    assert root.status_code == 202, root.text
    hh.wait(root.json()["data"]["job_id"])
    assert hh.customer("old@example.jp")["values"]["氏名"] == "旧"
    assert hh.customer("root@example.jp")["values"]["氏名"] == "根"
    wrong = hh.call(
        "ScheduleCsvImport", auth=False, files=files, **{**legacy, "transport_password": "x"}
    )
    assert wrong.json()["code"] == 81401
    # Legacy credentials are only for the import call.
    other = hh.call(
        "GetGroupList", auth=False, loginid="api-user", transport_password="legacy-pass"
    )
    assert other.json()["code"] == 81401


def test_ip_allowlist_refuses_other_addresses_and_admits_listed_ones(hh):
    hh.setup(ip_allowlist=["192.0.2.10"])
    body = hh.error("GetGroupList", 403, 81403)
    assert body["status"] == "ip denied"
    # Refused before authentication: wrong credentials still get the IP error.
    hh.error("GetGroupList", 403, 81403, auth=False, login_id="x", api_token="y")
    hh.admin("PATCH", "accounts/m12345", {"ip_allowlist": ["192.0.2.10", "127.0.0.1"]})
    assert hh.ok("GetGroupList")["total"] == 2
    hh.admin("PATCH", "accounts/m12345", {"ip_allowlist": []})
    assert hh.ok("GetGroupList")["total"] == 2


def test_ip_allowlist_takes_single_addresses_only(hh):
    hh.setup()
    body = hh.admin("PATCH", "accounts/m12345", {"ip_allowlist": ["10.0.0.0/24"]}, expect=400)
    assert "single IP" in body["error"]


def test_plan_gating_of_visits_conversions_and_forms(hh):
    hh.setup(plan="light")
    for action in ("GetVisitLog", "GetConversionLog", "GetFormList", "GetFormAnswerList"):
        body = hh.error(action, 403, 81402)
        assert body["status"] == "plan not allowed"
    assert hh.ok("GetOpenLog")["total"] == 0
    assert hh.ok("GetDownloadLog")["total"] == 0
    hh.admin("PATCH", "accounts/m12345", {"plan": "standard"})
    assert hh.ok("GetConversionLog")["total"] == 0
    hh.error("GetVisitLog", 403, 81402)
    hh.error("GetFormList", 403, 81402)
    hh.admin("PATCH", "accounts/m12345", {"plan": "bridge"})
    assert hh.ok("GetVisitLog")["total"] == 0
    assert hh.ok("GetFormList")["items"][0]["form_id"] == "50"


def test_api_option_off_refuses_every_action(hh):
    hh.setup(api_option=False)
    body = hh.error("GetGroupList", 403, 81402)
    assert "API連携オプション" in body["message"]
    response = hh.submit(hh.csv(HEADER, "a@example.jp,山田"), import_type="0")
    assert response.json()["code"] == 81402


def test_forms_need_an_admin_user(hh):
    hh.setup()
    hh.admin("PATCH", "accounts/m12345/users/api-user", {"is_admin": False})
    body = hh.error("GetFormList", 403, 81402)
    assert "管理者" in body["message"]
    assert hh.ok("GetGroupList")["total"] == 2


def test_daily_limit_per_action_bucket_with_headers(hh):
    hh.setup()
    hh.config(daily_limits={"GetGroupList": 3})
    for remaining in ("2", "1", "0"):
        response = hh.call("GetGroupList")
        assert response.json()["code"] == 10200
        assert response.headers["X-HM-RateLimit-Remaining"] == remaining
        assert response.headers["X-HM-RateLimit-Limit"] == "3"
    refused = hh.call("GetGroupList")
    body = refused.json()
    assert refused.status_code == 429
    assert (body["code"], body["status"]) == (81404, "too many calls")
    assert body["message"] == "API の実行回数が制限を超えました。"
    # Other actions have their own bucket of 240.
    response = hh.call("GetStepPlanList")
    assert response.headers["X-HM-RateLimit-Limit"] == "240"
    assert response.headers["X-HM-RateLimit-Remaining"] == "239"


def test_default_limit_is_240_and_dedicated_server_has_86400(hh):
    hh.setup()
    response = hh.call("GetDatabaseItemList")
    assert response.headers["X-HM-RateLimit-Limit"] == "240"
    hh.admin("PATCH", "accounts/m12345", {"dedicated_server": True})
    response = hh.call("GetDatabaseItemList")
    assert response.headers["X-HM-RateLimit-Limit"] == "86400"
    assert response.headers["X-HM-RateLimit-Remaining"] == str(86400 - 2)


def test_240_calls_then_81404(hh):
    hh.setup()
    for _ in range(240):
        response = hh.call("GetStepPlanList")
        assert response.status_code == 200
    hh.error("GetStepPlanList", 429, 81404)
    stats = hh.admin("GET", "stats", params={"account": "m12345"})
    assert stats["calls"]["GetStepPlanList"] == 241
    assert stats["results"]["GetStepPlanList"] == {"10200": 240, "81404": 1}
    assert stats["usage_today"]["GetStepPlanList"] == {"used": 240, "limit": 240, "remaining": 0}


def test_rejected_calls_do_not_count(hh):
    hh.setup()
    hh.config(daily_limits={"GetCustomerList": 1})
    hh.error("GetCustomerList", 400, 81400, limit="0")
    hh.error("GetCustomerList", 404, 81410, gid="404")
    hh.error("GetCustomerList", 401, 81401, auth=False)
    assert hh.ok("GetCustomerList")["total"] == 0
    hh.error("GetCustomerList", 429, 81404)


def test_limit_resets_at_midnight_jst_not_utc(hh):
    hh.setup()
    hh.config(now="2025-03-31 23:59:58", daily_limits={"GetGroupList": 2})
    hh.ok("GetGroupList")
    response = hh.call("GetGroupList")
    # 2025-04-01 00:00 JST = 2025-03-31 15:00 UTC.
    assert response.headers["X-HM-RateLimit-Reset"] == "1743433200"
    hh.error("GetGroupList", 429, 81404)
    hh.config(advance_seconds=1)
    hh.error("GetGroupList", 429, 81404)
    hh.config(advance_seconds=1)
    assert hh.ok("GetGroupList")["total"] == 2
    # 09:00 JST is midnight UTC: no reset there.
    hh.config(now="2025-04-01 08:59:59")
    hh.ok("GetGroupList")
    hh.error("GetGroupList", 429, 81404)
    hh.config(now="2025-04-01 09:00:01")
    hh.error("GetGroupList", 429, 81404)


def test_import_buckets_are_split_by_register_delete_and_state_change(hh):
    hh.setup()
    hh.config(
        daily_limits={
            "ScheduleCsvImport/register": 1,
            "ScheduleCsvImport/delete": 1,
            "ScheduleCsvImport/state": 1,
        }
    )
    text = hh.csv(HEADER, "a@example.jp,山田")
    assert hh.submit(text, import_type="0").status_code == 202
    assert hh.submit(text, import_type="0").json()["code"] == 81404
    assert hh.submit(text, import_type="2", gid="1").status_code == 202
    assert hh.submit(text, import_type="5", gid="1").json()["code"] == 81404
    assert hh.submit(text, import_type="1").status_code == 202
    assert hh.submit(text, import_type="1").json()["code"] == 81404
    usage = hh.admin("GET", "stats", params={"account": "m12345"})["usage_today"]
    assert {bucket: entry["used"] for bucket, entry in usage.items()} == {
        "ScheduleCsvImport/register": 1,
        "ScheduleCsvImport/state": 1,
        "ScheduleCsvImport/delete": 1,
    }


def test_fault_injection_answers_configured_error_then_recovers(hh):
    hh.setup()
    hh.config(faults=[{"action": "GetGroupList", "status": 503, "code": 81500, "times": 2}])
    for _ in range(2):
        body = hh.error("GetGroupList", 503, 81500)
        assert body["status"] == "internal error"
    assert hh.ok("GetGroupList")["total"] == 2
    assert hh.ok("GetStepPlanList")["total"] == 2
    # Faulted calls are free.
    usage = hh.admin("GET", "stats", params={"account": "m12345"})["usage_today"]
    assert usage["GetGroupList"]["used"] == 1


def test_fault_for_every_action_with_unlimited_times(hh):
    hh.setup()
    hh.config(faults=[{"action": "*", "status": 500, "code": 81500, "times": None}])
    for action in ("GetGroupList", "GetOpenLog", "GetCustomerList"):
        hh.error(action, 500, 81500)
    hh.config(faults=[])
    assert hh.ok("GetOpenLog")["total"] == 0


def test_latency_is_applied_to_api_calls(hh):
    hh.setup()
    hh.config(latency_ms=150)
    started = time.monotonic()
    hh.ok("GetGroupList")
    assert time.monotonic() - started >= 0.15
    hh.config(latency_ms=0)


def test_csv_return_format_with_charset_and_paging_headers(hh):
    hh.setup()
    hh.customers(
        [
            {"email": "a@example.jp", "values": {"氏名": "髙橋", "関心": ["料金", "セミナー"]}},
            {"email": "b@example.jp", "values": {"氏名": "佐藤"}},
        ]
    )
    response = hh.call("GetCustomerList", return_format="csv", limit="1")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=Shift_JIS"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith(".csv")
    assert len(disposition.split("filename=")[1]) == len("yyyymmddhhmmss.csv")
    assert response.headers["X-HM-Total"] == "2"
    rows = list(csv.reader(io.StringIO(response.content.decode("cp932"))))
    assert rows[0] == [
        "customer_id",
        "email",
        "values",
        "created_at",
        "updated_at",
        "view_url",
        "memberships",
    ]
    assert rows[1][1] == "a@example.jp"
    assert '"髙橋"' in rows[1][2]
    assert len(rows) == 2
    utf8 = hh.call("GetDatabaseItemList", return_format="csv", charset="1")
    assert utf8.headers["Content-Type"] == "text/csv; charset=UTF-8"
    item_rows = list(csv.reader(io.StringIO(utf8.content.decode("utf-8"))))
    assert item_rows[0][:3] == ["item_id", "label", "type"]
    checkbox = next(row for row in item_rows if row[1] == "関心")
    assert checkbox[4] == "料金,導入事例,セミナー"


def test_csv_return_format_errors_have_code_status_message_header(hh):
    hh.setup()
    response = hh.call("GetCustomerList", auth=False, return_format="csv")
    assert response.status_code == 401
    rows = list(csv.reader(io.StringIO(response.content.decode("cp932"))))
    assert rows[0] == ["CODE", "STATUS", "MESSAGE"]
    assert rows[1][:2] == ["81401", "unauthorized"]


def test_paging_parameters_are_validated(hh):
    hh.setup()
    hh.error("GetCustomerList", 400, 81400, limit="10001")
    hh.error("GetCustomerList", 400, 81400, offset="-1")
    hh.error("GetOpenLog", 400, 81400, from_="yesterday")
    hh.error("GetOpenLog", 400, 81400, from_="2025-01-02 00:00:00", to="2025-01-01 00:00:00")
    assert hh.ok("GetCustomerList", limit="10000")["limit"] == 10000
    assert hh.ok("GetCustomerList")["limit"] == 1000


def test_stats_count_calls_per_action_and_code(hh):
    hh.setup()
    hh.ok("GetGroupList")
    hh.ok("GetGroupList")
    hh.error("GetGroupList", 401, 81401, auth=False)
    stats = hh.admin("GET", "stats", params={"account": "m12345"})
    assert stats["calls"] == {"GetGroupList": 3}
    assert stats["results"]["GetGroupList"] == {"10200": 2, "81401": 1}
    assert stats["total_calls"] == 3


def test_format_parameters_are_validated(hh):
    hh.setup()
    body = hh.error("GetGroupList", 400, 81400, return_format="xml")
    assert body["message"] == "return_format は json または csv を指定してください"
    hh.error("GetGroupList", 400, 81400, return_format="csv", charset="4")


def test_concurrent_imports_and_reads_are_consistent(hh):
    hh.setup()
    hh.config(import_chunk_rows=7)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            with requests.Session() as session:
                rows = [f"w{index}-{n}@example.jp,{n}" for n in range(60)]
                text = hh.csv("メールアドレス,購入回数", *rows).encode("cp932")
                response = session.post(
                    hh.url,
                    params={"ac": "ScheduleCsvImport"},
                    data={
                        "login_id": "api-user",
                        "api_token": "tok-123",
                        "import_type": "0",
                        "gid": "1",
                    },
                    files={"csvfile": ("w.csv", text)},
                )
                assert response.status_code == 202, response.text
                for _ in range(5):
                    listed = session.post(
                        hh.url,
                        params={"ac": "GetCustomerList"},
                        data={"login_id": "api-user", "api_token": "tok-123", "limit": "10000"},
                    )
                    assert listed.json()["code"] == 10200
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    for job in hh.admin("GET", "jobs", params={"account": "m12345"})["jobs"]:
        hh.wait(job["job_id"])
    listed = hh.ok("GetCustomerList", limit="10000")
    assert listed["total"] == 240
    assert sorted(c["customer_id"] for c in listed["items"]) == list(range(1, 241))
    assert hh.ok("GetGroupList")["items"][0]["member_count"] == 240
