"""Waiting out a Redis outage: retry a Redis call with backoff for a bounded time.

Workers, the scheduler and running runs use Redis for locks, queues and the shared API
budget. A Redis restart or a network blip must not end a run that could simply continue a
minute later, so their Redis calls go through `through_outage`, which retries connection
errors for up to `wait` seconds and re-raises the last error after that.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import redis

log = logging.getLogger(__name__)

T = TypeVar("T")

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
FIRST_DELAY = 0.2
# The longest pause between two attempts, i.e. how late a caller notices that Redis is back.
MAX_DELAY = 2.0


def backoff_delays(first: float = FIRST_DELAY, cap: float = MAX_DELAY):
    """Endless waits between attempts: doubling from `first` up to `cap` seconds."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * 2)


def through_outage(
    call: Callable[[], T],
    wait: float,
    *,
    what: str = "redis call",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Return `call()`; while Redis is unreachable retry for up to `wait` seconds, then re-raise."""
    deadline = clock() + max(0.0, wait)
    delays = backoff_delays()
    started: float | None = None
    while True:
        try:
            result = call()
        except REDIS_ERRORS as error:
            now = clock()
            if now >= deadline:
                if started is not None:
                    log.error(
                        "redis still unavailable after %.1f s, giving up: %s", now - started, what
                    )
                raise
            if started is None:
                started = now
                log.warning("redis unavailable, waiting up to %.0f s: %s (%s)", wait, what, error)
            sleep(min(next(delays), deadline - now))
            continue
        if started is not None:
            log.warning("redis available again after %.1f s: %s", clock() - started, what)
        return result
