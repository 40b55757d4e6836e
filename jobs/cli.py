"""`flask jobs worker` and `flask jobs scheduler`."""

from flask.cli import AppGroup

jobs_cli = AppGroup("jobs", help="Background worker and scheduler.")
