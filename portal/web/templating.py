"""Template filters and globals: dates in the account's time zone, Japanese formats."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g
from flask_login import current_user


def account_timezone() -> ZoneInfo:
    """The signed-in account's time zone, else the portal default (Asia/Tokyo)."""
    # Pages format hundreds of times (a 50-row 連携ログ); resolve the user proxy once per request.
    cached = g.get("account_zone")
    if cached is not None:
        return cached
    name = getattr(current_user, "timezone", None) if current_user else None
    zone = ZoneInfo(name or current_app.config.get("PORTAL_TIMEZONE", "Asia/Tokyo"))
    if getattr(current_user, "is_authenticated", False):
        g.account_zone = zone
    return zone


def to_local(value: dt.datetime | None) -> dt.datetime | None:
    """`value` (aware UTC) converted to the account's time zone."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(account_timezone())


def format_jp_datetime(value: dt.datetime | None) -> str:
    """`2023年02月15日 17:15:24` in the account's time zone; empty for None."""
    local = to_local(value)
    return local.strftime("%Y年%m月%d日 %H:%M:%S") if local else ""


def format_time(value: dt.datetime | None) -> str:
    """`17:15:38` in the account's time zone; empty for None."""
    local = to_local(value)
    return local.strftime("%H:%M:%S") if local else ""


def init_app(app: Flask) -> None:
    """Register the filters on `app`."""
    app.jinja_env.filters["jp_datetime"] = format_jp_datetime
    app.jinja_env.filters["hms"] = format_time
    app.jinja_env.filters["local"] = to_local
