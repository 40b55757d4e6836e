"""One factory builds every client of the portal, with the documented timeouts and retries."""

from __future__ import annotations

import pathlib
import re

import pytest

from portal.integrations import haihai as haihai_api
from portal.integrations import kintone as kintone_api
from portal.syncs.clients import (
    INTERACTIVE,
    RUN,
    haihai_client,
    kintone_access,
    kintone_client,
    make_sync_clients,
)
from portal.syncs.config import ConnectorConfig, HaihaiAccess, KintoneAccess
from portal.syncs.context import RunFailed

KINTONE = KintoneAccess("https://example.cybozu.com", "example", "3", "token")
HAIHAI = HaihaiAccess("https://a03.hm-f.jp/m12345/", "user", "token")


def test_profiles_bound_every_call():
    for profile in (RUN, INTERACTIVE):
        for policy in (profile.kintone_retry, profile.haihai_retry):
            assert policy.max_timeouts is not None and policy.budget is not None
    # A frozen service: the run gives up after two read timeouts, the settings page after one.
    assert RUN.kintone_retry.max_timeouts * RUN.timeout == 60
    assert INTERACTIVE.kintone_retry.max_timeouts * INTERACTIVE.timeout == 15


def test_clients_take_the_profile_and_the_access():
    with kintone_client(KINTONE, profile=INTERACTIVE) as kintone:
        assert (kintone.base_url, kintone.timeout, kintone.connect_timeout) == (
            "https://example.cybozu.com",
            INTERACTIVE.timeout,
            INTERACTIVE.connect_timeout,
        )
        assert kintone.retry is INTERACTIVE.kintone_retry and kintone.ledger is None
    with haihai_client(HAIHAI, allow_local=False) as haihai:
        assert haihai.account.base_url == HAIHAI.base_url
        assert haihai.retry is RUN.haihai_retry
        assert (haihai.timeout, haihai.import_timeout) == (RUN.timeout, RUN.import_timeout)
        assert haihai.transport.connect_timeout == RUN.connect_timeout


def test_kintone_access_fills_the_url_template():
    access = kintone_access("http://127.0.0.1:9/{subdomain}", "Demo", "1", "t")
    assert access.base_url == "http://127.0.0.1:9/demo"
    assert kintone_access(None, "demo", "1", "t").base_url == "https://demo.cybozu.com"
    with pytest.raises(ValueError):
        kintone_access(None, "bad.sub", "1", "t")


def test_sync_clients_need_both_accesses_and_refuse_malformed_ones():
    with pytest.raises(RunFailed, match="Step3"):
        make_sync_clients(ConnectorConfig("c", "n", haihai=HAIHAI), allow_local=False)
    with pytest.raises(RunFailed, match="Step2"):
        make_sync_clients(ConnectorConfig("c", "n", kintone=KINTONE), allow_local=False)
    local = HaihaiAccess("http://127.0.0.1:9/m1/", "user", "token")
    with pytest.raises(RunFailed) as refused:
        make_sync_clients(
            ConnectorConfig("c", "n", kintone=KINTONE, haihai=local), allow_local=False
        )
    assert refused.value.code == "settings"
    kintone, haihai = make_sync_clients(
        ConnectorConfig("c", "n", kintone=KINTONE, haihai=local), allow_local=True
    )
    assert isinstance(kintone, kintone_api.KintoneClient)
    assert isinstance(haihai, haihai_api.HaihaiClient)
    kintone.close()
    haihai.close()


def test_nothing_else_in_the_portal_constructs_a_client():
    root = pathlib.Path(__file__).resolve().parents[2] / "portal"
    allowed = {root / "syncs" / "clients.py"}
    construct = re.compile(r"\b(KintoneClient|HaihaiClient)\(")
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path not in allowed
        and "integrations" not in path.parts
        and construct.search(path.read_text())
    ]
    assert offenders == []
