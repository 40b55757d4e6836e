"""Every route of the portal from its URL map, with argument values that reach a real object."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from werkzeug.routing import Rule

from portal.db import session_scope
from portal.models import Connector, Run

# Values for URL arguments that are not IDs of stored objects.
FIXED_ARGUMENTS = {
    "process_key": "customer:1",
    "number": 1,
    "key": "step2",
    "package": "htmx",
    "filename": "htmx.min.js",
}


@dataclass(frozen=True)
class Route:
    """One (rule, method) of the app with a concrete URL."""

    endpoint: str
    method: str
    url: str

    def __str__(self) -> str:
        return f"{self.method} {self.url} ({self.endpoint})"


def make_connector_with_run(app: Flask, account_id: int) -> dict[str, str]:
    """A connector of the account with one finished run; the URL arguments naming them."""
    with app.app_context(), session_scope() as session:
        connector = Connector(account_id=account_id, name="ルート確認")
        session.add(connector)
        session.flush()
        run = Run(
            connector_id=connector.id,
            process_key="customer:1",
            status="failed",
            error_detail="エラー",
            message_detail="メッセージ",
        )
        session.add(run)
        session.flush()
        return {"connector_id": connector.id, "run_id": run.id}


def _url(app: Flask, rule: Rule, values: dict) -> str:
    arguments = {name: values.get(name, FIXED_ARGUMENTS.get(name)) for name in rule.arguments}
    with app.test_request_context():
        return app.url_for(rule.endpoint, **arguments)


def all_routes(app: Flask, values: dict, methods: tuple[str, ...] = ("GET", "POST")) -> list[Route]:
    """Every (rule, method) of `app` among `methods`, its URL built from `values`."""
    routes = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods & set(methods)):
            routes.append(Route(rule.endpoint, method, _url(app, rule, values)))
    return routes
