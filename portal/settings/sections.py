"""The 連携設定 page is a list of sections (one per Step); this module is their protocol and registry.

A section renders its own template inside the page's single form, parses and validates its part of
the posted form, stores what it parsed, reacts to schema drift found by the two sync buttons and
contributes its part of the typed configuration. A connector type lists its sections
(`portal.connector_types.registry.ConnectorType.sections`); the shared Steps 1–4 live in
`portal.settings.steps`, each process's Step in its process folder. See docs/settings.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import MultiDict

from portal.connector_types.registry import get_connector_type

if TYPE_CHECKING:
    from sqlmodel import Session

    from portal.models import Connector
    from portal.models.settings import ConnectorSettings
    from portal.settings.haihai_drift import HaihaiDiff
    from portal.syncs.config import ScheduleSpec
    from portal.syncs.kintone_schema import FieldChange

# Modules whose import registers sections. A new Step adds its module here (one line).
SECTION_MODULES: list[str] = [
    "portal.settings.steps",
    "portal.connector_types.haihai_kintone.customer.section",
]

# Events the sync endpoints send (HX-Trigger) after they changed stored settings; a section
# listing one in `refresh_on` re-renders itself from the stored state when it fires.
KINTONE_SYNCED = "kintoneSynced"
HAIHAI_SYNCED = "haihaiSynced"


@dataclass(frozen=True)
class DriftEntry:
    """One line of a 同期結果詳細 dialog: a setting that a re-sync removed or cleared.

    `group` is the heading the line appears under (「連携項目」, 「顧客情報連携設定 1」 …);
    `headers` are that group's column headings, the last being 「エラー内容」; `cells` the values.
    """

    group: str
    headers: tuple[str, ...]
    cells: tuple[str, ...]
    section: str = ""  # key of the section whose stored settings changed (set by the sync)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (stored in the sync report)."""
        return {
            "group": self.group,
            "headers": list(self.headers),
            "cells": list(self.cells),
            "section": self.section,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DriftEntry:
        """The inverse of to_json."""
        return cls(
            str(data["group"]),
            tuple(data["headers"]),
            tuple(data["cells"]),
            str(data.get("section") or ""),
        )


@dataclass
class SectionContext:
    """What a section sees while rendering, parsing, storing or reacting to drift."""

    session: Session
    connector: Connector
    settings: ConnectorSettings
    app_config: Mapping[str, Any]
    # Data parsed so far in this save, by section key (sections are parsed in page order, so a
    # later section can read what an earlier one accepted, e.g. the 連携設定方法 of Step2).
    parsed: dict[str, Any] = field(default_factory=dict)
    # True when the user confirmed the schedule-overlap dialog (§4.2).
    confirmed: bool = False

    @property
    def kintone_fields(self) -> dict[str, Any]:
        """The customer app's fields as last synced (`properties` of form/fields.json)."""
        return dict(self.settings.kintone_fields or {})

    @property
    def haihai_snapshot(self) -> dict[str, Any]:
        """配配メール items, groups, step plans and forms as last synced ({} before any sync)."""
        return dict(self.settings.haihai_snapshot or {})

    @property
    def haihai_method(self) -> str:
        """連携設定方法 being saved (when Step2 was parsed) or stored."""
        step2 = self.parsed.get("step2")
        if step2 is not None:
            return step2.method
        return self.settings.haihai_method


class Section:
    """Base class of a settings section; override what the Step needs (all hooks optional)."""

    key: str = ""
    order: int = 0
    title: str = ""
    template: str = ""
    # Sync events (KINTONE_SYNCED, HAIHAI_SYNCED) after which the section re-renders itself.
    refresh_on: tuple[str, ...] = ()
    # Form fields holding secrets (API tokens): exported only on request, and then encrypted.
    secret_fields: tuple[str, ...] = ()

    def stored_values(self, ctx: SectionContext) -> dict[str, Any]:
        """Template values from the stored settings (first render, refresh after a sync)."""
        return {}

    def posted_values(self, form: MultiDict, ctx: SectionContext) -> dict[str, Any]:
        """Template values from a posted form (re-render after a failed save): same keys."""
        return {}

    def view_context(self, ctx: SectionContext, values: dict[str, Any]) -> dict[str, Any]:
        """Extra template variables for `values` (choices from the synced snapshots, labels …)."""
        return {}

    def parse(self, form: MultiDict, ctx: SectionContext) -> tuple[Any, dict[str, str]]:
        """Validate this section's part of `form` → (data, {field name: Japanese message})."""
        return None, {}

    def store(self, ctx: SectionContext, data: Any) -> None:
        """Write `data` (as returned by parse, without errors) to the section's tables."""

    def schedules(self, data: Any) -> dict[str, ScheduleSpec | None]:
        """Schedules this section configures, by run process key (None: not scheduled)."""
        return {}

    def editor_prefix(self, process_key: str) -> str:
        """The name prefix of the schedule editor of `process_key` (one of `schedules`' keys)."""
        return process_key.replace(":", "-")

    def on_kintone_drift(self, ctx: SectionContext, changes: list[FieldChange]) -> list[DriftEntry]:
        """Remove stored settings that changed kintone fields break; describe each removal."""
        return []

    def on_haihai_drift(self, ctx: SectionContext, diff: HaihaiDiff) -> list[DriftEntry]:
        """Clear stored selections of deleted 配配メール objects; describe each one."""
        return []

    def claimed_fields(self, ctx: SectionContext, data: Any) -> dict[str, str]:
        """kintone fields of the customer app this Step uses as parsed (`data`), by field code →
        the use in words (see portal.syncs.field_claims); a Step writing a field checks these."""
        return {}

    def config_values(self, ctx: SectionContext) -> dict[str, Any]:
        """Keyword arguments a shared Step contributes to the type's configuration object."""
        return {}

    def config_value(self, ctx: SectionContext) -> Any:
        """This Step's own configuration object (the process's config type); None: nothing."""
        return None

    def form_fields(self, ctx: SectionContext) -> MultiDict:
        """The stored state as the fields this section posts, secrets in clear (export/import).

        Posting the result through `save_settings` must store the same state again. The default
        turns `stored_values` into fields (see `fields_from_values`) and checks them with
        `posted_values`, which must read the same values back; a section whose template values
        are not its fields (other names, rows, schedule editors) overrides this, else the default
        raises NotImplementedError rather than export something the import would misread.
        """
        values = self.stored_values(ctx)
        fields = fields_from_values(self.key, values)
        if self.posted_values(fields, ctx) != values:
            raise NotImplementedError(
                f"section {self.key!r}: posting its stored values back does not read them again "
                "(its template values are not its form fields); override Section.form_fields"
            )
        return fields

    def synced_state(self, ctx: SectionContext) -> dict[str, Any] | None:
        """What a sync button fetched and this section keeps (a JSON-able dict); None: nothing.

        Exported as data next to the form fields; it is not input the page validates.
        """
        return None

    def restore_synced_state(self, ctx: SectionContext, data: Mapping[str, Any]) -> dict[str, str]:
        """Store `data` as `synced_state` returned it (import) → {sub-path: Japanese message}.

        Called before the form is validated, inside the import's transaction.
        """
        return {"": MSG_NO_SYNCED_STATE}


MSG_NO_SYNCED_STATE = "このセクションには同期データがありません。"


def fields_from_values(section_key: str, values: Mapping[str, Any]) -> MultiDict:
    """Template values as posted fields: strings and numbers as text, True as "1" (a checked
    box), False and None left out (an unchecked box), lists/tuples/sets as repeated fields.

    Raises NotImplementedError for any other value: the section must override `form_fields`.
    """
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        for item in items if isinstance(items, list | tuple) else [items]:
            if item is None or item is False:
                continue
            if item is True:
                pairs.append((name, "1"))
            elif isinstance(item, str | int | float):
                pairs.append((name, str(item)))
            else:
                raise NotImplementedError(
                    f"section {section_key!r}: value {name!r} ({type(item).__name__}) is not a "
                    "form field; override Section.form_fields"
                )
    return MultiDict(pairs)


def sections_for(connector: Connector) -> list[Section]:
    """The sections of `connector`'s type, in page order."""
    return get_connector_type(connector.kind).ordered_sections()


def drift_of(section: Section, entries: list[DriftEntry]) -> list[DriftEntry]:
    """`entries` a section reported, marked as its own."""
    return [replace(entry, section=section.key) for entry in entries]


def drifted_sections(report: Mapping[str, Any] | None) -> set[str]:
    """Keys of the sections whose stored settings the sync of `report` changed."""
    return {str(e.get("section")) for e in (report or {}).get("entries", []) if e.get("section")}


def claims_parsed_before(ctx: SectionContext, section: Section) -> dict[str, str]:
    """The fields claimed by the sections parsed before `section` in this save, first claim kept."""
    claims: dict[str, str] = {}
    for other in sections_for(ctx.connector):
        if other.key != section.key and other.key in ctx.parsed:
            for code, use in other.claimed_fields(ctx, ctx.parsed[other.key]).items():
                claims.setdefault(code, use)
    return claims


def section_for(connector: Connector, key: str) -> Section:
    """The section called `key` of `connector`'s type (KeyError when it has none)."""
    return get_connector_type(connector.kind).section(key)
