"""Every route of the portal from its URL map, with argument values that reach a real object."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

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
    "role": "reaction",
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
        return {"connector_id": connector.id, "run_id": run.id, "task_id": run.id}


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


class _FormFields(HTMLParser):
    """Collects what a browser would submit from the forms of a page (name → values)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._select_values: list[str] = []
        self._select_chosen: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        attributes = {k: v or "" for k, v in attrs}
        name = attributes.get("name")
        if tag == "input" and name:
            kind = attributes.get("type", "text").lower()
            if kind in {"checkbox", "radio"} and "checked" not in attributes:
                return
            if kind in {"submit", "button", "file", "image", "reset"}:
                return
            self.fields.append((name, attributes.get("value", "")))
        elif tag == "select" and name:
            self._select, self._select_values, self._select_chosen = name, [], None
        elif tag == "option" and self._select is not None:
            value = attributes.get("value", "")
            self._select_values.append(value)
            if "selected" in attributes:
                self._select_chosen = value
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            chosen = self._select_chosen
            if chosen is None and self._select_values:
                chosen = self._select_values[0]
            if chosen is not None:
                self.fields.append((self._select, chosen))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, "".join(self._text)))
            self._textarea = None


def form_fields(html: str) -> list[tuple[str, str]]:
    """(name, value) of every field a browser would submit from the forms in `html`."""
    parser = _FormFields()
    parser.feed(html)
    return parser.fields
