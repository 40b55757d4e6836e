"""配配メール settings snapshots and what changed between two of them (pure, no I/O).

A snapshot is the JSON stored after 「配配メール設定の同期」: the customer-database items, delivery
groups, step-mail plans and Bridge forms, each with its ID and name. Re-sync compares snapshots by
ID: a renamed item or form only warns (settings follow the new name); a deleted item, group, step
plan or form clears the selections that named it (manual 付録6.2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# 配配メール item type codes (the client's ItemType values) → the names 配配メール shows.
ITEM_TYPE_LABELS = {
    "text": "テキストボックス",
    "textarea": "テキストエリア",
    "select": "セレクトボックス(単一選択)",
    "multiselect": "セレクトボックス(複数選択)",
    "radio": "ラジオボタン",
    "checkbox": "チェックボックス",
    "date": "日付",
    "int": "数値(整数)",
    "decimal": "数値(小数)",
    "email": "メールアドレス",
}


def item_type_label(code: str) -> str:
    """Japanese name of a 配配メール item type (the code itself when unknown)."""
    return ITEM_TYPE_LABELS.get(code, code)


def build_snapshot(
    source: str,
    items: Iterable[Any],
    groups: Iterable[Any],
    step_plans: Iterable[Any],
    forms: Iterable[Any] | None,
) -> dict[str, Any]:
    """The JSON snapshot of the client's DatabaseItem/Group/StepPlan/Form lists.

    `forms` is None when the account has no Bridge plan (the list is then empty and
    `bridge` False). `source` is the account URL the lists came from.
    """
    return {
        "source": source,
        "items": [
            {
                "id": str(item.item_id),
                "label": item.label,
                "type": str(item.type),
                "is_email": bool(item.is_email),
                "options": list(item.options),
            }
            for item in items
        ],
        "groups": [{"id": str(g.group_id), "name": g.name} for g in groups],
        "step_plans": [{"id": str(p.plan_id), "name": p.name} for p in step_plans],
        "forms": [{"id": str(f.form_id), "name": f.name} for f in (forms or [])],
        "bridge": forms is not None,
    }


@dataclass(frozen=True)
class Renamed:
    """An object that kept its ID but changed its name."""

    id: str
    old_name: str
    new_name: str


@dataclass(frozen=True)
class Removed:
    """An object of the previous snapshot that no longer exists."""

    id: str
    name: str


@dataclass(frozen=True)
class HaihaiDiff:
    """Differences between two snapshots, by kind of object."""

    renamed_items: tuple[Renamed, ...] = ()
    removed_items: tuple[Removed, ...] = ()
    removed_groups: tuple[Removed, ...] = ()
    removed_step_plans: tuple[Removed, ...] = ()
    renamed_forms: tuple[Renamed, ...] = ()
    removed_forms: tuple[Removed, ...] = ()

    @property
    def warnings(self) -> list[str]:
        """Japanese warning lines for renamed items and forms (settings follow automatically)."""
        lines = [
            f"配配メールの項目「{r.old_name}」の表示名が「{r.new_name}」に変更されました。"
            "連携項目設定は自動的に更新されました。"
            for r in self.renamed_items
        ]
        lines += [
            f"配配メールのフォーム「{r.old_name}」の名称が「{r.new_name}」に変更されました。"
            "連携設定は自動的に更新されました。"
            for r in self.renamed_forms
        ]
        return lines


def _by_id(entries: Iterable[Mapping[str, Any]], name_key: str) -> dict[str, str]:
    return {str(entry["id"]): str(entry.get(name_key, "")) for entry in entries}


def _renamed(old: dict[str, str], new: dict[str, str]) -> tuple[Renamed, ...]:
    return tuple(
        Renamed(key, name, new[key]) for key, name in old.items() if key in new and new[key] != name
    )


def _removed(old: dict[str, str], new: dict[str, str]) -> tuple[Removed, ...]:
    return tuple(Removed(key, name) for key, name in old.items() if key not in new)


def diff_snapshots(old: Mapping[str, Any], new: Mapping[str, Any]) -> HaihaiDiff:
    """What changed from `old` to `new`, matched by ID (empty diff when `old` is empty)."""
    if not old:
        return HaihaiDiff()
    old_items, new_items = (_by_id(s.get("items", []), "label") for s in (old, new))
    old_groups, new_groups = (_by_id(s.get("groups", []), "name") for s in (old, new))
    old_plans, new_plans = (_by_id(s.get("step_plans", []), "name") for s in (old, new))
    old_forms, new_forms = (_by_id(s.get("forms", []), "name") for s in (old, new))
    return HaihaiDiff(
        renamed_items=_renamed(old_items, new_items),
        removed_items=_removed(old_items, new_items),
        removed_groups=_removed(old_groups, new_groups),
        removed_step_plans=_removed(old_plans, new_plans),
        renamed_forms=_renamed(old_forms, new_forms),
        removed_forms=_removed(old_forms, new_forms),
    )
