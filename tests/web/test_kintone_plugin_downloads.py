"""「ダウンロード」 of Setup.zip: on the login page and in Step1, without sign-in, key never served."""

from __future__ import annotations

import io
import re
import zipfile

from portal.connector_types.haihai_kintone.plugin import package
from portal.db import session_scope
from portal.models import Connector
from tests.support.accounts import create_account, sign_in


def test_login_page_offers_setup_zip(client):
    html = client.get("/login").get_data(as_text=True)
    assert "kintone プラグイン" in html
    link = re.search(r'id="plugin-setup-download"[^>]*href="([^"]+)"', html, re.S)
    assert link and link.group(1) == "/downloads/Setup.zip"
    assert ">ダウンロード</a>" in html


def test_step1_offers_setup_zip(app, client):
    account = create_account(app, "HC0001")
    with app.app_context(), session_scope() as session:
        connector = Connector(account_id=account.id, name="配配メール-kintone連携01")
        session.add(connector)
        session.flush()
        connector_id = connector.id
    sign_in(client, account)
    html = client.get(f"/connectors/{connector_id}/settings").get_data(as_text=True)
    assert "kintone プラグインのセットアップ" in html
    assert 'href="/downloads/Setup.zip"' in html


def test_anyone_downloads_setup_zip_and_the_key_stays_private(app, client):
    response = client.get("/downloads/Setup.zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="Setup.zip"'
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert sorted(archive.namelist()) == ["README.txt", "hai2-connect-plugin.zip"]
        readme = archive.read("README.txt").decode("utf-8-sig")
        plugin = archive.read("hai2-connect-plugin.zip")
    assert "http://localhost/" in readme
    key = package.key_path(app.instance_path).read_bytes()
    assert key not in response.data and key not in plugin
    # A second download is the same package (same key, cached).
    again = client.get("/downloads/Setup.zip")
    with zipfile.ZipFile(io.BytesIO(again.data)) as archive:
        assert archive.read("hai2-connect-plugin.zip") == plugin
    for path in ("/instance/kintone-plugin/private.ppk", "/kintone-plugin/private.ppk"):
        assert client.get(path).status_code == 404


def test_build_failure_is_reported_in_japanese(app, client):
    app.config["NODE_BINARY"] = "/nonexistent/node"
    response = client.get("/downloads/Setup.zip")
    assert response.status_code == 503
    assert "kintone プラグインを作成できませんでした" in response.get_data(as_text=True)
