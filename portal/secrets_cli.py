"""`flask secrets rotate`: re-encrypt every stored secret under a new key.

Order of work (key file mode), chosen so that a crash at any point leaves every row readable:
1. the new key is written first in the key file, the old keys kept after it;
2. every encrypted column of every row is rewritten under the new key (one transaction);
3. a check with the new key alone re-rotates rows written meanwhile by a running process;
4. only then are the old keys dropped from the file.
With PORTAL_SECRET_KEY set in the environment the file cannot be edited: steps 2–3 run and the
command prints the value to set instead. Every portal process must be restarted afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import column, inspect, select, table, update

from portal.crypto import ENCRYPTED_COLUMNS, SecretKeyError, build_fernet, read_keys

secrets_cli = AppGroup("secrets", help="Encryption keys for stored secrets.")


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically with `keys` (one per line, primary first), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(key.decode() + "\n" for key in keys))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def reencrypt_all(app: Flask, multi: MultiFernet, primary: Fernet) -> int:
    """Rewrite every stored secret under the first key of `multi`; return the rows changed.

    Rows already readable with `primary` alone are left as they are, so running this twice
    (or after a crash) only touches what still needs it.
    """
    engine = app.extensions["db_engine"]
    existing = set(inspect(engine).get_table_names())
    changed = 0
    with engine.begin() as connection:
        for table_name, column_name in sorted(ENCRYPTED_COLUMNS):
            if table_name not in existing:
                continue
            col = column(column_name)
            target = table(table_name, col)
            rows = connection.execute(select(col).select_from(target).where(col.is_not(None)))
            for (ciphertext,) in rows.fetchall():
                try:
                    primary.decrypt(ciphertext.encode())
                    continue  # already under the new key
                except InvalidToken:
                    pass
                try:
                    rotated = multi.rotate(ciphertext.encode()).decode()
                except InvalidToken as error:
                    raise SecretKeyError(
                        f"{table_name}.{column_name} holds a value no configured key can open"
                    ) from error
                # Fernet tokens are unique (random IV), so the ciphertext identifies its row.
                connection.execute(
                    update(target).where(col == ciphertext).values({column_name: rotated})
                )
                changed += 1
    return changed


def rotate_keys(app: Flask, new_key: bytes | None = None) -> tuple[bytes, int]:
    """Re-encrypt all secrets under a new key (see the module docstring); → (new key, rows)."""
    old_keys = read_keys(app)
    build_fernet(old_keys)  # refuse malformed existing keys before touching anything
    new_key = new_key or Fernet.generate_key()
    try:
        primary = Fernet(new_key)
    except ValueError as error:
        raise SecretKeyError(f"invalid new key: {error}") from error
    transition = build_fernet([new_key, *[k for k in old_keys if k != new_key]])
    inline = bool(app.config.get("PORTAL_SECRET_KEY"))
    key_file = Path(app.config["PORTAL_SECRET_KEY_FILE"])
    if not inline:
        write_key_file(key_file, [new_key, *[k for k in old_keys if k != new_key]])
    app.extensions["fernet"] = transition
    changed = reencrypt_all(app, transition, primary)
    # A process still running with the old key may have written meanwhile: catch up once more.
    changed += reencrypt_all(app, transition, primary)
    if not inline:
        write_key_file(key_file, [new_key])
    app.extensions["fernet"] = build_fernet([new_key])
    return new_key, changed


@secrets_cli.command("rotate")
@click.option("--new-key", default=None, help="Use this Fernet key instead of a generated one.")
def rotate_command(new_key: str | None) -> None:
    """Re-encrypt every stored secret under a new key, then drop the old keys."""
    app = current_app._get_current_object()
    key, changed = rotate_keys(app, new_key.encode() if new_key else None)
    click.echo(f"re-encrypted {changed} stored secret(s) under a new key")
    if app.config.get("PORTAL_SECRET_KEY"):
        click.echo("PORTAL_SECRET_KEY is set in the environment; set it to this value:")
        click.echo(f"PORTAL_SECRET_KEY={key.decode()}")
    else:
        click.echo(f"key file updated: {app.config['PORTAL_SECRET_KEY_FILE']}")
    click.echo("restart every portal process (web, worker, scheduler) to use the new key")
