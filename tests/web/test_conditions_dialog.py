"""The 「連携条件の設定」 dialog (manual 付録1.2): operators per field type, value inputs, every
relative date form, AND/OR, 「×」, validation, the summary on the page and 「条件を確認」."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
import requests
from werkzeug.datastructures import MultiDict

from portal.connector_types.haihai_kintone.customer.config import Condition, ConditionSet
from portal.db import session_scope
from portal.messages import kintone as kintone_msg
from portal.models.settings import ConnectorSettings
from portal.settings import messages as msg
from tests.support.settings_env import SUBDOMAIN, field_error, text_of
from tests.support.step5_env import (
    add_records,
    conditions_json,
    config,
    hidden_value,
    make_step5_env,
    page_form,
    save,
    step5_values,
)

# The dialog stores nothing: one database engine is enough here.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def env(app, client, kintone_sandbox, haihai_sandbox):
    return make_step5_env(app, client, kintone_sandbox, haihai_sandbox)


def open_dialog(env, conditions: str = "", number: int = 1) -> str:
    """「連携条件の設定」 pressed on a page whose hidden input holds `conditions`."""
    values = [step5_values(n) for n in range(1, number + 1)]
    values[-1][f"customer-{number}-conditions"] = conditions
    response = env.post(f"/customer/{number}/conditions", page_form(env, *values))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def dialog_post(env, action: str, data: dict, number: int = 1):
    """A request of the dialog's own form (add / remove / refresh / apply)."""
    form = MultiDict()
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            form.add(key, item)
    if action == "apply":
        return env.post(f"/customer/{number}/conditions/apply", form)
    form.add("action", action)
    return env.post(f"/customer/{number}/conditions/update", form)


def row(index: int, code: str, operator: str, **values) -> dict:
    """The posted inputs of one dialog row."""
    data = {f"cond-{index}-field": code, f"cond-{index}-operator": operator}
    data.update({f"cond-{index}-{key}": value for key, value in values.items()})
    return data


def apply(env, *rows: dict, match: str = "all", number: int = 1):
    data = {"match": match}
    for item in rows:
        data.update(item)
    return dialog_post(env, "apply", data, number)


def applied_json(response) -> dict:
    assert response.status_code == 200, text_of(response.get_data(as_text=True))[:600]
    value = hidden_value(response.get_data(as_text=True), "customer-1-conditions")
    assert value is not None
    return json.loads(value)


def select_options(html: str, name: str) -> list[tuple[str, str]]:
    """(value, text) of every option of the select called `name`."""
    match = re.search(r'<select[^>]*name="' + re.escape(name) + r'".*?</select>', html, re.S)
    assert match is not None, name
    return [
        (unescape(value), unescape(text).strip())
        for value, text in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', match[0])
    ]


def selected(html: str, name: str) -> list[str]:
    match = re.search(r'<select[^>]*name="' + re.escape(name) + r'".*?</select>', html, re.S)
    assert match is not None, name
    return [unescape(v) for v in re.findall(r'<option value="([^"]*)" selected', match[0])]


# --- opening, adding, removing ----------------------------------------------------------------


def test_dialog_opens_itself_with_the_conditions_on_the_page(env):
    conditions = conditions_json(
        "any",
        ("employees", "NUMBER", "ge", "10"),
        ("industry", "DROP_DOWN", "in", ["製造業", ""]),
    )
    html = open_dialog(env, conditions)
    assert 'id="conditions-dialog"' in html and "data-autoshow" in html
    text = text_of(html)
    assert "連携条件の設定" in text and "顧客情報連携設定 1" in text
    assert "従業員数" in text and "業種" in text
    assert selected(html, "cond-0-operator") == ["ge"]
    assert 'name="cond-0-value" value="10"' in html
    assert selected(html, "cond-1-choices") == ["", "製造業"]
    assert re.search(r'id="conditions-match-any" value="any" checked', html)
    for label in ("すべての条件を満たす", "いずれかの条件を満たす", "+ 追加", "閉じる", "×"):
        assert label in text, label


def test_empty_dialog_offers_only_fields_that_can_be_conditions(env):
    html = open_dialog(env)
    assert "条件が設定されていません" in text_of(html)
    codes = [value for value, _ in select_options(html, "new_field")]
    assert codes[0] == ""  # (設定する項目)
    for code in ("name", "homepage", "notes", "employees", "score", "レコード番号", "industry"):
        assert code in codes, code
    for code in ("interests", "regions", "rank", "contacted", "meeting", "作成日時", "更新日時"):
        assert code in codes, code
    for code in ("attachment", "作成者", "更新者", "ステータス", "作業者", "カテゴリー"):
        assert code not in codes, code
    assert ("name", "氏名（文字列 (1行)）") in select_options(html, "new_field")


OPERATORS = {
    "name": [
        "= (等しい)",
        "≠ (等しくない)",
        "次のいずれかと等しい",
        "次のキーワードを含む",
        "次のキーワードを含まない",
    ],
    "homepage": [
        "= (等しい)",
        "≠ (等しくない)",
        "次のいずれかと等しい",
        "次のキーワードを含む",
        "次のキーワードを含まない",
    ],
    "notes": ["次のキーワードを含む", "次のキーワードを含まない"],
    "employees": ["= (等しい)", "≠ (等しくない)", "≤ (以下)", "≥ (以上)"],
    "score": ["= (等しい)", "≠ (等しくない)", "≤ (以下)", "≥ (以上)"],
    "レコード番号": ["= (等しい)", "≠ (等しくない)", "≤ (以下)", "≥ (以上)"],
    "industry": ["次のいずれかを含む", "次のいずれも含まない"],
    "interests": ["次のいずれかを含む", "次のいずれも含まない"],
    "regions": ["次のいずれかを含む", "次のいずれも含まない"],
    "rank": ["次のいずれかを含む", "次のいずれも含まない"],
    "contacted": [
        "= (等しい)",
        "≠ (等しくない)",
        "≤ (以前)",
        "< (より前)",
        "≥ (以降)",
        "> (より後)",
    ],
    "meeting": ["= (等しい)", "≠ (等しくない)", "≤ (以前)", "< (より前)", "≥ (以降)", "> (より後)"],
    "作成日時": [
        "= (等しい)",
        "≠ (等しくない)",
        "≤ (以前)",
        "< (より前)",
        "≥ (以降)",
        "> (より後)",
    ],
    "更新日時": [
        "= (等しい)",
        "≠ (等しくない)",
        "≤ (以前)",
        "< (より前)",
        "≥ (以降)",
        "> (より後)",
    ],
}


@pytest.mark.parametrize(("code", "expected"), OPERATORS.items())
def test_added_row_offers_the_operators_of_its_type(env, code, expected):
    response = dialog_post(env, "add", {"new_field": code, "match": "all"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert [text for _, text in select_options(html, "cond-0-operator")] == expected
    assert f'name="cond-0-field" value="{code}"' in html


def test_choice_options_start_with_unselected_unless_the_field_is_required(env):
    html = dialog_post(env, "add", {"new_field": "industry"}).get_data(as_text=True)
    assert select_options(html, "cond-0-choices") == [
        ("", "(未選択)"),
        ("製造業", "製造業"),
        ("小売業", "小売業"),
    ]
    assert 'name="cond-0-choices" multiple' in html
    html = dialog_post(env, "add", {"new_field": "rank"}).get_data(as_text=True)
    assert select_options(html, "cond-0-choices") == [("A", "A"), ("B", "B")]


def test_date_rows_offer_every_relative_form(env):
    html = dialog_post(env, "add", {"new_field": "contacted"}).get_data(as_text=True)
    kinds = [text for _, text in select_options(html, "cond-0-date_kind")]
    assert kinds == [
        "日付を指定",
        "実行タイミングから",
        "昨日",
        "今日",
        "明日",
        "先週",
        "今週",
        "来週",
        "先月",
        "今月",
        "来月",
        "昨年",
        "今年",
        "来年",
    ]
    assert 'type="date" name="cond-0-date_value"' in html
    html = dialog_post(env, "add", {"new_field": "meeting"}).get_data(as_text=True)
    assert select_options(html, "cond-0-date_kind")[0] == ("absolute", "日時を指定")
    assert 'type="datetime-local" name="cond-0-date_value"' in html


@pytest.mark.parametrize(
    ("kind", "inputs", "absent"),
    [
        ("from_today", {"cond-0-amount", "cond-0-unit", "cond-0-direction"}, {"cond-0-weekday"}),
        ("last_week", {"cond-0-weekday"}, {"cond-0-day", "cond-0-amount"}),
        ("next_month", {"cond-0-day"}, {"cond-0-weekday"}),
        ("today", set(), {"cond-0-date_value", "cond-0-amount", "cond-0-weekday", "cond-0-day"}),
        ("this_year", set(), {"cond-0-date_value", "cond-0-day"}),
    ],
)
def test_changing_the_date_form_shows_its_inputs(env, kind, inputs, absent):
    data = row(0, "作成日時", "le", date_kind=kind)
    html = dialog_post(env, "refresh", data).get_data(as_text=True)
    for name in inputs:
        assert f'name="{name}"' in html, name
    for name in absent:
        assert f'name="{name}"' not in html, name
    if kind == "from_today":
        assert [t for _, t in select_options(html, "cond-0-unit")] == ["日", "週", "月", "年"]
        assert [t for _, t in select_options(html, "cond-0-direction")] == ["前", "後"]
    if kind == "last_week":
        weekdays = select_options(html, "cond-0-weekday")
        assert weekdays[0] == ("", "すべての曜日")
        assert [t for _, t in weekdays[1:]] == [f"{d}曜日" for d in "月火水木金土日"]
    if kind == "next_month":
        days = select_options(html, "cond-0-day")
        assert days[0] == ("", "すべて") and days[-1] == ("LAST", "末日")
        assert [t for _, t in days[1:-1]] == [f"{d}日" for d in range(1, 32)]


def test_remove_takes_out_exactly_that_row(env):
    data = {"match": "all"}
    data.update(row(0, "name", "eq", value="A"))
    data.update(row(1, "employees", "ge", value="5"))
    data.update(row(2, "notes", "like", value="重要"))
    html = dialog_post(env, "remove", {**data, "index": "1"}).get_data(as_text=True)
    assert re.findall(r'name="cond-\d+-field" value="([^"]+)"', html) == ["name", "notes"]
    assert 'name="cond-1-value" value="重要"' in html  # renumbered, value kept
    assert html.count("condition-remove") == 2


@pytest.mark.parametrize("code", ["", "attachment", "nosuchfield"])
def test_adding_a_field_that_cannot_be_a_condition_is_refused(env, code):
    html = dialog_post(env, "add", {"new_field": code}).get_data(as_text=True)
    assert field_error(html, "new_field") == msg.CHOOSE_FIELD_TO_ADD
    assert "cond-0-field" not in html


# --- applying: every operator per type -----------------------------------------------------

OPERATOR_CASES = [
    ("name", "SINGLE_LINE_TEXT", "eq", "山田", "氏名が「山田」と等しい"),
    ("name", "SINGLE_LINE_TEXT", "ne", "山田", "氏名が「山田」と等しくない"),
    ("name", "SINGLE_LINE_TEXT", "in", "AA BB", "氏名が「AA」「BB」のいずれかと等しい"),
    ("name", "SINGLE_LINE_TEXT", "like", "山", "氏名に「山」を含む"),
    ("homepage", "LINK", "not_like", "example", "ホームページに「example」を含まない"),
    ("notes", "MULTI_LINE_TEXT", "like", "重要", "備考に「重要」を含む"),
    ("notes", "MULTI_LINE_TEXT", "not_like", "解約", "備考に「解約」を含まない"),
    ("employees", "NUMBER", "eq", "100", "従業員数が100"),
    ("employees", "NUMBER", "ne", "0", "従業員数が0ではない"),
    ("score", "CALC", "le", "20", "スコアが20以下"),
    ("レコード番号", "RECORD_NUMBER", "ge", "3", "レコード番号が3以上"),
]


@pytest.mark.parametrize(("code", "ftype", "operator", "value", "summary"), OPERATOR_CASES)
def test_text_and_number_operators_are_applied(env, code, ftype, operator, value, summary):
    response = apply(env, row(0, code, operator, value=value))
    data = applied_json(response)
    assert data == {
        "match": "all",
        "conditions": [
            {"field_code": code, "field_type": ftype, "operator": operator, "value": value}
        ],
    }
    assert summary in text_of(response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("code", "ftype", "operator", "choices", "summary"),
    [
        (
            "industry",
            "DROP_DOWN",
            "in",
            ["", "製造業"],
            "業種が「(未選択)」「製造業」のいずれか",
        ),
        ("interests", "CHECK_BOX", "not_in", ["経費"], "関心が「経費」のいずれでもない"),
        (
            "regions",
            "MULTI_SELECT",
            "in",
            ["関東", "関西"],
            "地域が「関東」「関西」のいずれか",
        ),
        ("rank", "RADIO_BUTTON", "not_in", ["B"], "ランクが「B」のいずれでもない"),
    ],
)
def test_choice_operators_keep_the_chosen_options(env, code, ftype, operator, choices, summary):
    response = apply(env, row(0, code, operator, choices=choices))
    (condition,) = applied_json(response)["conditions"]
    assert condition == {
        "field_code": code,
        "field_type": ftype,
        "operator": operator,
        "value": choices,
    }
    assert summary in text_of(response.get_data(as_text=True))


@pytest.mark.parametrize("operator", ["eq", "ne", "le", "lt", "ge", "gt"])
@pytest.mark.parametrize("code", ["contacted", "作成日時"])
def test_every_date_operator_is_applied(env, operator, code):
    response = apply(env, row(0, code, operator, date_kind="today"))
    (condition,) = applied_json(response)["conditions"]
    assert (condition["operator"], condition["value"]) == (operator, {"kind": "today"})


DATE_FORMS = [
    ({"date_kind": "absolute", "date_value": "2024-04-01"}, "contacted",
     {"kind": "absolute", "value": "2024-04-01"}, "2024-04-01"),
    ({"date_kind": "absolute", "date_value": "2024-04-01T09:30"}, "meeting",
     {"kind": "absolute", "value": "2024-04-01T09:30"}, "2024-04-01 09:30"),
    ({"date_kind": "from_today", "amount": "3", "unit": "days", "direction": "before"}, "作成日時",
     {"kind": "from_today", "amount": 3, "unit": "days", "direction": "before"}, "実行日時の3日前"),
    ({"date_kind": "from_today", "amount": "2", "unit": "weeks", "direction": "after"}, "contacted",
     {"kind": "from_today", "amount": 2, "unit": "weeks", "direction": "after"}, "実行日の2週間後"),
    ({"date_kind": "from_today", "amount": "6", "unit": "months", "direction": "before"}, "meeting",
     {"kind": "from_today", "amount": 6, "unit": "months", "direction": "before"}, "実行日時の6か月前"),
    ({"date_kind": "from_today", "amount": "1", "unit": "years", "direction": "after"}, "更新日時",
     {"kind": "from_today", "amount": 1, "unit": "years", "direction": "after"}, "実行日時の1年後"),
    ({"date_kind": "yesterday"}, "contacted", {"kind": "yesterday"}, "昨日"),
    ({"date_kind": "today"}, "contacted", {"kind": "today"}, "今日"),
    ({"date_kind": "tomorrow"}, "contacted", {"kind": "tomorrow"}, "明日"),
    ({"date_kind": "last_week", "weekday": "MONDAY"}, "作成日時",
     {"kind": "last_week", "weekday": "MONDAY"}, "先週の月曜日"),
    ({"date_kind": "this_week", "weekday": ""}, "作成日時",
     {"kind": "this_week", "weekday": None}, "今週"),
    ({"date_kind": "next_week", "weekday": "SUNDAY"}, "contacted",
     {"kind": "next_week", "weekday": "SUNDAY"}, "来週の日曜日"),
    ({"date_kind": "last_month", "day": "31"}, "contacted",
     {"kind": "last_month", "day": 31}, "先月の31日"),
    ({"date_kind": "this_month", "day": "LAST"}, "meeting",
     {"kind": "this_month", "day": "LAST"}, "今月の末日"),
    ({"date_kind": "next_month", "day": ""}, "contacted",
     {"kind": "next_month", "day": None}, "来月"),
    ({"date_kind": "last_year"}, "contacted", {"kind": "last_year"}, "昨年"),
    ({"date_kind": "this_year"}, "contacted", {"kind": "this_year"}, "今年"),
    ({"date_kind": "next_year"}, "contacted", {"kind": "next_year"}, "来年"),
]  # fmt: skip


@pytest.mark.parametrize(("inputs", "code", "value", "shown"), DATE_FORMS)
def test_every_date_form_is_stored_structurally_and_summarised(env, inputs, code, value, shown):
    response = apply(env, row(0, code, "ge", **inputs))
    (condition,) = applied_json(response)["conditions"]
    assert condition["value"] == value
    assert f"が{shown}以降" in text_of(response.get_data(as_text=True))
    # Opening the dialog again shows the same choice.
    html = open_dialog(env, hidden_value(response.get_data(as_text=True), "customer-1-conditions"))
    assert selected(html, "cond-0-date_kind") == [inputs["date_kind"]]
    for key in ("weekday", "day", "unit", "direction"):
        if inputs.get(key):
            assert selected(html, f"cond-0-{key}") == [inputs[key]]
    if "date_value" in inputs:
        assert f'name="cond-0-date_value" value="{inputs["date_value"]}"' in html


# --- AND / OR and the summary --------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "label"), [("all", "すべての条件を満たす"), ("any", "いずれかの条件を満たす")]
)
def test_match_is_kept_and_shown_above_two_or_more_conditions(env, match, label):
    response = apply(
        env,
        row(0, "作成日時", "le", date_kind="yesterday"),
        row(1, "更新日時", "le", date_kind="yesterday"),
        match=match,
    )
    assert applied_json(response)["match"] == match
    text = text_of(response.get_data(as_text=True))
    assert label in text
    assert "作成日時が昨日以前" in text and "更新日時が昨日以前" in text


def test_a_single_condition_shows_no_match_line(env):
    response = apply(env, row(0, "name", "eq", value="a"), match="any")
    assert "conditions-match" not in response.get_data(as_text=True)


def test_summary_shows_four_conditions_and_the_rest_behind_motto_miru(env):
    rows = [row(i, "employees", "ge", value=str(i)) for i in range(6)]
    html = apply(env, *rows).get_data(as_text=True)
    shown = html.split('class="list-unstyled mb-1 conditions-summary"')[1].split("</ul>")[0]
    more = html.split('class="list-unstyled mb-1 collapse conditions-more"')[1].split("</ul>")[0]
    assert [text_of(x).strip() for x in re.findall(r"<li[^>]*>(.*?)</li>", shown)] == [
        f"従業員数が{i}以上" for i in range(4)
    ]
    assert [text_of(x).strip() for x in re.findall(r"<li[^>]*>(.*?)</li>", more)] == [
        "従業員数が4以上",
        "従業員数が5以上",
    ]
    assert "もっと見る" in text_of(html) and "簡易表示" in text_of(html)
    assert 'data-bs-toggle="collapse"' in html and 'aria-expanded="false"' in html


def test_four_conditions_need_no_motto_miru(env):
    rows = [row(i, "employees", "ge", value=str(i)) for i in range(4)]
    html = apply(env, *rows).get_data(as_text=True)
    assert "もっと見る" not in text_of(html)
    assert html.count('class="condition-line"') == 4


def test_apply_replaces_the_summary_on_the_page_and_closes_the_dialog(env):
    response = apply(env, row(0, "name", "eq", value="a"))
    assert response.headers["HX-Retarget"] == "#customer-1-conditions-area"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert "settingsCloseModal" in response.headers["HX-Trigger"]
    assert response.get_data(as_text=True).lstrip().startswith("{#") is False
    assert 'id="customer-1-conditions-area"' in response.get_data(as_text=True)


def test_conditions_of_setting_three_go_to_setting_three(env):
    data = {"match": "all", **row(0, "name", "eq", value="a")}
    response = dialog_post(env, "apply", data, number=3)
    assert response.headers["HX-Retarget"] == "#customer-3-conditions-area"
    assert hidden_value(response.get_data(as_text=True), "customer-3-conditions") is not None


def test_no_condition_means_every_record(env):
    response = apply(env)
    assert applied_json(response) == {"match": "all", "conditions": []}
    assert "連携条件が設定されていません（すべてのレコードが連携されます）。" in text_of(
        response.get_data(as_text=True)
    )


# --- blank values and validation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "operator", "summary"),
    [
        ("name", "eq", "氏名が空欄"),
        ("name", "ne", "氏名が空欄ではない"),
        ("employees", "eq", "従業員数が空欄"),
    ],
)
def test_a_blank_value_is_allowed_where_kintone_can_search_for_it(env, code, operator, summary):
    response = apply(env, row(0, code, operator, value=""))
    assert applied_json(response)["conditions"][0]["value"] == ""
    assert summary in text_of(response.get_data(as_text=True))


INVALID_ROWS = [
    (row(0, "name", "like", value=" "), "「氏名」の条件値を入力してください。"),
    (row(0, "notes", "not_like", value=""), "「備考」の条件値を入力してください。"),
    (row(0, "employees", "ge", value=""), "「従業員数」の条件値を入力してください。"),
    (row(0, "employees", "eq", value="abc"), "「従業員数」の条件値には数値を入力してください（abc）。"),
    (row(0, "industry", "in"), "「業種」の条件の選択肢を1つ以上選択してください。"),
    (row(0, "contacted", "eq", date_kind="absolute", date_value=""),
     "「初回接触日」の条件の日付を指定してください。"),
    (row(0, "contacted", "eq", date_kind="absolute", date_value="2024-02-30"),
     "「初回接触日」の条件値の日付が正しくありません（2024-02-30）。YYYY-MM-DDの形式で入力してください。"),
    (row(0, "作成日時", "ge", date_kind="from_today", amount="x", unit="days", direction="before"),
     "「作成日時」の条件「実行タイミングから」の値が正しくありません。0以上の整数と、日・週・月・年、前・後を指定してください。"),
    (row(0, "employees", "like", value="1"), "条件を選択してください。"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "message"), INVALID_ROWS)
def test_an_invalid_row_keeps_the_dialog_open_with_its_message(env, data, message):
    response = apply(env, row(1, "name", "eq", value="ok"), data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="conditions-dialog-content"' in html
    assert "HX-Retarget" not in response.headers
    # Rows are renumbered in index order: the invalid row 0 comes first, the valid one second.
    assert field_error(html, "cond-0") == message
    assert field_error(html, "cond-1") is None


def test_dialog_refuses_a_row_whose_field_the_app_no_longer_has(env):
    html = apply(env, row(0, "gone", "eq", value="a")).get_data(as_text=True)
    assert "kintone項目「gone」はkintoneアプリに存在しないか" in field_error(html, "cond-0")


# --- round trip through 「保存」 -------------------------------------------------------------


def test_applied_conditions_are_saved_and_reach_the_connector_config(env):
    response = apply(
        env,
        row(0, "industry", "in", choices=["製造業", ""]),
        row(
            1,
            "作成日時",
            "ge",
            date_kind="from_today",
            amount="30",
            unit="days",
            direction="before",
        ),
        row(2, "name", "like", value="株式会社"),
        match="any",
    )
    hidden = hidden_value(response.get_data(as_text=True), "customer-1-conditions")
    saved = save(env, page_form(env, step5_values(1, conditions=hidden)))
    assert saved.status_code == 200
    (setting,) = config(env).section("step5")
    assert setting.conditions == ConditionSet(
        "any",
        (
            Condition("industry", "DROP_DOWN", "in", ("製造業", "")),
            Condition(
                "作成日時",
                "CREATED_TIME",
                "ge",
                {"kind": "from_today", "amount": 30, "unit": "days", "direction": "before"},
            ),
            Condition("name", "SINGLE_LINE_TEXT", "like", "株式会社"),
        ),
    )
    page = env.page()
    assert "業種が「製造業」「(未選択)」のいずれか" in text_of(page)
    assert hidden_value(page, "customer-1-conditions") == hidden


# --- 「条件を確認」 --------------------------------------------------------------------------


def _records() -> list[dict]:
    return [
        {
            "email": {"value": f"user{i}@example.com"},
            "employees": {"value": str(i * 10)},
            "industry": {"value": "製造業" if i % 2 else "小売業"},
            "rank": {"value": "A"},
        }
        for i in range(1, 8)
    ]


def _kintone_calls(env) -> dict:
    url = f"{env.kintone_url}/_sandbox/stats"
    with requests.get(url, params={"subdomain": SUBDOMAIN}, timeout=10) as response:
        return response.json()["calls"]


def test_check_shows_the_query_and_the_number_of_matching_records(env):
    add_records(env, _records())
    requests.post(f"{env.kintone_url}/_sandbox/stats/reset", json={}, timeout=10).close()
    conditions = conditions_json(
        "all",
        ("employees", "NUMBER", "ge", "30"),
        ("industry", "DROP_DOWN", "in", ["製造業"]),
    )
    form = page_form(env, step5_values(1, conditions=conditions))
    response = env.post("/customer/1/conditions/check", form)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "employees &gt;= 30) and (industry in (&#34;製造業&#34;)" in html
    # employees 30…70 and odd i (製造業): i = 3, 5, 7.
    assert re.search(r'class="conditions-count">3<', html)
    assert sum(count for call, count in _kintone_calls(env).items() if "records" in call) == 1


def test_check_without_conditions_counts_every_record(env):
    add_records(env, _records())
    html = env.post("/customer/1/conditions/check", page_form(env)).get_data(as_text=True)
    assert "（条件なし: すべてのレコード）" in text_of(html)
    assert re.search(r'class="conditions-count">7<', html)


def test_check_explains_an_invalid_condition_without_calling_kintone(env):
    requests.post(f"{env.kintone_url}/_sandbox/stats/reset", json={}, timeout=10).close()
    conditions = conditions_json("all", ("employees", "NUMBER", "ge", "many"))
    form = page_form(env, step5_values(1, conditions=conditions))
    html = env.post("/customer/1/conditions/check", form).get_data(as_text=True)
    assert "「従業員数」の条件値には数値を入力してください（many）。" in text_of(html)
    assert not any("records" in call for call in _kintone_calls(env))


def test_check_explains_a_kintone_refusal(env):
    with env.app.app_context(), session_scope() as session:
        row_ = session.get(ConnectorSettings, env.connector_id)
        row_.kintone_api_token = "WrongToken0000000000000000000000000000000"
        session.add(row_)
    html = env.post("/customer/1/conditions/check", page_form(env)).get_data(as_text=True)
    assert kintone_msg.AUTH in text_of(html)
