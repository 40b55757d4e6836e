"""Generated junk to every route of the URL map never causes a server error (both databases).

Each example starts from the fields a browser would send (read from the rendered pages) and
replaces or adds a few with junk: NUL characters, JSON of the wrong shape, huge numbers, long
text, a field sent as a file, a JSON body, raw bytes. Error answers must be Japanese.
"""

from __future__ import annotations

import json
import os
import re
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from portal.db import session_scope
from portal.models import Account
from tests.jobs.conftest import redis_url_with_db
from tests.support.accounts import sign_in
from tests.support.step5_env import make_step5_env, page_form, step5_values
from tests.web.route_support import Route, all_routes, form_fields, make_connector_with_run
from tests.web.test_runs_views import RUNS_REDIS_DB

# Fewer while hunting a failure: JUNK_EXAMPLES_PER_ROUTE=5 pytest tests/web/test_junk_input.py
EXAMPLES_PER_ROUTE = int(os.environ.get("JUNK_EXAMPLES_PER_ROUTE", "30"))
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture
def app_config(app_config, redis_url, kintone_sandbox):
    """kintone addresses lead to the sandbox; queued runs go to a Redis database of their own."""
    return {
        **app_config,
        "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}",
        "REDIS_URL": redis_url_with_db(redis_url, RUNS_REDIS_DB),
    }


@pytest.fixture
def loopback_only(monkeypatch):
    """Junk host names must never leave the machine: resolve loopback names only."""
    resolve = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in LOOPBACK:
            raise socket.gaierror(f"junk test: {host!r} is not resolved")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


# --- junk -----------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
_condition_keys = st.sampled_from(
    [
        "match",
        "conditions",
        "field_code",
        "field_type",
        "operator",
        "value",
        "kind",
        "weekday",
        "day",
        "amount",
        "unit",
        "direction",
        "mappings",
        "kintone",
        "haihai_id",
    ]
)
_json_like = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(_condition_keys | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=15,
)
_texts = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
_junk_values = st.one_of(
    _texts,
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "0",
            "-1",
            "1.5",
            "99999999999999999999999",
            "1e309",
            "NaN",
            "null",
            "[]",
            "{}",
            '{"match":["x"],"conditions":[]}',
            "all",
            "synced",
            "manual",
            "off",
            "customer:1",
            "2024-02-30",
            "x" * 5000,
        ]
    ),
    _json_like.map(json.dumps),
    st.integers().map(str),
)


def _names(pool: list[str]):
    return st.sampled_from(pool) | st.text(min_size=1, max_size=12)


def _payloads(pool: list[str]):
    return st.fixed_dictionaries(
        {
            "fields": st.dictionaries(_names(pool), _junk_values, max_size=6),
            "json": st.dictionaries(_names(pool), _json_like, max_size=4),
            "raw": st.binary(max_size=200),
            "encoding": st.sampled_from(["form", "form", "multipart", "json", "raw"]),
            "htmx": st.booleans(),
        }
    )


# --- sending --------------------------------------------------------------------------------


def _send(client, route: Route, base: list[tuple[str, str]], payload: dict):
    headers = {"HX-Request": "true"} if payload["htmx"] else {}
    fields = MultiDict(base)
    for name, value in payload["fields"].items():
        fields.setlist(name, [value])
    if route.method == "GET":
        return client.get(route.url, query_string=fields, headers=headers)
    encoding = payload["encoding"]
    if encoding == "json":
        return client.post(route.url, json=payload["json"], headers=headers)
    if encoding == "raw":
        return client.post(
            route.url,
            data=payload["raw"],
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )
    if encoding == "multipart":
        import io

        name = next(iter(payload["fields"]), "name")
        value = str(payload["fields"].get(name, "")).encode("utf-8", "replace")
        fields.setlist(name, [(io.BytesIO(value), "junk.txt")])
    return client.post(route.url, data=fields, headers=headers)


def _sign_in_again(app, client, account_id: int) -> None:
    # LOGOUT and a password change are among the routes; every example starts signed in.
    with app.app_context(), session_scope() as session:
        account = session.get(Account, account_id)
        session.expunge(account)
    sign_in(client, account)


def _check(response, route: Route) -> None:
    status = response.status_code
    assert status < 500, f"{route}: {status}"
    if status >= 400 and "HX-Redirect" not in response.headers and status != 401:
        body = response.get_data(as_text=True)
        if response.is_json:  # the inbound endpoints answer JSON with escaped Japanese
            body = json.dumps(response.get_json(), ensure_ascii=False)
        assert JAPANESE.search(body), f"{route}: {status} without a Japanese message: {body[:200]}"


def _field_pools(env) -> tuple[list[tuple[str, str]], list[str]]:
    """The settings form a browser sends, and every field name the portal's pages use."""
    client = env.client
    settings_form = form_fields(env.page())
    names = {name for name, _ in settings_form}
    extra_pages = [
        client.get("/").get_data(as_text=True),
        env.get("/mapping").get_data(as_text=True),
        env.post("/customer/1/conditions", page_form(env, step5_values(1))).get_data(as_text=True),
    ]
    for html in extra_pages:
        names.update(name for name, _ in form_fields(html))
    names.update({"connector_id", "password", "new_password", "confirm_password", "next"})
    names.update({"action", "index", "confirmed", "prefix", "variant", "page", "per_page"})
    return settings_form, sorted(names)


def test_junk_to_every_route_never_causes_a_server_error(
    app, client, kintone_sandbox, haihai_sandbox, loopback_only
):
    env = make_step5_env(app, client, kintone_sandbox, haihai_sandbox)
    saved = env.post("", page_form(env, step5_values(1)))
    assert saved.status_code == 200, saved.get_data(as_text=True)
    settings_form, pool = _field_pools(env)
    values = {"connector_id": env.connector_id}
    values.update(
        {
            k: v
            for k, v in make_connector_with_run(app, env.account_id).items()
            if k != "connector_id"
        }
    )
    # Static files and /healthz take no input (/healthz answers 503 without a worker here).
    routes = [
        r for r in all_routes(app, values) if not r.endpoint.startswith(("assets.", "health."))
    ]
    assert len(routes) > 30

    for route in routes:
        base = settings_form if "/settings" in route.url else []
        _junk_property(app, client, env.account_id, route, base, pool)()


def _junk_property(app, client, account_id: int, route: Route, base, pool):
    """The property for one route: junk sent there is answered without a server error."""

    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(payload=_payloads(pool))
    def junk_is_refused_or_accepted(payload):
        _sign_in_again(app, client, account_id)
        response = _send(client, route, base, payload)
        try:
            _check(response, route)
        finally:
            response.close()

    return junk_is_refused_or_accepted
