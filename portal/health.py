"""GET /healthz: database, Redis, worker heartbeat and scheduler tick as JSON."""

from flask import Blueprint

bp = Blueprint("health", __name__)
