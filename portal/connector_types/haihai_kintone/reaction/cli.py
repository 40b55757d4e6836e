"""`flask reaction legacy-method`: the operator flags connectors created before the 2024-06
update, which may keep the legacy 連携方式 「メール開封、URLクリック」 (manual 付録4.4)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlmodel import select

from portal.connector_types.haihai_kintone.event_import.app import settings_row
from portal.connector_types.haihai_kintone.reaction.config import METHOD_FULL, REACTION
from portal.db import session_scope
from portal.models import Account, Connector

reaction_cli = AppGroup("reaction", help="顧客反応履歴情報取込連携 (Step8) operator commands.")


@reaction_cli.command("legacy-method")
@click.argument("account_id")
@click.option("--connector", "connector_id", default=None, help="Only this connector (its ID).")
@click.option(
    "--allow/--forbid",
    default=True,
    help="Offer the legacy 連携方式 (--forbid also switches connectors using it to the new one).",
)
def legacy_method_command(account_id: str, connector_id: str | None, allow: bool) -> None:
    """Let the connectors of ACCOUNT_ID (配配メールコネクタ ID) keep the pre-2024-06 連携方式."""
    with session_scope() as session:
        account = session.exec(select(Account).where(Account.connector_id == account_id)).first()
        if account is None:
            raise click.ClickException(f"no account {account_id}")
        query = select(Connector).where(Connector.account_id == account.id)
        if connector_id:
            query = query.where(Connector.id == connector_id)
        connectors = session.exec(query).all()
        if not connectors:
            raise click.ClickException(f"no connector of {account_id} matches")
        for connector in connectors:
            row = settings_row(session, connector.id, REACTION)
            row.legacy_method_allowed = allow
            if not allow:
                row.reaction_method = METHOD_FULL
            session.add(row)
            state = "allowed" if allow else "forbidden"
            click.echo(f"{connector.id} {connector.name}: legacy 連携方式 {state}")
