"""Helpers of the kintone client tests: the sandbox admin driver, a test app's fields, retries."""

from __future__ import annotations

from typing import Any

import requests

from portal.integrations.retrying import RetryPolicy

SUB = "demo"
# Retries in tests: real backoff shape, tiny waits.
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)

FIELDS: dict[str, dict[str, Any]] = {
    "title": {"type": "SINGLE_LINE_TEXT", "code": "title", "label": "件名"},
    "sku": {
        "type": "SINGLE_LINE_TEXT",
        "code": "sku",
        "label": "SKU",
        "unique": True,
    },
    "qty": {"type": "NUMBER", "code": "qty", "label": "数量"},
    "kind": {
        "type": "DROP_DOWN",
        "code": "kind",
        "label": "種別",
        "options": {
            "A": {"label": "A", "index": "0"},
            "B": {"label": "B", "index": "1"},
        },
    },
}


class SandboxAdmin:
    """Set-up, knobs and call counts of the kintone sandbox, over its `/_sandbox` API."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.http = requests.Session()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call `/_sandbox/<path>` and return the JSON body (asserting success)."""
        response = self.http.request(method, f"{self.root}/_sandbox/{path}", timeout=60, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def create_app(self, fields: dict | None = None, **extra: Any) -> int:
        """A deployed app (FIELDS by default); returns its id."""
        body = {"subdomain": SUB, "name": "テストアプリ", "fields": fields or FIELDS, **extra}
        return int(self.call("POST", "apps", json=body)["app"])

    def token(self, app: int, *permissions: str, **extra: Any) -> str:
        """A new API token for `app` with `permissions`."""
        body = {"subdomain": SUB, "app": app, "permissions": list(permissions), **extra}
        return self.call("POST", "tokens", json=body)["token"]

    def user(self, code: str, password: str) -> None:
        """A password user (the sandbox treats it as an administrator)."""
        self.call("POST", "users", json={"subdomain": SUB, "code": code, "password": password})

    def load(self, app: int, records: list[dict]) -> None:
        """Store records (write format) without REST limits."""
        self.call("POST", "records", json={"subdomain": SUB, "app": app, "records": records})

    def load_numbered(self, app: int, count: int, start: int = 0) -> None:
        """Store `count` records with title `r<i>`, sku `S<i>` and qty `i`."""
        for offset in range(start, start + count, 5000):
            stop = min(start + count, offset + 5000)
            self.load(
                app,
                [
                    {
                        "title": {"value": f"r{i}"},
                        "sku": {"value": f"S{i}"},
                        "qty": {"value": str(i)},
                        "kind": {"value": "A" if i % 2 else "B"},
                    }
                    for i in range(offset, stop)
                ],
            )

    def dump(self, app: int) -> list[dict]:
        """Every stored record of `app` in read format, ascending ids."""
        return self.call("GET", "records", params={"subdomain": SUB, "app": app})["records"]

    def config(self, **knobs: Any) -> dict:
        """Change sandbox knobs (latency_ms, faults, max_cursors …)."""
        return self.call("POST", "config", json=knobs)

    def fault(self, path: str, status: int, code: str | None = None, **extra: Any) -> None:
        """Make the next matching call(s) fail."""
        self.config(faults=[{"path": path, "status": status, "code": code, **extra}])

    def stats(self) -> dict:
        """REST calls per `METHOD /path` and the number of live cursors."""
        return self.call("GET", "stats", params={"subdomain": SUB})

    def calls(self, key: str) -> int:
        """How many REST calls matched `METHOD /path` so far."""
        return self.stats()["calls"].get(key, 0)

    def reset_stats(self) -> None:
        """Zero the call counters."""
        self.call("POST", "stats/reset", json={"subdomain": SUB})


def ids_of(records) -> list[int]:
    """The `$id` values of read-format records, as ints."""
    return [int(r["$id"]["value"]) for r in records]
