"""The 配配メール-kintone connector type: Steps 1–4 shared, one folder per process.

Adding a process to this type: create its folder (PROCESSES, SECTION, BLUEPRINTS) and list it in
PROCESS_FOLDERS below. See docs/extending.md. The kintone plugin (its package, downloads and
inbound endpoint) lives in `plugin/`; it starts the `customer_plugin` process of `customer/`.
"""

from __future__ import annotations

from portal.connector_types.haihai_kintone import (
    bridge,
    customer,
    plugin,
    reaction,
    stop_ban,
    view_url,
)
from portal.connector_types.haihai_kintone.config import load_config
from portal.connector_types.registry import ConnectorType
from portal.models.connectors import HAIHAI_KINTONE
from portal.settings.steps import SHARED_SECTIONS

# Process folders in the order the 実行 page lists them.
PROCESS_FOLDERS = (customer, stop_ban, view_url, reaction, bridge)

CONNECTOR_TYPE = ConnectorType(
    kind=HAIHAI_KINTONE,
    label="配配メール-kintone 連携",
    sections=(*SHARED_SECTIONS, *(folder.SECTION for folder in PROCESS_FOLDERS)),
    processes=tuple(p for folder in PROCESS_FOLDERS for p in folder.PROCESSES),
    load_config=load_config,
    blueprints=(
        *(bp for folder in PROCESS_FOLDERS for bp in folder.BLUEPRINTS),
        *plugin.BLUEPRINTS,
    ),
    inbound=plugin.INBOUND,
    demo_hooks=tuple(folder.DEMO for folder in PROCESS_FOLDERS if folder.DEMO is not None),
)
