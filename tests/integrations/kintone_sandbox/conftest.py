"""Fixtures of the kintone sandbox conformance tests."""

from __future__ import annotations

import pytest
import requests
from ksb_helpers import ALL_TYPES_FIELDS, KintoneDriver


@pytest.fixture
def kt(kintone_sandbox: str):
    """A driver for a freshly reset sandbox."""
    with requests.Session() as session:
        yield KintoneDriver(kintone_sandbox, session)


@pytest.fixture
def full_app(kt: KintoneDriver) -> tuple[int, str]:
    """An app with every field type and a token with all record permissions."""
    app = kt.create_app(ALL_TYPES_FIELDS)
    return app, kt.token(app, "view", "add", "edit", "delete")
