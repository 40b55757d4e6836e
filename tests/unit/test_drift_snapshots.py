"""Snapshot diffs of 配配メール settings and the kintone drift reasons (pure functions)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portal.integrations.haihai import DatabaseItem, Form, Group, StepPlan
from portal.settings import messages as msg
from portal.settings.haihai_drift import (
    HaihaiDiff,
    Removed,
    Renamed,
    build_snapshot,
    diff_snapshots,
    item_type_label,
)
from portal.settings.step_fields import breaking_changes, drift_reason
from portal.syncs.kintone_schema import ChangeKind, diff_fields


def _snapshot(items=(), groups=(), plans=(), forms=()):
    return {
        "items": [{"id": i, "label": n} for i, n in items],
        "groups": [{"id": i, "name": n} for i, n in groups],
        "step_plans": [{"id": i, "name": n} for i, n in plans],
        "forms": [{"id": i, "name": n} for i, n in forms],
    }


def test_build_snapshot_keeps_ids_names_and_the_email_flag():
    snapshot = build_snapshot(
        "https://a03.hm-f.jp/m1/",
        [
            DatabaseItem("I1", "メールアドレス", "email", is_email=True),
            DatabaseItem("I2", "業種", "select", options=("製造業", "小売業")),
        ],
        [Group("1", "メルマガ")],
        [StepPlan("9", "フォロー")],
        None,
    )
    assert snapshot == {
        "source": "https://a03.hm-f.jp/m1/",
        "items": [
            {
                "id": "I1",
                "label": "メールアドレス",
                "type": "email",
                "is_email": True,
                "options": [],
            },
            {
                "id": "I2",
                "label": "業種",
                "type": "select",
                "is_email": False,
                "options": ["製造業", "小売業"],
            },
        ],
        "groups": [{"id": "1", "name": "メルマガ"}],
        "step_plans": [{"id": "9", "name": "フォロー"}],
        "forms": [],
        "bridge": False,
    }
    with_forms = build_snapshot("u", [], [], [], [Form("F1", "お問い合わせ")])
    assert with_forms["bridge"] is True and with_forms["forms"] == [
        {"id": "F1", "name": "お問い合わせ"}
    ]


def test_item_type_labels_are_the_names_haihai_shows():
    assert item_type_label("multiselect") == "セレクトボックス(複数選択)"
    assert item_type_label("int") == "数値(整数)"
    assert item_type_label("mystery") == "mystery"


def test_diff_by_id_separates_renames_from_removals():
    old = _snapshot(
        items=[("I1", "氏名"), ("I2", "旧姓")],
        groups=[("1", "A"), ("99", "配信グループ099")],
        plans=[("99", "ステップメール099")],
        forms=[("F1", "問い合わせ"), ("F2", "資料請求")],
    )
    new = _snapshot(
        items=[("I1", "お名前"), ("I3", "新項目")],
        groups=[("1", "A")],
        plans=[],
        forms=[("F1", "お問い合わせ")],
    )
    diff = diff_snapshots(old, new)
    assert diff.renamed_items == (Renamed("I1", "氏名", "お名前"),)
    assert diff.removed_items == (Removed("I2", "旧姓"),)
    assert diff.removed_groups == (Removed("99", "配信グループ099"),)
    assert diff.removed_step_plans == (Removed("99", "ステップメール099"),)
    assert diff.renamed_forms == (Renamed("F1", "問い合わせ", "お問い合わせ"),)
    assert diff.removed_forms == (Removed("F2", "資料請求"),)
    assert diff.warnings == [
        "配配メールの項目「氏名」の表示名が「お名前」に変更されました。連携項目設定は自動的に更新されました。",
        "配配メールのフォーム「問い合わせ」の名称が「お問い合わせ」に変更されました。"
        "連携設定は自動的に更新されました。",
    ]


def test_first_sync_has_no_diff():
    assert diff_snapshots({}, _snapshot(items=[("I1", "x")])) == HaihaiDiff()


names = st.dictionaries(
    st.sampled_from(["1", "2", "3", "4", "5"]), st.sampled_from(["a", "b", "c"]), max_size=5
)


@given(names, names)
def test_every_old_id_is_kept_renamed_or_removed_exactly_once(old, new):
    diff = diff_snapshots(
        _snapshot(groups=old.items(), items=old.items()),
        _snapshot(groups=new.items(), items=new.items()),
    )
    removed = {r.id for r in diff.removed_items}
    renamed = {r.id for r in diff.renamed_items}
    assert removed == set(old) - set(new)
    assert renamed == {k for k in old if k in new and old[k] != new[k]}
    assert {r.id for r in diff.removed_groups} == removed


def test_kintone_drift_reasons_follow_the_manual():
    old = {
        "a": {"type": "SINGLE_LINE_TEXT", "label": "A"},
        "b": {"type": "SINGLE_LINE_TEXT", "label": "B", "required": False},
        "c": {"type": "SINGLE_LINE_TEXT", "label": "C"},
    }
    new = {
        "b": {"type": "SINGLE_LINE_TEXT", "label": "B2", "required": True},
        "c": {"type": "SINGLE_LINE_TEXT", "label": "C2"},
    }
    changes = diff_fields(old, new)
    breaking = breaking_changes(changes)
    assert set(breaking) == {"a", "b"}
    assert breaking["a"].kind is ChangeKind.REMOVED
    assert drift_reason(breaking["a"]) == msg.KINTONE_FIELD_DELETED
    assert drift_reason(breaking["b"]) == msg.KINTONE_FIELD_CHANGED
    assert "c" not in breaking  # a renamed label only warns
