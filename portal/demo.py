"""`flask demo …`: the demo account and sample data."""

from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="Demo set-up.")
