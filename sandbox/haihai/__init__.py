"""Local stand-in for the 配配メール API (spec: shared/specs/haihai-api.md §2–§4)."""

from .app import HaihaiSandbox, create_app

__all__ = ["HaihaiSandbox", "create_app"]
