"""Retry policy shared by the outbound clients: exponential backoff with full jitter."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before retrying a transient failure."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0

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
) -> T:
    """Call `func`; retry only errors `is_transient` accepts, waiting per `policy`; re-raise the last."""
    delays = policy.delays()
    while True:
        try:
            return func()
        except Exception as error:  # noqa: BLE001 - the predicate decides what is retried
            if not is_transient(error):
                raise
            delay = next(delays, None)
            if delay is None:
                raise
            hinted = retry_after(error) if retry_after else None
            if hinted is not None:
                delay = max(delay, min(hinted, policy.max_delay))
            if on_retry:
                on_retry(error, delay)
            sleep(delay)
