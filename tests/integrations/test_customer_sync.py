"""顧客情報連携 end to end: kintone sandbox → run_customer_sync → 配配メール sandbox.

Every target × mode × option the manual allows, checked on the customers, memberships and
states that 配配メール ends up with (GET /_sandbox/customers).
"""

from __future__ import annotations

import pytest
import requests

from portal.connector_types.haihai_kintone.customer.config import (
    Condition,
    ConditionSet,
    CustomerSyncSetting,
)
from portal.connector_types.haihai_kintone.customer.sync import (
    CustomerSyncSettingsError,
    HaihaiAccessError,
    KintoneAccessError,
    KintoneFieldMissingError,
    run_customer_sync,
)
from portal.demo_fixtures import choice_field_options
from portal.integrations.haihai import HaihaiClient
from portal.integrations.kintone import KintoneClient
from portal.integrations.retrying import NO_RETRY
from portal.syncs.config import ConnectorConfig, FieldMapping, HaihaiAccess, KintoneAccess

SUBDOMAIN = "example"
LOGIN_ID = "sync-user"
HAIHAI_TOKEN = "haihai-token-1"
USER_MAIL = "sync-user@example.jp"

KINTONE_FIELDS = {
    "mail": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"},
    "name": {"type": "SINGLE_LINE_TEXT", "label": "氏名"},
    "kana": {"type": "SINGLE_LINE_TEXT", "label": "ふりがな"},
    "interest": {
        "type": "CHECK_BOX",
        "label": "関心",
        "options": choice_field_options(("料金", "導入 事例")),
    },
    "pref": {
        "type": "DROP_DOWN",
        "label": "都道府県",
        "options": choice_field_options(("東京都", "大阪府")),
    },
    "met": {"type": "DATETIME", "label": "面談日時"},
    "birthday": {"type": "DATE", "label": "誕生日"},
    "score": {"type": "NUMBER", "label": "スコア"},
    "owner": {"type": "USER_SELECT", "label": "担当者"},
}
MAPPINGS = (
    FieldMapping("mail", "SINGLE_LINE_TEXT", "メールアドレス", "メールアドレス", is_email=True),
    FieldMapping("name", "SINGLE_LINE_TEXT", "氏名", "氏名"),
    FieldMapping("kana", "SINGLE_LINE_TEXT", "ふりがな", "ふりがな"),
    FieldMapping("interest", "CHECK_BOX", "関心", "関心"),
    FieldMapping("pref", "DROP_DOWN", "都道府県", "都道府県"),
    FieldMapping("met", "DATETIME", "面談日時", "面談日"),
    FieldMapping("birthday", "DATE", "誕生日", "誕生日"),
    FieldMapping("score", "NUMBER", "スコア", "スコア"),
    FieldMapping("owner", "USER_SELECT", "担当者", "担当者"),
)
HAIHAI_ITEMS = [
    {"item_id": "I2", "label": "氏名", "type": "text"},
    {"item_id": "I3", "label": "ふりがな", "type": "text", "input_rule": "hiragana"},
    {"item_id": "I4", "label": "関心", "type": "checkbox", "options": ["料金", "導入事例"]},
    {"item_id": "I5", "label": "都道府県", "type": "select", "options": ["東京都", "大阪府"]},
    {"item_id": "I6", "label": "面談日", "type": "date"},
    {"item_id": "I7", "label": "誕生日", "type": "date"},
    {"item_id": "I8", "label": "スコア", "type": "int"},
    {"item_id": "I9", "label": "担当者", "type": "multiselect", "options": ["佐藤花子", "伊藤"]},
]


def kintone_record(email: str, name: str = "", **values) -> dict:
    """A record in write format; keyword arguments are field codes."""
    record = {"mail": {"value": email}, "name": {"value": name}}
    for code, value in values.items():
        record[code] = {"value": value}
    return record


class World:
    """One kintone app and 配配メール account(s) on the sandboxes, plus the connector config."""

    def __init__(self, kintone_url: str, haihai_url: str):
        self.kintone_url = kintone_url
        self.haihai_url = haihai_url
        self.http = requests.Session()
        app = self._post(kintone_url, "apps", {"subdomain": SUBDOMAIN, "fields": KINTONE_FIELDS})
        self.app_id = app["app"]
        self.token = self.make_token(["view"])
        self._post(
            kintone_url,
            "users",
            {"subdomain": SUBDOMAIN, "code": "sato", "password": "pw", "name": "佐藤 花子"},
        )
        self.kintone_calls_before = 0

    def close(self) -> None:
        self.http.close()

    def _post(self, base: str, path: str, body: dict) -> dict:
        response = self.http.post(f"{base}/_sandbox/{path}", json=body, timeout=30)
        assert response.status_code < 300, response.text
        return response.json()

    def _get(self, base: str, path: str, **params) -> dict:
        response = self.http.get(f"{base}/_sandbox/{path}", params=params, timeout=30)
        assert response.status_code < 300, response.text
        return response.json()

    # kintone ------------------------------------------------------------------------------

    def make_token(self, permissions: list[str]) -> str:
        body = {"subdomain": SUBDOMAIN, "app": self.app_id, "permissions": permissions}
        return self._post(self.kintone_url, "tokens", body)["token"]

    def add_records(self, records: list[dict]) -> None:
        body = {"subdomain": SUBDOMAIN, "app": self.app_id, "records": records}
        self._post(self.kintone_url, "records", body)

    def delete_field(self, code: str) -> None:
        body = {"subdomain": SUBDOMAIN, "app": self.app_id, "delete": [code]}
        self._post(self.kintone_url, "fields", body)

    def set_kintone_clock(self, instant: str) -> None:
        self._post(self.kintone_url, "config", {"now": instant})

    def kintone_calls(self) -> dict:
        return self._get(self.kintone_url, "stats", subdomain=SUBDOMAIN)["calls"]

    # 配配メール --------------------------------------------------------------------------------

    def create_account(self, key: str = "m10001", customers: list[dict] | None = None) -> str:
        definition = {
            "account_key": key,
            "users": [{"login_id": LOGIN_ID, "email": USER_MAIL, "api_token": HAIHAI_TOKEN}],
            "items": HAIHAI_ITEMS,
            "groups": [{"gid": "1", "name": "メルマガ"}, {"gid": "2", "name": "セミナー"}],
            "plans": [{"spid": "10", "name": "オンボーディング"}],
        }
        self._post(self.haihai_url, "accounts", definition)
        if customers:
            self._post(self.haihai_url, "customers", {"account": key, "customers": customers})
        return key

    def haihai_config(self, **knobs) -> None:
        self._post(self.haihai_url, "config", knobs)

    def customers(self, key: str = "m10001") -> dict[str, dict]:
        """email → {"values": {...}, "states": {"group:1": "ok", …}}."""
        data = self._get(self.haihai_url, "customers", account=key)
        result = {}
        for customer in data["customers"]:
            states = {f"{m['type']}:{m['id']}": m["state"] for m in customer["memberships"]}
            result[customer["email"]] = {"values": customer["values"], "states": states}
        return result

    def haihai_stats(self, key: str = "m10001") -> dict:
        return self._get(self.haihai_url, "stats", account=key)

    def outbox(self, key: str = "m10001") -> list[dict]:
        return self._get(self.haihai_url, "outbox", account=key)["mails"]

    def jobs(self, key: str = "m10001") -> list[dict]:
        return self._get(self.haihai_url, "jobs", account=key)["jobs"]

    # running --------------------------------------------------------------------------------

    def config(self, key: str = "m10001", *, token: str | None = None, **overrides):
        values = {
            "connector_id": "c1",
            "name": "配配メール-kintone連携01",
            "kintone": KintoneAccess(
                f"{self.kintone_url}/{SUBDOMAIN}", SUBDOMAIN, self.app_id, token or self.token
            ),
            "haihai": HaihaiAccess(f"{self.haihai_url}/{key}/", LOGIN_ID, HAIHAI_TOKEN),
            "kintone_fields": KINTONE_FIELDS,
            "mappings": MAPPINGS,
        }
        values.update(overrides)
        return ConnectorConfig(**values)

    def run(self, setting: CustomerSyncSetting, config: ConnectorConfig | None = None, **kwargs):
        config = config or self.config()
        progress: list[tuple[int, int]] = []
        with (
            KintoneClient(
                config.kintone.base_url, api_tokens=[config.kintone.api_token], retry=NO_RETRY
            ) as kintone,
            HaihaiClient(
                config.haihai.base_url,
                config.haihai.login_id,
                config.haihai.api_token,
                allow_local=True,
                retry=NO_RETRY,
            ) as haihai,
        ):
            outcome = run_customer_sync(
                config,
                setting,
                kintone_client=kintone,
                haihai_client=haihai,
                progress=lambda done, total: progress.append((done, total)),
                first_poll=0,
                **kwargs,
            )
        outcome.progress = progress  # for assertions
        return outcome


@pytest.fixture
def world(kintone_sandbox, haihai_sandbox):
    w = World(kintone_sandbox, haihai_sandbox)
    yield w
    w.close()


def setting(**values) -> CustomerSyncSetting:
    return CustomerSyncSetting(number=values.pop("number", 1), **values)


def member(gid: str | None = None, spid: str | None = None, state: str = "ok") -> dict:
    return {"gid": gid, "state": state} if gid else {"spid": spid, "state": state}


# -- values and the basic register ----------------------------------------------------------


def test_register_into_database_converts_every_value(world):
    world.create_account()
    world.add_records(
        [
            kintone_record(
                "taro@example.jp",
                "山田 太郎",
                kana="やまだたろう",
                interest=["料金", "導入 事例"],
                pref="東京都",
                met="2024-03-31T15:30:00Z",
                birthday="1990-02-03",
                score="42",
                owner=[{"code": "sato"}],
            ),
            kintone_record("hanako@Example.JP", "鈴木 花子"),
        ]
    )
    outcome = world.run(setting())
    assert (outcome.processed, outcome.total, outcome.parts) == (2, 2, 1)
    customers = world.customers()
    assert set(customers) == {"taro@example.jp", "hanako@Example.JP"}
    assert customers["taro@example.jp"]["values"] == {
        "氏名": "山田 太郎",
        "ふりがな": "やまだたろう",
        "関心": ["料金", "導入事例"],
        "都道府県": "東京都",
        "面談日": "2024/04/01",  # 15:30 UTC is the next day in Japan
        "誕生日": "1990/02/03",
        "スコア": "42",
        "担当者": ["佐藤花子"],
    }
    assert customers["hanako@Example.JP"]["values"]["関心"] == []
    assert customers["taro@example.jp"]["states"] == {}
    # Progress ends at processed / total.
    assert outcome.progress[0] == (0, 2) and outcome.progress[-1] == (2, 2)
    assert outcome.message_detail.startswith("配配メールのジョブID: J")


def test_register_without_overwrite_keeps_existing_values(world):
    world.create_account(customers=[{"email": "taro@example.jp", "values": {"氏名": "旧姓"}}])
    world.add_records(
        [kintone_record("taro@example.jp", "新姓"), kintone_record("new@example.jp", "新規")]
    )
    outcome = world.run(setting(overwrite=False))
    customers = world.customers()
    assert customers["taro@example.jp"]["values"]["氏名"] == "旧姓"
    assert customers["new@example.jp"]["values"]["氏名"] == "新規"
    # 配配メール skipped the existing customer: 処理件数 counts only the row it took, and
    # メッセージ詳細 gives its numbers, why it skipped, and the job ID.
    assert (outcome.processed, outcome.total) == (1, 2)
    lines = outcome.message_detail.splitlines()
    assert lines[0].startswith("配配メールのジョブID: J")
    assert lines[1] == (
        "配配メールの処理結果: 登録 1件、更新 0件、スキップ 1件、エラー 0件（送信 2件）"
    )
    assert lines[2] == (
        "スキップの理由: 同一メールアドレスの顧客が登録済みで、データを上書きしない設定のため、"
        "スキップしました（1件）"
    )


@pytest.mark.parametrize(("blank_overwrites", "expected"), [(False, "たろう"), (True, "")])
def test_overwrite_with_blank_rule(world, blank_overwrites, expected):
    world.create_account(
        customers=[{"email": "taro@example.jp", "values": {"氏名": "旧姓", "ふりがな": "たろう"}}]
    )
    world.add_records([kintone_record("taro@example.jp", "新姓", kana="")])
    world.run(setting(overwrite=True, blank_overwrites=blank_overwrites))
    values = world.customers()["taro@example.jp"]["values"]
    assert values["氏名"] == "新姓"
    assert values["ふりがな"] == expected


@pytest.mark.parametrize(
    ("target_type", "target_id", "key"),
    [("group", "2", "group:2"), ("step_plan", "10", "step:10")],
)
def test_register_into_group_or_step_plan_adds_deliverable_members(
    world, target_type, target_id, key
):
    world.create_account(customers=[{"email": "old@example.jp", "memberships": [member("1")]}])
    world.add_records([kintone_record("old@example.jp"), kintone_record("new@example.jp")])
    outcome = world.run(setting(target_type=target_type, target_id=target_id))
    customers = world.customers()
    assert customers["new@example.jp"]["states"] == {key: "ok"}
    assert customers["old@example.jp"]["states"] == {"group:1": "ok", key: "ok"}
    assert outcome.processed == 2


# -- delete and state changes ------------------------------------------------------------------


def test_delete_from_database_removes_customers(world):
    world.create_account(
        customers=[
            {"email": "a@example.jp", "memberships": [member("1")]},
            {"email": "b@example.jp"},
            {"email": "keep@example.jp"},
        ]
    )
    world.add_records([kintone_record("a@example.jp"), kintone_record("b@example.jp")])
    outcome = world.run(setting(mode="delete"))
    assert set(world.customers()) == {"keep@example.jp"}
    assert (outcome.processed, outcome.total) == (2, 2)


def test_delete_from_group_removes_only_the_membership(world):
    world.create_account(
        customers=[{"email": "a@example.jp", "memberships": [member("1"), member("2")]}]
    )
    world.add_records([kintone_record("a@example.jp")])
    world.run(setting(mode="delete", target_type="group", target_id="1"))
    assert world.customers()["a@example.jp"]["states"] == {"group:2": "ok"}


@pytest.mark.parametrize(
    ("target_type", "target_id", "key"),
    [("group", "1", "group:1"), ("step_plan", "10", "step:10")],
)
@pytest.mark.parametrize(("status_change", "state"), [("stop", "stop"), ("ban", "ban")])
def test_state_change_stop_or_ban(world, target_type, target_id, key, status_change, state):
    world.create_account(
        customers=[
            {"email": "a@example.jp", "memberships": [member("1"), member(spid="10")]},
            {"email": "b@example.jp"},
            {"email": "other@example.jp", "memberships": [member("1"), member(spid="10")]},
        ]
    )
    world.add_records(
        [
            kintone_record("a@example.jp"),
            kintone_record("b@example.jp"),
            kintone_record("unknown@example.jp"),
        ]
    )
    outcome = world.run(
        setting(
            mode="status_change",
            status_change=status_change,
            target_type=target_type,
            target_id=target_id,
        )
    )
    customers = world.customers()
    assert customers["a@example.jp"]["states"][key] == state
    assert customers["b@example.jp"]["states"] == {key: state}  # registered into the target
    assert customers["other@example.jp"]["states"][key] == "ok"
    assert "unknown@example.jp" not in customers
    # 停止/禁止 of an address 配配メール does not know is a row error, listed in the details.
    assert (outcome.processed, outcome.total) == (2, 3)
    assert outcome.row_error_count == 1
    assert "unknown@example.jp" in outcome.row_errors[0]
    assert "登録されていないメールアドレスです" in outcome.message_detail


@pytest.mark.parametrize("overwrite", [False, True])
def test_state_change_allow_enables_registers_and_may_overwrite(world, overwrite):
    world.create_account(
        customers=[
            {
                "email": "a@example.jp",
                "values": {"氏名": "旧姓"},
                "memberships": [member("1", state="stop")],
            }
        ]
    )
    world.add_records([kintone_record("a@example.jp", "新姓"), kintone_record("new@example.jp")])
    world.run(
        setting(
            mode="status_change",
            status_change="allow",
            target_type="group",
            target_id="1",
            overwrite=overwrite,
        )
    )
    customers = world.customers()
    assert customers["a@example.jp"]["states"] == {"group:1": "ok"}
    assert customers["a@example.jp"]["values"]["氏名"] == ("新姓" if overwrite else "旧姓")
    assert customers["new@example.jp"]["states"] == {"group:1": "ok"}


def test_status_change_needs_a_group_or_plan(world):
    world.create_account()
    with pytest.raises(CustomerSyncSettingsError, match="一括状態変更"):
        world.run(setting(mode="status_change", status_change="stop"))


# -- 配信状態の変更 options -------------------------------------------------------------------


def _stop_world(world, key="m10001"):
    """Members of group 1 (and plan 10) in every state; kintone holds a and b only."""
    world.create_account(
        key,
        customers=[
            {"email": "a@example.jp", "memberships": [member("1", state="stop")]},
            {"email": "b@example.jp", "memberships": [member("1"), member(spid="10")]},
            {"email": "gone@example.jp", "memberships": [member("1"), member(spid="10")]},
            {"email": "banned@example.jp", "memberships": [member("1", state="ban")]},
            {"email": "stopped@example.jp", "memberships": [member("1", state="stop")]},
            {"email": "elsewhere@example.jp", "memberships": [member("2")]},
            {"email": "nogroup@example.jp"},
        ],
    )


def test_stop_missing_stops_only_deliverable_members_of_the_target(world):
    _stop_world(world)
    # kintone writes the domain in capitals: 配配メール matches domains case-insensitively.
    world.add_records([kintone_record("a@example.jp"), kintone_record("b@EXAMPLE.jp")])
    outcome = world.run(setting(target_type="group", target_id="1", stop_missing=True))
    customers = world.customers()
    assert customers["gone@example.jp"]["states"] == {"group:1": "stop", "step:10": "ok"}
    assert customers["banned@example.jp"]["states"] == {"group:1": "ban"}  # 禁止 is never touched
    assert customers["b@example.jp"]["states"]["group:1"] == "ok"
    assert customers["a@example.jp"]["states"] == {"group:1": "stop"}  # in kintone: unchanged
    assert customers["elsewhere@example.jp"]["states"] == {"group:2": "ok"}
    assert outcome.stopped == 1
    assert "存在しない顧客 1件を配信停止にしました" in outcome.message_detail


def test_allow_present_enables_stopped_members_found_in_kintone_but_not_banned(world):
    _stop_world(world)
    world.add_records([kintone_record("a@example.jp"), kintone_record("banned@example.jp")])
    world.run(setting(target_type="group", target_id="1", allow_present=True))
    customers = world.customers()
    assert customers["a@example.jp"]["states"] == {"group:1": "ok"}
    assert customers["banned@example.jp"]["states"] == {"group:1": "ban"}
    assert customers["stopped@example.jp"]["states"] == {"group:1": "stop"}
    assert customers["gone@example.jp"]["states"]["group:1"] == "ok"


def test_stop_missing_on_the_database_stops_every_membership_of_missing_customers(world):
    _stop_world(world)
    world.add_records([kintone_record("a@example.jp"), kintone_record("b@example.jp")])
    world.run(setting(stop_missing=True))
    customers = world.customers()
    assert customers["gone@example.jp"]["states"] == {"group:1": "stop", "step:10": "stop"}
    assert customers["elsewhere@example.jp"]["states"] == {"group:2": "stop"}
    assert customers["banned@example.jp"]["states"] == {"group:1": "ban"}
    assert customers["b@example.jp"]["states"] == {"group:1": "ok", "step:10": "ok"}
    assert customers["nogroup@example.jp"]["states"] == {}


def _many_records(count: int) -> list[dict]:
    return [
        kintone_record(f"user{i:04d}@example.jp", f"顧客{i:04d}", interest=["料金"])
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("target", "options"),
    [
        ({}, {"stop_missing": True}),
        ({"target_type": "group", "target_id": "1"}, {"stop_missing": True}),
        ({"target_type": "step_plan", "target_id": "10"}, {"stop_missing": True}),
        (
            {"target_type": "group", "target_id": "1"},
            {"stop_missing": True, "allow_present": True, "overwrite": True},
        ),
    ],
)
def test_split_upload_with_stop_missing_ends_like_one_upload(world, target, options):
    """The manual's 付録1.4 flaw: customers of part 1 must not be stopped by part 2."""
    members = [member("1", state="stop"), member(spid="10")]
    initial = [
        {"email": f"user{i:04d}@example.jp", "memberships": members if i % 3 == 0 else []}
        for i in range(0, 60, 2)
    ] + [
        {"email": f"missing{i}@example.jp", "memberships": [member("1"), member(spid="10")]}
        for i in range(5)
    ]
    world.create_account("m10001", customers=initial)
    world.create_account("m10002", customers=initial)
    world.add_records(_many_records(60))
    chosen = setting(**target, **options)

    single = world.run(chosen, world.config("m10001"))
    split = world.run(chosen, world.config("m10002"), max_part_bytes=700)

    assert single.parts == 1 and split.parts >= 4
    assert world.customers("m10001") == world.customers("m10002")
    customers = world.customers("m10002")
    target_key = {"group": "group:1", "step_plan": "step:10"}.get(target.get("target_type"))
    for i in range(0, 60, 6):  # in kintone, with memberships: never stopped by this run
        states = customers[f"user{i:04d}@example.jp"]["states"]
        expected = {"group:1": "stop", "step:10": "ok"}  # as before the run
        if options.get("allow_present"):
            expected["group:1"] = "ok"
        assert states == expected
    for i in range(5):  # missing from kintone: stopped in the target (in every one for the DB)
        states = customers[f"missing{i}@example.jp"]["states"]
        if target_key is None:
            assert states == {"group:1": "stop", "step:10": "stop"}
        else:
            assert states[target_key] == "stop"
            assert set(states.values()) == {"stop", "ok"}
    assert split.processed == single.processed and split.total == single.total == 60
    assert split.stopped == 5 * (2 if not target else 1)
    # Every part carried the header and at most max_part_bytes; rows add up to the result.
    register_jobs = [j for j in world.jobs("m10002") if j["import_type"] == 0]
    assert len(register_jobs) == split.parts
    assert sum(j["total"] for j in register_jobs) == 60
    # 処理件数 leaves out the rows 配配メール skipped (existing customers, nothing to write).
    skipped = sum(j["skipped"] for j in register_jobs)
    assert (skipped == 0) == bool(options.get("overwrite"))
    assert split.processed == 60 - skipped
    assert all(
        j["status_change"] == (1 if options.get("allow_present") else 0) for j in register_jobs
    )
    assert all(j["status_change_type"] in (None, 2) for j in register_jobs)


def test_single_upload_uses_the_vendor_stop_option_without_extra_calls(world):
    _stop_world(world)
    world.add_records([kintone_record("a@example.jp"), kintone_record("b@example.jp")])
    world.run(setting(target_type="group", target_id="1", stop_missing=True))
    jobs = world.jobs()
    assert len(jobs) == 1
    assert (jobs[0]["status_change"], jobs[0]["status_change_type"]) == (1, 1)
    assert "GetDeliveryStateList" not in world.haihai_stats()["calls"]


def test_unencodable_row_is_reported_and_its_customer_is_not_stopped(world):
    world.create_account(
        customers=[
            {"email": "emoji@example.jp", "memberships": [member("1")]},
            {"email": "gone@example.jp", "memberships": [member("1")]},
        ]
    )
    world.add_records(
        [kintone_record("emoji@example.jp", "🍣 好き"), kintone_record("ok@example.jp", "普通")]
    )
    outcome = world.run(
        setting(target_type="group", target_id="1", stop_missing=True), encoding="shift_jis"
    )
    customers = world.customers()
    assert customers["emoji@example.jp"]["states"] == {"group:1": "ok"}
    assert customers["gone@example.jp"]["states"] == {"group:1": "stop"}
    assert (outcome.processed, outcome.total) == (1, 2)
    assert "Shift_JISで送信できない文字「🍣」" in outcome.message_detail
    assert "emoji@example.jp" in outcome.message_detail


def test_utf8_upload_keeps_characters_shift_jis_cannot_hold(world):
    world.create_account()
    world.add_records([kintone_record("emoji@example.jp", "𠮷野 🍣")])
    outcome = world.run(setting())
    assert outcome.processed == 1
    assert world.customers()["emoji@example.jp"]["values"]["氏名"] == "𠮷野 🍣"


# -- rows, counts, reports -----------------------------------------------------------------------


def test_rows_refused_by_haihai_are_counted_and_listed(world):
    world.create_account()
    world.add_records(
        [
            kintone_record("ok@example.jp", kana="ひらがな"),
            kintone_record("kana@example.jp", kana="カタカナ"),
            kintone_record("not-an-address"),
            kintone_record("", "空のメール"),
        ]
    )
    outcome = world.run(setting())
    assert (outcome.processed, outcome.total) == (1, 4)
    assert outcome.row_error_count == 3
    detail = outcome.message_detail
    assert "連携されなかったデータ: 3件" in detail
    assert "（kana@example.jp）: ふりがな: 全角ひらがなで入力してください" in detail
    assert "メールアドレスの形式が正しくありません" in detail
    assert "メールアドレスが空のため連携しませんでした" in detail
    assert set(world.customers()) == {"ok@example.jp"}


@pytest.mark.parametrize(
    ("report_mail", "bad_row", "mails"),
    [
        ("never", True, 0),
        ("always", False, 1),
        ("on_error", False, 0),
        ("on_error", True, 1),
    ],
)
def test_report_mail_option_reaches_the_login_users_address(world, report_mail, bad_row, mails):
    world.create_account()
    records = [kintone_record("ok@example.jp")]
    if bad_row:
        records.append(kintone_record("broken@@example.jp"))
    world.add_records(records)
    world.run(setting(report_mail=report_mail))
    outbox = world.outbox()
    assert len(outbox) == mails
    assert all(mail["to"] == USER_MAIL for mail in outbox)


def test_zero_matching_records_succeed_without_calling_haihai(world):
    world.create_account()
    world.add_records([kintone_record("a@example.jp", pref="大阪府")])
    conditions = ConditionSet("all", (Condition("pref", "DROP_DOWN", "in", ("東京都",)),))
    outcome = world.run(setting(conditions=conditions, stop_missing=True))
    assert (outcome.processed, outcome.total, outcome.parts) == (0, 0, 0)
    assert outcome.message_detail is None
    assert world.haihai_stats()["total_calls"] == 0


# -- conditions and the plugin filter ----------------------------------------------------------


def test_conditions_choose_the_records_sent(world):
    world.create_account()
    world.add_records(
        [
            kintone_record("tokyo@example.jp", pref="東京都", score="80"),
            kintone_record("osaka@example.jp", pref="大阪府", score="90"),
            kintone_record("blank@example.jp", score="95"),
            kintone_record("low@example.jp", pref="東京都", score="10"),
        ]
    )
    conditions = ConditionSet(
        "all",
        (
            Condition("pref", "DROP_DOWN", "in", ("東京都", "")),
            Condition("score", "NUMBER", "ge", "50"),
        ),
    )
    outcome = world.run(setting(conditions=conditions))
    assert set(world.customers()) == {"tokyo@example.jp", "blank@example.jp"}
    assert (outcome.processed, outcome.total) == (2, 2)


def test_day_overflow_condition_matches_the_first_of_the_following_month(world):
    """付録1.2: 「来月31日」 run in January 2023 means 2023-03-01."""
    world.create_account()
    world.set_kintone_clock("2023-01-15T10:00:00+09:00")
    world.add_records(
        [
            kintone_record("march1@example.jp", birthday="2023-03-01"),
            kintone_record("feb28@example.jp", birthday="2023-02-28"),
        ]
    )
    conditions = ConditionSet(
        "all", (Condition("birthday", "DATE", "eq", {"kind": "next_month", "day": 31}),)
    )
    world.run(setting(conditions=conditions))
    assert set(world.customers()) == {"march1@example.jp"}


def test_datetime_condition_on_a_date_covers_the_whole_japanese_day(world):
    world.create_account()
    world.add_records(
        [
            kintone_record("early@example.jp", met="2024-01-30T15:00:00Z"),  # 01-31 00:00 JST
            kintone_record("late@example.jp", met="2024-01-31T14:59:00Z"),  # 01-31 23:59 JST
            kintone_record("next@example.jp", met="2024-01-31T15:00:00Z"),  # 02-01 00:00 JST
        ]
    )
    conditions = ConditionSet("all", (Condition("met", "DATETIME", "eq", "2024-01-31"),))
    world.run(setting(conditions=conditions))
    assert set(world.customers()) == {"early@example.jp", "late@example.jp"}


def test_plugin_filter_replaces_the_saved_conditions(world):
    world.create_account()
    world.add_records(
        [
            kintone_record("a@example.jp", pref="東京都"),
            kintone_record("b@example.jp", pref="大阪府"),
        ]
    )
    saved = ConditionSet("all", (Condition("gone_field", "NUMBER", "eq", "1"),))
    outcome = world.run(setting(conditions=saved), query_override='pref in ("大阪府")')
    assert set(world.customers()) == {"b@example.jp"}
    assert outcome.total == 1


def test_more_records_than_one_page_are_read_in_few_calls(world):
    world.create_account()
    world.add_records(_many_records(1201))
    outcome = world.run(setting())
    assert (outcome.processed, outcome.total) == (1201, 1201)
    calls = world.kintone_calls()
    # Two seek ranges in parallel: the probe, A's first page, then one page per range.
    assert calls == {"GET /k/v1/app/form/fields.json": 1, "GET /k/v1/records.json": 4}
    done = [p[0] for p in outcome.progress]
    assert done == sorted(done) and done[-1] == 1201


# -- failures -----------------------------------------------------------------------------------


def test_deleted_mapped_field_fails_before_reading_and_names_it(world):
    world.create_account()
    world.add_records([kintone_record("a@example.jp")])
    world.delete_field("kana")
    with pytest.raises(KintoneFieldMissingError) as info:
        world.run(setting())
    assert (
        "「ふりがな」（フィールドコード: kana）がkintoneアプリに存在しません" in info.value.message
    )
    assert info.value.field_code == "kana"
    assert "GET /k/v1/records.json" not in world.kintone_calls()
    assert world.haihai_stats()["total_calls"] == 0


def test_deleted_condition_field_fails_and_names_it(world):
    world.create_account()
    world.delete_field("score")
    mappings = tuple(m for m in MAPPINGS if m.kintone_code != "score")
    conditions = ConditionSet("all", (Condition("score", "NUMBER", "ge", "1"),))
    with pytest.raises(KintoneFieldMissingError, match="フィールドコード: score"):
        world.run(setting(conditions=conditions), world.config(mappings=mappings))


def test_wrong_kintone_token_gives_a_token_message(world):
    world.create_account()
    with pytest.raises(KintoneAccessError) as info:
        world.run(setting(), world.config(token="not-a-token"))
    assert info.value.code == "kintone_auth"
    assert "kintone APIトークンを確認してください" in info.value.message


def test_token_without_view_permission_names_the_missing_permission(world):
    world.create_account()
    token = world.make_token(["add"])
    with pytest.raises(KintoneAccessError) as info:
        world.run(setting(), world.config(token=token))
    assert info.value.code == "kintone_permission"
    assert "「レコード閲覧」" in info.value.message


def test_wrong_haihai_token_gives_a_login_message(world):
    world.create_account()
    world.add_records([kintone_record("a@example.jp")])
    config = world.config()
    bad = world.config(haihai=HaihaiAccess(config.haihai.base_url, LOGIN_ID, "wrong"))
    with pytest.raises(HaihaiAccessError) as info:
        world.run(setting(), bad)
    assert info.value.code == "haihai_auth"
    assert "ログインIDまたはAPIトークンが正しくありません" in info.value.message
    assert info.value.parts_sent == 0


def test_daily_limit_of_haihai_is_reported(world):
    world.create_account()
    world.haihai_config(daily_limits={"ScheduleCsvImport/register": 0})
    world.add_records([kintone_record("a@example.jp")])
    with pytest.raises(HaihaiAccessError) as info:
        world.run(setting())
    assert info.value.code == "haihai_limit"
    assert "1日あたりの実行回数の上限" in info.value.message


def test_failure_after_some_parts_says_which_were_sent_and_stops_nobody(world):
    world.create_account(customers=[{"email": "gone@example.jp", "memberships": [member("1")]}])
    world.haihai_config(daily_limits={"ScheduleCsvImport/register": 2})
    world.add_records(_many_records(40))
    with pytest.raises(HaihaiAccessError) as info:
        world.run(
            setting(target_type="group", target_id="1", stop_missing=True), max_part_bytes=700
        )
    error = info.value
    assert error.code == "haihai_limit"
    assert error.parts_sent == 2 and len(error.job_ids) == 2
    assert "1〜2番目のCSVファイル" in error.message and "配配メールへ送信済み" in error.message
    assert world.customers()["gone@example.jp"]["states"] == {"group:1": "ok"}


def test_unreachable_haihai_gives_a_connection_message(world):
    world.create_account()
    world.add_records([kintone_record("a@example.jp")])
    config = world.config(haihai=HaihaiAccess("http://127.0.0.1:9/m10001/", LOGIN_ID, "t"))
    with pytest.raises(HaihaiAccessError) as info:
        world.run(setting(), config)
    assert info.value.code == "haihai_network"
    assert "配配メールに接続できませんでした" in info.value.message


def test_unreachable_kintone_gives_a_connection_message(world):
    world.create_account()
    config = world.config(kintone=KintoneAccess("http://127.0.0.1:9/example", "example", "1", "t"))
    with pytest.raises(KintoneAccessError) as info:
        world.run(setting(), config)
    assert info.value.code == "kintone_network"
    assert "kintoneに接続できませんでした" in info.value.message


def test_missing_group_id_is_a_settings_error(world):
    world.create_account()
    with pytest.raises(CustomerSyncSettingsError, match="配信グループIDが設定されていません"):
        world.run(setting(target_type="group", target_id=""))


def test_sparse_ids_and_a_condition_are_read_completely_by_both_ranges(world):
    world.create_account()
    world.add_records(
        [
            kintone_record(f"u{i:04d}@example.jp", pref="東京都" if i % 3 else "大阪府")
            for i in range(1400)
        ]
    )
    # Delete a block in the middle and scattered records, leaving ids with holes.
    deleter = world.make_token(["view", "delete"])
    gone = [*range(600, 900), *range(1, 1400, 7)]
    with KintoneClient(f"{world.kintone_url}/{SUBDOMAIN}", api_tokens=[deleter]) as client:
        client.delete_records(int(world.app_id), sorted(set(gone)))
    deleted = {i - 1 for i in gone}  # record id n holds record index n - 1
    expected = {f"u{i:04d}@example.jp" for i in range(1400) if i not in deleted and i % 3}
    conditions = ConditionSet("all", (Condition("pref", "DROP_DOWN", "in", ("東京都",)),))
    outcome = world.run(setting(conditions=conditions))
    assert set(world.customers()) == expected
    assert outcome.total == outcome.processed == len(expected)
    pages = world.kintone_calls()["GET /k/v1/records.json"]
    assert pages <= -(-len(expected) // 500) + 2


def test_plugin_filter_with_a_sort_order_reads_through_a_cursor(world):
    world.create_account()
    world.add_records(
        [kintone_record(f"s{i}@example.jp", score=str(i), pref="東京都") for i in range(30)]
    )
    outcome = world.run(setting(), query_override="score >= 10 order by score desc")
    assert outcome.total == 20
    assert len(world.customers()) == 20
    calls = world.kintone_calls()
    assert calls.get("POST /k/v1/records/cursor.json") == 1


def test_group_that_no_longer_exists_in_haihai_is_named(world):
    world.create_account()
    world.add_records([kintone_record("a@example.jp")])
    with pytest.raises(HaihaiAccessError) as info:
        world.run(setting(target_type="group", target_id="99"))
    assert info.value.code == "haihai_target"
    assert "配信グループが存在しません（gid=99）" in info.value.message
    assert "「配配メール設定の同期」" in info.value.message


def test_keyword_search_cut_short_by_kintone_fails_with_the_manuals_message(world):
    world.create_account(customers=[{"email": "keep@example.jp", "memberships": [member("1")]}])
    world._post(world.kintone_url, "config", {"like_hit_limit": 5})
    world.add_records([kintone_record(f"k{i}@example.jp", f"株式会社テスト{i}") for i in range(8)])
    conditions = ConditionSet("all", (Condition("name", "SINGLE_LINE_TEXT", "like", "株式会社"),))
    with pytest.raises(KintoneAccessError) as info:
        world.run(
            setting(target_type="group", target_id="1", conditions=conditions, stop_missing=True),
            like_hit_limit=5,
        )
    assert info.value.code == "kintone_too_many"
    assert info.value.message.startswith(
        "kintone から取得するデータの量が多すぎるため、処理が中断されました。連携条件を見直してください。"
    )
    assert world.haihai_stats()["total_calls"] == 0
    assert world.customers()["keep@example.jp"]["states"] == {"group:1": "ok"}
