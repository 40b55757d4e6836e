"""Fixtures for the 配配メール client tests: a seeded sandbox account and admin helpers."""

from __future__ import annotations

import pytest
import requests

from portal.integrations.haihai import HaihaiClient
from portal.integrations.retrying import RetryPolicy
from tests.integrations.haihai_sample_account import sample_groups, sample_plans

ACCOUNT = "m20001"
LOGIN_ID = "sync-user"
TOKEN = "token-abc-123"
USER_MAIL = "sync-user@example.jp"
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


def account_definition(**overrides) -> dict:
    """A Bridge account with typed items, two groups, two step plans and one form."""
    account = {
        "account_key": ACCOUNT,
        "plan": "bridge",
        "users": [{"login_id": LOGIN_ID, "email": USER_MAIL, "api_token": TOKEN}],
        "items": [
            {"item_id": "I2", "label": "氏名", "type": "text"},
            {"item_id": "I3", "label": "ふりがな", "type": "text", "input_rule": "hiragana"},
            {
                "item_id": "I4",
                "label": "都道府県",
                "type": "select",
                "options": ["東京都", "大阪府"],
                "required": True,
            },
            {"item_id": "I5", "label": "関心", "type": "checkbox", "options": ["料金", "事例"]},
            {"item_id": "I6", "label": "誕生日", "type": "date"},
        ],
        "groups": sample_groups(),
        "plans": sample_plans(),
        "forms": [
            {
                "form_id": "50",
                "form_name": "資料請求フォーム",
                "target_gids": ["2"],
                "items": ["氏名", "関心"],
            }
        ],
    }
    account.update(overrides)
    return account


class SandboxAdmin:
    """The sandbox's test hooks (`/_sandbox/…`); never used by production code."""

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def _send(self, method: str, path: str, **kwargs) -> dict:
        response = self.session.request(
            method, f"{self.base}/_sandbox/{path}", timeout=30, **kwargs
        )
        assert response.status_code < 300, response.text
        return response.json()

    def create_account(self, **overrides) -> dict:
        return self._send("POST", "accounts", json=account_definition(**overrides))

    def patch_account(self, **settings) -> dict:
        return self._send("PATCH", f"accounts/{ACCOUNT}", json=settings)

    def patch_user(self, **settings) -> dict:
        return self._send("PATCH", f"accounts/{ACCOUNT}/users/{LOGIN_ID}", json=settings)

    def add_customers(self, customers: list[dict]) -> dict:
        return self._send("POST", "customers", json={"account": ACCOUNT, "customers": customers})

    def customer(self, email: str) -> dict:
        return self._send("GET", "customers", params={"account": ACCOUNT, "email": email})

    def customer_count(self) -> int:
        return self._send("GET", "customers", params={"account": ACCOUNT, "limit": 0})["total"]

    def add_events(self, events: list[dict]) -> dict:
        return self._send("POST", "events", json={"account": ACCOUNT, "events": events})

    def add_answers(self, answers: list[dict]) -> dict:
        return self._send("POST", "answers", json={"account": ACCOUNT, "answers": answers})

    def config(self, **knobs) -> dict:
        return self._send("POST", "config", json=knobs)

    def stats(self) -> dict:
        return self._send("GET", "stats", params={"account": ACCOUNT})

    def calls(self, action: str) -> int:
        return self.stats()["calls"].get(action, 0)

    def outbox(self) -> list[dict]:
        return self._send("GET", "outbox", params={"account": ACCOUNT})["mails"]

    def jobs(self) -> list[dict]:
        return self._send("GET", "jobs", params={"account": ACCOUNT})["jobs"]


@pytest.fixture
def admin(haihai_sandbox):
    """Admin hooks of a freshly reset sandbox holding the test account."""
    helper = SandboxAdmin(haihai_sandbox)
    helper.create_account()
    yield helper
    helper.close()


@pytest.fixture
def account_url(haihai_sandbox) -> str:
    """The account URL the portal's demo configuration would store."""
    return f"{haihai_sandbox}/{ACCOUNT}/"


@pytest.fixture
def make_client(account_url):
    """Build clients against the sandbox account; all are closed after the test."""
    made: list[HaihaiClient] = []

    def build(**kwargs) -> HaihaiClient:
        kwargs.setdefault("allow_local", True)
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("timeout", 10)
        login_id = kwargs.pop("login_id", LOGIN_ID)
        token = kwargs.pop("api_token", TOKEN)
        url = kwargs.pop("base_url", account_url)
        client = HaihaiClient(url, login_id, token, **kwargs)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def client(admin, make_client) -> HaihaiClient:
    """A client with fast retries for the seeded account."""
    return make_client()
