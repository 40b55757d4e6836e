"""Pure parts of the imports: event → record, identities, value conversion, the app check,
mapping rules, the template zip and reading ahead."""

from __future__ import annotations

import datetime as dt
import io
import threading
import zipfile
from zoneinfo import ZoneInfo

import pytest

from portal.connector_types.haihai_kintone.bridge.sync import (
    answer_identity,
    answer_record,
    answer_text,
)
from portal.connector_types.haihai_kintone.event_import import mapping as rules
from portal.connector_types.haihai_kintone.event_import.fields import (
    BRIDGE_FIELDS,
    REACTION_FIELDS,
    REACTION_LEGACY_FIELDS,
    blocking,
    check_app,
)
from portal.connector_types.haihai_kintone.event_import.prefetch import Prefetched
from portal.connector_types.haihai_kintone.event_import.templates import template_zip
from portal.connector_types.haihai_kintone.event_import.values import (
    KintoneMinutes,
    kintone_number,
    one_line,
)
from portal.connector_types.haihai_kintone.reaction import records
from portal.integrations.haihai import Event, EventKind, FormAnswer, FormAnswerValue
from portal.settings.mapping import MappingRow

TOKYO = ZoneInfo("Asia/Tokyo")


def _event(**overrides) -> Event:
    values = {
        "event_id": "E1",
        "kind": EventKind.CLICK,
        "occurred_at": dt.datetime(2024, 6, 10, 9, 30, 15, tzinfo=TOKYO),
        "email": " taro@example.jp ",
        "mail_type": "step",
        "mail_id": "0042",
        "subject": "件名",
        "url": "https://example.jp/a",
        "detail": "件名\r\nhttps://example.jp/a",
    }
    values.update(overrides)
    return Event(**values)


def test_fixed_values_of_an_event():
    values = records.fixed_values(_event(), TOKYO, "2024-06-10 12:00:00")
    assert values == {
        "RH01MailAddress": "taro@example.jp",
        "RH01RecordDatetime": "2024-06-10 09:30:15",
        "RH01RecordDatetime2": "2024-06-10T00:30:00Z",
        "RH01ActionType": "クリック",
        "RH01MailType": "ステップメール",
        "RH01MailId": "42",
        "RH01Detail": "件名  https://example.jp/a",
        "RH01ClickURL": "https://example.jp/a",
        "RH01TagName": "",
        "RH01FileName": "",
        "RH01RecordDate": "2024-06-10",
        "RH01RecordLastUpdateDate": "2024-06-10 12:00:00",
    }
    # Only clicks carry a URL; other zones shift the text and the date.
    opened = records.fixed_values(_event(kind=EventKind.OPEN), ZoneInfo("UTC"), "x")
    assert opened["RH01ClickURL"] == "" and opened["RH01RecordDatetime"] == "2024-06-10 00:30:15"
    assert opened["RH01RecordDate"] == "2024-06-10"


def test_the_legacy_record_has_only_its_nine_fields():
    values = records.fixed_values(_event(), TOKYO, "x")
    record = records.record_of(values, [f.code for f in REACTION_LEGACY_FIELDS])
    assert set(record) == {f.code for f in REACTION_LEGACY_FIELDS}
    assert "RH01RecordDatetime2" not in record and len(record) == 9


def test_an_event_read_back_from_kintone_has_the_same_identity():
    values = records.fixed_values(_event(), TOKYO, "2024-06-10 12:00:00")
    written = records.record_of(values, [f.code for f in REACTION_FIELDS])
    as_read = {code: {"type": "X", "value": cell["value"]} for code, cell in written.items()}
    as_read["RH01MailId"]["value"] = "42"  # kintone answers numbers normalised
    as_read["RH01RecordLastUpdateDate"]["value"] = "another run"
    as_read["RH01MailId"]["value"] = "0042"  # however kintone spells the number
    for fields in (records.IDENTITY_FIELDS, records.LEGACY_IDENTITY_FIELDS):
        assert records.identity_of(values, fields) == records.identity_from_record(as_read, fields)
    other = records.fixed_values(_event(url="https://example.jp/b"), TOKYO, "x")
    assert records.identity_of(other, records.IDENTITY_FIELDS) != records.identity_of(
        values, records.IDENTITY_FIELDS
    )


def test_mapped_items_take_customer_values_in_the_fields_format():
    mappings = [
        rules.ItemMapping("company", "SINGLE_LINE_TEXT", "会社名", "I1"),
        rules.ItemMapping("topics", "CHECK_BOX", "関心", "I2"),
        rules.ItemMapping("since", "DATE", "初回接触日", "I3"),
        rules.ItemMapping("staff", "NUMBER", "従業員数", "I4"),
    ]
    customer = {
        "会社名": "株式会社A",
        "関心": "勤怠,経費",
        "初回接触日": "2024/05/01",
        "従業員数": "1,200",
    }
    record = records.record_of({"RH01MailAddress": "a@b"}, ["RH01MailAddress"], mappings, customer)
    assert record["company"] == {"value": "株式会社A"}
    assert record["topics"] == {"value": ["勤怠", "経費"]}
    assert record["since"] == {"value": "2024-05-01"}
    assert record["staff"] == {"value": "1200"}
    assert rules.kintone_value("MULTI_SELECT", None) == []
    assert rules.kintone_value("SINGLE_LINE_TEXT", ["a", "b"]) == "a,b"


def test_value_helpers():
    assert kintone_number("007") == "7" and kintone_number("1.50") == "1.50"
    assert kintone_number("abc") == "" and kintone_number(None) == ""
    assert one_line("a\r\nb\nc") == "a  b c" and one_line(None) == ""
    minutes = KintoneMinutes()
    stamp = int(dt.datetime(2024, 6, 10, 9, 30, 59, tzinfo=TOKYO).timestamp())
    assert minutes(stamp) == "2024-06-10T00:30:00Z" == minutes(stamp - 59)


def test_answer_record_keeps_seconds_in_the_timestamp_only():
    answer = FormAnswer(
        form_id="12",
        form_name=None,
        answer_id="000981",
        answered_at=dt.datetime(2024, 3, 26, 8, 50, 26, tzinfo=TOKYO),
        customer_id=4711,
        email="taro@example.jp",
        answers=(
            FormAnswerValue("I3", "会社名", "株式会社サンプル"),
            FormAnswerValue("I7", "関心", ["料金", "導入事例"]),
        ),
    )
    mappings = [rules.ItemMapping("topics", "MULTI_SELECT", "関心（旧名）", "I7")]
    record = answer_record(
        answer,
        "資料請求フォーム",
        zone=TOKYO,
        written_at="2024-03-26 09:00:00",
        minutes=KintoneMinutes(),
        mappings=mappings,
    )
    assert {k: v["value"] for k, v in record.items()} == {
        "RH01FormId": "12",
        "RH01FormName": "資料請求フォーム",
        "RH01AnswerId": "981",
        "RH01AnswerDateTime": "2024-03-25T23:50:00Z",
        "RH01Answer": "会社名: 株式会社サンプル\n関心: 料金, 導入事例",
        "RH01HaihaiCustId": "4711",
        "RH01RecordDate": "2024-03-26",
        "RH01RecordLastUpdateDate": "2024-03-26 09:00:00",
        "RH01RecordTimeStamp": "2024-03-26 08:50:26",
        "RH01MailAddress": "taro@example.jp",
        "topics": ["料金", "導入事例"],  # found by item ID although the label changed
    }
    assert answer_identity("12", "000981") == answer_identity(12, "981")
    assert answer_identity("12", "981") != answer_identity("13", "981")
    assert answer_text(FormAnswer("1", None, "1", answer.answered_at, None, None, (), "X")) == "X"


def _app(fields, **changes):
    props = {f.code: f.properties() for f in fields}
    for code, change in changes.items():
        if change is None:
            props.pop(code)
        else:
            props[code] = {**props[code], **change}
    return props


def test_check_app_reports_each_kind_of_problem():
    assert check_app(_app(REACTION_FIELDS), REACTION_FIELDS) == []
    app = _app(
        REACTION_FIELDS,
        RH01Detail=None,
        RH01MailId={"type": "SINGLE_LINE_TEXT"},
        RH01TagName={"required": True},
        RH01ClickURL={"unique": "true"},
    )
    app["memo"] = {"type": "SINGLE_LINE_TEXT", "label": "メモ", "required": True}
    app["rank"] = {"type": "DROP_DOWN", "label": "ランク", "required": True, "defaultValue": "A"}
    problems = {(p.code, p.kind) for p in check_app(app, REACTION_FIELDS)}
    assert problems == {
        ("RH01Detail", "missing"),
        ("RH01MailId", "type"),
        ("RH01TagName", "required"),
        ("RH01ClickURL", "unique"),
        ("memo", "other_required"),
    }
    assert {p.code for p in blocking(check_app(app, REACTION_FIELDS))} == {
        "RH01Detail",
        "RH01MailId",
    }
    # A mapped required field is filled by the run; the legacy method needs fewer fields.
    assert ("memo", "other_required") not in {
        (p.code, p.kind) for p in check_app(app, REACTION_FIELDS, ["memo"])
    }
    legacy_app = _app(REACTION_LEGACY_FIELDS)
    assert check_app(legacy_app, REACTION_LEGACY_FIELDS) == []
    assert {p.code for p in check_app(legacy_app, REACTION_FIELDS)} == {
        "RH01RecordDatetime2",
        "RH01TagName",
        "RH01FileName",
    }


def test_mapping_rules():
    fields = _app(BRIDGE_FIELDS)
    fields["company"] = {"type": "SINGLE_LINE_TEXT", "label": "会社名"}
    fields["file"] = {"type": "FILE", "label": "添付"}
    snapshot = {
        "items": [
            {"id": "E", "label": "メールアドレス", "is_email": True},
            {"id": "I1", "label": "会社名"},
        ]
    }
    fixed = {f.code for f in BRIDGE_FIELDS}
    assert [f["code"] for f in rules.candidate_fields(fields, fixed)] == ["company"]
    rows = rules.add_row([], "company", fields, fixed, snapshot)
    assert rows == [MappingRow("company", "会社名", "I1")]
    with pytest.raises(rules.EventMappingError):
        rules.add_row(rows, "company", fields, fixed, snapshot)
    with pytest.raises(rules.EventMappingError):
        rules.add_row(rows, "file", fields, fixed, snapshot)
    errors = rules.validate_rows(
        [MappingRow("company", "", "E"), MappingRow("RH01Answer", "", "I1")],
        "bridge",
        app_fields=fields,
        fixed=fixed,
        snapshot=snapshot,
    )
    assert errors == {
        "bridge_map-0-haihai_id": rules.MSG_EMAIL_ITEM,
        "bridge_map-1-kintone": rules.MSG_FIXED_FIELD.format(name="RH01Answer"),
    }
    posted = {
        "bridge_map-1-kintone": "b",
        "bridge_map-0-kintone": "a",
        "bridge_map-0-haihai_id": "I1",
    }
    assert rules.rows_from_form(posted, "bridge") == [MappingRow("a", "", "I1"), MappingRow("b")]
    assert rules.with_item_names([MappingRow("a", "", "gone")], snapshot) == [MappingRow("a")]


def test_template_zip_is_deterministic_and_complete():
    name, first = template_zip("bridge")
    assert name == "HaihaiConnect_kintone_customer_inquiry_template.zip"
    assert template_zip("bridge")[1] == first
    archive = zipfile.ZipFile(io.BytesIO(first))
    assert all(info.date_time == (2024, 6, 1, 0, 0, 0) for info in archive.infolist())
    readme = archive.read("README.txt").decode()
    for field in BRIDGE_FIELDS:
        assert field.code in readme
    with pytest.raises(KeyError):
        template_zip("other")


def test_prefetched_items_arrive_in_order_and_errors_where_they_happened():
    assert list(Prefetched(iter(range(2500)), batch=100, depth=2)) == list(range(2500))

    def failing():
        yield from range(150)
        raise ConnectionError("page 2")

    seen = []
    with pytest.raises(ConnectionError):
        for item in Prefetched(failing(), batch=100):
            seen.append(item)
    assert seen == list(range(150))


def test_prefetched_stops_reading_when_closed():
    produced = []
    gate = threading.Event()

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1
            if n == 50:
                gate.set()

    reader = Prefetched(endless(), batch=10, depth=2)
    gate.wait(5)
    reader.close(timeout=5)
    count = len(produced)
    assert not reader._thread.is_alive()
    assert count < 100  # bounded by depth, and nothing after close
