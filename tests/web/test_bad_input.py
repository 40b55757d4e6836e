"""The malformed requests that used to end in 500: each is refused in Japanese, nothing stored."""

from __future__ import annotations

import io

import pytest
from sqlmodel import select

from portal.connector_types.haihai_kintone.customer.condition_storage import (
    MSG_CONDITIONS_FORMAT,
    condition_set_from_json,
)
from portal.db import session_scope
from portal.models import Connector
from portal.web.errors import NUL_MESSAGE
from tests.support.settings_env import field_error
from tests.support.step5_env import (
    make_step5_env,
    page_form,
    step5_values,
    stored_rows,
)

HX = {"HX-Request": "true"}
WRONG_MATCH = '{"match":["x"],"conditions":[]}'


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


@pytest.fixture
def env(app, client, kintone_sandbox, haihai_sandbox):
    return make_step5_env(app, client, kintone_sandbox, haihai_sandbox)


def _connector_names(app) -> list[str]:
    with app.app_context(), session_scope() as session:
        return [c.name for c in session.exec(select(Connector)).all()]


# --- conditions of the wrong shape ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        WRONG_MATCH,
        '{"match":{"a":1}}',
        '{"match":null,"conditions":[]}',
        '{"conditions":{"x":1}}',
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_conditions_of_any_wrong_shape_are_a_value_error(text):
    with pytest.raises(ValueError):
        condition_set_from_json(text)


def test_saving_conditions_of_the_wrong_shape_is_refused_next_to_the_field(env):
    form = page_form(env, step5_values(1, conditions=WRONG_MATCH))
    response = env.post("", form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "customer-1-conditions") == MSG_CONDITIONS_FORMAT
    assert stored_rows(env) == []


@pytest.mark.parametrize("path", ["/customer/add", "/customer/1/block", "/customer/refresh"])
def test_page_rerenders_survive_conditions_of_the_wrong_shape(env, path):
    response = env.post(path, page_form(env, step5_values(1, conditions=WRONG_MATCH)))
    assert response.status_code in (200, 422)
    assert stored_rows(env) == []


def test_the_conditions_dialog_opens_empty_with_a_notice(env):
    form = page_form(env, step5_values(1, conditions=WRONG_MATCH))
    response = env.post("/customer/1/conditions", form)
    assert response.status_code == 200
    assert MSG_CONDITIONS_FORMAT in response.get_data(as_text=True)


def test_checking_conditions_of_the_wrong_shape_says_so(env):
    form = page_form(env, step5_values(1, conditions=WRONG_MATCH))
    response = env.post("/customer/1/conditions/check", form)
    assert response.status_code in (200, 422)
    assert MSG_CONDITIONS_FORMAT in response.get_data(as_text=True)


# --- the add form of the connector list -------------------------------------------------------


def test_adding_a_connector_with_a_json_body_is_refused(app, signed_in_client):
    response = signed_in_client.post("/connectors", json={"name": 5, "kind": ["x"]}, headers=HX)
    assert response.status_code == 422
    assert "連携設定名を入力してください。" in response.get_data(as_text=True)
    assert _connector_names(app) == []


def test_adding_a_connector_with_the_name_as_a_file_is_refused(app, signed_in_client):
    data = {"name": (io.BytesIO("名前".encode()), "name.txt"), "kind": "haihai_kintone"}
    response = signed_in_client.post("/connectors", data=data, headers=HX)
    assert response.status_code == 422
    assert "連携設定名を入力してください。" in response.get_data(as_text=True)
    assert _connector_names(app) == []


def test_a_nul_character_is_refused_on_every_database(app, signed_in_client):
    data = {"name": "連携\x00A", "kind": "haihai_kintone"}
    page = signed_in_client.post("/connectors", data=data)
    assert page.status_code == 400
    assert NUL_MESSAGE in page.get_data(as_text=True)
    fragment = signed_in_client.post("/connectors", data=data, headers=HX)
    assert fragment.status_code == 400
    assert fragment.headers["Content-Type"].startswith("text/plain")
    assert fragment.get_data(as_text=True) == NUL_MESSAGE
    assert _connector_names(app) == []


def test_a_nul_character_in_a_query_is_refused(signed_in_client):
    response = signed_in_client.get("/runs/log?page=1%00")
    assert response.status_code == 400
    assert NUL_MESSAGE in response.get_data(as_text=True)


def test_a_nameless_multipart_part_is_refused(app, signed_in_client):
    body = (
        b"--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n"
        b'--B\r\nContent-Disposition: form-data; name="name"\r\n\r\nA\r\n--B--\r\n'
    )
    response = signed_in_client.post(
        "/connectors", data=body, content_type="multipart/form-data; boundary=B"
    )
    assert response.status_code == 400
    assert "送信された内容を受け付けられませんでした。" in response.get_data(as_text=True)
    assert _connector_names(app) == []


def test_unknown_pages_and_methods_answer_in_japanese(signed_in_client):
    missing = signed_in_client.get("/no-such-page")
    assert missing.status_code == 404
    assert "ページが見つかりません。" in missing.get_data(as_text=True)
    wrong_method = signed_in_client.get("/connectors")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"]
    assert "この方法ではこのページを利用できません。" in wrong_method.get_data(as_text=True)
