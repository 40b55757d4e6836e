"""A faithful local stand-in for kintone's REST API (see README.md in this folder)."""

from __future__ import annotations

import json

from sandbox.kintone.app import KintoneSandbox


def create_app(data_file: str | None = None) -> KintoneSandbox:
    """A thread-safe WSGI app; `data_file` is a JSON file of admin-API bodies loaded at start."""
    data = None
    if data_file:
        with open(data_file, encoding="utf-8") as handle:
            data = json.load(handle)
    return KintoneSandbox(data)


__all__ = ["KintoneSandbox", "create_app"]
