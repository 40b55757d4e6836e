"""配信停止/禁止顧客一覧連携 against both sandboxes over real HTTP (ConnectorConfig built directly)."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from portal.connector_types.haihai_kintone.stop_ban.config import (
    MODE_BAN,
    MODE_SAME,
    MODE_SEPARATE,
    MODE_STOP,
    STOP_BAN,
    FieldRule,
    StopBanSetting,
)
from portal.connector_types.haihai_kintone.stop_ban.sync import (
    haihai_opener,
    run_stop_ban,
    sync_stop_ban,
)
from portal.connector_types.registry import get_process
from portal.demo_fixtures import choice_field_options
from portal.integrations.kintone import KintoneClient
from portal.queueing import get_redis
from portal.runs.messages import DAILY_LIMIT_MESSAGE
from portal.syncs.config import ConnectorConfig, FieldMapping, HaihaiAccess, KintoneAccess
from portal.syncs.context import RunContext, RunFailed
from tests.conftest import TEST_FERNET_KEY

SUB = "example"
ACCOUNT = "m30601"
TOKEN = "tk"
# The run starts 2023-02-01 02:10:37 in Tokyo.
MOMENT = dt.datetime(2023, 1, 31, 17, 10, 37, tzinfo=dt.UTC)
BULK = "POST /k/v1/bulkRequest.json"


def _choice(label: str, kind: str, *options: str, **extra) -> dict:
    return {"type": kind, "label": label, "options": choice_field_options(options), **extra}


FIELDS = {
    "mail": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"},
    "name": {"type": "SINGLE_LINE_TEXT", "label": "氏名"},
    "stop": _choice("配信停止", "DROP_DOWN", "配信停止", "配信停止ではない"),
    "ban": _choice("配信禁止", "DROP_DOWN", "配信禁止", "配信禁止ではない"),
    "both": _choice(
        "配信停止禁止", "DROP_DOWN", "配信停止", "配信禁止", "配信停止、配信禁止ではない"
    ),
    "checks": _choice("チェック", "CHECK_BOX", "チェック01", "チェック02", "チェック03"),
    "multi": _choice("複数選択", "MULTI_SELECT", "複数選択01", "複数選択02"),
    "radio": _choice("ラジオ", "RADIO_BUTTON", "ラジオ01", "ラジオ02"),
    "day": {"type": "DATE", "label": "停止日"},
    "day_default": {"type": "DATE", "label": "停止日(初期値)", "defaultValue": "2020-04-01"},
    "moment": {"type": "DATETIME", "label": "停止日時"},
    "memo": {"type": "MULTI_LINE_TEXT", "label": "メモ"},
    "count": {"type": "NUMBER", "label": "回数"},
    "limited": {"type": "NUMBER", "label": "上限付き", "maxValue": "5"},
}


class World:
    """One kintone app (FIELDS) and one 配配メール account with two delivery groups."""

    def __init__(self, kintone: str, haihai: str) -> None:
        self.kintone = kintone
        self.haihai = haihai
        self.http = requests.Session()
        self.app = self.post(kintone, "apps", {"subdomain": SUB, "fields": FIELDS})["app"]
        self.token = self.post(
            kintone, "tokens", {"subdomain": SUB, "app": self.app, "permissions": ["view", "edit"]}
        )["token"]
        self.post(
            haihai,
            "accounts",
            {
                "account_key": ACCOUNT,
                "groups": [{"gid": "1", "name": "メルマガ"}, {"gid": "2", "name": "セミナー"}],
                "plans": [{"spid": "1", "name": "フォロー"}],
                "users": [{"login_id": "u1", "email": "u1@example.jp", "api_token": TOKEN}],
            },
        )

    def post(self, base: str, path: str, body: dict) -> dict:
        response = self.http.post(f"{base}/_sandbox/{path}", json=body, timeout=60)
        assert response.status_code < 300, response.text
        return response.json()

    def customers(self, stopped=(), banned=(), ok=()) -> None:
        """配配メール customers: stopped in group 1, banned in group 2 (or step plan 1), or able."""
        rows: dict[str, list] = {}
        for email in ok:
            rows.setdefault(email, []).append({"gid": "1", "state": "ok"})
        for email in stopped:
            rows.setdefault(email, []).append({"gid": "1", "state": "stop"})
        for n, email in enumerate(banned):
            target = {"gid": "2"} if n % 2 == 0 else {"spid": "1"}
            rows.setdefault(email, []).append({**target, "state": "ban"})
        batch = [{"email": e, "memberships": m} for e, m in rows.items()]
        for start in range(0, len(batch), 5000):
            self.post(
                self.haihai,
                "customers",
                {"account": ACCOUNT, "customers": batch[start : start + 5000]},
            )

    def add_records(self, records: list[dict]) -> None:
        for start in range(0, len(records), 5000):
            self.post(
                self.kintone,
                "records",
                {"subdomain": SUB, "app": self.app, "records": records[start : start + 5000]},
            )

    def records(self) -> list[dict]:
        response = self.http.get(
            f"{self.kintone}/_sandbox/records",
            params={"subdomain": SUB, "app": self.app},
            timeout=60,
        )
        return response.json()["records"]

    def by_mail(self, *codes: str) -> dict[str, tuple]:
        return {r["mail"]["value"]: tuple(r[c]["value"] for c in codes) for r in self.records()}

    def kintone_calls(self) -> dict[str, int]:
        return self.http.get(
            f"{self.kintone}/_sandbox/stats", params={"subdomain": SUB}, timeout=30
        ).json()["calls"]

    def haihai_calls(self) -> int:
        return self.http.get(
            f"{self.haihai}/_sandbox/stats", params={"account": ACCOUNT}, timeout=30
        ).json()["total_calls"]

    def client(self) -> KintoneClient:
        return KintoneClient(f"{self.kintone}/{SUB}", api_tokens=[self.token])

    def config(self, setting: StopBanSetting, **changes) -> ConnectorConfig:
        values = {
            "connector_id": "c1",
            "name": "配配メール-kintone連携",
            "kintone": KintoneAccess(f"{self.kintone}/{SUB}", SUB, self.app, self.token),
            "haihai": HaihaiAccess(f"{self.haihai}/{ACCOUNT}/", "u1", TOKEN),
            "mappings": (
                FieldMapping(
                    "mail", "SINGLE_LINE_TEXT", "メールアドレス", "メールアドレス", is_email=True
                ),
            ),
            "sections": {"step6": setting},
        }
        values.update(changes)
        return ConnectorConfig(**values)


@pytest.fixture
def world(kintone_sandbox, haihai_sandbox):
    sandboxes = World(kintone_sandbox, haihai_sandbox)
    yield sandboxes
    sandboxes.http.close()


def run(world: World, setting: StopBanSetting, *, kintone=None, progress=None, **changes):
    config = world.config(setting, **changes)
    client = kintone or world.client()
    try:
        return sync_stop_ban(
            config,
            kintone=client,
            open_haihai=haihai_opener(config, allow_local=True),
            moment=MOMENT,
            progress=progress,
        )
    finally:
        client.close()


SEPARATE = StopBanSetting(
    timing="manual",
    mode=MODE_SEPARATE,
    stop=FieldRule("stop", "DROP_DOWN", ("配信停止",), True, ("配信停止ではない",)),
    ban=FieldRule("ban", "DROP_DOWN", ("配信禁止",), True, ("配信禁止ではない",)),
)
SAME = StopBanSetting(
    timing="manual",
    mode=MODE_SAME,
    stop=FieldRule("both", "DROP_DOWN", ("配信停止",), True, ("配信停止、配信禁止ではない",)),
    ban=FieldRule("both", "DROP_DOWN", ("配信禁止",)),
)
PEOPLE = ["aaa@example.com", "bbb@example.com", "ccc@example.com", "ddd@example.com"]


def _examples(world: World) -> None:
    """The situation of both examples of 付録2.1."""
    world.customers(
        stopped=["aaa@example.com", "bbb@example.com"],
        banned=["aaa@example.com", "ccc@example.com"],
        ok=["ddd@example.com"],
    )
    world.add_records([{"mail": {"value": e}} for e in PEOPLE])


def test_stop_ban_is_registered_with_its_daily_limit():
    process = get_process(STOP_BAN)
    assert process.handler is run_stop_ban
    assert (process.name, process.daily_limit, process.group) == (
        "配信停止 / 禁止顧客一覧連携",
        10,
        "sync",
    )


def test_example_separate_fields_then_a_second_run_writes_nothing(world):
    _examples(world)
    before = world.kintone_calls()
    result = run(world, SEPARATE)
    assert world.by_mail("stop", "ban") == {
        "aaa@example.com": ("配信停止", "配信禁止"),
        "bbb@example.com": ("配信停止", "配信禁止ではない"),
        "ccc@example.com": ("配信停止ではない", "配信禁止"),
        "ddd@example.com": ("配信停止ではない", "配信禁止ではない"),
    }
    tally = result.tally
    assert (tally.read, tally.targets, tally.written, tally.unchanged) == (4, 4, 4, 0)
    assert (result.stopped, result.banned) == (2, 2)
    calls = world.kintone_calls()
    assert calls[BULK] - before.get(BULK, 0) == 1
    detail = result.message_detail
    assert "kintoneのレコード: 4件（配配メール: 配信停止 2件・配信禁止 2件）" in detail
    assert "・配信停止: 「配信停止」（配信停止） 2件" in detail
    assert "・配信禁止: 「配信禁止ではない」（配信禁止ではない） 2件" in detail

    again = run(world, SEPARATE)
    assert (again.tally.written, again.tally.unchanged, again.tally.targets) == (0, 4, 4)
    assert world.kintone_calls()[BULK] == calls[BULK]


def test_example_same_field_ban_wins_over_stop(world):
    _examples(world)
    result = run(world, SAME)
    assert world.by_mail("both") == {
        "aaa@example.com": ("配信禁止",),
        "bbb@example.com": ("配信停止",),
        "ccc@example.com": ("配信禁止",),
        "ddd@example.com": ("配信停止、配信禁止ではない",),
    }
    assert result.tally.written == 4
    assert "（配信停止・配信禁止ではない） 1件" in result.message_detail


def test_stop_only_without_cleared_leaves_other_records_alone(world):
    _examples(world)
    world.add_records([{"mail": {"value": ""}}, {"mail": {"value": "BBB@example.com"}}])
    setting = StopBanSetting(
        timing="manual", mode=MODE_STOP, stop=FieldRule("stop", "DROP_DOWN", ("配信停止",))
    )
    haihai_before = world.haihai_calls()
    result = run(world, setting)
    values = {r["$id"]["value"]: r["stop"]["value"] for r in world.records()}
    assert values == {"1": "配信停止", "2": "配信停止", "3": None, "4": None, "5": None, "6": None}
    tally = result.tally
    assert (tally.read, tally.targets, tally.no_email, tally.untargeted) == (6, 2, 1, 3)
    assert (result.stopped, result.banned) == (2, None)
    assert world.haihai_calls() - haihai_before == 1  # only the 配信停止 list was read
    assert "配信停止の一覧に該当なし: 3件" in result.message_detail


@pytest.mark.parametrize(
    ("rule", "stopped_value", "other_value"),
    [
        (
            FieldRule("checks", "CHECK_BOX", ("チェック01", "チェック03"), True, ()),
            ["チェック01", "チェック03"],
            [],
        ),
        (
            FieldRule("multi", "MULTI_SELECT", ("複数選択02",), True, ("複数選択01", "複数選択02")),
            ["複数選択02"],
            ["複数選択01", "複数選択02"],
        ),
        (
            FieldRule("radio", "RADIO_BUTTON", ("ラジオ02",), True, ("ラジオ01",)),
            "ラジオ02",
            "ラジオ01",
        ),
        (
            FieldRule("day", "DATE", (), True),
            "2023-02-01",
            None,
        ),  # kintone reads a blank date as null
        (FieldRule("day_default", "DATE", (), True), "2023-02-01", "2020-04-01"),
        (FieldRule("moment", "DATETIME", (), True), "2023-01-31T17:10:00Z", ""),
        (FieldRule("name", "SINGLE_LINE_TEXT", ("停止",), True, ("",)), "停止", ""),
        (
            FieldRule("memo", "MULTI_LINE_TEXT", ("配配メールで\n配信停止",), True, ("可能",)),
            "配配メールで\n配信停止",
            "可能",
        ),
        (FieldRule("count", "NUMBER", ("1",), True, ("0",)), "1", "0"),
    ],
    ids=lambda value: value.field_type if isinstance(value, FieldRule) else None,
)
def test_every_field_type_is_written_as_the_manual_says(world, rule, stopped_value, other_value):
    world.customers(stopped=["stopped@example.jp"], ok=["ok@example.jp"])
    world.add_records(
        [
            {"mail": {"value": "stopped@example.jp"}, "day_default": {"value": "2024-05-05"}},
            {"mail": {"value": "ok@example.jp"}, "day_default": {"value": "2024-05-05"}},
        ]
    )
    setting = StopBanSetting(timing="manual", mode=MODE_STOP, stop=rule)
    result = run(world, setting)
    values = world.by_mail(rule.field_code)
    assert values["stopped@example.jp"] == (stopped_value,)
    assert values["ok@example.jp"] == (other_value,)
    assert result.tally.processed == 2
    # Nothing to change the second time (dates are the same run date here).
    assert run(world, setting).tally.written == 0


def test_writes_go_in_bulk_calls_of_2000_with_progress(world):
    emails = [f"user{n:05d}@example.jp" for n in range(4500)]
    world.customers(stopped=emails[::2], banned=emails[1::2])
    world.add_records([{"mail": {"value": e}} for e in emails])
    before = world.kintone_calls()
    seen: list[tuple[int, int]] = []
    result = run(world, SEPARATE, progress=lambda d, t: seen.append((d, t)))
    calls = world.kintone_calls()
    assert calls[BULK] - before.get(BULK, 0) == 3  # 2000 + 2000 + 500
    reads = calls["GET /k/v1/records.json"] - before.get("GET /k/v1/records.json", 0)
    assert reads <= 4500 // 500 + 1
    assert result.kintone_calls <= 9 + 3 + 3  # ⌈N/500⌉ + ⌈N/2000⌉ + 3
    assert result.tally.written == 4500
    assert seen[-1] == (4500, 4500)
    assert all(b[0] >= a[0] for a, b in zip(seen, seen[1:], strict=False))
    stops = world.by_mail("stop", "ban")
    assert stops["user00000@example.jp"] == ("配信停止", "配信禁止ではない")
    assert stops["user00001@example.jp"] == ("配信停止ではない", "配信禁止")


class EditingClient(KintoneClient):
    """A client that lets somebody edit records in kintone just before each of its writes."""

    def __init__(self, *args, edits: list[list[int]], editor: KintoneClient, app: int, **kw):
        super().__init__(*args, **kw)
        self.edits = edits
        self.editor = editor
        self.app = app
        self.writes = 0

    def update_records(self, app, records, **kwargs):
        if self.writes < len(self.edits):
            ids = self.edits[self.writes]
            self.editor.update_records(
                self.app,
                [{"id": i, "record": {"name": {"value": f"編集{self.writes}"}}} for i in ids],
            )
        self.writes += 1
        return super().update_records(app, records, **kwargs)


def _editing_client(world: World, edits: list[list[int]]) -> EditingClient:
    return EditingClient(
        f"{world.kintone}/{SUB}",
        api_tokens=[world.token],
        edits=edits,
        editor=world.client(),
        app=int(world.app),
    )


def test_a_record_edited_meanwhile_is_written_again_with_its_new_revision(world):
    _examples(world)
    client = _editing_client(world, [[2]])  # someone edits bbb just before the write
    result = run(world, SEPARATE, kintone=client)
    records = {r["mail"]["value"]: r for r in world.records()}
    bbb = records["bbb@example.com"]
    assert (bbb["stop"]["value"], bbb["ban"]["value"]) == ("配信停止", "配信禁止ではない")
    assert bbb["name"]["value"] == "編集0"  # the other user's edit is kept
    assert int(bbb["$revision"]["value"]) == 3  # created, edited, written once
    assert result.tally.written == 4 and client.writes == 2


def test_a_record_edited_twice_is_left_alone_and_reported(world):
    _examples(world)
    client = _editing_client(world, [[3], [3]])  # ccc changes before both attempts
    with pytest.raises(RunFailed) as failed:
        run(world, SEPARATE, kintone=client)
    assert failed.value.code == "conflict"
    assert "レコードID: 3" in failed.value.message
    assert "他の3件のレコードは更新済み" in failed.value.message
    values = world.by_mail("stop", "ban", "name")
    assert values["ccc@example.com"] == (None, None, "編集1")
    assert values["aaa@example.com"][:2] == ("配信停止", "配信禁止")
    assert (failed.value.processed, failed.value.total) == (3, 4)
    # The next run finishes the job.
    assert run(world, SEPARATE).tally.written == 1


def test_a_refused_chunk_names_field_and_records_and_earlier_chunks_stay(world):
    emails = [f"user{n:04d}@example.jp" for n in range(2500)]
    world.customers(stopped=emails)
    world.add_records([{"mail": {"value": e}} for e in emails])
    fault = {"path": "/k/v1/bulkRequest.json", "status": 400, "code": "CB_VA01", "times": 1}
    world.post(world.kintone, "config", {"faults": [fault]})
    with pytest.raises(RunFailed) as failed:
        run(world, SEPARATE)
    message = failed.value.message
    assert failed.value.code == "kintone"
    assert "書き込めなかったレコード（レコードID）: " in message
    written = sum(1 for v in world.by_mail("stop").values() if v == ("配信停止",))
    # The first call to arrive failed; the other chunk, already in flight, may have been written.
    assert written in (0, 500, 2000)
    if written:
        assert f"それまでに更新した{written:,}件のレコードはそのまま更新済みです。" in message
    else:
        assert "kintoneのレコードは更新されていません。" in message
    result = run(world, SEPARATE)
    assert result.tally.written == 2500 - written
    assert set(world.by_mail("stop").values()) == {("配信停止",)}


def test_a_value_kintone_refuses_names_the_field_and_the_records(world):
    _examples(world)
    setting = StopBanSetting(
        timing="manual", mode=MODE_STOP, stop=FieldRule("limited", "NUMBER", ("9",))
    )
    with pytest.raises(RunFailed) as failed:
        run(world, setting)
    message = failed.value.message
    assert "kintone項目「上限付き」に値を書き込めませんでした（レコードID: 1）" in message
    assert "書き込めなかったレコード（レコードID）: 1, 2。" in message
    assert "kintoneのレコードは更新されていません。" in message
    assert (failed.value.processed, failed.value.total) == (0, 2)


def test_a_5xx_storm_fails_the_run_and_the_next_run_converges(world):
    _examples(world)
    world.add_records([{"mail": {"value": f"more{n}@example.com"}} for n in range(3000)])
    fault = {"path": "/k/v1/bulkRequest.json", "status": 500, "code": None, "times": 20}
    world.post(world.kintone, "config", {"faults": [fault]})
    with pytest.raises(RunFailed) as failed:
        run(world, SEPARATE)
    assert "kintoneでエラーが発生したため" in failed.value.message
    world.post(world.kintone, "config", {"faults": []})
    result = run(world, SEPARATE)
    assert result.tally.targets == 3004
    values = world.by_mail("stop", "ban")
    assert values["aaa@example.com"] == ("配信停止", "配信禁止")
    assert values["more7@example.com"] == ("配信停止ではない", "配信禁止ではない")
    assert len(world.records()) == 3004  # nothing created twice
    assert run(world, SEPARATE).tally.written == 0


def test_a_required_date_to_reset_fails_before_any_write(world):
    _examples(world)
    required = {"required_day": {"type": "DATE", "label": "必須日付", "required": True}}
    world.post(world.kintone, "fields", {"subdomain": SUB, "app": world.app, "add": required})
    setting = StopBanSetting(
        timing="manual", mode=MODE_BAN, ban=FieldRule("required_day", "DATE", (), True)
    )
    before = world.kintone_calls()
    with pytest.raises(RunFailed) as failed:
        run(world, setting)
    assert failed.value.code == "settings"
    assert "「必須日付」" in failed.value.message
    assert world.kintone_calls().get(BULK, 0) == before.get(BULK, 0)


def test_a_field_deleted_in_kintone_since_the_save_stops_the_run(world):
    _examples(world)
    world.post(world.kintone, "fields", {"subdomain": SUB, "app": world.app, "delete": ["ban"]})
    with pytest.raises(RunFailed) as failed:
        run(world, SEPARATE)
    assert "配信禁止連携の連携先のkintone項目（フィールドコード: ban）" in failed.value.message
    assert set(world.by_mail("stop").values()) == {(None,)}


def test_haihai_daily_limit_stops_before_kintone_is_touched(world):
    _examples(world)
    world.post(world.haihai, "config", {"daily_limits": {"GetDeliveryStateList": 0}})
    before = world.kintone_calls()
    with pytest.raises(RunFailed) as failed:
        run(world, SEPARATE)
    assert failed.value.code == "haihai"
    assert "1日あたりの実行回数の上限" in failed.value.message
    assert world.kintone_calls().get(BULK, 0) == before.get(BULK, 0)


# --- the run handler -------------------------------------------------------------------------


@pytest.fixture
def portal_app(tmp_path, redis_url):
    """An app context for the run handler (config, Redis for the daily budgets)."""
    from portal import create_app
    from portal.queueing import close_redis

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "x",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
            "REDIS_URL": redis_url,
            "PORTAL_SECRET_KEY": TEST_FERNET_KEY,
            "HAIHAI_ALLOW_LOCAL_URLS": True,
        }
    )
    with app.app_context():
        yield app
    close_redis(app)
    app.extensions["db_engine"].dispose()


def context(config: ConnectorConfig, seen: list | None = None) -> RunContext:
    return RunContext(
        run_id="01GPZ6JAJF3N45A29JD3WN3B4D",
        connector_id=config.connector_id,
        process_key=STOP_BAN,
        process_number=None,
        trigger="manual",
        params={},
        started_at=MOMENT,
        timezone="Asia/Tokyo",
        load_config=lambda: config,
        report_progress=(lambda d, t: seen.append((d, t)))
        if seen is not None
        else (lambda d, t: None),
        redis=get_redis(),
        app_config={"HAIHAI_ALLOW_LOCAL_URLS": True},
    )


def test_handler_counts_and_message_detail(world, portal_app):
    _examples(world)
    seen: list[tuple[int, int]] = []
    outcome = run_stop_ban(context(world.config(SAME), seen))
    assert (outcome.processed, outcome.total) == (4, 4)
    assert outcome.message_detail.startswith("kintoneのレコード: 4件")
    assert seen[-1] == (4, 4)


def test_handler_reports_zero_of_zero_when_nothing_applies(world, portal_app):
    world.add_records([{"mail": {"value": "ddd@example.com"}}])
    setting = StopBanSetting(
        timing="manual", mode=MODE_BAN, ban=FieldRule("ban", "DROP_DOWN", ("配信禁止",))
    )
    outcome = run_stop_ban(context(world.config(setting)))
    assert (outcome.processed, outcome.total) == (0, 0)


def test_handler_refuses_settings_that_are_off_or_incomplete(world, portal_app):
    with pytest.raises(RunFailed, match="「連携しない」"):
        run_stop_ban(context(world.config(StopBanSetting())))
    with pytest.raises(RunFailed, match="Step4"):
        run_stop_ban(context(world.config(SAME, mappings=())))
    wrong = world.config(
        SAME, kintone=KintoneAccess(f"{world.kintone}/{SUB}", SUB, world.app, "wrong")
    )
    with pytest.raises(RunFailed, match="kintone APIトークンが正しくありません"):
        run_stop_ban(context(wrong))
    assert DAILY_LIMIT_MESSAGE.startswith("1日に実行可能な連携回数は最大10回までとなります。")


@pytest.mark.parametrize("early", [2, 50_000])
def test_records_read_while_the_lists_load_are_decided_once_they_arrive(world, monkeypatch, early):
    """kintone is read while 配配メール is slow; a full waiting buffer makes the read wait."""
    from portal.connector_types.haihai_kintone.stop_ban import sync

    monkeypatch.setattr(sync, "EARLY_RECORDS", early)
    emails = [f"user{n:04d}@example.jp" for n in range(1200)]
    world.customers(stopped=emails[:400], banned=emails[300:600])
    world.add_records([{"mail": {"value": e}} for e in emails])
    world.post(world.haihai, "config", {"latency_ms": 800})
    result = run(world, SEPARATE)
    assert (result.tally.written, result.stopped, result.banned) == (1200, 400, 300)
    values = world.by_mail("stop", "ban")
    assert values["user0350@example.jp"] == ("配信停止", "配信禁止")
    assert values["user0500@example.jp"] == ("配信停止ではない", "配信禁止")
    assert values["user0999@example.jp"] == ("配信停止ではない", "配信禁止ではない")
