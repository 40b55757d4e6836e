"""Test processes a real worker can run: named in PORTAL_EXTRA_PROCESSES=tests.jobs.processes."""

from __future__ import annotations

import time

from portal.runs.context import RunContext, RunFailed, RunOutcome
from portal.runs.registry import REACTION_GROUP, SYNC_GROUP, register_process

SLEEP = "test:sleep"
SLEEP_REACTION = "test:sleep_reaction"
FAIL = "test:fail"
CRASH = "test:crash"
LIMITED = "test:limited"

FAIL_MESSAGE = "テスト用の連携エラーです。kintone APIトークンを確認してください。"


def sleep_in_steps(context: RunContext) -> RunOutcome:
    """Work for params["seconds"] in ten steps, reporting progress after each."""
    seconds = float(context.params.get("seconds", 0.5))
    steps = int(context.params.get("steps", 10))
    for step in range(1, steps + 1):
        time.sleep(seconds / steps)
        context.progress(step * 10, steps * 10)
    return RunOutcome(
        processed=steps * 10, total=steps * 10, message_detail=context.params.get("message")
    )


def fail(context: RunContext) -> RunOutcome:
    """End in エラー with a specific message after some progress."""
    context.progress(3, 7)
    raise RunFailed(FAIL_MESSAGE)


def crash(context: RunContext) -> RunOutcome:
    """An unexpected error (a bug)."""
    raise ZeroDivisionError("boom")


def quick(context: RunContext) -> RunOutcome:
    """Succeed at once with one record."""
    return RunOutcome(processed=1, total=1)


register_process(SLEEP, sleep_in_steps, name="テスト処理", group=SYNC_GROUP)
register_process(SLEEP_REACTION, sleep_in_steps, name="テスト処理 (反応)", group=REACTION_GROUP)
register_process(FAIL, fail, name="テスト失敗処理", group=SYNC_GROUP)
register_process(CRASH, crash, name="テスト異常処理", group=SYNC_GROUP)
register_process(LIMITED, quick, name="テスト回数制限処理", group=SYNC_GROUP, daily_limit=10)
