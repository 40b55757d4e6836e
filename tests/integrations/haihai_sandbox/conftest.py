"""Helpers for the 配配メール sandbox tests: a seeded account and thin HTTP wrappers."""

from __future__ import annotations

import time

import pytest
import requests

from tests.integrations.haihai_sample_account import sample_groups, sample_plans

ACCOUNT = "m12345"
LOGIN_ID = "api-user"
TOKEN = "tok-123"
USER_MAIL = "ops@example.jp"


def default_account(**overrides) -> dict:
    """The account most tests use: every item type, two groups, two plans, one form."""
    account = {
        "account_key": ACCOUNT,
        "aid": "3",
        "plan": "bridge",
        "users": [
            {
                "login_id": LOGIN_ID,
                "email": USER_MAIL,
                "api_token": TOKEN,
                "transport_password": "legacy-pass",
            }
        ],
        "items": [
            {"item_id": "I2", "label": "氏名", "type": "text"},
            {"item_id": "I3", "label": "ふりがな", "type": "text", "input_rule": "hiragana"},
            {
                "item_id": "I4",
                "label": "都道府県",
                "type": "select",
                "options": ["東京都", "大阪府"],
            },
            {
                "item_id": "I5",
                "label": "関心",
                "type": "checkbox",
                "options": ["料金", "導入事例", "セミナー"],
            },
            {"item_id": "I6", "label": "誕生日", "type": "date"},
            {"item_id": "I7", "label": "購入回数", "type": "int"},
            {"item_id": "I8", "label": "単価", "type": "decimal"},
            {"item_id": "I9", "label": "備考", "type": "textarea"},
            {"item_id": "I10", "label": "性別", "type": "radio", "options": ["男性", "女性"]},
            {"item_id": "I11", "label": "資格", "type": "multiselect", "options": ["A", "B"]},
            {"item_id": "I12", "label": "カナ", "type": "text", "input_rule": "katakana"},
            {
                "item_id": "I13",
                "label": "会員番号",
                "type": "text",
                "input_rule": "halfwidth_alnum",
            },
            {"item_id": "I14", "label": "郵便番号", "type": "text", "input_rule": "numeric"},
        ],
        "groups": sample_groups(),
        "plans": sample_plans(),
        "forms": [
            {
                "form_id": "50",
                "form_name": "資料請求フォーム",
                "target_gids": ["2"],
                "target_spids": ["10"],
                "items": ["氏名", "関心"],
            }
        ],
    }
    account.update(overrides)
    return account


class Haihai:
    """Calls the sandbox over HTTP the way the production client would, plus admin hooks."""

    def __init__(self, base: str, session: requests.Session):
        self.base = base
        self.session = session
        self.account = ACCOUNT

    # ----- admin ---------------------------------------------------------------------------

    def admin(self, method: str, path: str, json=None, params=None, expect: int | None = 200):
        """Call `/_sandbox/{path}`; check the status unless `expect` is None; return the body."""
        response = self.session.request(
            method, f"{self.base}/_sandbox/{path}", json=json, params=params, timeout=30
        )
        if expect is not None:
            assert response.status_code == expect, response.text
        return response.json()

    def setup(self, **overrides) -> dict:
        """Create the default account (with overrides) and a zero event lag."""
        self.config(event_lag_seconds=0)
        return self.admin("POST", "accounts", default_account(**overrides), expect=201)

    def config(self, **values) -> dict:
        """POST /_sandbox/config."""
        return self.admin("POST", "config", values)

    def customers(self, customers: list[dict]) -> dict:
        """Bulk upsert through the admin API."""
        return self.admin("POST", "customers", {"account": self.account, "customers": customers})

    def customer(self, email: str, expect: int = 200) -> dict:
        """One customer as the admin API sees it."""
        return self.admin(
            "GET", "customers", params={"account": self.account, "email": email}, expect=expect
        )

    def events(self, events: list[dict]) -> dict:
        """Bulk add of events."""
        return self.admin("POST", "events", {"account": self.account, "events": events})

    def outbox(self) -> list[dict]:
        """Report mails of the account."""
        return self.admin("GET", "outbox", params={"account": self.account})["mails"]

    # ----- API -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the account, as the client is configured with it."""
        return f"{self.base}/{self.account}/"

    def call(self, action: str, *, auth: bool = True, files=None, headers=None, **params):
        """POST `?ac=action` with form fields (credentials added unless auth=False)."""
        data = {"login_id": LOGIN_ID, "api_token": TOKEN} if auth else {}
        data.update({key.rstrip("_"): value for key, value in params.items()})
        return self.session.post(
            self.url,
            params={"ac": action},
            data=data,
            files=files,
            headers=headers,
            timeout=30,
        )

    def ok(self, action: str, **params):
        """Call and assert success; return `data`."""
        response = self.call(action, **params)
        body = response.json()
        assert response.status_code == 200, body
        assert body["code"] == 10200 and body["status"] == "OK", body
        return body["data"]

    def error(self, action: str, http_status: int, code: int, **params) -> dict:
        """Call and assert the error envelope; return the body."""
        response = self.call(action, **params)
        body = response.json()
        assert response.status_code == http_status, body
        assert body["code"] == code, body
        assert body["data"] is None
        assert body["message"]
        return body

    def submit(self, csv_text: str, encoding: str = "cp932", name: str = "list.csv", **params):
        """Send a CSV import; return the raw response."""
        files = {"csvfile": (name, csv_text.encode(encoding), "text/csv")}
        return self.call("ScheduleCsvImport", files=files, **params)

    def wait(self, job_id: str, timeout: float = 10.0) -> dict:
        """Poll the admin job list (free of API budget) until the job is finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.admin("GET", "jobs", params={"account": self.account})["jobs"]
            job = next(job for job in jobs if job["job_id"] == job_id)
            if job["state"] in ("completed", "failed"):
                return job
            time.sleep(0.01)
        raise AssertionError(f"job {job_id} did not finish")

    def run_import(self, csv_text: str, encoding: str = "cp932", **params) -> dict:
        """Submit, wait, and return the GetImportResult data."""
        response = self.submit(csv_text, encoding=encoding, **params)
        body = response.json()
        assert response.status_code == 202, body
        assert body["code"] == 10202 and body["status"] == "ACCEPTED"
        self.wait(body["data"]["job_id"])
        return self.ok("GetImportResult", job_id=body["data"]["job_id"])

    @staticmethod
    def csv(*rows: str) -> str:
        """Join CSV lines with CRLF, as the product's files are written."""
        return "\r\n".join(rows) + "\r\n"

    def states(self, email: str) -> dict[tuple[str, str], str]:
        """{(type, id): state} of one customer."""
        customer = self.customer(email)
        return {(m["type"], m["id"]): m["state"] for m in customer["memberships"]}


@pytest.fixture
def hh(haihai_sandbox):
    """A `Haihai` helper bound to a freshly reset sandbox (default account not yet created)."""
    with requests.Session() as session:
        yield Haihai(haihai_sandbox, session)
