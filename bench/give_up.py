"""How long a call takes to give up on a frozen or failing service, with the portal's profiles.

Starts both sandboxes in this process and, per scenario, builds the client through the portal's
factory (`portal.syncs.clients`, RUN or INTERACTIVE profile) and times one call until it raises:

* kintone frozen: every answer delayed by `--latency-ms` (default 600 s, i.e. never in time)
* 配配メール frozen: the same on the 配配メール sandbox
* kintone 503 storm: every call answered 503 (retried with backoff until the budget ends)
* 配配メール 500 on the CSV upload: never resent

Each scenario prints the elapsed time, the error, the attempts and the message the user reads.

    .venv/bin/python -m bench.give_up                        # RUN profile (takes ~4 minutes)
    .venv/bin/python -m bench.give_up --profile interactive
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from bench.common import peak_rss_mb, print_result, standard_parser
from portal.integrations.haihai import HaihaiError, ImportOptions
from portal.integrations.kintone import KintoneError
from portal.messages.haihai import haihai_message
from portal.messages.kintone import customer_sync_step, kintone_message
from portal.syncs.clients import INTERACTIVE, RUN, haihai_client, kintone_client
from portal.syncs.config import HaihaiAccess, KintoneAccess

SUB = "bench"
ACCOUNT = "m70001"
LOGIN_ID = "bench-user"
TOKEN = "bench-token"
CSV = '"メールアドレス"\r\n"a@example.jp"\r\n'.encode()


def _post(session: requests.Session, url: str, body: dict) -> dict:
    response = session.post(url, json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def _timed(call: Callable[[], object], describe: Callable[[Exception], str]) -> dict:
    started = time.monotonic()
    try:
        call()
    except (KintoneError, HaihaiError) as error:
        cause = getattr(error, "cause", None)
        return {
            "seconds": round(time.monotonic() - started, 1),
            "error": type(error).__name__ + (f"({type(cause).__name__})" if cause else ""),
            "attempts": error.attempts,
            "message": describe(error),
        }
    raise SystemExit("the call did not fail")


def main() -> None:
    parser = standard_parser(__doc__.splitlines()[0], records=1, latency_ms=600_000)
    parser.add_argument("--profile", choices=("run", "interactive"), default="run")
    args = parser.parse_args()
    profile = RUN if args.profile == "run" else INTERACTIVE

    from sandbox.haihai import create_app as haihai_app
    from sandbox.kintone import create_app as kintone_app
    from sandbox.serve import serve_in_thread

    kintone_server = serve_in_thread(kintone_app())
    haihai_server = serve_in_thread(haihai_app())
    http = requests.Session()
    k_admin, h_admin = f"{kintone_server.url}/_sandbox", f"{haihai_server.url}/_sandbox"
    fields = {"mail": {"type": "SINGLE_LINE_TEXT", "code": "mail", "label": "メール"}}
    app = _post(http, f"{k_admin}/apps", {"subdomain": SUB, "fields": fields})["app"]
    token = _post(
        http, f"{k_admin}/tokens", {"subdomain": SUB, "app": app, "permissions": ["view"]}
    )["token"]
    user = {"login_id": LOGIN_ID, "email": "bench@example.jp", "api_token": TOKEN}
    _post(http, f"{h_admin}/accounts", {"account_key": ACCOUNT, "users": [user]})
    kintone = KintoneAccess(f"{kintone_server.url}/{SUB}", SUB, app, token)
    haihai = HaihaiAccess(f"{haihai_server.url}/{ACCOUNT}/", LOGIN_ID, TOKEN)
    step = customer_sync_step(app)

    def on_kintone(knobs: dict) -> Callable[[], object]:
        _post(http, f"{k_admin}/config", knobs)
        client = kintone_client(kintone, profile=profile)
        return lambda: client.get_records(int(app))

    def on_haihai(knobs: dict, call: Callable) -> Callable[[], object]:
        _post(http, f"{h_admin}/config", knobs)
        client = haihai_client(haihai, allow_local=True, profile=profile)
        return lambda: call(client)

    started = time.monotonic()
    runs = {}
    runs["kintone_frozen"] = _timed(
        on_kintone({"latency_ms": args.latency_ms}), lambda e: kintone_message(e, step)
    )
    _post(http, f"{k_admin}/config", {"latency_ms": 0})
    storm = {"faults": [{"path": "*", "status": 503, "code": "GAIA_MA01", "times": 100_000}]}
    runs["kintone_503_storm"] = _timed(on_kintone(storm), lambda e: kintone_message(e, step))
    runs["haihai_frozen"] = _timed(
        on_haihai({"latency_ms": args.latency_ms}, lambda c: c.list_groups()), haihai_message
    )
    fault = {"latency_ms": 0, "faults": [{"action": "ScheduleCsvImport", "status": 500}]}
    runs["haihai_upload_500"] = _timed(
        on_haihai(fault, lambda c: c.import_csv(CSV, ImportOptions())), haihai_message
    )
    for name, run in runs.items():
        print(f"{name:20} {run['seconds']:6.1f} s  {run['error']} × {run['attempts']}")
        print(f"{'':20} {run['message']}")
    print_result(
        {
            "name": "give_up",
            "records": args.records,
            "seconds": round(time.monotonic() - started, 1),
            "calls": {name: run["attempts"] for name, run in runs.items()},
            "peak_rss_mb": peak_rss_mb(),
            "profile": profile.name,
            "runs": runs,
        }
    )


if __name__ == "__main__":
    main()
