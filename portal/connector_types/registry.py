"""The registry of connector types and their processes: everything is looked up by kind or key.

A connector type is a folder that builds one `ConnectorType` (its label, settings sections,
processes, configuration loader, blueprints, inbound endpoints, templates and demo data). A process
is a folder that builds one or more `ProcessSpec`. `load_connector_types()` imports the built-in
types (and those named in PORTAL_EXTRA_CONNECTOR_TYPES) once; a type that fails to import stops
the start-up, because a half-loaded portal would run some processes and silently drop others.
See docs/extending.md.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Blueprint
    from sqlmodel import Session

    from portal.models import Connector
    from portal.settings.sections import Section
    from portal.syncs.context import Handler

# Modules whose import defines a built-in connector type (each exposes CONNECTOR_TYPE).
BUILTIN_TYPE_MODULES: tuple[str, ...] = ("portal.connector_types.haihai_kintone",)
EXTRA_TYPES_ENV = "PORTAL_EXTRA_CONNECTOR_TYPES"
# A run longer than its process's job timeout ends in エラー; the default fits a sync of the
# manual's largest apps (1–2 hours) with room to spare, and frees a hung run's worker and group
# the same day.
DEFAULT_JOB_TIMEOUT_SECONDS = 2 * 60 * 60

# 連携タイミング values a process reports for a connector's configuration.
TIMING_OFF = "off"


class UnknownProcess(KeyError):
    """No process is registered under this key."""


class UnknownConnectorType(KeyError):
    """No connector type is registered under this kind."""


@dataclass(frozen=True)
class ProcessSpec:
    """A kind of run, bound to everything it needs: name, group, limits, section and handler.

    `timing(config)` answers the process's 連携タイミング ("off", "manual", "schedule") for a loaded
    configuration, or None when the 実行 page should not list it for that connector (e.g. an
    unused 顧客情報連携設定 number). `params` are the only request parameters a manual run accepts.
    A process with options beside 「実行する」 may give `run_options(config)` (the variables of its
    `run_options_template`) and `prepare_params(form, config)`, which checks the posted options
    and returns the run's params, raising `portal.syncs.context.RunOptionsInvalid` to refuse them.
    """

    key: str
    name: str
    group: str
    handler: Handler
    section: str | None = None  # key of the settings section that configures it
    timing: Callable[[Any], str | None] = field(default=lambda config: TIMING_OFF, repr=False)
    daily_limit: int | None = None  # runs per connector and calendar day (account time zone)
    schedule_variant: str = "standard"  # standard · daily · bridge (see the schedule editor)
    overlap_checked: bool = True  # part of the 付録6.3 save-time schedule check
    on_run_page: bool = True  # False: started from elsewhere (e.g. the kintone plugin)
    params: tuple[str, ...] = ()
    run_options_template: str | None = None  # extra inputs beside 「実行する」
    run_options: Callable[[Any], dict[str, Any]] | None = field(default=None, repr=False)
    prepare_params: Callable[[Any, Any], dict[str, Any]] | None = field(default=None, repr=False)
    job_timeout: int = DEFAULT_JOB_TIMEOUT_SECONDS
    config_type: type | None = None  # what `section`'s config_values contributes
    number: int | None = None  # the setting number of 顧客情報連携 N

    def timing_for(self, config: Any) -> str | None:
        """連携タイミング of this process in `config` ("off" when there is no config)."""
        if config is None:
            return TIMING_OFF
        return self.timing(config)


@dataclass(frozen=True)
class ConnectorType:
    """One kind of connector: what the list offers, the settings page shows and runs execute."""

    kind: str
    label: str
    sections: Sequence[Section]
    processes: Sequence[ProcessSpec]
    # load_config(session, connector, app_config) → the typed configuration its handlers read.
    load_config: Callable[[Session, Connector, Mapping[str, Any]], Any]
    blueprints: Sequence[Blueprint] = ()  # browser routes of its settings (dialogs, checks)
    inbound: Sequence[Blueprint] = ()  # routes called from outside the browser session
    template_folder: Path | None = None
    # demo_hooks: each process folder's configure_demo(ctx), run on the demo connector once its
    # shared Steps are synced with the sandboxes' sample data (portal/demo_fixtures.py).
    demo_hooks: Sequence[Callable[..., None]] = ()
    order: int = 0

    def section(self, key: str) -> Section:
        """Its settings section called `key` (KeyError when it has none)."""
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(key)

    def ordered_sections(self) -> list[Section]:
        """Its sections in page order."""
        return sorted(self.sections, key=lambda section: (section.order, section.key))

    def run_page_processes(self) -> list[ProcessSpec]:
        """Its processes the 実行 page offers, in the order they were declared."""
        return [process for process in self.processes if process.on_run_page]


_lock = threading.RLock()
_types: dict[str, ConnectorType] = {}
_processes: dict[str, tuple[ConnectorType, ProcessSpec]] = {}
_loaded_modules: set[str] = set()


def register_connector_type(connector_type: ConnectorType) -> ConnectorType:
    """Add `connector_type`; its kind and every process key must be new (ValueError if not)."""
    with _lock:
        existing = _types.get(connector_type.kind)
        if existing is connector_type:
            return connector_type
        if existing is not None:
            raise ValueError(f"connector type {connector_type.kind!r} is already registered")
        keys = [process.key for process in connector_type.processes]
        clashes = sorted({key for key in keys if key in _processes or keys.count(key) > 1})
        if clashes:
            raise ValueError(f"process keys registered twice: {', '.join(clashes)}")
        section_keys = {section.key for section in connector_type.sections}
        for process in connector_type.processes:
            if process.handler is None:
                raise ValueError(f"process {process.key!r} has no handler")
            if process.section is not None and process.section not in section_keys:
                raise ValueError(
                    f"process {process.key!r} names unknown section {process.section!r}"
                )
        _types[connector_type.kind] = connector_type
        for process in connector_type.processes:
            _processes[process.key] = (connector_type, process)
    return connector_type


def unregister_connector_type(kind: str) -> None:
    """Remove a type and its processes (for tests that register a throw-away type)."""
    with _lock:
        connector_type = _types.pop(kind, None)
        if connector_type is None:
            return
        for process in connector_type.processes:
            _processes.pop(process.key, None)


def _extra_modules() -> list[str]:
    return [m.strip() for m in os.environ.get(EXTRA_TYPES_ENV, "").split(",") if m.strip()]


def load_connector_types(extra: Sequence[str] = ()) -> None:
    """Import every built-in type module and the extra ones, once each; errors propagate."""
    with _lock:
        for module_name in (*BUILTIN_TYPE_MODULES, *_extra_modules(), *extra):
            if module_name in _loaded_modules:
                continue
            module = importlib.import_module(module_name)
            connector_type = getattr(module, "CONNECTOR_TYPE", None)
            if not isinstance(connector_type, ConnectorType):
                raise TypeError(f"{module_name} defines no CONNECTOR_TYPE")
            register_connector_type(connector_type)
            _loaded_modules.add(module_name)


def connector_types() -> list[ConnectorType]:
    """Every registered connector type, in the order the connector list offers them."""
    load_connector_types()
    return sorted(_types.values(), key=lambda t: (t.order, t.kind))


def get_connector_type(kind: str) -> ConnectorType:
    """The type registered as `kind` (UnknownConnectorType when none is)."""
    load_connector_types()
    try:
        return _types[kind]
    except KeyError:
        raise UnknownConnectorType(kind) from None


def is_known_kind(kind: str) -> bool:
    """True when `kind` names a registered connector type."""
    load_connector_types()
    return kind in _types


def kind_label(kind: str) -> str:
    """The connector type's label as the lists show it (the kind itself when unknown)."""
    load_connector_types()
    connector_type = _types.get(kind)
    return connector_type.label if connector_type else kind


def get_process(key: str) -> ProcessSpec:
    """The process registered under `key` (UnknownProcess when none is)."""
    load_connector_types()
    try:
        return _processes[key][1]
    except KeyError:
        raise UnknownProcess(key) from None


def process_type(key: str) -> ConnectorType:
    """The connector type that offers process `key` (UnknownProcess when none does)."""
    load_connector_types()
    try:
        return _processes[key][0]
    except KeyError:
        raise UnknownProcess(key) from None


def all_processes() -> list[ProcessSpec]:
    """Every registered process of every type."""
    return [process for t in connector_types() for process in t.processes]


def is_known(key: str) -> bool:
    """True when `key` names a registered process."""
    load_connector_types()
    return key in _processes


def process_name(key: str) -> str:
    """The 連携処理名 of `key` as the 連携ログ shows it (the key itself if unknown)."""
    load_connector_types()
    found = _processes.get(key)
    return found[1].name if found else key


def lock_group(key: str) -> str:
    """The exclusion group of process `key`."""
    return get_process(key).group
