"""「デモ環境の接続情報」: the sandboxes' connection values, on a page that exists only in the demo.

`flask demo run` gives the web process DEMO_KINTONE_URL / DEMO_HAIHAI_URL; only then is this
blueprint registered. The values are read live from the sandboxes' admin APIs, so tokens issued
after the start are listed too.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from flask import Blueprint, current_app, render_template
from flask_login import login_required

bp = Blueprint("demo_info", __name__)

SANDBOX_TIMEOUT = 5
UNREACHABLE_MESSAGE = "デモ環境の{name}サンドボックスに接続できませんでした。`make demo` が動いているか確認してください。"


@dataclass(frozen=True)
class KintoneAccess:
    """One API token of the kintone sandbox and what it opens."""

    subdomain: str
    app_id: str
    app_name: str
    token: str
    permissions: tuple[str, ...]


@dataclass(frozen=True)
class HaihaiAccess:
    """One API user of the 配配メール sandbox."""

    url: str
    login_id: str
    token: str


def is_demo(config) -> bool:
    """True when the app runs inside `flask demo run` (both sandbox addresses are known)."""
    return bool(config.get("DEMO_KINTONE_URL") and config.get("DEMO_HAIHAI_URL"))


def kintone_access(base_url: str) -> list[KintoneAccess]:
    """Every active API token the kintone sandbox issued (GET /_sandbox/tokens)."""
    with requests.get(f"{base_url}/_sandbox/tokens", timeout=SANDBOX_TIMEOUT) as response:
        response.raise_for_status()
        tokens = response.json()["tokens"]
    return [
        KintoneAccess(
            t["subdomain"], t["app"], t.get("app_name") or "", t["token"], tuple(t["permissions"])
        )
        for t in tokens
        if t.get("active", True)
    ]


def haihai_access(base_url: str) -> list[HaihaiAccess]:
    """Every API user of every 配配メール sandbox account (GET /_sandbox/accounts)."""
    with requests.get(f"{base_url}/_sandbox/accounts", timeout=SANDBOX_TIMEOUT) as response:
        response.raise_for_status()
        accounts = response.json()["accounts"]
    return [
        HaihaiAccess(account["base_url"], user["login_id"], user["api_token"])
        for account in accounts
        for user in account.get("users", [])
        if user.get("api_token")
    ]


@bp.get("/demo/connection")
@login_required
def connection():
    """The page: kintone subdomain/app/token and 配配メール URL/login/token of the sandboxes."""
    config = current_app.config
    kintone, haihai, errors = [], [], []
    try:
        kintone = kintone_access(config["DEMO_KINTONE_URL"].rstrip("/"))
    except (requests.RequestException, KeyError, ValueError):
        errors.append(UNREACHABLE_MESSAGE.format(name="kintone"))
    try:
        haihai = haihai_access(config["DEMO_HAIHAI_URL"].rstrip("/"))
    except (requests.RequestException, KeyError, ValueError):
        errors.append(UNREACHABLE_MESSAGE.format(name="配配メール"))
    return render_template("demo/connection.html", kintone=kintone, haihai=haihai, errors=errors)
