"""F-AUTH-4: `flask accounts create | reset-password | disable | enable | list`."""

from __future__ import annotations

import re

import pytest

from portal.auth import service
from portal.auth.passwords import validate_password, verify_password
from portal.db import session_scope
from portal.models.connectors import Connector
from tests.support.accounts import login


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=["accounts", *args])

    return invoke


def _initial_password(output: str) -> str:
    match = re.search(r"^initial password: (\S+)$", output, re.M)
    assert match, output
    return match.group(1)


def _account(app, connector_id):
    with app.app_context(), session_scope() as session:
        return service.find_account(session, connector_id)


def test_create_prints_a_policy_compliant_initial_password(app, cli):
    result = cli("create", "HC0001", "--email", "ops@example.co.jp")
    assert result.exit_code == 0, result.output
    password = _initial_password(result.output)
    assert validate_password(password, "HC0001") == []
    account = _account(app, "HC0001")
    assert account.email == "ops@example.co.jp"
    assert account.must_change_password
    assert verify_password(account.password_hash, password)
    assert password not in account.password_hash


def test_created_account_must_change_its_password_at_first_login(app, cli):
    password = _initial_password(cli("create", "HC0001", "--email", "a@example.com").output)
    response = login(app.test_client(), "HC0001", password)
    assert response.headers["Location"] == "/password"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["HC0001", "--email", "not-an-address"], "invalid mail address"),
        (["HC0001", "--email", "a b@example.com"], "invalid mail address"),
        (["bad id", "--email", "a@example.com"], "invalid connector ID"),
        (["-x", "--email", "a@example.com"], "No such option"),
        (["HC0001"], "Missing option '--email'"),
    ],
)
def test_create_refuses_bad_input(app, cli, args, message):
    result = cli("create", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert _account(app, "HC0001") is None


def test_create_refuses_a_duplicate(app, cli):
    assert cli("create", "HC0001", "--email", "a@example.com").exit_code == 0
    result = cli("create", "HC0001", "--email", "b@example.com")
    assert result.exit_code == 1
    assert "exists already" in result.output
    assert _account(app, "HC0001").email == "a@example.com"


def test_reset_password_forces_a_new_change_and_unlocks(app, cli):
    first = _initial_password(cli("create", "HC0001", "--email", "a@example.com").output)
    client = app.test_client()
    for _ in range(5):
        login(client, "HC0001", "Wrong#Pass1")
    assert login(client, "HC0001", first).status_code == 429
    result = cli("reset-password", "HC0001")
    assert result.exit_code == 0, result.output
    second = _initial_password(result.output)
    assert second != first
    assert login(client, "HC0001", first).status_code == 401
    assert login(client, "HC0001", second).headers["Location"] == "/password"


def test_commands_on_unknown_ids_fail_clearly(cli):
    for command in ("reset-password", "disable", "enable"):
        result = cli(command, "NOPE")
        assert result.exit_code == 1
        assert "no account with connector ID 'NOPE'" in result.output


def test_disable_blocks_sign_in_and_enable_restores_it(app, cli):
    password = _initial_password(cli("create", "HC0001", "--email", "a@example.com").output)
    result = cli("disable", "HC0001")
    assert result.exit_code == 0
    assert "disabled" in result.output
    client = app.test_client()
    assert login(client, "HC0001", password).status_code == 403
    assert cli("enable", "HC0001").exit_code == 0
    assert login(client, "HC0001", password).status_code == 302


def test_list_prints_a_table_of_every_account(app, cli):
    assert "no accounts" in cli("list").output
    cli("create", "HC0002", "--email", "two@example.com")
    cli("create", "HC0001", "--email", "one@example.com")
    cli("create", "HC0003", "--email", "three@example.com")
    cli("disable", "HC0003")
    account = _account(app, "HC0001")
    with app.app_context(), session_scope() as session:
        session.add(Connector(account_id=account.id, name="A"))
        session.add(Connector(account_id=account.id, name="B"))
    client = app.test_client()
    for _ in range(5):
        login(client, "HC0002", "Wrong#Pass1")
    result = cli("list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "CONNECTOR",
        "ID",
        "EMAIL",
        "STATUS",
        "CONNECTORS",
        "CREATED",
        "LAST",
        "LOGIN",
    ]
    assert [line.split()[0] for line in lines[1:]] == ["HC0001", "HC0002", "HC0003"]
    one, two, three = lines[1:]
    assert "one@example.com" in one and "must change password" in one
    assert re.search(r"must change password\s+2\s", one)
    assert "locked until" in two
    assert "disabled" in three
    # Columns line up under their headings.
    email_column = lines[0].index("EMAIL")
    status_column = lines[0].index("STATUS")
    for line, email in zip(lines[1:], ["one@", "two@", "three@"], strict=True):
        assert line[email_column:].startswith(email)
        assert line[status_column - 1] == " " and line[status_column] != " "
