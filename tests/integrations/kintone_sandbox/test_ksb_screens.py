"""The sandbox's kintone screens: plugin import checks, the proxy's merge rule, session REST,
views and the record list (over real HTTP; the browser side is tests/e2e/test_kintone_plugin.py).
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
import requests

from portal.connector_types.haihai_kintone.plugin import package
from sandbox.kintone.plugins import merged_request, stored_proxy_config
from sandbox.serve import serve_in_thread

SUB = "example"


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory) -> tuple[bytes, str]:
    built = package.build_plugin(tmp_path_factory.mktemp("instance"))
    return built.read(), built.plugin_id


@pytest.fixture
def app_id(kintone_sandbox) -> int:
    body = {
        "subdomain": SUB,
        "name": "顧客リスト",
        "fields": {
            "email": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"},
            "area": {"type": "DROP_DOWN", "label": "地域", "options": ["東", "西"]},
        },
    }
    app = requests.post(f"{kintone_sandbox}/_sandbox/apps", json=body, timeout=10).json()["app"]
    records = [
        {"email": {"value": f"p{n}@example.com"}, "area": {"value": "西" if n % 3 else "東"}}
        for n in range(1, 31)
    ]
    requests.post(
        f"{kintone_sandbox}/_sandbox/records",
        json={"subdomain": SUB, "app": app, "records": records},
        timeout=10,
    ).raise_for_status()
    return int(app)


def rezip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def total_of(html: str) -> int:
    return int(re.search(r"id='ksb-total'>(\d+)<", html).group(1))


def import_plugin(url: str, data: bytes) -> requests.Response:
    return requests.post(
        f"{url}/_sandbox/plugins", params={"subdomain": SUB}, data=data, timeout=10
    )


# --- import ----------------------------------------------------------------------------------


def test_real_package_imports_under_its_id(kintone_sandbox, plugin_zip):
    data, plugin_id = plugin_zip
    answer = import_plugin(kintone_sandbox, data)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "id": plugin_id,
        "name": "配配メールコネクタ kintone プラグイン",
        "version": "1.0.0",
    }


def test_tampered_and_malformed_packages_are_refused(kintone_sandbox, plugin_zip):
    data, _id = plugin_zip
    outer = unzip(data)
    contents = unzip(outer["contents.zip"])
    contents["js/desktop.js"] += b"\n/* changed after signing */"
    tampered = rezip({**outer, "contents.zip": rezip(contents)})
    answer = import_plugin(kintone_sandbox, tampered)
    assert answer.status_code == 400
    assert answer.json()["error"] == "プラグインファイルの署名が正しくありません。"

    unsigned = rezip({"contents.zip": outer["contents.zip"], "PUBKEY": outer["PUBKEY"]})
    assert "3つのファイル" in import_plugin(kintone_sandbox, unsigned).json()["error"]
    assert import_plugin(kintone_sandbox, b"not a zip").status_code == 400
    listed = requests.get(
        f"{kintone_sandbox}/_sandbox/plugins", params={"subdomain": SUB}, timeout=10
    )
    assert listed.json() == {"plugins": []}


def test_import_screen_reads_an_upload(kintone_sandbox, plugin_zip):
    data, plugin_id = plugin_zip
    session = requests.Session()
    page = session.get(f"{kintone_sandbox}/{SUB}/k/admin/system/plugin/", timeout=10)
    assert "読み込む" in page.text
    done = session.post(
        f"{kintone_sandbox}/{SUB}/k/admin/system/plugin/import",
        files={"file": ("hai2-connect-plugin.zip", data, "application/zip")},
        timeout=10,
    )
    assert done.status_code == 200
    assert f"（{plugin_id}）を読み込みました" in done.text
    assert plugin_id in done.text


# --- the proxy's merge rule ------------------------------------------------------------------


def test_longest_stored_prefix_of_the_same_method_wins():
    entries = {
        ("POST", "https://portal.example.com/"): {"headers": {"A": "short"}, "data": {}},
        ("POST", "https://portal.example.com/api/"): {
            "headers": {"A": "long", "Authorization": "Bearer secret"},
            "data": {"k": "stored"},
        },
        ("GET", "https://portal.example.com/api/runs"): {"headers": {"A": "get"}, "data": {}},
    }
    assert stored_proxy_config(entries, "https://portal.example.com/api/runs", "POST")[
        "headers"
    ] == {"A": "long", "Authorization": "Bearer secret"}
    assert stored_proxy_config(entries, "https://portal.example.com/other", "POST")["headers"] == {
        "A": "short"
    }
    assert stored_proxy_config(entries, "https://portal.example.com/api/x", "GET") is None
    # Case matters, as in kintone.
    assert stored_proxy_config(entries, "https://PORTAL.example.com/api/runs", "POST") is None


def test_stored_keys_override_the_callers():
    entries = {("POST", "https://p/"): {"headers": {"Authorization": "Bearer s"}, "data": {"a": 1}}}
    headers, body = merged_request(
        entries,
        "https://p/runs",
        "POST",
        {"Authorization": "Bearer forged", "Content-Type": "application/json"},
        {"a": 0, "b": 2},
    )
    assert headers == {"Authorization": "Bearer s", "Content-Type": "application/json"}
    assert json.loads(body) == {"a": 1, "b": 2}
    headers, body = merged_request(entries, "https://p/runs", "POST", {}, '{"raw": true}')
    assert body == b'{"raw": true}'
    get_headers, get_body = merged_request(entries, "https://p/runs", "GET", {"X": "1"}, {"a": 1})
    assert get_headers == {"X": "1"} and get_body is None


def test_proxy_sends_from_the_server_with_the_stored_token(kintone_sandbox, plugin_zip, app_id):
    """A tiny echo server stands in for the portal; the page never sends the token itself."""
    seen: list[dict] = []

    def echo(environ, start_response):
        seen.append(
            {
                "path": environ["PATH_INFO"],
                "authorization": environ.get("HTTP_AUTHORIZATION"),
                "origin": environ.get("HTTP_ORIGIN"),
                "body": environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)),
            }
        )
        start_response("201 Created", [("Content-Type", "application/json")])
        return [b'{"ok": true}']

    echo_server = serve_in_thread(echo)
    try:
        data, plugin_id = plugin_zip
        import_plugin(kintone_sandbox, data)
        requests.post(
            f"{kintone_sandbox}/_sandbox/plugins/app",
            json={"subdomain": SUB, "app": app_id, "id": plugin_id},
            timeout=10,
        ).raise_for_status()
        browser = requests.Session()
        browser.get(f"{kintone_sandbox}/{SUB}/k/{app_id}/", timeout=10)  # the session cookie
        shim = f"{kintone_sandbox}/{SUB}/k/_shim/plugin/"
        xhr = {"X-Requested-With": "XMLHttpRequest"}
        base = f"{echo_server.url}/inbound/"
        stored = browser.post(
            shim + "proxy-config",
            json={
                "app": app_id,
                "pluginId": plugin_id,
                "url": base,
                "method": "POST",
                "headers": {"Authorization": "Bearer stored-token"},
                "data": {},
            },
            headers=xhr,
            timeout=10,
        )
        assert stored.status_code == 200
        answer = browser.post(
            shim + "proxy",
            json={
                "app": app_id,
                "pluginId": plugin_id,
                "url": base + "runs",
                "method": "POST",
                "headers": {"Content-Type": "application/json"},
                "data": '{"setting": 1}',
            },
            headers=xhr,
            timeout=10,
        ).json()
        assert answer["status"] == 201 and json.loads(answer["body"]) == {"ok": True}
        assert seen[-1]["authorization"] == "Bearer stored-token"
        assert seen[-1]["origin"] is None  # server to server: not a CORS request
        assert seen[-1]["body"] == b'{"setting": 1}'
        # Without the page's session nothing is proxied.
        refused = requests.post(shim + "proxy", json={"app": app_id}, headers=xhr, timeout=10)
        assert refused.status_code == 401
    finally:
        echo_server.stop()


# --- the record list and session REST ----------------------------------------------------------


def test_record_list_applies_the_view_and_the_filter(kintone_sandbox, app_id):
    view = requests.post(
        f"{kintone_sandbox}/_sandbox/views",
        json={"subdomain": SUB, "app": app_id, "name": "西のみ", "filterCond": 'area in ("西")'},
        timeout=10,
    ).json()["id"]
    browser = requests.Session()
    page = browser.get(f"{kintone_sandbox}/{SUB}/k/{app_id}/", params={"view": view}, timeout=10)
    assert total_of(page.text) == 20
    boot = page.text.split('id="ksb-bootstrap">', 1)[1].split("</script>", 1)[0]
    data = json.loads(boot)
    assert data["condition"] == 'area in ("西")'
    assert data["view"]["name"] == "西のみ" and data["size"] == 20
    filtered = browser.get(
        f"{kintone_sandbox}/{SUB}/k/{app_id}/",
        params={"view": view, "q": 'email in ("p7@example.com", "p9@example.com")'},
        timeout=10,
    )
    assert total_of(filtered.text) == 1  # p9 is 東
    boot = filtered.text.split('id="ksb-bootstrap">', 1)[1].split("</script>", 1)[0]
    assert json.loads(boot)["condition"] == (
        '(area in ("西")) and (email in ("p7@example.com", "p9@example.com"))'
    )

    # kintone.api from the page: the session cookie and X-Requested-With sign the call in.
    rest = f"{kintone_sandbox}/{SUB}/k/v1/records.json"
    body = {"app": app_id, "query": 'area in ("東") limit 1', "totalCount": True}
    override = {"X-HTTP-Method-Override": "GET"}
    signed_in = browser.post(
        rest, json=body, headers={**override, "X-Requested-With": "XMLHttpRequest"}, timeout=10
    )
    assert signed_in.status_code == 200 and signed_in.json()["totalCount"] == "10"
    assert browser.post(rest, json=body, headers=override, timeout=10).status_code == 401
    assert requests.post(rest, json=body, headers=override, timeout=10).status_code == 401
