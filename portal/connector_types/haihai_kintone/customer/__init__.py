"""顧客情報連携 1–10 and 顧客情報連携 (kintoneからの実行): Step5, its dialogs and the CSV import.

kintone records flow into 配配メール's customer database, a delivery group or a step-mail plan.
This folder holds the whole process: its configuration type (config), Step5 (section), the
conditions and their dialog routes (conditions, views), the run handlers (handlers) and the sync
itself (sync, in phases: sync_checks, import_plan, values, part_sender, stop_missing, sync_result).
"""

from __future__ import annotations

from collections.abc import Callable

from portal.connector_types.haihai_kintone.customer.config import (
    CUSTOMER_KEYS,
    CUSTOMER_PLUGIN,
    SECTION_KEY,
    CustomerSyncSetting,
    customer_settings,
)
from portal.connector_types.haihai_kintone.customer.demo import configure_demo
from portal.connector_types.haihai_kintone.customer.handlers import run_from_plugin, run_numbered
from portal.connector_types.haihai_kintone.customer.section import CustomerSyncSection
from portal.connector_types.haihai_kintone.customer.views import bp as blueprint
from portal.connector_types.haihai_kintone.groups import SYNC_GROUP
from portal.connector_types.registry import ProcessSpec

SECTION = CustomerSyncSection()
# The manual's largest imports (hundreds of thousands of records) take 1–2 hours.
JOB_TIMEOUT_SECONDS = 3 * 60 * 60
DEMO = configure_demo  # the demo connector's settings of this process
BLUEPRINTS = (blueprint,)


def _timing_of(number: int) -> Callable[[object], str | None]:
    """連携タイミング of setting `number`; the 実行 page lists setting 1 even before any exists."""

    def timing(config) -> str | None:
        settings = customer_settings(config)
        if not settings:
            return "off" if number == 1 else None
        setting = next((s for s in settings if s.number == number), None)
        return setting.timing if setting else None

    return timing


PROCESSES: tuple[ProcessSpec, ...] = (
    *(
        ProcessSpec(
            key=key,
            name=f"顧客情報連携 {number}",
            group=SYNC_GROUP,
            handler=run_numbered,
            section=SECTION_KEY,
            timing=_timing_of(number),
            config_type=CustomerSyncSetting,
            number=number,
            job_timeout=JOB_TIMEOUT_SECONDS,
        )
        for number, key in enumerate(CUSTOMER_KEYS, start=1)
    ),
    ProcessSpec(
        key=CUSTOMER_PLUGIN,
        name="顧客情報連携 (kintoneからの実行)",
        group=SYNC_GROUP,
        handler=run_from_plugin,
        section=SECTION_KEY,
        overlap_checked=False,
        on_run_page=False,
        params=("setting", "query"),
        config_type=CustomerSyncSetting,
        job_timeout=JOB_TIMEOUT_SECONDS,
    ),
)
