"""What the 実行 page offers for a connector, and the refusals of a manual start.

Shared by the 実行 page (portal.runs.views) and `flask runs start` (portal.runs.cli), so both
list the same processes and refuse the same starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.connector_types.registry import ProcessSpec, get_connector_type

TIMING_OFF_HINT = "連携設定で「連携しない」となっているため実行できません。"
MSG_NOT_OFFERED = (
    "「{key}」はこの連携設定で実行できる連携処理ではありません（実行できるもの: {keys}）。"
)


@dataclass(frozen=True)
class RunTarget:
    """One row of the 実行 page: a process of the connector's type and its 連携タイミング."""

    process: ProcessSpec
    timing: str
    options: dict[str, Any] = field(default_factory=dict)  # variables of its options template

    @property
    def key(self) -> str:
        """The process key."""
        return self.process.key

    @property
    def name(self) -> str:
        """The 連携処理名."""
        return self.process.name

    @property
    def enabled(self) -> bool:
        """「実行する」 is clickable unless the process is set to 連携しない."""
        return self.timing != "off"

    @property
    def dom_id(self) -> str:
        """An HTML id for this process."""
        return "process-" + self.key.replace(":", "-")


class StartRefused(Exception):
    """A manual start the 実行 page would not offer; `message` says why (Japanese)."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code  # "not_offered" (no such process here) or "timing_off" (連携しない)


def run_targets(connector, config: Any) -> list[RunTarget]:
    """The processes the 実行 page lists for `connector`, as its type declares them."""
    targets = []
    for process in get_connector_type(connector.kind).run_page_processes():
        timing = process.timing_for(config)
        if timing is not None:
            options = process.run_options(config) if process.run_options and config else {}
            targets.append(RunTarget(process, timing, options))
    return targets


def run_params(process: ProcessSpec, form: Any, config: Any) -> dict[str, Any]:
    """The params of a manual run from the posted options (a MultiDict).

    A process with `prepare_params` checks them itself (RunOptionsInvalid refuses the start);
    otherwise only the parameters it declares are kept (nothing else reaches Run.params).
    """
    if process.prepare_params is not None:
        return process.prepare_params(form, config)
    return {k: v for k, v in form.items() if k in process.params}


def startable_target(connector, config: Any, process_key: str) -> RunTarget:
    """The 実行 page's target `process_key`; StartRefused when the page would not start it."""
    targets = run_targets(connector, config)
    target = next((t for t in targets if t.key == process_key), None)
    if target is None:
        keys = ", ".join(t.key for t in targets if t.enabled) or "なし"
        raise StartRefused(MSG_NOT_OFFERED.format(key=process_key, keys=keys), code="not_offered")
    if not target.enabled:
        raise StartRefused(TIMING_OFF_HINT, code="timing_off")
    return target
