"""The process registry: process keys, their 連携ログ names, exclusion groups and handlers.

Sync modules register their handler for a built-in key with `@register_handler("view_url")`;
their module is listed in HANDLER_MODULES so a worker imports it before running. Modules named
in the environment variable PORTAL_EXTRA_PROCESSES (comma-separated) are imported too, which
lets tests and later connectors add processes of their own with `register_process`.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from dataclasses import dataclass, replace

from portal.runs.context import Handler

log = logging.getLogger(__name__)

# Exclusion groups (manual 付録6.3): one run per group and connector at a time.
SYNC_GROUP = "sync"  # 顧客情報連携 (any), 配信停止禁止顧客連携, 顧客閲覧URL連携
REACTION_GROUP = "reaction"
BRIDGE_GROUP = "bridge"

CUSTOMER_SYNC_COUNT = 10
CUSTOMER_KEYS = tuple(f"customer:{n}" for n in range(1, CUSTOMER_SYNC_COUNT + 1))
CUSTOMER_PLUGIN = "customer_plugin"
STOP_BAN = "stop_ban"
VIEW_URL = "view_url"
REACTION = "reaction"
BRIDGE = "bridge"

# Modules whose import registers the handlers of built-in processes.
HANDLER_MODULES: tuple[str, ...] = ("portal.syncs.view_url", "portal.syncs.customer_handlers")
EXTRA_MODULES_ENV = "PORTAL_EXTRA_PROCESSES"


class UnknownProcess(KeyError):
    """No process is registered under this key."""


@dataclass(frozen=True)
class Process:
    """A kind of run: its key, its name in the 連携ログ, its exclusion group and limits."""

    key: str
    name: str
    group: str
    daily_limit: int | None = None  # runs per connector and calendar day (account time zone)
    schedule_variant: str = "standard"  # standard · daily · bridge (see the schedule editor)
    overlap_checked: bool = True  # part of the 付録6.3 save-time schedule check
    handler: Handler | None = None

    @property
    def number(self) -> int | None:
        """The setting number of 顧客情報連携 N, else None."""
        if self.key.startswith("customer:"):
            return int(self.key.split(":", 1)[1])
        return None


def _builtin() -> dict[str, Process]:
    processes = {
        key: Process(key, f"顧客情報連携 {n}", SYNC_GROUP)
        for n, key in enumerate(CUSTOMER_KEYS, start=1)
    }
    processes[CUSTOMER_PLUGIN] = Process(
        CUSTOMER_PLUGIN, "顧客情報連携 (kintoneからの実行)", SYNC_GROUP, overlap_checked=False
    )
    processes[STOP_BAN] = Process(
        STOP_BAN, "配信停止 / 禁止顧客一覧連携", SYNC_GROUP, daily_limit=10
    )
    processes[VIEW_URL] = Process(VIEW_URL, "顧客閲覧URL連携", SYNC_GROUP)
    processes[REACTION] = Process(
        REACTION,
        "顧客反応履歴情報取込連携",
        REACTION_GROUP,
        schedule_variant="daily",
        overlap_checked=False,
    )
    processes[BRIDGE] = Process(
        BRIDGE, "Bridgeフォーム連携", BRIDGE_GROUP, schedule_variant="bridge", overlap_checked=False
    )
    return processes


_lock = threading.Lock()
_processes: dict[str, Process] = _builtin()
_loaded_modules: set[str] = set()


def builtin_process_keys() -> tuple[str, ...]:
    """The built-in process keys in the order the 実行 page lists them."""
    return (*CUSTOMER_KEYS, CUSTOMER_PLUGIN, STOP_BAN, VIEW_URL, REACTION, BRIDGE)


def register_handler(key: str):
    """Decorator: make the decorated function the handler of built-in process `key`."""

    def decorate(handler: Handler) -> Handler:
        with _lock:
            if key not in _processes:
                raise UnknownProcess(key)
            _processes[key] = replace(_processes[key], handler=handler)
        return handler

    return decorate


def register_process(
    key: str,
    handler: Handler,
    *,
    name: str,
    group: str,
    daily_limit: int | None = None,
) -> Process:
    """Register (or replace) a process that is not built in, e.g. a later connector's."""
    process = Process(
        key, name, group, daily_limit=daily_limit, overlap_checked=False, handler=handler
    )
    with _lock:
        _processes[key] = process
    return process


def load_handler_modules() -> None:
    """Import HANDLER_MODULES and the modules named in PORTAL_EXTRA_PROCESSES (once each).

    A built-in module that fails to import is logged and skipped: its processes end in エラー
    (no handler) while every other process keeps working.
    """
    extra = [m.strip() for m in os.environ.get(EXTRA_MODULES_ENV, "").split(",") if m.strip()]
    for module in (*HANDLER_MODULES, *extra):
        if module in _loaded_modules:
            continue
        try:
            importlib.import_module(module)
        except Exception:
            if module in extra:
                raise
            log.exception("handler module failed to import module=%s", module)
        _loaded_modules.add(module)


def get_process(key: str) -> Process:
    """The process registered under `key`, with its handler if one is registered."""
    load_handler_modules()
    try:
        return _processes[key]
    except KeyError:
        raise UnknownProcess(key) from None


def is_known(key: str) -> bool:
    """True when `key` names a registered process."""
    try:
        get_process(key)
    except UnknownProcess:
        return False
    return True


def process_name(key: str) -> str:
    """The 連携処理名 of `key` as the 連携ログ shows it (the key itself if unknown)."""
    process = _processes.get(key)
    return process.name if process else key


def lock_group(key: str) -> str:
    """The exclusion group of process `key`."""
    return get_process(key).group
