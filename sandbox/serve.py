"""Serving helpers shared by every sandbox: a threaded WSGI server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """Request handler that keeps test and benchmark output free of access-log lines."""

    def log_request(self, code="-", size="-") -> None:  # noqa: D401 - silence by design
        return


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    """A WSGI app served from a background thread; `url` has no trailing slash."""

    server: BaseWSGIServer
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def make_threaded_server(app, port: int, quiet: bool = True) -> BaseWSGIServer:
    """Create a multi-threaded server for `app` bound to 127.0.0.1:`port`."""
    server = make_server(
        "127.0.0.1",
        port,
        app,
        threaded=True,
        request_handler=_QuietHandler if quiet else WSGIRequestHandler,
    )
    # Many clients open short-lived connections at once; a deep backlog avoids resets.
    server.socket.listen(256)
    return server


def serve_in_thread(app, port: int | None = None) -> RunningServer:
    """Serve `app` on 127.0.0.1 from a daemon thread and return its handle."""
    port = port or free_port()
    server = make_threaded_server(app, port)
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox-{port}", daemon=True)
    thread.start()
    return RunningServer(server=server, thread=thread, url=f"http://127.0.0.1:{port}")


def serve_forever(app, port: int, quiet: bool = False) -> None:
    """Serve `app` in the foreground until interrupted."""
    server = make_threaded_server(app, port, quiet=quiet)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
