"""Secrets at rest: refusal to start with a wrong key, and `flask secrets rotate`."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from portal import create_app, db
from portal.crypto import SecretKeyError
from portal.db import session_scope
from portal.models import Connector
from portal.models.settings import ConnectorSettings
from portal.settings.service import issue_plugin_token, verify_plugin_token

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


def _store_secrets(app) -> tuple[str, str]:
    """A connector with both API tokens and a plugin token; → (connector id, plugin token)."""
    from tests.support.accounts import create_account

    account = create_account(app, "HC2001")
    with app.app_context(), session_scope() as session:
        connector = Connector(account_id=account.id, name="鍵のテスト")
        session.add(connector)
        session.flush()
        session.add(
            ConnectorSettings(
                connector_id=connector.id,
                haihai_api_token="haihai-secret-1",
                kintone_api_token="KintoneSecret1",
            )
        )
        session.flush()
        token = issue_plugin_token(session, connector)
        return connector.id, token


def _ciphertexts(app) -> list[str]:
    with app.app_context(), session_scope() as session:
        row = session.execute(
            text(
                "SELECT haihai_api_token, kintone_api_token, plugin_token_hash "
                "FROM connector_settings"
            )
        ).one()
    return list(row)


def _start(config: dict, **overrides):
    """create_app with `overrides`; every engine it made is disposed even when it refuses."""
    engines = []
    original = db.make_engine

    def recording(url):
        engine = original(url)
        engines.append(engine)
        return engine

    db.make_engine = recording
    try:
        return create_app({**config, **overrides})
    finally:
        db.make_engine = original
        for engine in engines:
            engine.dispose()


def _plain_secrets(app, connector_id: str) -> tuple[str, str]:
    try:
        with app.app_context(), session_scope() as session:
            row = session.get(ConnectorSettings, connector_id)
            return row.haihai_api_token, row.kintone_api_token
    finally:
        app.extensions["db_engine"].dispose()


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PORTAL_SECRET_KEY": KEY_A}


def test_portal_refuses_to_start_with_a_key_that_cannot_open_stored_secrets(app, app_config):
    _store_secrets(app)
    with pytest.raises(SecretKeyError, match="cannot decrypt connector_settings"):
        _start(app_config, PORTAL_SECRET_KEY=KEY_B)
    # The right key among several (new key first, old kept) starts fine.
    _start(app_config, PORTAL_SECRET_KEY=f"{KEY_B},{KEY_A}")


def test_empty_database_starts_with_any_key(app_config):
    _start(app_config, PORTAL_SECRET_KEY=KEY_B)


def test_rotate_with_a_key_file_rewrites_every_secret_and_drops_the_old_key(
    app_config, tmp_path: Path
):
    key_file = tmp_path / "portal_secret.key"
    key_file.write_text(KEY_A + "\n")
    config = {**app_config, "PORTAL_SECRET_KEY": None, "PORTAL_SECRET_KEY_FILE": str(key_file)}
    app = create_app(config)
    try:
        connector_id, plugin_token = _store_secrets(app)
        before = _ciphertexts(app)
        result = app.test_cli_runner().invoke(args=["secrets", "rotate"])
        assert result.exit_code == 0, result.output
        assert "re-encrypted 3 stored secret(s)" in result.output
        assert "restart every portal process" in result.output
        keys = [k for k in key_file.read_text().splitlines() if k]
        assert len(keys) == 1 and keys[0] != KEY_A
        assert key_file.stat().st_mode & 0o777 == 0o600
        after = _ciphertexts(app)
        assert all(a != b for a, b in zip(before, after, strict=True))
        for value in after:
            Fernet(keys[0].encode()).decrypt(value.encode())
        # The running app switched to the new key; secrets and the plugin token still work.
        assert _plain_secrets(app, connector_id) == ("haihai-secret-1", "KintoneSecret1")
        with app.app_context(), session_scope() as session:
            assert verify_plugin_token(session, plugin_token).id == connector_id
    finally:
        app.extensions["db_engine"].dispose()
    # A fresh process reads the file and starts; the old key alone no longer can.
    restarted = _start(config)
    assert _plain_secrets(restarted, connector_id) == ("haihai-secret-1", "KintoneSecret1")
    with pytest.raises(SecretKeyError):
        _start(app_config, PORTAL_SECRET_KEY=KEY_A)


def test_rotate_with_the_key_in_the_environment_prints_the_value_to_set(app, app_config):
    connector_id, _token = _store_secrets(app)
    result = app.test_cli_runner().invoke(args=["secrets", "rotate", "--new-key", KEY_B])
    assert result.exit_code == 0, result.output
    assert f"PORTAL_SECRET_KEY={KEY_B}" in result.output
    for value in _ciphertexts(app):
        Fernet(KEY_B.encode()).decrypt(value.encode())
    restarted = _start(app_config, PORTAL_SECRET_KEY=KEY_B)
    assert _plain_secrets(restarted, connector_id) == ("haihai-secret-1", "KintoneSecret1")
    with pytest.raises(SecretKeyError):
        _start(app_config, PORTAL_SECRET_KEY=KEY_A)


def test_rotating_again_to_the_same_key_touches_nothing(app):
    _store_secrets(app)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["secrets", "rotate", "--new-key", KEY_B]).exit_code == 0
    before = _ciphertexts(app)
    result = runner.invoke(args=["secrets", "rotate", "--new-key", KEY_B])
    assert "re-encrypted 0 stored secret(s)" in result.output
    assert _ciphertexts(app) == before


def test_rotate_refuses_a_malformed_new_key(app):
    _store_secrets(app)
    before = _ciphertexts(app)
    result = app.test_cli_runner().invoke(args=["secrets", "rotate", "--new-key", "not-a-key"])
    assert result.exit_code != 0
    assert _ciphertexts(app) == before
