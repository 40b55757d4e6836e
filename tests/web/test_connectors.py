"""F-LIST-1 and F-AUTH-5: the コネクター一覧, adding a connector, and tenancy."""

from __future__ import annotations

import pytest
from flask import Blueprint
from jinja2 import ChoiceLoader, DictLoader
from sqlmodel import select
from werkzeug.exceptions import NotFound

from portal.connectors.access import get_own_connector_or_404, list_own_connectors
from portal.db import session_scope
from portal.models.connectors import HAIHAI_KINTONE, Connector
from tests.support.accounts import create_account, sign_in

HX = {"HX-Request": "true", "HX-Current-URL": "http://localhost/"}


def _text(response) -> str:
    return response.get_data(as_text=True)


def _connectors(app) -> list[Connector]:
    with app.app_context(), session_scope() as session:
        return list(session.exec(select(Connector).order_by(Connector.name)).all())


@pytest.fixture
def account(app, client):
    account = create_account(app, "HC0001")
    sign_in(client, account)
    return account


def _add(app, account, name: str) -> Connector:
    with app.app_context(), session_scope() as session:
        connector = Connector(account_id=account.id, name=name)
        session.add(connector)
        session.flush()
        session.expunge(connector)
    return connector


def test_empty_list_invites_to_add_a_connector(account, client):
    page = _text(client.get("/"))
    assert "<h1" in page and "コネクター一覧" in page
    assert "連携はまだありません。" in page
    assert "新しい連携を追加" in page
    # The add form offers the one connector type there is.
    assert '<option value="haihai_kintone" selected>配配メール-kintone 連携</option>' in page


def test_the_list_shows_type_and_name_of_each_own_connector(app, account, client):
    _add(app, account, "配配メール-kintone連携01")
    _add(app, account, "<script>alert(1)</script>")
    other = create_account(app, "HC0002")
    _add(app, other, "よその連携")
    page = _text(client.get("/"))
    assert page.count('<td class="connector-kind">配配メール-kintone 連携</td>') == 2
    assert '<td class="connector-name">配配メール-kintone連携01</td>' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "よその連携" not in page


def test_adding_a_connector_saves_it_and_opens_its_settings(app, account, client):
    response = client.post("/connectors", data={"kind": HAIHAI_KINTONE, "name": "  新規連携  "})
    assert response.status_code == 302
    [connector] = _connectors(app)
    assert response.headers["Location"] == f"/connectors/{connector.id}/settings"
    page = _text(client.get(response.headers["Location"]))
    assert "「新規連携」を追加しました。続けて連携設定を行ってください。" in page
    assert "Step1. 配配メールコネクタ基本設定" in page
    assert connector.account_id == account.id
    assert connector.kind == HAIHAI_KINTONE
    assert len(connector.id) == 26
    assert '<td class="connector-name">新規連携</td>' in _text(client.get("/"))


def test_htmx_add_redirects_the_whole_page(app, account, client):
    response = client.post("/connectors", data={"name": "HX連携"}, headers=HX)
    assert response.status_code == 200
    [connector] = _connectors(app)
    assert response.headers["HX-Redirect"] == f"/connectors/{connector.id}/settings"
    assert connector.name == "HX連携"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "連携設定名を入力してください。"),
        ({"name": "   "}, "連携設定名を入力してください。"),
        ({"name": "あ" * 101}, "連携設定名は100文字以内で入力してください。"),
        ({"name": "ok", "kind": "ftp"}, "連携の種類を選択してください。"),
    ],
)
def test_invalid_add_comes_back_as_422_with_the_form_partial(app, account, client, data, message):
    response = client.post("/connectors", data=data, headers=HX)
    assert response.status_code == 422
    body = _text(response)
    assert body.lstrip().startswith('<form id="connector-add-form"')
    assert "<html" not in body
    assert message in body
    assert "is-invalid" in body
    assert _connectors(app) == []


def test_invalid_add_without_htmx_shows_the_whole_page_with_the_form_open(app, account, client):
    response = client.post("/connectors", data={"name": "あ" * 101})
    assert response.status_code == 422
    page = _text(response)
    assert "<html" in page
    assert 'class="collapse show mb-4" id="connector-add"' in page
    assert "連携設定名は100文字以内で入力してください。" in page


def test_exactly_100_characters_are_accepted(app, account, client):
    assert client.post("/connectors", data={"name": "名" * 100}).status_code == 302
    assert [len(c.name) for c in _connectors(app)] == [100]


def test_list_requires_login(client):
    assert client.get("/").headers["Location"] == "/login"
    assert client.post("/connectors", data={"name": "x"}).headers["Location"] == "/login"


# --- tenancy ---------------------------------------------------------------------------------


@pytest.fixture
def probe(app):
    """A route of another blueprint that looks connectors up the way every blueprint must."""
    blueprint = Blueprint("probe", __name__)

    @blueprint.get("/probe/<connector_id>")
    def show(connector_id: str):
        return get_own_connector_or_404(connector_id).name

    @blueprint.get("/probe-list")
    def names():
        return ",".join(c.name for c in list_own_connectors())

    app.register_blueprint(blueprint)
    return app


def test_an_account_reaches_its_own_connector(probe, account, client):
    mine = _add(probe, account, "mine")
    response = client.get(f"/probe/{mine.id}")
    assert response.status_code == 200
    assert _text(response) == "mine"


def test_another_accounts_connector_answers_404_like_a_missing_one(probe, account, client):
    other = create_account(probe, "HC0002")
    theirs = _add(probe, other, "theirs")
    _add(probe, account, "mine")
    foreign = client.get(f"/probe/{theirs.id}")
    missing = client.get("/probe/01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert foreign.status_code == missing.status_code == 404
    assert "theirs" not in _text(foreign)
    assert _text(client.get("/probe-list")) == "mine"
    # And the other way round.
    second = probe.test_client()
    sign_in(second, other)
    assert second.get(f"/probe/{theirs.id}").status_code == 200
    assert _text(second.get("/probe-list")) == "theirs"


def test_anonymous_lookups_are_404(app):
    owner = create_account(app, "HC0001")
    connector = _add(app, owner, "x")
    with app.test_request_context("/"):
        with pytest.raises(NotFound):
            get_own_connector_or_404(connector.id)
        assert list_own_connectors() == []


def test_other_engineers_hooks_are_included_when_present(app, account, client):
    _add(app, account, "hooked")
    app.jinja_loader = ChoiceLoader(
        [
            DictLoader(
                {
                    "connectors/_row_actions.html": '<a class="row-hook">{{ connector.name }}</a>',
                    "runs/_log_container.html": '<section id="log-hook">連携ログ</section>',
                }
            ),
            app.jinja_loader,
        ]
    )
    page = _text(client.get("/"))
    assert '<a class="row-hook">hooked</a>' in page
    assert '<section id="log-hook">連携ログ</section>' in page
