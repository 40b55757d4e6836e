"""The partitioned `$id` reader against the kintone sandbox over real HTTP: k partitions read
every record exactly once (dense and sparse ids), within the call budget, without a 429."""

from __future__ import annotations

import math

import pytest
import requests

from portal.syncs.clients import kintone_access, kintone_client
from portal.syncs.record_read import ParallelRecordReader, read_records

SUB = "partitions"
COUNT = 4_321


def _post(base: str, path: str, body: dict) -> dict:
    response = requests.post(f"{base}/_sandbox/{path}", json=body, timeout=60)
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture
def app(kintone_sandbox):
    """An app of COUNT records (ids 1..COUNT) and a client with a read/delete token."""
    fields = {"mail": {"type": "SINGLE_LINE_TEXT", "label": "メールアドレス"}}
    app_id = _post(kintone_sandbox, "apps", {"subdomain": SUB, "fields": fields})["app"]
    token = _post(
        kintone_sandbox,
        "tokens",
        {"subdomain": SUB, "app": app_id, "permissions": ["view", "delete"]},
    )["token"]
    records = [{"mail": {"value": f"u{i}@example.jp"}} for i in range(1, COUNT + 1)]
    _post(kintone_sandbox, "records", {"subdomain": SUB, "app": app_id, "records": records})
    access = kintone_access(f"{kintone_sandbox}/{{subdomain}}", SUB, str(app_id), token)
    with kintone_client(access) as client:
        yield client, int(app_id)


def _stats(base: str) -> dict:
    return requests.get(f"{base}/_sandbox/stats", params={"subdomain": SUB}, timeout=10).json()


def _read(client, app_id: int, partitions: int, query: str = "") -> list[int]:
    reader = read_records(client, app_id, query, ["mail"], partitions=partitions)
    assert isinstance(reader, ParallelRecordReader) and reader.partitions == partitions
    with reader:
        rows = [(int(r["$id"]["value"]), r["mail"]["value"]) for r in reader]
    ids = [record_id for record_id, _ in rows]
    assert all(mail == f"u{i}@example.jp" for i, mail in rows)
    return ids


@pytest.mark.parametrize("partitions", [1, 2, 4, 8])
def test_k_partitions_read_every_dense_record_exactly_once(app, kintone_sandbox, partitions):
    client, app_id = app
    _post(kintone_sandbox, "config", {"latency_ms": 5})
    _post(kintone_sandbox, "stats/reset", {})
    ids = _read(client, app_id, partitions)
    assert len(ids) == COUNT and set(ids) == set(range(1, COUNT + 1))
    stats = _stats(kintone_sandbox)
    # Dense ids: the pages and the probe, nothing more.
    assert stats["total"] <= math.ceil(COUNT / 500) + 1
    concurrency = stats["concurrency"][SUB]
    assert concurrency["rejected"] == 0
    # The first page and the probe together, then one request per partition at a time.
    assert concurrency["peak"] <= max(2, partitions)


@pytest.mark.parametrize("partitions", [3, 8])
def test_k_partitions_read_every_sparse_record_exactly_once(app, kintone_sandbox, partitions):
    client, app_id = app
    gone = [i for i in range(1, COUNT + 1) if i % 3 == 0 or 1200 < i < 2900]
    client.delete_records(app_id, gone)
    expected = set(range(1, COUNT + 1)) - set(gone)
    _post(kintone_sandbox, "stats/reset", {})
    ids = _read(client, app_id, partitions)
    assert len(ids) == len(expected) and set(ids) == expected
    stats = _stats(kintone_sandbox)
    assert stats["total"] <= math.ceil(len(expected) / 500) + 1 + 2 * partitions
    assert stats["concurrency"][SUB]["rejected"] == 0


def test_a_condition_is_applied_by_every_partition(app, kintone_sandbox):
    client, app_id = app
    ids = _read(client, app_id, 4, 'mail != "u5@example.jp" and mail != "u4000@example.jp"')
    assert sorted(ids) == [i for i in range(1, COUNT + 1) if i not in (5, 4000)]
