"""`flask accounts …`: operator commands for portal accounts (F-AUTH-4)."""

from __future__ import annotations

import unicodedata

import click
from flask.cli import AppGroup

from portal.auth import service
from portal.db import session_scope
from portal.web.templating import format_jp_datetime

accounts_cli = AppGroup("accounts", help="Create, reset, disable and list accounts.")


def _fail(error: service.AccountError) -> click.ClickException:
    return click.ClickException(str(error))


@accounts_cli.command("create")
@click.argument("connector_id")
@click.option("--email", required=True, help="Mail address of the customer's administrator.")
def create_command(connector_id: str, email: str) -> None:
    """Create an account; prints its one-time initial password (to be changed at first login)."""
    with session_scope() as session:
        try:
            account, password = service.create_account(session, connector_id, email)
        except service.AccountError as error:
            raise _fail(error) from error
        click.echo(f"created account {account.connector_id} <{account.email}>")
    click.echo(f"initial password: {password}")


@accounts_cli.command("reset-password")
@click.argument("connector_id")
def reset_password_command(connector_id: str) -> None:
    """Give an account a new initial password, end its sessions and lift a sign-in lock."""
    with session_scope() as session:
        try:
            account, password = service.reset_password(session, connector_id)
        except service.AccountError as error:
            raise _fail(error) from error
        click.echo(f"password of {account.connector_id} reset; it must be changed at next login")
    click.echo(f"initial password: {password}")


@accounts_cli.command("disable")
@click.argument("connector_id")
def disable_command(connector_id: str) -> None:
    """Disable an account: it can no longer sign in and its sessions end."""
    with session_scope() as session:
        try:
            account = service.set_disabled(session, connector_id, True)
        except service.AccountError as error:
            raise _fail(error) from error
        click.echo(f"account {account.connector_id} disabled")


@accounts_cli.command("enable")
@click.argument("connector_id")
def enable_command(connector_id: str) -> None:
    """Re-enable a disabled account."""
    with session_scope() as session:
        try:
            account = service.set_disabled(session, connector_id, False)
        except service.AccountError as error:
            raise _fail(error) from error
        click.echo(f"account {account.connector_id} enabled")


@accounts_cli.command("list")
def list_command() -> None:
    """Print every account as a table."""
    with session_scope() as session:
        rows = [
            (
                s.account.connector_id,
                s.account.email,
                _status(s),
                str(s.connectors),
                format_jp_datetime(s.account.created_at),
                format_jp_datetime(s.account.last_login_at) or "-",
            )
            for s in service.list_accounts(session)
        ]
    header = ("CONNECTOR ID", "EMAIL", "STATUS", "CONNECTORS", "CREATED", "LAST LOGIN")
    if not rows:
        click.echo("no accounts")
        return
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(_pad(cell, width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _status(summary: service.AccountSummary) -> str:
    if summary.account.disabled:
        return "disabled"
    if summary.locked_until is not None:
        return f"locked until {format_jp_datetime(summary.locked_until)}"
    if summary.account.must_change_password:
        return "must change password"
    return "active"


def _width(text: str) -> int:
    # Japanese characters take two columns in a terminal.
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
