"""The fixed RH01 fields of the reaction and Bridge apps (manual 付録4.2, 4.4, 5.2) and the check
of an app against them (pure).

Every fixed field is written by the connector on each record; none may be 必須 or 重複禁止. The
same definitions build the 「kintoneテンプレート」 downloads and the apps 「kintoneアプリを作成」
creates, and they are what 「アプリを確認」 and every run check before writing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portal.syncs.kintone_schema import type_label

LINKAGE = "連携項目"
SYSTEM = "システム管理用"


@dataclass(frozen=True)
class FixedField:
    """One field the connector writes: its code, 表示名, type and creation settings."""

    code: str
    label: str
    type: str
    purpose: str = LINKAGE
    note: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def type_label(self) -> str:
        """The type's name as kintone shows it (e.g. 文字列 (1行))."""
        return type_label(self.type)

    def properties(self) -> dict[str, Any]:
        """The field as app/form/fields.json takes it (not required, no duplicates rule)."""
        prop: dict[str, Any] = {
            "type": self.type,
            "code": self.code,
            "label": self.label,
            "noLabel": False,
            "required": False,
        }
        if self.type == "DATETIME":
            prop["defaultNowValue"] = False  # 「レコード登録時の日時を初期値にする」 off (付録4.4)
        if self.type in ("SINGLE_LINE_TEXT", "LINK", "NUMBER", "DATETIME"):
            prop["unique"] = False
        prop.update(self.settings)
        return prop


_MAIL_LINK = {"protocol": "MAIL"}
_WEB_LINK = {"protocol": "WEB"}
_INTEGER = {"digit": False, "displayScale": "0"}

# 付録4.2: the 連携方式 「メール開封、URLクリック、Web来訪、CV、添付ダウンロード」.
REACTION_FIELDS: tuple[FixedField, ...] = (
    FixedField("RH01MailAddress", "メールアドレス", "LINK", settings=_MAIL_LINK),
    FixedField("RH01RecordDatetime", "日時", "SINGLE_LINE_TEXT"),
    FixedField("RH01RecordDatetime2", "日時(日時型)", "DATETIME"),
    FixedField("RH01ActionType", "区分", "SINGLE_LINE_TEXT"),
    FixedField("RH01MailType", "メール種類", "SINGLE_LINE_TEXT"),
    FixedField("RH01MailId", "メールID", "NUMBER", note="小数桁なし", settings=_INTEGER),
    FixedField("RH01Detail", "内容", "SINGLE_LINE_TEXT"),
    FixedField("RH01ClickURL", "URL", "LINK", settings=_WEB_LINK),
    FixedField("RH01TagName", "タグ名", "SINGLE_LINE_TEXT"),
    FixedField("RH01FileName", "添付ファイルダウンロード名", "SINGLE_LINE_TEXT"),
    FixedField("RH01RecordDate", "管理_日付", "SINGLE_LINE_TEXT", purpose=SYSTEM),
    FixedField(
        "RH01RecordLastUpdateDate", "管理_配配メールコネクタ連携日時", "SINGLE_LINE_TEXT", SYSTEM
    ),
)

# 付録4.4: the fields of the legacy 連携方式 「メール開封、URLクリック」 (before 2024-06).
_LEGACY_CODES = (
    "RH01MailAddress",
    "RH01RecordDatetime",
    "RH01ActionType",
    "RH01MailType",
    "RH01MailId",
    "RH01Detail",
    "RH01ClickURL",
    "RH01RecordDate",
    "RH01RecordLastUpdateDate",
)
REACTION_LEGACY_FIELDS: tuple[FixedField, ...] = tuple(
    next(f for f in REACTION_FIELDS if f.code == code) for code in _LEGACY_CODES
)

# 付録5.2: the Bridge form app.
BRIDGE_FIELDS: tuple[FixedField, ...] = (
    FixedField("RH01FormId", "フォームID", "NUMBER", settings=_INTEGER),
    FixedField("RH01FormName", "フォーム名", "SINGLE_LINE_TEXT"),
    FixedField("RH01AnswerId", "回答ID", "NUMBER", settings=_INTEGER),
    FixedField("RH01AnswerDateTime", "回答日時", "DATETIME", note="秒なし"),
    FixedField("RH01Answer", "回答", "MULTI_LINE_TEXT"),
    FixedField("RH01HaihaiCustId", "顧客ID", "NUMBER", settings=_INTEGER),
    FixedField("RH01RecordDate", "管理_日付", "SINGLE_LINE_TEXT", purpose=SYSTEM),
    FixedField(
        "RH01RecordLastUpdateDate", "管理_配配メールコネクタ連携日時", "SINGLE_LINE_TEXT", SYSTEM
    ),
    FixedField(
        "RH01RecordTimeStamp",
        "管理_TimeStamp",
        "SINGLE_LINE_TEXT",
        SYSTEM,
        note="回答日時が秒までセットされます",
    ),
    FixedField("RH01MailAddress", "メールアドレス", "LINK", settings=_MAIL_LINK),
)


@dataclass(frozen=True)
class FieldProblem:
    """Something about an app that stops the connector from writing to it."""

    code: str
    label: str  # the label the user sees (the app's, or the template's when missing)
    kind: str  # missing · type · required · unique · other_required
    message: str
    blocks_runs: bool = True  # a run refuses to start (fixed fields missing or retyped)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def check_app(
    properties: Mapping[str, Mapping[str, Any]],
    fixed: Sequence[FixedField],
    mapped: Sequence[str] = (),
) -> list[FieldProblem]:
    """Every problem of an app (its form/fields.json `properties`) for the given fixed fields.

    Missing or retyped fixed fields block runs; a fixed field set to 必須 / 重複禁止, or another
    field that is 必須 without a default and not mapped, makes kintone refuse the records.
    """
    problems: list[FieldProblem] = []
    for want in fixed:
        prop = properties.get(want.code)
        if prop is None:
            problems.append(
                FieldProblem(
                    want.code,
                    want.label,
                    "missing",
                    f"フィールド「{want.label}」（フィールドコード: {want.code}、"
                    f"{type_label(want.type)}）がありません。",
                )
            )
            continue
        label = str(prop.get("label", want.code))
        if prop.get("type") != want.type:
            problems.append(
                FieldProblem(
                    want.code,
                    label,
                    "type",
                    f"フィールド「{label}」（フィールドコード: {want.code}）のフィールドの種類が"
                    f"{type_label(str(prop.get('type')))}になっています。"
                    f"{type_label(want.type)}のフィールドにしてください。",
                )
            )
            continue
        if _flag(prop.get("required")):
            problems.append(
                FieldProblem(
                    want.code,
                    label,
                    "required",
                    f"フィールド「{label}」（フィールドコード: {want.code}）の"
                    "「必須項目にする」のチェックを外してください。",
                    blocks_runs=False,
                )
            )
        if _flag(prop.get("unique")):
            problems.append(
                FieldProblem(
                    want.code,
                    label,
                    "unique",
                    f"フィールド「{label}」（フィールドコード: {want.code}）の"
                    "「値の重複を禁止する」のチェックを外してください。",
                    blocks_runs=False,
                )
            )
    written = {f.code for f in fixed} | set(mapped)
    for code, prop in properties.items():
        if code in written or not _flag(prop.get("required")):
            continue
        if prop.get("defaultValue") not in (None, "", []) or _flag(prop.get("defaultNowValue")):
            continue  # kintone fills the default on every added record
        label = str(prop.get("label", code))
        problems.append(
            FieldProblem(
                code,
                label,
                "other_required",
                f"フィールド「{label}」（フィールドコード: {code}）は「必須項目にする」が"
                "設定されているため、配配メールコネクタから登録できません。"
                "チェックを外すか、連携項目に設定してください。",
                blocks_runs=False,
            )
        )
    return problems


def blocking(problems: Sequence[FieldProblem]) -> list[FieldProblem]:
    """The problems that stop a run before it writes anything."""
    return [p for p in problems if p.blocks_runs]
