"""顧客情報連携 service logic without the network: planning, field checks, parts and options.

The kintone and 配配メール sides are small in-memory stand-ins that record what the service
asks for; the end-to-end behaviour against the sandboxes is in tests/integrations.
"""

from __future__ import annotations

import csv
import io

import pytest

from portal.connector_types.haihai_kintone.customer.config import (
    Condition,
    ConditionSet,
    CustomerSyncSetting,
)
from portal.connector_types.haihai_kintone.customer.sync import (
    CustomerSyncOutcome,
    CustomerSyncSettingsError,
    HaihaiAccessError,
    KintoneAccessError,
    KintoneFieldMissingError,
    check_kintone_fields,
    describe_target,
    plan_import,
    run_customer_sync,
    uses_like,
)
from portal.integrations.haihai import (
    DeliveryState,
    DeliveryStateEntry,
    Group,
    HaihaiLimitError,
    ImportMode,
    ImportResult,
    ImportRowError,
    ReportOption,
    StatusChange,
    StepPlan,
    TargetType,
)
from portal.integrations.haihai_csv import CsvEncoding
from portal.integrations.kintone import KintoneNetworkError
from portal.syncs.config import ConnectorConfig, FieldMapping, HaihaiAccess, KintoneAccess

PROPERTIES = {
    "mail": {"type": "LINK", "label": "メール"},
    "name": {"type": "SINGLE_LINE_TEXT", "label": "氏名"},
    "tags": {"type": "CHECK_BOX", "label": "タグ"},
    "status": {"type": "STATUS", "label": "ステータス", "enabled": False},
}
MAPPINGS = (
    FieldMapping("mail", "LINK", "メール", "メールアドレス", is_email=True),
    FieldMapping("name", "SINGLE_LINE_TEXT", "氏名", "お名前"),
    FieldMapping("tags", "CHECK_BOX", "タグ", "タグ"),
)


def config(**overrides) -> ConnectorConfig:
    values = {
        "connector_id": "c1",
        "name": "x",
        "kintone": KintoneAccess("https://example.cybozu.com", "example", "7", "token"),
        "haihai": HaihaiAccess("https://a01.hm-f.jp/m1/", "user", "token"),
        "mappings": MAPPINGS,
        "email_display_name": "E-mail",
    }
    values.update(overrides)
    return ConnectorConfig(**values)


class FakeRecords:
    """Iterator with total_count, like KintoneClient.iter_records."""

    def __init__(self, records, error_after=None):
        self._records = records
        self.total_count = len(records)
        self._error_after = error_after
        self.closed = False

    def __iter__(self):
        for index, record in enumerate(self._records):
            if self._error_after is not None and index == self._error_after:
                raise KintoneNetworkError("NETWORK", "connection reset", maybe_applied=False)
            yield record

    def close(self):
        self.closed = True


class FakeKintone:
    def __init__(self, records, properties=PROPERTIES, error_after=None):
        self.records = records
        self.properties = properties
        self.error_after = error_after
        self.queries = []
        self.iterators = []

    def get_form_fields(self, app):
        assert app == 7
        return self.properties

    def iter_records(self, app, query="", fields=None):
        self.queries.append((query, tuple(fields)))
        iterator = FakeRecords(self.records, self.error_after)
        self.iterators.append(iterator)
        return iterator


class FakeHaihai:
    """Accepts every import; `members` are the deliverable members per target."""

    def __init__(self, members=None, fail_on_import=None, row_errors=None):
        self.imports = []  # (csv text, options)
        self.members = members or {}
        self.fail_on_import = fail_on_import
        self.row_errors = row_errors or {}
        self.waited = []

    def import_csv(self, part, options):
        if self.fail_on_import is not None and len(self.imports) + 1 == self.fail_on_import:
            import datetime as dt

            raise HaihaiLimitError(
                "too many calls", resets_at=dt.datetime(2025, 1, 2, tzinfo=dt.UTC)
            )
        self.imports.append((part.decode(options.encoding.value), options))
        return f"J{len(self.imports)}"

    def wait_for_import(self, job_id, **kwargs):
        self.waited.append((job_id, kwargs))
        number = int(job_id[1:])
        text, options = self.imports[number - 1]
        rows = len(list(csv.reader(io.StringIO(text)))) - 1
        errors = tuple(self.row_errors.get(number, ()))
        changed = rows if options.mode is ImportMode.STOP else 0
        return ImportResult(
            job_id=job_id,
            mode=options.mode,
            state="completed",
            accepted_at=None,
            finished_at=None,
            total=rows,
            failed=len(errors),
            state_changed=changed,
            errors=errors,
        )

    def iter_delivery_states(self, state, *, group_id=None, plan_id=None, **kwargs):
        assert state is DeliveryState.OK
        key = ("group", group_id) if group_id else ("plan", plan_id)
        for email in self.members.get(key, []):
            yield DeliveryStateEntry(
                email, None, TargetType.GROUP if group_id else TargetType.PLAN, key[1], state
            )

    def list_groups(self):
        return [Group("1", "G1"), Group("2", "G2")]

    def list_step_plans(self):
        return [StepPlan("10", "P")]


def records(count, *, name="顧客"):
    return [
        {
            "$id": {"type": "__ID__", "value": str(i + 1)},
            "mail": {"type": "LINK", "value": f"user{i:03d}@example.jp"},
            "name": {"type": "SINGLE_LINE_TEXT", "value": f"{name}{i:03d}"},
            "tags": {"type": "CHECK_BOX", "value": ["A B", "C"]},
        }
        for i in range(count)
    ]


def run(setting, kintone, haihai, **kwargs):
    return run_customer_sync(
        config(), setting, kintone_client=kintone, haihai_client=haihai, first_poll=0, **kwargs
    )


# -- planning --------------------------------------------------------------------------------


def test_register_into_a_group_with_every_option():
    setting = CustomerSyncSetting(
        1,
        target_type="group",
        target_id="12",
        overwrite=True,
        blank_overwrites=True,
        stop_missing=True,
        allow_present=True,
        report_mail="on_error",
    )
    plan = plan_import(setting, CsvEncoding.SHIFT_JIS)
    assert plan.mode is ImportMode.REGISTER
    assert (plan.options.group_id, plan.options.plan_id) == ("12", None)
    assert plan.options.overwrite and plan.options.blank_overwrite
    assert plan.options.report is ReportOption.ON_ERROR
    # Split parts only carry the per-row option; one whole file may carry both.
    assert plan.options.status_change is StatusChange.IN_FILE_TO_OK
    assert plan.single_options.status_change is StatusChange.BOTH
    assert plan.stop_missing and not plan.email_only


def test_database_ignores_allow_present_and_uses_type_one_for_a_single_file():
    setting = CustomerSyncSetting(1, stop_missing=True, allow_present=True)
    plan = plan_import(setting, CsvEncoding.UTF8)
    assert plan.target_kind is None
    assert plan.options.status_change is None
    assert plan.single_options.status_change is StatusChange.NOT_IN_FILE_TO_STOP


@pytest.mark.parametrize(
    ("status", "mode"),
    [("stop", ImportMode.STOP), ("ban", ImportMode.BAN), ("allow", ImportMode.ENABLE)],
)
def test_state_change_modes(status, mode):
    setting = CustomerSyncSetting(
        2,
        target_type="step_plan",
        target_id="5",
        mode="status_change",
        status_change=status,
        overwrite=True,
        stop_missing=True,
    )
    plan = plan_import(setting, CsvEncoding.UTF8)
    assert plan.mode is mode
    assert plan.options.plan_id == "5"
    # Overwrite only for 配信可能に変更; 配信状態の変更 only for 一括登録.
    assert plan.options.overwrite is (mode is ImportMode.ENABLE)
    assert not plan.stop_missing and plan.single_options.status_change is None
    assert plan.email_only is (mode is not ImportMode.ENABLE)


def test_delete_sends_the_address_only_and_drops_register_options():
    setting = CustomerSyncSetting(3, mode="delete", overwrite=True, stop_missing=True)
    plan = plan_import(setting, CsvEncoding.UTF8)
    assert plan.mode is ImportMode.DELETE and plan.email_only
    assert not plan.options.overwrite and not plan.stop_missing


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"target_type": "group", "target_id": None}, "配信グループIDが設定されていません"),
        (
            {"target_type": "step_plan", "target_id": " "},
            "ステップメールプランIDが設定されていません",
        ),
        (
            {"mode": "status_change", "status_change": "stop"},
            "配信グループ指定またはステップメールプラン指定",
        ),
        (
            {"mode": "status_change", "target_type": "group", "target_id": "1"},
            "変更後の状態",
        ),
    ],
)
def test_incomplete_settings_are_refused(values, message):
    with pytest.raises(CustomerSyncSettingsError, match=message):
        plan_import(CustomerSyncSetting(4, **values), CsvEncoding.UTF8)


def test_describe_target():
    assert describe_target(CustomerSyncSetting(1)) == "顧客データベース"
    group = CustomerSyncSetting(1, target_type="group", target_id="3")
    assert describe_target(group) == "配信グループ（ID: 3）"


# -- field checks ------------------------------------------------------------------------------


def test_field_check_names_a_deleted_mapping():
    properties = {k: v for k, v in PROPERTIES.items() if k != "name"}
    with pytest.raises(
        KintoneFieldMissingError, match="「氏名」（フィールドコード: name）"
    ) as info:
        check_kintone_fields(config(), None, properties)
    assert info.value.field_code == "name"


def test_field_check_refuses_a_changed_type_and_a_disabled_status_field():
    properties = dict(PROPERTIES, tags={"type": "MULTI_SELECT", "label": "タグ"})
    with pytest.raises(KintoneFieldMissingError, match="CHECK_BOX → MULTI_SELECT"):
        check_kintone_fields(config(), None, properties)
    mapped = config(mappings=(*MAPPINGS, FieldMapping("status", "STATUS", "ステータス", "状態")))
    with pytest.raises(KintoneFieldMissingError, match="ステータス"):
        check_kintone_fields(mapped, None, PROPERTIES)


def test_field_check_covers_condition_fields_unless_the_plugin_filter_is_used():
    setting = CustomerSyncSetting(
        1, conditions=ConditionSet("all", (Condition("gone", "NUMBER", "eq", "1"),))
    )
    with pytest.raises(KintoneFieldMissingError, match="連携条件.*gone"):
        check_kintone_fields(config(), setting, PROPERTIES)
    check_kintone_fields(config(), setting, PROPERTIES, include_conditions=False)


# -- the run ------------------------------------------------------------------------------------


def test_rows_are_converted_and_the_email_column_uses_the_display_name():
    haihai = FakeHaihai()
    kintone = FakeKintone(records(2))
    outcome = run(CustomerSyncSetting(1), kintone, haihai)
    text, options = haihai.imports[0]
    assert text.splitlines() == [
        '"E-mail","お名前","タグ"',
        '"user000@example.jp","顧客000","AB,C"',
        '"user001@example.jp","顧客001","AB,C"',
    ]
    assert options.encoding is CsvEncoding.UTF8
    assert kintone.queries == [("", ("mail", "name", "tags"))]
    assert kintone.iterators[0].closed
    assert (outcome.processed, outcome.total, outcome.parts) == (2, 2, 1)


def test_small_part_limit_splits_with_the_header_in_every_part():
    haihai = FakeHaihai()
    outcome = run(CustomerSyncSetting(1), FakeKintone(records(50)), haihai, max_part_bytes=400)
    assert outcome.parts == len(haihai.imports) > 3
    emails = []
    for text, options in haihai.imports:
        assert len(text.encode("cp932")) <= 400
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == ["E-mail", "お名前", "タグ"]
        emails += [row[0] for row in rows[1:]]
        assert options.status_change is None
    assert emails == [f"user{i:03d}@example.jp" for i in range(50)]
    assert outcome.processed == 50
    assert "CSVファイルを" in outcome.message_detail and "ファイルに分割して連携しました" in (
        outcome.message_detail
    )


def test_stop_missing_single_file_uses_the_vendor_option():
    haihai = FakeHaihai()
    setting = CustomerSyncSetting(1, target_type="group", target_id="1", stop_missing=True)
    run(setting, FakeKintone(records(3)), haihai)
    assert len(haihai.imports) == 1
    assert haihai.imports[0][1].status_change is StatusChange.NOT_IN_FILE_TO_STOP


def test_stop_missing_split_upload_stops_exactly_the_absent_members_once():
    members = {("group", "1"): ["user001@example.jp", "USER002@EXAMPLE.JP", "gone@example.jp"]}
    haihai = FakeHaihai(members=members)
    setting = CustomerSyncSetting(1, target_type="group", target_id="1", stop_missing=True)
    outcome = run(setting, FakeKintone(records(30)), haihai, max_part_bytes=500)
    registers = [o for _, o in haihai.imports if o.mode is ImportMode.REGISTER]
    stops = [(t, o) for t, o in haihai.imports if o.mode is ImportMode.STOP]
    assert len(registers) == outcome.parts > 1
    assert all(o.status_change is None for o in registers)
    # USER002@… differs from user002@… in its local part, which 配配メール compares exactly.
    assert len(stops) == 1
    text, options = stops[0]
    assert text == '"E-mail"\r\n"USER002@EXAMPLE.JP"\r\n"gone@example.jp"\r\n'
    assert (options.group_id, options.plan_id, options.encoding) == (
        "1",
        None,
        CsvEncoding.UTF8,
    )
    assert outcome.stopped == 2


def test_local_part_case_counts_but_domain_case_does_not():
    members = {("group", "1"): ["user001@EXAMPLE.jp", "User002@example.jp"]}
    haihai = FakeHaihai(members=members)
    setting = CustomerSyncSetting(1, target_type="group", target_id="1", stop_missing=True)
    run(setting, FakeKintone(records(10)), haihai, max_part_bytes=300)
    stops = [t for t, o in haihai.imports if o.mode is ImportMode.STOP]
    assert [row for t in stops for row in csv.reader(io.StringIO(t))][1:] == [
        ["User002@example.jp"]
    ]


def test_database_stop_goes_through_every_group_and_plan():
    members = {
        ("group", "1"): ["gone@example.jp", "user000@example.jp"],
        ("group", "2"): [],
        ("plan", "10"): ["gone@example.jp"],
    }
    haihai = FakeHaihai(members=members)
    outcome = run(
        CustomerSyncSetting(1, stop_missing=True),
        FakeKintone(records(8)),
        haihai,
        max_part_bytes=300,
    )
    stops = [o for _, o in haihai.imports if o.mode is ImportMode.STOP]
    assert [(o.group_id, o.plan_id) for o in stops] == [("1", None), (None, "10")]
    assert outcome.stopped == 2


def test_a_refused_row_with_an_address_forces_the_whole_result_decision():
    members = {("group", "1"): ["user000@example.jp", "gone@example.jp"]}
    haihai = FakeHaihai(members=members)
    kintone = FakeKintone(records(2, name="🍣"))
    setting = CustomerSyncSetting(1, target_type="group", target_id="1", stop_missing=True)
    outcome = run(setting, kintone, haihai, encoding=CsvEncoding.SHIFT_JIS)
    # Both rows were refused locally: nothing to register, but the stop still spares them.
    assert [o.mode for _, o in haihai.imports] == [ImportMode.STOP]
    assert haihai.imports[0][0] == '"E-mail"\r\n"gone@example.jp"\r\n'
    assert outcome.row_error_count == 2 and outcome.processed == 0
    assert "レコードID 1（user000@example.jp）" in outcome.message_detail


def test_row_errors_from_haihai_are_listed_with_part_and_line():
    errors = {2: [ImportRowError(3, "x@example.jp", None, "選択肢にない値です（Z）")]}
    haihai = FakeHaihai(row_errors=errors)
    outcome = run(CustomerSyncSetting(1), FakeKintone(records(20)), haihai, max_part_bytes=600)
    assert outcome.row_error_count == 1
    assert outcome.row_errors == ["2番目のCSV 3行目（x@example.jp）: 選択肢にない値です（Z）"]
    assert outcome.processed == 19


def test_zero_records_call_nothing_on_haihai():
    haihai = FakeHaihai()
    outcome = run(CustomerSyncSetting(1, stop_missing=True), FakeKintone([]), haihai)
    assert (outcome.processed, outcome.total) == (0, 0)
    assert haihai.imports == []


def test_kintone_failure_mid_stream_says_which_parts_were_sent():
    haihai = FakeHaihai()
    kintone = FakeKintone(records(40), error_after=35)
    with pytest.raises(KintoneAccessError) as info:
        run(CustomerSyncSetting(1), kintone, haihai, max_part_bytes=600)
    error = info.value
    assert error.code == "kintone_network"
    assert error.parts_sent >= 2 and error.rows_sent > 0
    assert f"1〜{error.parts_sent}番目のCSVファイル" in error.message
    assert "kintoneに接続できませんでした" in error.message
    assert kintone.iterators[0].closed


def test_haihai_failure_on_a_later_part_keeps_the_earlier_job_ids():
    haihai = FakeHaihai(fail_on_import=2)
    with pytest.raises(HaihaiAccessError) as info:
        run(CustomerSyncSetting(1), FakeKintone(records(30)), haihai, max_part_bytes=600)
    assert info.value.job_ids == ("J1",)
    assert "1番目のCSVファイル（計" in info.value.message


def test_unknown_condition_operator_is_a_settings_error():
    setting = CustomerSyncSetting(
        1, conditions=ConditionSet("all", (Condition("name", "SINGLE_LINE_TEXT", "le", "a"),))
    )
    with pytest.raises(CustomerSyncSettingsError, match="連携条件が正しくありません"):
        run(setting, FakeKintone(records(1)), FakeHaihai())


def test_conditions_become_the_query():
    kintone = FakeKintone(records(1))
    conditions = ConditionSet(
        "any",
        (
            Condition("name", "SINGLE_LINE_TEXT", "eq", 'A"B'),
            Condition("tags", "CHECK_BOX", "in", ("", "X")),
        ),
    )
    run(CustomerSyncSetting(1, conditions=conditions), kintone, FakeHaihai())
    assert kintone.queries[0][0] == '(name = "A\\"B") or (tags in ("", "X"))'


def test_without_email_mapping_nothing_runs():
    with pytest.raises(CustomerSyncSettingsError, match="メールアドレス"):
        run_customer_sync(
            config(mappings=MAPPINGS[1:]),
            CustomerSyncSetting(1),
            kintone_client=FakeKintone([]),
            haihai_client=FakeHaihai(),
        )


def test_message_detail_caps_the_listed_rows():
    outcome = CustomerSyncOutcome(
        processed=1, total=1003, row_errors=["a"] * 1000, row_error_count=1002, notes=["n"]
    )
    lines = outcome.message_detail.splitlines()
    assert lines[0] == "n" and lines[1] == "連携されなかったデータ: 1,002件"
    assert lines[-1] == "ほか2件" and len(lines) == 1003


def test_records_without_any_address_stop_nobody():
    members = {("group", "1"): ["a@example.jp"]}
    haihai = FakeHaihai(members=members)
    blank = [{"mail": {"value": ""}, "name": {"value": "x"}, "tags": {"value": []}}] * 3
    setting = CustomerSyncSetting(1, target_type="group", target_id="1", stop_missing=True)
    outcome = run(setting, FakeKintone(blank), haihai)
    assert haihai.imports == []
    assert (outcome.processed, outcome.total, outcome.stopped) == (0, 3, 0)
    assert "配信停止への変更は行いませんでした" in outcome.message_detail
    assert outcome.row_error_count == 3


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('name like "株式会社"', True),
        ('memo NOT LIKE "x"', True),
        ('name = "like"', False),
        ('name = "a\\" like \\"b"', False),
        ("likes >= 3", False),
        ('(a = "x") or (b like "y")', True),
        ("", False),
    ],
)
def test_uses_like_ignores_string_literals(query, expected):
    assert uses_like(query) is expected
