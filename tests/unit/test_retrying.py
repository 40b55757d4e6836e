"""The retry loop's bounds: attempts, timed-out attempts and the time budget (fake clock)."""

from __future__ import annotations

import pytest

from portal.integrations.retrying import RetryPolicy, call_with_retries


class Timeout(Exception):
    pass


class Busy(Exception):
    pass


class Clock:
    """A clock that only moves when the loop sleeps or an attempt takes time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(clock: Clock, errors: list[Exception], cost: float = 0.0):
    calls = []

    def attempt():
        calls.append(clock.now)
        clock.now += cost
        raise errors[min(len(calls), len(errors)) - 1]

    return attempt, calls


def run(policy: RetryPolicy, attempt, clock: Clock):
    return call_with_retries(
        attempt,
        lambda error: True,
        policy,
        sleep=clock.sleep,
        is_timeout=lambda error: isinstance(error, Timeout),
        clock=lambda: clock.now,
    )


def test_without_bounds_every_attempt_is_made():
    clock = Clock()
    attempt, calls = failing(clock, [Timeout()], cost=30)
    with pytest.raises(Timeout):
        run(RetryPolicy(attempts=5, base_delay=0.5, max_delay=20), attempt, clock)
    assert len(calls) == 5


def test_timed_out_attempts_are_capped_but_fast_failures_are_not():
    clock = Clock()
    attempt, calls = failing(clock, [Busy(), Timeout(), Busy(), Timeout(), Busy()], cost=1)
    policy = RetryPolicy(attempts=6, base_delay=0.1, max_delay=0.1, max_timeouts=2)
    with pytest.raises(Timeout):
        run(policy, attempt, clock)
    # Busy, Timeout, Busy, Timeout: the second timeout ends it.
    assert len(calls) == 4


def test_a_frozen_service_is_given_up_after_two_timeouts():
    clock = Clock()
    attempt, calls = failing(clock, [Timeout()], cost=30)
    policy = RetryPolicy(attempts=5, base_delay=0.5, max_delay=20, max_timeouts=2, budget=60)
    with pytest.raises(Timeout):
        run(policy, attempt, clock)
    assert len(calls) == 2
    assert clock.now <= 60 + 0.5  # two timeouts and one short delay


def test_no_retry_starts_after_the_budget():
    clock = Clock()
    attempt, calls = failing(clock, [Busy()], cost=4)
    policy = RetryPolicy(attempts=50, base_delay=1, max_delay=1, budget=10)
    with pytest.raises(Busy):
        run(policy, attempt, clock)
    # Attempts start at 0, ~5, ~10 at the latest; none may start beyond the budget.
    assert all(start <= 10 for start in calls)
    assert clock.now <= 10 + 4
    assert len(calls) < 50


def test_a_server_hint_longer_than_the_budget_ends_the_retries():
    clock = Clock()
    attempt, calls = failing(clock, [Busy()])
    policy = RetryPolicy(attempts=5, base_delay=0.1, max_delay=30, budget=10)
    with pytest.raises(Busy):
        call_with_retries(
            attempt,
            lambda error: True,
            policy,
            sleep=clock.sleep,
            retry_after=lambda error: 20.0,
            clock=lambda: clock.now,
        )
    assert len(calls) == 1 and clock.sleeps == []
