"""A test connector type of the fault suite (PORTAL_EXTRA_CONNECTOR_TYPES=…,tests.faults.processes)."""

from __future__ import annotations

import time

from portal.connector_types.haihai_kintone.groups import SYNC_GROUP
from portal.connector_types.registry import ConnectorType, ProcessSpec
from portal.syncs.context import RunContext, RunOutcome

HANG = "test:hang"
# Short enough for a test to watch the run end by its job timeout.
HANG_TIMEOUT = 15


def hang(context: RunContext) -> RunOutcome:
    """Never finish on its own (a frozen service without a read timeout, say)."""
    while True:
        time.sleep(0.2)


def _load_config(session, connector, app_config):
    return None


CONNECTOR_TYPE = ConnectorType(
    kind="test_faults",
    label="テスト用コネクター (障害)",
    sections=(),
    processes=(ProcessSpec(HANG, "テスト停止処理", SYNC_GROUP, hang, job_timeout=HANG_TIMEOUT),),
    load_config=_load_config,
)
