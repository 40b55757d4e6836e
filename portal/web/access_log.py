"""gunicorn's logger for the portal: polling requests at DEBUG, the portal's format everywhere.

A page with a running run polls /runs/<id>/row every two seconds and re-reads /runs/log when a
run changes; load balancers poll /healthz. One access line per poll drowns everything else, so
those requests are logged at DEBUG (shown with ``--log-level debug``); every other request keeps
its access line. With LOG_FORMAT=json the access lines are `http.request` JSON objects and
gunicorn's own messages are JSON too. Configured in gunicorn.conf.py (``logger_class``).
"""

from __future__ import annotations

import logging
import os
import re

from gunicorn.glogging import Logger

from portal.logs import configure_logging, event, make_formatter

# GET requests that a browser or a load balancer repeats by itself.
POLLING_PATHS = re.compile(r"^/(?:healthz|runs/log|runs/[0-9A-HJKMNP-TV-Z]{26}/row)$")


def is_polling(method: str, path: str) -> bool:
    """True for the self-repeating requests whose access lines go to DEBUG."""
    return method == "GET" and bool(POLLING_PATHS.match(path))


class PortalGunicornLogger(Logger):
    """gunicorn's Logger with polling requests demoted and LOG_FORMAT honoured."""

    def setup(self, cfg) -> None:
        """gunicorn's handlers, then the portal's logging for the app's own loggers."""
        super().setup(cfg)
        self.json = os.environ.get("LOG_FORMAT", "text").strip().lower() == "json"
        configure_logging(logging.getLevelName(self.loglevel), "json" if self.json else "text")
        if self.loglevel <= logging.DEBUG:
            self.access_log.setLevel(logging.DEBUG)
        if self.json:
            for handler in (*self.error_log.handlers, *self.access_log.handlers):
                handler.setFormatter(make_formatter("json"))

    def access(self, resp, req, environ, request_time) -> None:
        """One access line: DEBUG for polling requests, INFO for the rest."""
        if not self.access_log_enabled:
            return
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        level = logging.DEBUG if is_polling(method, path) else logging.INFO
        if not self.access_log.isEnabledFor(level):
            return
        if self.json:
            status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
            event(
                self.access_log,
                "http.request",
                level,
                method=method,
                path=path,
                query=environ.get("QUERY_STRING") or None,
                status=int(status),
                bytes=getattr(resp, "sent", None),
                ms=round(request_time.total_seconds() * 1000, 1),
                remote=environ.get("REMOTE_ADDR"),
            )
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        self.access_log.log(level, self.cfg.access_log_format, atoms)
