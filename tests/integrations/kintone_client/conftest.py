"""Fixtures of the kintone client tests: a reset sandbox, an app, a token and a client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portal.integrations.kintone import KintoneClient, kintone_base_url

from .kintone_client_support import FAST_RETRY, SUB, SandboxAdmin


@pytest.fixture
def admin(kintone_sandbox) -> Iterator[SandboxAdmin]:
    """Admin driver of a freshly reset sandbox."""
    driver = SandboxAdmin(kintone_sandbox)
    yield driver
    driver.http.close()


@pytest.fixture
def base_url(kintone_sandbox) -> str:
    """The client base URL of subdomain `demo` on the sandbox."""
    return kintone_base_url(kintone_sandbox + "/{subdomain}", SUB)


@pytest.fixture
def app(admin) -> int:
    """An app with FIELDS and no records."""
    return admin.create_app()


@pytest.fixture
def full_token(admin, app) -> str:
    """A token of `app` allowed to view, add, edit and delete."""
    return admin.token(app, "view", "add", "edit", "delete")


@pytest.fixture
def client(base_url, full_token) -> Iterator[KintoneClient]:
    """A token client of `app` with fast retries."""
    with KintoneClient(base_url, api_tokens=[full_token], retry=FAST_RETRY, timeout=10) as c:
        yield c
