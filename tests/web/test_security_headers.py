"""Security headers on every route: CSP of the portal's own files, no framing, no caching."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal import PROJECT_ROOT
from tests.support.accounts import sign_in
from tests.web.route_support import all_routes, make_connector_with_run

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _assert_security_headers(response, route, *, cacheable: bool) -> None:
    headers = response.headers
    assert headers["Content-Security-Policy"] == EXPECTED_CSP, route
    assert headers["X-Frame-Options"] == "DENY", route
    assert headers["X-Content-Type-Options"] == "nosniff", route
    assert headers["Referrer-Policy"] == "same-origin", route
    if cacheable:
        assert "no-store" not in headers.get("Cache-Control", ""), route
    else:
        assert headers["Cache-Control"] == "no-store", route
    assert "Strict-Transport-Security" not in headers, route  # plain http


def test_every_route_and_method_sends_the_security_headers(app, client, account):
    values = make_connector_with_run(app, account.id)
    routes = all_routes(app, values)
    assert len(routes) > 30
    for route in routes:
        sign_in(client, account)  # LOGOUT is one of the routes
        response = client.open(route.url, method=route.method, data={})
        # /healthz answers 503 here: no worker or scheduler runs beside this test.
        assert response.status_code < 500 or route.endpoint == "health.healthz", route
        _assert_security_headers(response, route, cacheable=route.endpoint.startswith("assets."))
        response.close()


def test_anonymous_pages_and_errors_send_the_headers_too(client):
    for url in ("/login", "/", "/logged-out", "/no-such-page", "/healthz"):
        response = client.get(url)
        _assert_security_headers(response, url, cacheable=False)


def test_hsts_is_sent_over_https_only(client):
    over_https = client.get("/login", base_url="https://portal.example.jp")
    assert over_https.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_hsts_behind_a_proxy_that_terminates_tls(app_config):
    from portal import create_app

    app = create_app({**app_config, "PROXY_FIX_HOPS": 1})
    try:
        response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    finally:
        app.extensions["db_engine"].dispose()


def test_the_session_cookie_flags_stay_those_of_the_configuration(app, client):
    assert app.config["SESSION_COOKIE_SECURE"] is False  # the tests' plain http
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


# --- what the policy forbids never appears in a template --------------------------------------

INLINE_PATTERNS = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "style element": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"\sstyle=", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+=", re.I),
    "htmx inline handler": re.compile(r"\shx-on", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
    # hx-trigger filters such as change[target.name=='x'] are evaluated with Function().
    "htmx trigger filter": re.compile(r"hx-trigger=\"[^\"]*\[", re.I),
    "htmx js: values": re.compile(r"hx-vals='js:|hx-vals=\"js:", re.I),
}


def _templates() -> list[Path]:
    return sorted((PROJECT_ROOT / "templates").rglob("*.html"))


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_templates_hold_nothing_the_content_security_policy_blocks(path):
    text = path.read_text()
    found = [name for name, pattern in INLINE_PATTERNS.items() if pattern.search(text)]
    assert found == []


def test_the_pattern_check_catches_what_it_looks_for():
    samples = {
        "inline script": "<script>alert(1)</script>",
        "style element": "<style>p{}</style>",
        "style attribute": '<p style="x">',
        "event handler attribute": '<a onclick="x">',
        "htmx inline handler": '<a hx-on:click="x">',
        "javascript: URL": '<a href="javascript:x">',
        "htmx trigger filter": '<div hx-trigger="change[x] from:body">',
        "htmx js: values": "<a hx-vals='js:{a: 1}'>",
    }
    for name, sample in samples.items():
        assert INLINE_PATTERNS[name].search(sample), name
    assert not INLINE_PATTERNS["inline script"].search('<script src="/static/portal.js" defer>')


def test_every_page_names_an_icon_that_exists(client):
    page = client.get("/login").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page).group(1)
    served = client.get(icon)
    assert served.status_code == 200 and served.mimetype == "image/svg+xml"
    served.close()
    legacy = client.get("/favicon.ico")
    assert legacy.status_code == 200 and legacy.data.startswith(b"<svg")
    legacy.close()
