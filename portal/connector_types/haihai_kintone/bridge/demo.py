"""The demo connector's Bridgeフォーム連携 (its app created by portal.demo_events)."""

from __future__ import annotations

from portal.connector_types.haihai_kintone.event_import.demo import configure_demo_import


def configure_demo(ctx) -> None:
    """Sync the demo's bridge app and store this Step's demo settings."""
    configure_demo_import(ctx, "bridge")
