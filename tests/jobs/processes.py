"""A test connector type whose processes a real worker can run.

Named in PORTAL_EXTRA_CONNECTOR_TYPES=tests.jobs.processes.
"""

from __future__ import annotations

import time

from portal.connector_types.haihai_kintone.groups import REACTION_GROUP, SYNC_GROUP
from portal.connector_types.registry import ConnectorType, ProcessSpec
from portal.syncs.context import RunContext, RunFailed, RunOutcome

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


def _load_config(session, connector, app_config):
    return None


CONNECTOR_TYPE = ConnectorType(
    kind="test_jobs",
    label="テスト用コネクター",
    sections=(),
    processes=(
        ProcessSpec(SLEEP, "テスト処理", SYNC_GROUP, sleep_in_steps),
        ProcessSpec(SLEEP_REACTION, "テスト処理 (反応)", REACTION_GROUP, sleep_in_steps),
        ProcessSpec(FAIL, "テスト失敗処理", SYNC_GROUP, fail),
        ProcessSpec(CRASH, "テスト異常処理", SYNC_GROUP, crash),
        ProcessSpec(LIMITED, "テスト回数制限処理", SYNC_GROUP, quick, daily_limit=10),
    ),
    load_config=_load_config,
)
