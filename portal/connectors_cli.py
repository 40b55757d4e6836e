"""`flask connectors …`: list connectors, export one's configuration as YAML, import one.

The document's layout and the import rules are described in portal.settings.transfer; this
module reads and writes it as YAML and finds the connector or account the operator names.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import Any

import click
import yaml
from flask.cli import AppGroup
from sqlmodel import Session, col, select

from portal.auth.service import find_account
from portal.connector_types.registry import UnknownConnectorType, get_connector_type, kind_label
from portal.db import session_scope
from portal.models import Account, Connector
from portal.settings import transfer
from portal.settings.transfer import ImportInvalid, TransferError

connectors_cli = AppGroup("connectors", help="List, export and import connector configurations.")

MSG_YAML = "YAMLとして読み込めません: {problem}"
MSG_NO_CONNECTOR = (
    "連携設定 {id} はこのポータルにありません。"
    "新しい連携設定として作成するには --account で配配メールコネクタIDを指定してください。"
)
MSG_NO_CONNECTOR_ID = (
    "連携設定のIDがありません。新しい連携設定として作成するには --account を指定してください。"
)


# --- YAML ------------------------------------------------------------------------------------

# A section's line under `settings:` (two spaces, its key, and nothing or an empty mapping).
_SECTION_LINE = re.compile(r"^  ([^\s:]+):(?: \{\})?$")


class _Dumper(yaml.SafeDumper):
    """Block style, keys in document order, multi-line text as literal blocks."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_text)


class _Loader(yaml.SafeLoader):
    """YAML without implicit dates: 2024-06-01 stays the text the page would post."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def dump_yaml(document: Mapping[str, Any], titles: Mapping[str, str], label: str = "") -> str:
    """The document as YAML, each settings section annotated with its page heading."""
    text = yaml.dump(
        dict(document),
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=100,
    )
    lines = text.splitlines()
    in_settings = False
    for index, line in enumerate(lines):
        if not line.startswith(" "):
            in_settings = line == "settings:"
            continue
        found = _SECTION_LINE.match(line)
        if in_settings and found and found.group(1) in titles:
            lines[index] = f"{line}  # {titles[found.group(1)]}"
    header = [
        "# Connector configuration" + (f" ({label})" if label else ""),
        "# Import with: flask --app wsgi connectors import FILE [--account ID]",
    ]
    return "\n".join([*header, *lines]) + "\n"


def load_yaml(text: str) -> Any:
    """The document in `text`; ImportInvalid when it is not YAML."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        where = f"（{mark.line + 1}行目）" if mark is not None else ""
        raise ImportInvalid(
            [TransferError("(file)", MSG_YAML.format(problem=f"{problem}{where}"))]
        ) from error


# --- commands --------------------------------------------------------------------------------


def _connector_or_fail(session: Session, connector_id: str) -> Connector:
    connector = session.get(Connector, connector_id)
    if connector is None:
        raise click.ClickException(f"no connector with ID {connector_id!r}")
    return connector


def _account_or_fail(session: Session, code: str) -> Account:
    account = find_account(session, code)
    if account is None:
        raise click.ClickException(f"no account with connector ID {code!r}")
    return account


def _report(errors: list[TransferError]) -> None:
    for error in errors:
        click.echo(f"{error.path}: {error.message}", err=True)
    click.echo(f"{len(errors)} error(s); nothing was saved", err=True)


@connectors_cli.command("list")
@click.option("--account", "account_code", default=None, help="Only this account's connectors.")
def list_command(account_code: str | None) -> None:
    """Print every connector: ID, account, type and name."""
    with session_scope() as session:
        query = select(Connector, Account.connector_id).join(
            Account, col(Account.id) == col(Connector.account_id)
        )
        if account_code:
            query = query.where(Account.id == _account_or_fail(session, account_code).id)
        rows = session.exec(query.order_by(col(Connector.created_at), col(Connector.id))).all()
        lines = [f"{c.id}\t{code}\t{c.kind}\t{c.name}" for c, code in rows]
    if not lines:
        click.echo("no connectors")
        return
    click.echo("ID\tACCOUNT\tKIND\tNAME")
    for line in lines:
        click.echo(line)


@connectors_cli.command("export")
@click.argument("connector_id")
@click.option(
    "--with-secrets",
    is_flag=True,
    help="Include the API tokens, encrypted under the portal key (PORTAL_SECRET_KEY).",
)
@click.option(
    "--output",
    "-o",
    default="-",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write to this file (mode 0600) instead of standard output.",
)
def export_command(connector_id: str, with_secrets: bool, output: str) -> None:
    """Write the connector's whole configuration as YAML (API tokens left out by default)."""
    with session_scope() as session:
        connector = _connector_or_fail(session, connector_id)
        try:
            connector_type = get_connector_type(connector.kind)
        except UnknownConnectorType as error:
            raise click.ClickException(f"unknown connector type {connector.kind!r}") from error
        document = transfer.export_document(session, connector, with_secrets=with_secrets)
        titles = {section.key: section.title for section in connector_type.sections}
    text = dump_yaml(document, titles, kind_label(connector.kind))
    if output == "-":
        click.echo(text, nl=False)
        return
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    click.echo(f"exported connector {connector_id} to {output}", err=True)


@connectors_cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--account",
    "account_code",
    default=None,
    help="Account (配配メールコネクタID) to create the connector in, unless it has it already.",
)
@click.option(
    "--confirm-schedules",
    is_flag=True,
    help="Save schedules that may run at the same time in some months (付録6.3).",
)
def import_command(file, account_code: str | None, confirm_schedules: bool) -> None:
    """Create or update a connector from an exported file, validated as the settings page does.

    Without --account the file's connector is updated. With --account it is updated when that
    account owns it; otherwise a new connector is created in the account.
    """
    try:
        document = load_yaml(file.read())
        with session_scope() as session:
            account = _account_or_fail(session, account_code) if account_code else None
            target = _import_target(session, document, account)
            result = transfer.import_document(
                session,
                document,
                connector=target,
                account_id=account.id if account else None,
                confirm_schedules=confirm_schedules,
            )
    except ImportInvalid as invalid:
        _report(invalid.errors)
        sys.exit(1)
    except transfer.ImportNeedsConfirmation as required:
        for message in required.messages:
            click.echo(f"settings: {message}", err=True)
        click.echo("nothing was saved; run again with --confirm-schedules to save", err=True)
        sys.exit(1)
    verb = "created" if result.created else "updated"
    click.echo(f"{verb} connector {result.connector_id}")


def _import_target(session: Session, document: Any, account: Account | None) -> Connector | None:
    """The connector to update, or None to create one in `account`."""
    connector_id = transfer.document_connector_id(document)
    existing = session.get(Connector, connector_id) if connector_id else None
    if account is not None:
        return existing if existing is not None and existing.account_id == account.id else None
    if existing is None:
        message = MSG_NO_CONNECTOR.format(id=connector_id) if connector_id else MSG_NO_CONNECTOR_ID
        raise ImportInvalid([TransferError("connector.id", message)])
    return existing
