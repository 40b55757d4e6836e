"""`flask secrets rotate`: re-encrypt every stored secret under a new key."""

from flask.cli import AppGroup

secrets_cli = AppGroup("secrets", help="Encryption keys for stored secrets.")
