"""Operator commands: `flask db …`, `flask accounts …`, `flask connectors …`, `flask runs …`,
`flask secrets …`, `flask demo …`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from portal import migrate

db_cli = AppGroup("db", help="Database migrations (Alembic).")


@db_cli.command("upgrade")
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Apply migrations to the database named by DATABASE_URL (default: SQLite in instance/)."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database upgraded to {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    migrate.downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database downgraded to {revision}")


@db_cli.command("heads")
def db_heads() -> None:
    """Print the head revision(s) of the migration history."""
    for head in migrate.heads():
        click.echo(head)


from portal.accounts_cli import accounts_cli  # noqa: E402
from portal.connectors_cli import connectors_cli  # noqa: E402
from portal.demo import demo_cli  # noqa: E402
from portal.runs.cli import runs_cli  # noqa: E402
from portal.secrets_cli import secrets_cli  # noqa: E402

__all__ = ["accounts_cli", "connectors_cli", "db_cli", "demo_cli", "runs_cli", "secrets_cli"]
