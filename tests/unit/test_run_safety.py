"""Pure parts of the run safety machinery: part fingerprints, what a cut-short run tells,
waiting out a Redis outage, and which kintone requests are writes."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
import requests

from jobs.reaper import describe_import_status
from portal.connector_types.haihai_kintone.customer.sync import part_fingerprint
from portal.integrations.haihai import ImportMode, ImportOptions, ImportResult, ImportStatus
from portal.models.runs import PART_SENDING, PART_SENT, RunPart
from portal.redis_outage import through_outage
from portal.runs import messages
from portal.runs.parts import REPORT_HINT, describe_parts
from portal.syncs.clients import is_kintone_write

HEADER = b'"\xe3\x83\xa1\xe3\x83\xbc\xe3\x83\xab","name"\r\n'


def _csv(*rows: bytes) -> bytes:
    return HEADER + b"".join(row + b"\r\n" for row in rows)


def test_part_fingerprint_ignores_row_order_but_not_rows_or_options():
    options = ImportOptions(mode=ImportMode.REGISTER, overwrite=True)
    a = part_fingerprint(_csv(b'"a@example.jp","A"', b'"b@example.jp","B"'), options)
    assert a == part_fingerprint(_csv(b'"b@example.jp","B"', b'"a@example.jp","A"'), options)
    assert a != part_fingerprint(_csv(b'"a@example.jp","A"', b'"b@example.jp","X"'), options)
    assert a != part_fingerprint(_csv(b'"a@example.jp","A"'), options)
    other = ImportOptions(mode=ImportMode.REGISTER, overwrite=False)
    assert a != part_fingerprint(_csv(b'"a@example.jp","A"', b'"b@example.jp","B"'), other)
    assert len(a) == 64


def _part(number: int, state: str, job_id: str | None = None) -> RunPart:
    return RunPart(run_id="r", number=number, fingerprint="f", state=state, job_id=job_id)


def test_describe_parts_names_sent_jobs_their_results_and_uncertain_uploads():
    assert describe_parts([], {}) is None
    text = describe_parts(
        [_part(1, PART_SENT, "J1"), _part(2, PART_SENT, "J2"), _part(3, PART_SENDING)],
        {"J1": "取込結果: 2件（登録 2件）。"},
    )
    lines = text.split("\n")
    assert lines[0] == "配配メールへの送信は完了しています（ジョブID J1, J2）。"
    assert lines[1] == "ジョブID J1: 取込結果: 2件（登録 2件）。"
    assert "再送信されません" in lines[2]
    assert lines[3] == (
        "3番目のCSVファイルは送信中に中断されたため、配配メールに届いたかどうか確認できません。"
    )
    assert lines[-1] == REPORT_HINT


def test_import_status_sentences():
    queued = ImportStatus(job_id="J1", state="queued", result=None)
    assert describe_import_status(queued).startswith("配配メールで取込処理中です")
    done = ImportResult(
        job_id="J1",
        mode=ImportMode.REGISTER,
        state="completed",
        accepted_at=None,
        finished_at=None,
        total=300,
        inserted=120,
        updated=178,
        failed=2,
    )
    status = ImportStatus(job_id="J1", state="completed", result=done)
    assert (
        describe_import_status(status) == "取込結果: 300件（登録 120件・更新 178件・エラー 2件）。"
    )


def test_writes_sentence_and_redis_message():
    assert messages.writes_sentence(0, 0) == messages.NOTHING_WRITTEN
    assert messages.writes_sentence(3, 1) == (
        "中断までにkintoneへの書き込み（3回）、配配メールへのCSVファイルの送信（1回）を行っています。"
    )
    text = messages.with_details(messages.redis_unavailable_message(300), "詳細")
    assert text.startswith("ジョブキュー（Redis）に接続できない状態が300秒以上続いたため")
    assert text.endswith("\n詳細")


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def test_through_outage_retries_until_redis_answers_then_gives_up_after_the_wait():
    clock = _Clock()
    failures = iter([True, True, True, False])

    def call():
        if next(failures):
            raise redis.exceptions.ConnectionError("refused")
        return "ok"

    assert through_outage(call, 10, sleep=clock.sleep, clock=clock) == "ok"
    assert 0 < clock.now < 2

    clock = _Clock()

    def down():
        raise redis.exceptions.TimeoutError("frozen")

    with pytest.raises(redis.exceptions.TimeoutError):
        through_outage(down, 10, sleep=clock.sleep, clock=clock)
    assert clock.now == pytest.approx(10)
    # Other errors are not an outage.
    with pytest.raises(redis.exceptions.ResponseError):
        through_outage(lambda: (_ for _ in ()).throw(redis.exceptions.ResponseError()), 10)


def _request(method: str, path: str, **headers) -> requests.PreparedRequest:
    return requests.Request(method, f"https://x.cybozu.com{path}", headers=headers).prepare()


def test_kintone_writes_are_the_requests_that_may_change_data():
    assert not is_kintone_write(_request("GET", "/k/v1/records.json"))
    assert not is_kintone_write(
        _request("POST", "/k/v1/records.json", **{"X-HTTP-Method-Override": "GET"})
    )
    assert not is_kintone_write(_request("POST", "/k/v1/records/cursor.json"))
    assert not is_kintone_write(_request("DELETE", "/k/v1/records/cursor.json"))
    assert is_kintone_write(_request("POST", "/k/v1/bulkRequest.json"))
    assert is_kintone_write(_request("PUT", "/k/v1/records.json"))
    assert is_kintone_write(_request("DELETE", "/k/guest/3/v1/records.json"))


def test_a_run_row_cannot_move_from_error_to_success(app):
    from portal.db import session_scope
    from portal.models import Account, Connector, Run
    from portal.runs.service import claim_run, mark_failed, mark_succeeded

    with app.app_context(), session_scope() as session:
        account = Account(connector_id="HC9", email="hc9@example.com", password_hash="x")
        session.add(account)
        session.flush()
        connector = Connector(account_id=account.id, name="c")
        session.add(connector)
        session.flush()
        run = Run(connector_id=connector.id, process_key="view_url")
        session.add(run)
        session.commit()
        assert claim_run(session, run.id, "w")
        assert mark_failed(session, run.id, messages.WORKER_LOST_MESSAGE, "worker_lost")
        assert mark_succeeded(session, run.id, 3, 3, None) is False
        session.expire_all()
        stored = session.get(Run, run.id)
        assert (stored.status, stored.error_code) == ("failed", "worker_lost")
        assert stored.finished_at <= dt.datetime.now(dt.UTC)
