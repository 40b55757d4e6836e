"""SQLModel tables, one module per area. Importing this package registers every table."""

from portal.models.accounts import Account, LoginSession  # noqa: F401
from portal.models.common import new_ulid, utcnow
from portal.models.connectors import Connector
from portal.models.customer_syncs import CustomerSyncRow  # noqa: F401
from portal.models.event_imports import (  # noqa: F401
    EventImportMapping,
    EventImportSettings,
    EventWatermark,
)
from portal.models.runs import Run, RunPart, Schedule  # noqa: F401
from portal.models.settings import ConnectorSettings, FieldMappingRow, ViewUrlSettingsRow  # noqa: F401
from portal.models.stop_ban import StopBanSettingsRow  # noqa: F401

__all__ = ["Account", "Connector", "new_ulid", "utcnow"]
