"""The WSGI application: routes API, view pages and the admin API onto one shared store."""

from __future__ import annotations

import html
import json

from werkzeug.wrappers import Request, Response

from .admin import AdminHandler
from .api import ApiHandler
from .clock import format_jst
from .serialize import customer_values
from .store import Store
from .worker import JobWorker

ADMIN_PREFIX = "/_sandbox/"


class HaihaiSandbox:
    """Thread-safe WSGI app emulating 配配メール at `/{account_key}/?ac=…` plus `/_sandbox/…`."""

    def __init__(self, initial_data: dict | None = None):
        self.store = Store()
        self.worker = JobWorker(self.store)
        self.api = ApiHandler(self.store, self.worker.submit)
        self.admin = AdminHandler(self.store, self.worker, initial_data)
        if initial_data:
            with self.store.lock:
                self.admin.load_data(initial_data)

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self.dispatch(request)
        finally:
            # Closes spooled upload files so no ResourceWarning escapes.
            request.close()
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """Pick the handler for a request path."""
        path = request.path
        if path.startswith(ADMIN_PREFIX) or path == ADMIN_PREFIX.rstrip("/"):
            return self.admin.handle(request, path[len(ADMIN_PREFIX) :])
        parts = [part for part in path.split("/") if part]
        if not parts:
            return self.api.handle(request, None)
        if len(parts) == 1:
            return self.api.handle(request, parts[0])
        if len(parts) == 3 and parts[1] == "view" and request.method == "GET":
            return self.view_page(parts[0], parts[2])
        return Response("Not Found", status=404, content_type="text/plain; charset=utf-8")

    def view_page(self, account_key: str, token: str) -> Response:
        """The 顧客閲覧URL page: a plain HTML summary of one customer."""
        with self.store.lock:
            account = self.store.account(account_key)
            customer = account.customer_by_view_token(token) if account else None
            if customer is None:
                return Response("Not Found", status=404, content_type="text/plain; charset=utf-8")
            rows = [("メールアドレス", customer.email)]
            for label, value in customer_values(account, customer).items():
                shown = ", ".join(value) if isinstance(value, list) else value
                rows.append((label, shown))
            rows.append(("更新日時", format_jst(customer.updated_at)))
        cells = "".join(
            f"<tr><th>{html.escape(label)}</th><td>{html.escape(str(value))}</td></tr>"
            for label, value in rows
        )
        page = (
            "<!doctype html><html lang='ja'><head><meta charset='utf-8'>"
            "<title>顧客情報</title></head><body><h1>顧客情報</h1>"
            f"<table>{cells}</table></body></html>"
        )
        return Response(page, content_type="text/html; charset=utf-8")

    def close(self) -> None:
        """Stop the background job thread."""
        self.worker.stop()


def create_app(data_file: str | None = None) -> HaihaiSandbox:
    """Build the sandbox; `data_file` is a JSON document of initial data (admin API shapes)."""
    data = None
    if data_file:
        with open(data_file, encoding="utf-8") as handle:
            data = json.load(handle)
    return HaihaiSandbox(data)
