"""CSV imports through HaihaiClient against the sandbox: every option, results, polling."""

from __future__ import annotations

import time

import pytest

from portal.integrations.haihai import (
    DeliveryState,
    HaihaiEmptyPartError,
    HaihaiImportFailedError,
    HaihaiImportTimeoutError,
    HaihaiNotFoundError,
    HaihaiPartTooLargeError,
    HaihaiValidationError,
    ImportMode,
    ImportOptions,
    ReportOption,
    StatusChange,
)
from portal.integrations.haihai_csv import MAX_PART_BYTES, CsvEncoding, CsvPartWriter
from portal.messages.haihai import haihai_message

from .conftest import USER_MAIL

HEADERS = ["メールアドレス", "氏名", "ふりがな", "都道府県"]


def csv_bytes(rows, headers=HEADERS, encoding=CsvEncoding.UTF8) -> bytes:
    writer = CsvPartWriter(headers, encoding)
    for row in rows:
        assert writer.add_row(row) is None
    return writer.finish().data


def run_import(client, data: bytes, options: ImportOptions):
    """Submit and wait with a short first poll (the sandbox processes at once by default)."""
    job_id = client.import_csv(data, options)
    assert job_id
    return client.wait_for_import(job_id, first_poll=0.05, min_interval=0.05, max_wait=30)


def states(admin, email: str) -> dict[tuple[str, str], str]:
    customer = admin.customer(email)
    return {(m["type"], m["id"]): m["state"] for m in customer["memberships"]}


def test_register_reports_counts_and_per_row_errors(admin, client):
    data = csv_bytes(
        [
            ["taro@example.jp", "山田太郎", "やまだたろう", "東京都"],
            ["not-an-address", "誤り", "", "東京都"],
            ["hanako@example.jp", "佐藤花子", "サトウ", "東京都"],
            ["jiro@example.jp", "鈴木次郎", "", "北海道"],
            ["saburo@example.jp", "田中三郎", "", ""],
            ["taro@example.jp", "重複", "", "大阪府"],
        ]
    )
    result = run_import(client, data, ImportOptions())
    assert result.state == "completed"
    assert result.mode is ImportMode.REGISTER
    assert (result.total, result.inserted, result.failed) == (6, 1, 5)
    assert result.accepted == 1 and result.applied == 1
    assert result.accepted_at is not None and result.finished_at >= result.accepted_at
    by_line = {error.line: error for error in result.errors}
    assert sorted(by_line) == [3, 4, 5, 6, 7]
    assert by_line[3].email == "not-an-address"
    assert "メールアドレス" in by_line[3].message
    assert "ふりがな" in by_line[4].message
    assert "都道府県" in by_line[5].message and "北海道" in by_line[5].message
    assert "必須" in by_line[6].message
    assert "重複" in by_line[7].message
    assert by_line[4].content == '"hanako@example.jp","佐藤花子","サトウ","東京都"'
    assert admin.customer("taro@example.jp")["values"]["氏名"] == "山田太郎"
    assert admin.customer_count() == 1


def test_existing_customers_are_skipped_without_overwrite_and_updated_with_it(admin, client):
    admin.add_customers(
        [
            {
                "email": "taro@example.jp",
                "values": {"氏名": "旧姓", "ふりがな": "きゅう", "都道府県": "大阪府"},
            }
        ]
    )
    row = ["taro@example.jp", "新姓", "", "東京都"]
    skipped = run_import(client, csv_bytes([row]), ImportOptions())
    assert (skipped.skipped, skipped.updated, skipped.accepted, skipped.applied) == (1, 0, 1, 0)
    assert admin.customer("taro@example.jp")["values"]["氏名"] == "旧姓"

    kept = run_import(client, csv_bytes([row]), ImportOptions(overwrite=True))
    assert kept.updated == 1
    values = admin.customer("taro@example.jp")["values"]
    # Blank cell + 元の値を残す: the old furigana stays.
    assert (values["氏名"], values["ふりがな"], values["都道府県"]) == ("新姓", "きゅう", "東京都")

    blanked = run_import(
        client, csv_bytes([row]), ImportOptions(overwrite=True, blank_overwrite=True)
    )
    assert blanked.updated == 1
    assert admin.customer("taro@example.jp")["values"]["ふりがな"] == ""


def test_register_into_group_adds_deliverable_memberships(admin, client):
    result = run_import(
        client,
        csv_bytes([["a@example.jp", "A", "", "東京都"], ["b@example.jp", "B", "", "大阪府"]]),
        ImportOptions(group_id="2"),
    )
    assert result.inserted == 2
    assert states(admin, "a@example.jp") == {("group", "2"): "ok"}
    members = list(client.iter_customers(group_id="2"))
    assert [c.email for c in members] == ["a@example.jp", "b@example.jp"]


def test_register_into_step_plan_with_start_date_column(admin, client):
    headers = ["メールアドレス", "都道府県", "ステップ開始日"]
    data = csv_bytes(
        [["a@example.jp", "東京都", "2025/04/01"], ["b@example.jp", "東京都", ""]], headers
    )
    result = run_import(client, data, ImportOptions(plan_id="11"))
    assert (result.inserted, result.failed) == (1, 1)
    assert "ステップ開始日" in result.errors[0].message
    customer = next(iter(client.iter_customers(plan_id="11")))
    assert customer.email == "a@example.jp"
    assert customer.memberships[0].step_start_date.isoformat() == "2025-04-01"


def test_delete_removes_customers_or_only_the_membership_with_a_target(admin, client):
    admin.add_customers(
        [
            {"email": "gone@example.jp", "memberships": [{"gid": "1"}]},
            {"email": "leave@example.jp", "memberships": [{"gid": "1"}, {"gid": "2"}]},
        ]
    )
    result = run_import(
        client,
        csv_bytes([["leave@example.jp"]], ["メールアドレス"]),
        ImportOptions(mode=ImportMode.DELETE, group_id="1"),
    )
    assert result.deleted == 1
    assert states(admin, "leave@example.jp") == {("group", "2"): "ok"}
    result = run_import(
        client,
        csv_bytes([["gone@example.jp"], ["nobody@example.jp"]], ["メールアドレス"]),
        ImportOptions(mode=ImportMode.DELETE),
    )
    assert (result.deleted, result.failed) == (1, 1)
    assert result.errors[0].email == "nobody@example.jp"
    assert admin.customer_count() == 1


def test_stop_ban_and_enable_change_states_in_the_target(admin, client):
    admin.add_customers(
        [
            {
                "email": "a@example.jp",
                "values": {"都道府県": "東京都"},
                "memberships": [{"gid": "1"}],
            },
            {"email": "b@example.jp", "values": {"都道府県": "東京都"}},
        ]
    )
    only_email = ["メールアドレス"]
    stop = run_import(
        client,
        csv_bytes([["a@example.jp"], ["b@example.jp"], ["x@example.jp"]], only_email),
        ImportOptions(mode=ImportMode.STOP, group_id="1"),
    )
    # b is registered into the group (documented rule); x is not a customer at all.
    assert (stop.state_changed, stop.failed) == (2, 1)
    assert states(admin, "b@example.jp") == {("group", "1"): "stop"}
    assert [e.email for e in client.iter_delivery_states(DeliveryState.STOP, group_id="1")] == [
        "a@example.jp",
        "b@example.jp",
    ]

    ban = run_import(
        client,
        csv_bytes([["a@example.jp"]], only_email),
        ImportOptions(mode=ImportMode.BAN, plan_id="10"),
    )
    assert ban.state_changed == 1
    assert states(admin, "a@example.jp") == {("group", "1"): "stop", ("step", "10"): "ban"}

    enable = run_import(
        client,
        csv_bytes(
            [["a@example.jp", "改名", "", "大阪府"], ["new@example.jp", "新規", "", "東京都"]]
        ),
        ImportOptions(mode=ImportMode.ENABLE, group_id="1", overwrite=True),
    )
    assert (enable.state_changed, enable.inserted) == (1, 1)
    assert states(admin, "a@example.jp")[("group", "1")] == "ok"
    assert admin.customer("a@example.jp")["values"]["氏名"] == "改名"
    assert states(admin, "new@example.jp") == {("group", "1"): "ok"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (StatusChange.NOT_IN_FILE_TO_STOP, {"in": "stop", "out": "stop", "ban-in": "ban"}),
        (StatusChange.IN_FILE_TO_OK, {"in": "ok", "out": "ok", "ban-in": "ban"}),
        (StatusChange.BOTH, {"in": "ok", "out": "stop", "ban-in": "ban"}),
    ],
)
def test_status_change_types(admin, client, change, expected):
    admin.add_customers(
        [
            {"email": "in@example.jp", "memberships": [{"gid": "1", "state": "stop"}]},
            {"email": "out@example.jp", "memberships": [{"gid": "1", "state": "ok"}]},
            {"email": "ban-in@example.jp", "memberships": [{"gid": "1", "state": "ban"}]},
            {"email": "ban-out@example.jp", "memberships": [{"gid": "1", "state": "ban"}]},
        ]
    )
    rows = [["in@example.jp", "", "", "東京都"], ["ban-in@example.jp", "", "", "東京都"]]
    result = run_import(client, csv_bytes(rows), ImportOptions(group_id="1", status_change=change))
    assert result.failed == 0
    # 配信禁止 is never touched by the automatic changes.
    expected = {**expected, "ban-out": "ban"}
    got = {name: states(admin, f"{name}@example.jp")[("group", "1")] for name in expected}
    assert got == expected


def test_status_change_without_target_stops_customers_missing_from_the_file(admin, client):
    admin.add_customers(
        [
            {"email": "keep@example.jp", "memberships": [{"gid": "1"}]},
            {"email": "drop@example.jp", "memberships": [{"gid": "1"}, {"spid": "10"}]},
        ]
    )
    result = run_import(
        client,
        csv_bytes([["keep@example.jp", "", "", "東京都"]]),
        ImportOptions(status_change=StatusChange.NOT_IN_FILE_TO_STOP),
    )
    assert result.state_changed == 2
    assert states(admin, "drop@example.jp") == {("group", "1"): "stop", ("step", "10"): "stop"}
    assert states(admin, "keep@example.jp") == {("group", "1"): "ok"}


def test_report_mail_options(admin, client):
    good = csv_bytes([["a@example.jp", "", "", "東京都"]])
    bad = csv_bytes([["broken", "", "", "東京都"]])
    run_import(client, good, ImportOptions(report=ReportOption.NONE))
    run_import(client, good, ImportOptions(report=ReportOption.ON_ERROR))
    assert admin.outbox() == []
    errors_job = run_import(client, bad, ImportOptions(report=ReportOption.ON_ERROR))
    always_job = run_import(client, good, ImportOptions(report=ReportOption.ALWAYS))
    mails = admin.outbox()
    assert [m["job_id"] for m in mails] == [errors_job.job_id, always_job.job_id]
    assert all(m["to"] == USER_MAIL for m in mails)
    assert "broken" in mails[0]["body"] and mails[0]["has_errors"]


@pytest.mark.parametrize(
    ("encoding", "name"),
    [
        (CsvEncoding.SHIFT_JIS, "髙橋①"),  # Windows-31J extensions survive the round trip
        (CsvEncoding.EUC_JP, "高橋"),
        (CsvEncoding.UTF8, "𠮷田"),
    ],
)
def test_charsets_carry_japanese_text(admin, client, encoding, name):
    data = csv_bytes([["kana@example.jp", name, "たかはし", "東京都"]], encoding=encoding)
    result = run_import(client, data, ImportOptions(encoding=encoding))
    assert result.inserted == 1
    assert admin.customer("kana@example.jp")["values"]["氏名"] == name


def test_utf8_bom_is_accepted(admin, client):
    writer = CsvPartWriter(HEADERS, bom=True)
    writer.add_row(["bom@example.jp", "BOM", "", "東京都"])
    result = run_import(client, writer.finish().data, ImportOptions())
    assert result.inserted == 1


def test_email_domain_is_case_insensitive_and_local_part_is_not(admin, client):
    admin.add_customers([{"email": "Taro@example.jp", "values": {"都道府県": "大阪府"}}])
    rows = [
        ["Taro@EXAMPLE.JP", "同一人物", "", "東京都"],
        ["taro@example.jp", "別人", "", "東京都"],
    ]
    result = run_import(client, csv_bytes(rows), ImportOptions(overwrite=True))
    assert (result.updated, result.inserted) == (1, 1)
    assert admin.customer("Taro@example.jp")["values"]["氏名"] == "同一人物"
    assert admin.customer_count() == 2


def test_file_in_another_encoding_than_declared_is_refused_and_not_counted(admin, client):
    data = csv_bytes([["a@example.jp", "山田", "", "東京都"]], encoding=CsvEncoding.SHIFT_JIS)
    with pytest.raises(HaihaiValidationError) as caught:
        client.import_csv(data, ImportOptions(encoding=CsvEncoding.UTF8))
    assert caught.value.code == 81422
    assert "UTF-8" in haihai_message(caught.value)
    assert admin.jobs() == []
    assert "ScheduleCsvImport/register" not in admin.stats()["usage_today"]


def test_unknown_column_and_unknown_group_are_refused(admin, client):
    with pytest.raises(HaihaiValidationError) as caught:
        client.import_csv(
            csv_bytes([["a@example.jp", "x"]], ["メールアドレス", "存在しない項目"]),
            ImportOptions(),
        )
    assert caught.value.code == 81422 and "存在しない項目" in caught.value.message
    with pytest.raises(HaihaiNotFoundError) as missing:
        client.import_csv(
            csv_bytes([["a@example.jp", "", "", "東京都"]]), ImportOptions(group_id="99")
        )
    assert missing.value.code == 81410 and "99" in haihai_message(missing.value)
    assert admin.calls("ScheduleCsvImport") == 2
    assert admin.jobs() == []


def test_oversized_or_empty_part_is_refused_before_sending(admin, client):
    with pytest.raises(HaihaiPartTooLargeError) as too_large:
        client.import_csv(b"x" * (15 * 1024 * 1024 + 1), ImportOptions())
    assert (too_large.value.size, too_large.value.limit) == (15 * 1024 * 1024 + 1, MAX_PART_BYTES)
    assert "15MB" in haihai_message(too_large.value)
    with pytest.raises(HaihaiEmptyPartError):
        client.import_csv(b"", ImportOptions())
    assert admin.calls("ScheduleCsvImport") == 0


def test_all_row_errors_are_fetched_page_by_page(admin, make_client):
    client = make_client(page_size=3)
    rows = [[f"bad{i}", "", "", "東京都"] for i in range(7)] + [["ok@example.jp", "", "", "東京都"]]
    job_id = client.import_csv(csv_bytes(rows), ImportOptions())
    _wait_until_processed(admin)
    result = client.wait_for_import(job_id, first_poll=0)
    assert [error.email for error in result.errors] == [f"bad{i}" for i in range(7)]
    assert (result.failed, result.inserted) == (7, 1)
    # One poll that finds the job finished, then two more pages of errors.
    assert admin.calls("GetImportResult") == 3


def _wait_until_processed(admin, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = admin.jobs()
        if jobs and all(job["state"] in ("completed", "failed") for job in jobs):
            return
        time.sleep(0.02)
    raise AssertionError("sandbox did not finish the import job")


class VirtualTime:
    """Client sleep/monotonic that move the (frozen) sandbox clock instead of waiting."""

    def __init__(self, admin):
        self.admin = admin
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.admin.config(advance_seconds=seconds)
        # A job whose delay has passed is picked up by the sandbox thread: let it finish.
        time.sleep(0.05)
        deadline = time.monotonic() + 5
        while any(job["state"] == "processing" for job in self.admin.jobs()):
            assert time.monotonic() < deadline, "sandbox job stuck in processing"
            time.sleep(0.02)

    def monotonic(self) -> float:
        return self.now


def test_wait_for_import_polls_sparsely_with_growing_intervals(admin, make_client):
    admin.config(now="2025-02-03 10:00:00", import_delay_seconds=120)
    clock = VirtualTime(admin)
    client = make_client(sleep=clock.sleep, monotonic=clock.monotonic)
    job_id = client.import_csv(csv_bytes([["a@example.jp", "", "", "東京都"]]), ImportOptions())
    result = client.wait_for_import(job_id)
    assert result.inserted == 1
    polls = admin.calls("GetImportResult")
    assert polls == len(clock.sleeps) == 6
    assert clock.sleeps[0] == pytest.approx(2.0, abs=0.01)
    assert clock.sleeps[1:] == [5.0, 10.0, 20.0, 40.0, 80.0]


def test_wait_for_import_gives_up_after_max_wait(admin, make_client):
    admin.config(now="2025-02-03 10:00:00", import_delay_seconds=3600)
    clock = VirtualTime(admin)
    client = make_client(sleep=clock.sleep, monotonic=clock.monotonic)
    job_id = client.import_csv(csv_bytes([["a@example.jp", "", "", "東京都"]]), ImportOptions())
    with pytest.raises(HaihaiImportTimeoutError) as caught:
        client.wait_for_import(job_id, max_wait=60)
    assert caught.value.job_id == job_id and caught.value.state == "queued"
    assert clock.now == pytest.approx(60.0)
    assert admin.calls("GetImportResult") == 5
    assert job_id in haihai_message(caught.value) and "1分以内" in haihai_message(caught.value)


def test_failed_job_raises_with_its_result(admin, make_client):
    admin.config(now="2025-02-03 10:00:00", import_delay_seconds=60)
    clock = VirtualTime(admin)
    client = make_client(sleep=clock.sleep, monotonic=clock.monotonic)
    job_id = client.import_csv(
        csv_bytes([["a@example.jp", "", "", "東京都"]]), ImportOptions(group_id="2")
    )
    # The target group disappears while the job waits in the queue.
    admin.session.delete(f"{admin.base}/_sandbox/accounts/m20001/groups/2", timeout=10)
    with pytest.raises(HaihaiImportFailedError) as caught:
        client.wait_for_import(job_id, first_poll=61)
    assert caught.value.result.state == "failed"
    assert job_id in haihai_message(caught.value)


def test_the_first_poll_comes_shortly_after_the_upload_whatever_the_row_count(admin, make_client):
    admin.config(now="2025-02-03 10:00:00")
    clock = VirtualTime(admin)
    client = make_client(sleep=clock.sleep, monotonic=clock.monotonic)
    rows = [[f"u{i}@example.jp", "", "", "東京都"] for i in range(20_000)]
    job_id = client.import_csv(csv_bytes(rows), ImportOptions())
    clock.now += 0.5  # the caller did something else after the upload
    result = client.wait_for_import(job_id)
    assert result.inserted == 20_000
    # 2 s after the upload (not 2 s + 1 s per 5,000 rows): one poll found the job done.
    assert clock.sleeps == [pytest.approx(1.5, abs=0.01)]
    assert admin.calls("GetImportResult") == 1
