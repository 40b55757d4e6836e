"""Command line: `python -m sandbox kintone|haihai --port P [--data FILE]`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Start the named sandbox in the foreground; return the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m sandbox")
    parser.add_argument("service", choices=["kintone", "haihai"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", default=None, help="JSON file of initial data (admin API shapes)")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)

    from sandbox.serve import serve_forever

    if args.service == "kintone":
        from sandbox.kintone import create_app
    else:
        from sandbox.haihai import create_app
    app = create_app(data_file=args.data)
    print(f"{args.service} sandbox on http://127.0.0.1:{args.port}", flush=True)
    serve_forever(app, args.port, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
