"""Logging of every portal process: one format (key=value text, or JSON with LOG_FORMAT=json),
structured event lines, and the demotion of per-poll / per-tick chatter to DEBUG.

`event(log, "run.succeeded", run_id=…, seconds=…)` writes one line: in text mode
``run.succeeded run_id=01H… seconds=12.3``, in JSON mode (python-json-logger) an object whose
keys are the fields plus time, level, logger, event and message, so log collectors need no
parsing rules.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_HANDLER_NAME = "portal"
_SAFE_VALUE = re.compile(r"[^\s\"=]+")

# Lines that repeat for every job or scheduler loop. They stay available at DEBUG; the
# portal's own run.* lines say what happened to each run.
_COLOR = r"(?:\x1b\[[0-9;]*m)?"
CHATTY_LINES: dict[str, tuple[str, ...]] = {
    "rq.worker": (
        # "Worker w1: default: <job id>" (a job taken), then its outcome and its result's TTL.
        rf"^Worker \S+: {_COLOR}[\w.-]+{_COLOR}: ",
        r"Job OK",
        r"^Successfully completed ",
        r"result is kept for|result discarded immediately|result will never expire",
        r"cleaning (?:group )?registries",
    ),
    # A second scheduler is harmless by design; it need not say so every five seconds.
    "rq_scheduler.scheduler": (r"^Lock already taken - skipping run",),
}


def format_value(value: object) -> str:
    """A field value for a key=value line (quoted when it holds spaces, quotes or '=')."""
    if value is None:
        return "-"
    if isinstance(value, float):
        value = round(value, 3)
    text = str(value)
    return text if _SAFE_VALUE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields) -> None:
    """Log one structured line named `name` with `fields` (never pass secrets).

    Field names must not be LogRecord attributes (``process``, ``message``, …): they become
    top-level keys of the JSON line.
    """
    if not logger.isEnabledFor(level):
        return
    text = " ".join([name, *(f"{key}={format_value(value)}" for key, value in fields.items())])
    logger.log(level, "%s", text, extra={"event": name, **fields})


class DemoteFilter(logging.Filter):
    """Turns matching INFO/WARNING lines of one logger into DEBUG lines (dropped unless DEBUG)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        super().__init__()
        self.pattern = re.compile("|".join(f"(?:{p})" for p in patterns))

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a demoted line when its logger does not log DEBUG."""
        if record.levelno not in (logging.INFO, logging.WARNING):
            return True
        if not self.pattern.search(record.getMessage()):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def make_formatter(log_format: str | None = None) -> logging.Formatter:
    """The formatter for LOG_FORMAT: "json" (python-json-logger) or anything else for text."""
    chosen = (log_format or os.environ.get("LOG_FORMAT", "text")).strip().lower()
    if chosen != "json":
        return logging.Formatter(TEXT_FORMAT)
    from pythonjsonlogger.json import JsonFormatter

    # time, level, logger and message first; an event's fields follow as top-level keys.
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        json_ensure_ascii=False,
    )


def configure_logging(level: str | None = None, log_format: str | None = None) -> None:
    """Set up the root logger once per process: level, format and the demotions."""
    root = logging.getLogger()
    chosen_level = (level or os.environ.get("PORTAL_LOG_LEVEL") or "INFO").upper()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        root.addHandler(handler)
    handler.setFormatter(make_formatter(log_format))
    root.setLevel(chosen_level)
    # Alembic announces each of its plugins whenever a process loads the migration scripts.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    for name, patterns in CHATTY_LINES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, DemoteFilter) for f in logger.filters):
            logger.addFilter(DemoteFilter(patterns))
