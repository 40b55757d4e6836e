"""The connector type the recovery benchmark runs (PORTAL_EXTRA_CONNECTOR_TYPES=bench.recovery_process).

Like a sync its process works in steps, and each step spends one call of the shared API budget
in Redis (as every kintone / 配配メール request does) and checks that the run is still its own.
"""

from __future__ import annotations

import time

from portal.connector_types.haihai_kintone.groups import SYNC_GROUP
from portal.connector_types.registry import ConnectorType, ProcessSpec
from portal.integrations.ledger import DailyLedger
from portal.syncs.context import RunContext, RunOutcome

STEPS = "bench:steps"


def work_in_steps(context: RunContext) -> RunOutcome:
    """params: steps (default 100) of `step_seconds` (default 0.5) each."""
    steps = int(context.params.get("steps", 100))
    pause = float(context.params.get("step_seconds", 0.5))
    ledger = DailyLedger(context.redis, "portal:budget", outage_wait=context.redis_wait)
    for step in range(1, steps + 1):
        ledger.charge("bench")
        context.check_owned()
        time.sleep(pause)
        context.progress(step, steps)
    return RunOutcome(processed=steps, total=steps)


CONNECTOR_TYPE = ConnectorType(
    kind="bench_recovery",
    label="ベンチマーク",
    sections=(),
    processes=(ProcessSpec(STEPS, "ベンチマーク処理", SYNC_GROUP, work_in_steps),),
    load_config=lambda session, connector, app_config: None,
)
