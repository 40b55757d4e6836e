"""kintone URLs, query-string parameters and record queries (pure helpers, no HTTP)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

URL_LENGTH_LIMIT = 4096  # switch GET → POST + X-HTTP-Method-Override above this (js-sdk rule)
MAX_PAGE_SIZE = 500  # records per GET records / cursor page
MAX_OFFSET = 10_000
RECORDS_PER_REQUEST = 100  # POST/PUT/DELETE records.json
REQUESTS_PER_BULK = 20  # bulkRequest.json
RECORDS_PER_BULK = RECORDS_PER_REQUEST * REQUESTS_PER_BULK
MAX_TOKENS_PER_REQUEST = 9
MAX_QUERY_STRING_FIELDS = 100

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def kintone_base_url(template: str, subdomain: str) -> str:
    """Fill `{subdomain}` of a base-URL template after validating the subdomain syntax."""
    if template.count("{subdomain}") != 1:
        raise ValueError("the kintone URL template must contain {subdomain} exactly once")
    candidate = subdomain.strip().lower()
    if not _SUBDOMAIN_RE.match(candidate):
        raise ValueError(
            f"invalid kintone subdomain {subdomain!r}: use letters, digits and hyphens "
            "(no dots, no leading or trailing hyphen, at most 63 characters)"
        )
    url = template.replace("{subdomain}", candidate).rstrip("/")
    check_base_url(url)
    return url


def check_base_url(url: str) -> None:
    """Raise ValueError unless `url` is an https URL (http only to loopback) without query."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid kintone base URL {url!r}")
    # Credentials travel in headers: plain HTTP is acceptable only to a local sandbox.
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ValueError(f"kintone base URL must use https: {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"kintone base URL must not carry a query or fragment: {url!r}")


def encode_query_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Serialise GET parameters the kintone way: `ids[0]=1`, booleans as `true`/`false`."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            for index, item in enumerate(value):
                pairs.append((f"{key}[{index}]", _scalar(item)))
        elif isinstance(value, Mapping):
            raise TypeError(f"parameter {key!r} cannot be sent in a query string")
        else:
            pairs.append((key, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list | tuple):
        raise TypeError("nested values cannot be sent in a query string")
    return str(value)


_STRING_LITERAL_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_ORDER_BY_RE = re.compile(r"\border\s+by\b", re.I)
_LIMIT_OFFSET_RE = re.compile(r"\b(limit|offset)\s+\d+", re.I)


@dataclass(frozen=True)
class SplitQuery:
    """A kintone query split into its condition and its `order by ...` clause (without limit)."""

    condition: str
    order_by: str


def split_query(query: str) -> SplitQuery:
    """Split `query` into condition and `order by` (string literals are not looked into).

    Raises ValueError when the query carries `limit`/`offset`: reading everything owns those.
    """
    masked = _STRING_LITERAL_RE.sub(lambda m: "_" * len(m.group(0)), query)
    if _LIMIT_OFFSET_RE.search(masked):
        raise ValueError("the query must not contain limit/offset when reading every record")
    match = _ORDER_BY_RE.search(masked)
    if not match:
        return SplitQuery(query.strip(), "")
    return SplitQuery(query[: match.start()].strip(), query[match.start() :].strip())


def seek_query(
    condition: str,
    after: int,
    page_size: int,
    *,
    before: int | None = None,
    descending: bool = False,
) -> str:
    """The `$id` seek query of one page: ids in (after, before), `page_size` of them, in id order."""
    head = f"$id > {after}"
    if before is not None:
        head += f" and $id < {before}"
    if condition:
        head = f"({head}) and ({condition})"
    return f"{head} order by $id {'desc' if descending else 'asc'} limit {page_size}"


def record_id(record: Mapping[str, Any]) -> int:
    """The `$id` of a record as read."""
    return int(record["$id"]["value"])
