"""No orphan after `kill -9` of a worker, and no more password checks than the lock allows
under concurrent attempts (issue #14, item 7)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from tests.faults.conftest import alive, children, gunicorn
from tests.jobs.conftest import wait_for
from tests.support.accounts import DEFAULT_PASSWORD, create_account

pytestmark = pytest.mark.faults


def test_killing_a_worker_takes_its_scheduler_child_with_it(faults):
    worker = faults.worker("--with-scheduler", name="parent")
    # Idle, the worker's only child is RQ's scheduler for delayed jobs.
    (child,) = wait_for(lambda: children(worker.pid), timeout=60)
    wait_for(lambda: "Scheduler for default started" in faults.log_text(), timeout=30)

    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)

    wait_for(lambda: not alive(child), timeout=10)


def test_forty_concurrent_wrong_passwords_get_no_more_checks_than_the_limit(faults):
    create_account(faults.app, "HC0001")
    with gunicorn(faults) as portal:
        token = portal.csrf("/login")
        cookies = portal.http.cookies.get_dict()
        barrier = threading.Barrier(40)
        statuses: list[int] = []

        def attempt() -> None:
            import requests

            with requests.Session() as http:
                http.cookies.update(cookies)
                barrier.wait()
                response = http.post(
                    portal.url + "/login",
                    data={"connector_id": "HC0001", "password": "Wrong#Pass1", "csrf_token": token},
                    allow_redirects=False,
                    timeout=120,
                )
                statuses.append(response.status_code)

        attempts = [threading.Thread(target=attempt) for _ in range(40)]
        for thread in attempts:
            thread.start()
        for thread in attempts:
            thread.join(timeout=180)

        # The limit is 5: four wrong passwords are answered as such, the fifth check locks the
        # ID, and every other attempt is refused as locked without its password being checked.
        assert len(statuses) == 40
        assert statuses.count(401) == 4, sorted(statuses)
        assert statuses.count(429) == 36, sorted(statuses)
        # The right password waits for the lock too.
        right = portal.http.post(
            portal.url + "/login",
            data={"connector_id": "HC0001", "password": DEFAULT_PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=60,
        )
        assert right.status_code == 429
