"""`flask accounts …`: operator commands for portal accounts."""

from flask.cli import AppGroup

accounts_cli = AppGroup("accounts", help="Create, reset, disable and list accounts.")
