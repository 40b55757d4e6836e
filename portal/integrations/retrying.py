"""Retry policy shared by the outbound clients: exponential backoff with full jitter, bounded.

A policy bounds a call three ways: `attempts` in all, at most `max_timeouts` attempts that ended
in a timeout (a service that did not answer within the timeout rarely answers a moment later,
and each such attempt costs a whole timeout), and `budget` seconds after the first attempt
started, after which no retry begins. The worst case of one call is therefore about
`budget` plus one attempt's connect and read timeouts; the figures the portal uses are in
docs/decisions.md (「kintone・配配メールへの通信のタイムアウトと再試行」).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before retrying a transient failure.

    `max_timeouts` None: every attempt may time out; `budget` None: no time limit beyond the
    attempts and their delays.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_timeouts: int | None = None
    budget: float | None = None

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """Yield the wait before each retry (attempts - 1 values), full-jitter exponential."""
        rng = rng or random.Random()
        for retry in range(self.attempts - 1):
            ceiling = min(self.max_delay, self.base_delay * (2**retry))
            yield rng.uniform(ceiling / 2, ceiling)


NO_RETRY = RetryPolicy(attempts=1)


def call_with_retries(
    func: Callable[[], T],
    is_transient: Callable[[BaseException], bool],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[BaseException, float], None] | None = None,
    retry_after: Callable[[BaseException], float | None] | None = None,
    is_timeout: Callable[[BaseException], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call `func`; retry only errors `is_transient` accepts, within `policy`; re-raise the last.

    `is_timeout` tells which failures count against `policy.max_timeouts`; `clock` measures
    `policy.budget` (both exist so the clients and the tests can drive them).
    """
    delays = policy.delays()
    started = clock()
    timeouts = 0
    while True:
        try:
            return func()
        except Exception as error:  # noqa: BLE001 - the predicate decides what is retried
            if is_timeout is not None and is_timeout(error):
                timeouts += 1
            if not is_transient(error):
                raise
            if policy.max_timeouts is not None and timeouts >= policy.max_timeouts:
                raise
            delay = next(delays, None)
            if delay is None:
                raise
            hinted = retry_after(error) if retry_after else None
            if hinted is not None:
                delay = max(delay, min(hinted, policy.max_delay))
            if policy.budget is not None and clock() - started + delay > policy.budget:
                raise
            if on_retry:
                on_retry(error, delay)
            sleep(delay)
