"""App form schema: field properties as in form/fields.json, system fields, default layout."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator

from sandbox.kintone.errors import Collector

# Types that are stored in records and may be written (outside the system set).
WRITABLE_TYPES = frozenset(
    {
        "SINGLE_LINE_TEXT",
        "MULTI_LINE_TEXT",
        "RICH_TEXT",
        "LINK",
        "NUMBER",
        "CHECK_BOX",
        "RADIO_BUTTON",
        "DROP_DOWN",
        "MULTI_SELECT",
        "DATE",
        "TIME",
        "DATETIME",
        "USER_SELECT",
        "ORGANIZATION_SELECT",
        "GROUP_SELECT",
        "FILE",
        "SUBTABLE",
    }
)
# The system fields in the order a new app lists them.
SYSTEM_ORDER = (
    "RECORD_NUMBER",
    "CREATOR",
    "CREATED_TIME",
    "MODIFIER",
    "UPDATED_TIME",
    "STATUS",
    "STATUS_ASSIGNEE",
    "CATEGORY",
)
SYSTEM_TYPES = frozenset(SYSTEM_ORDER)
PROCESS_TYPES = frozenset({"STATUS", "STATUS_ASSIGNEE", "CATEGORY"})
# Present in form/fields.json but never in records.
LAYOUT_ONLY_TYPES = frozenset({"REFERENCE_TABLE", "GROUP"})
VALUE_TYPES = WRITABLE_TYPES | {"CALC"}
ALL_FIELD_TYPES = VALUE_TYPES | SYSTEM_TYPES | LAYOUT_ONLY_TYPES
INNER_TYPES = VALUE_TYPES - {"SUBTABLE"}
UNIQUE_TYPES = frozenset({"SINGLE_LINE_TEXT", "NUMBER", "LINK", "DATE", "DATETIME"})
OPTION_TYPES = frozenset({"CHECK_BOX", "RADIO_BUTTON", "DROP_DOWN", "MULTI_SELECT"})
ENTITY_TYPES = frozenset({"USER_SELECT", "ORGANIZATION_SELECT", "GROUP_SELECT"})
LOOKUP_TYPES = frozenset({"SINGLE_LINE_TEXT", "NUMBER", "LINK"})

# Default values of every property per type, in the order form/fields.json lists them.
_DEFAULTS: dict[str, dict] = {
    "SINGLE_LINE_TEXT": {
        "required": False,
        "unique": False,
        "minLength": "",
        "maxLength": "",
        "expression": "",
        "hideExpression": False,
        "defaultValue": "",
    },
    "MULTI_LINE_TEXT": {"required": False, "defaultValue": ""},
    "RICH_TEXT": {"required": False, "defaultValue": ""},
    "LINK": {
        "required": False,
        "unique": False,
        "minLength": "",
        "maxLength": "",
        "protocol": "WEB",
        "defaultValue": "",
    },
    "NUMBER": {
        "required": False,
        "unique": False,
        "minValue": "",
        "maxValue": "",
        "digit": False,
        "displayScale": "",
        "unit": "",
        "unitPosition": "BEFORE",
        "defaultValue": "",
    },
    "CALC": {
        "required": False,
        "expression": "",
        "hideExpression": False,
        "format": "NUMBER",
        "displayScale": "",
        "unit": "",
        "unitPosition": "BEFORE",
    },
    "CHECK_BOX": {"required": False, "defaultValue": [], "options": {}, "align": "HORIZONTAL"},
    "RADIO_BUTTON": {"required": False, "defaultValue": "", "options": {}, "align": "HORIZONTAL"},
    "DROP_DOWN": {"required": False, "defaultValue": "", "options": {}},
    "MULTI_SELECT": {"required": False, "defaultValue": [], "options": {}},
    "FILE": {"required": False, "thumbnailSize": "150"},
    "DATE": {"required": False, "unique": False, "defaultValue": "", "defaultNowValue": False},
    "DATETIME": {"required": False, "unique": False, "defaultValue": "", "defaultNowValue": False},
    "TIME": {"required": False, "defaultValue": "", "defaultNowValue": False},
    "USER_SELECT": {"required": False, "defaultValue": [], "entities": []},
    "ORGANIZATION_SELECT": {"required": False, "defaultValue": [], "entities": []},
    "GROUP_SELECT": {"required": False, "defaultValue": [], "entities": []},
    "GROUP": {"openGroup": False},
    "REFERENCE_TABLE": {"referenceTable": {}},
    "SUBTABLE": {"fields": {}},
}
_BOOL_PROPS = frozenset(
    {"required", "unique", "hideExpression", "digit", "defaultNowValue", "openGroup", "noLabel"}
)
_STR_PROPS = frozenset(
    {"minLength", "maxLength", "minValue", "maxValue", "displayScale", "thumbnailSize"}
)

# Localised codes (and labels) of the system fields kintone creates with every app.
SYSTEM_CODES: dict[str, dict[str, str]] = {
    "ja": {
        "RECORD_NUMBER": "レコード番号",
        "CREATOR": "作成者",
        "CREATED_TIME": "作成日時",
        "MODIFIER": "更新者",
        "UPDATED_TIME": "更新日時",
        "STATUS": "ステータス",
        "STATUS_ASSIGNEE": "作業者",
        "CATEGORY": "カテゴリー",
    },
    "en": {
        "RECORD_NUMBER": "Record_number",
        "CREATOR": "Created_by",
        "CREATED_TIME": "Created_datetime",
        "MODIFIER": "Updated_by",
        "UPDATED_TIME": "Updated_datetime",
        "STATUS": "Status",
        "STATUS_ASSIGNEE": "Assignee",
        "CATEGORY": "Categories",
    },
}


def valid_field_code(code: object) -> bool:
    """kintone's rule: 1-128 chars, no leading digit, only `_` among ASCII symbols, no spaces."""
    if not isinstance(code, str) or not 1 <= len(code) <= 128:
        return False
    if code[0].isdigit():
        return False
    for char in code:
        if ord(char) < 128 and not (char.isalnum() or char == "_"):
            return False
        if char.isspace():
            return False
    return True


def _normalize_options(raw: object, path: str, errors: Collector) -> dict:
    """Options as `{key: {label, index}}`; a plain list of labels is accepted as a shorthand."""
    if isinstance(raw, list):
        raw = {str(label): {"label": str(label), "index": str(i)} for i, label in enumerate(raw)}
    if not isinstance(raw, dict):
        errors.add(f"{path}.options", "not_object")
        return {}
    out: dict[str, dict] = {}
    for i, (key, option) in enumerate(raw.items()):
        option = option if isinstance(option, dict) else {}
        label = str(option.get("label", key))
        if label != key:
            errors.add(f"{path}.options.{key}.label", "option_label")
        out[key] = {"label": label, "index": str(option.get("index", i))}
    return out


def normalize_property(
    code: str, raw: dict, errors: Collector, path: str, *, inner: bool = False
) -> dict:
    """Complete a field property (as sent to form/fields.json) with kintone's defaults."""
    ftype = raw.get("type")
    allowed = INNER_TYPES if inner else ALL_FIELD_TYPES
    if ftype not in allowed:
        errors.add(f"{path}.type", "field_type")
        return {}
    if ftype not in SYSTEM_TYPES and not valid_field_code(code):
        errors.add(f"{path}.code", "field_code_rule")
    prop: dict = {"type": ftype, "code": code, "label": str(raw.get("label", code))}
    if ftype in PROCESS_TYPES:
        prop["enabled"] = bool(raw.get("enabled", False))
        return prop
    prop["noLabel"] = bool(raw.get("noLabel", False))
    for name, default in _DEFAULTS.get(ftype, {}).items():
        value = raw.get(name, copy.deepcopy(default))
        if name in _BOOL_PROPS:
            value = bool(value)
        elif name in _STR_PROPS:
            value = "" if value is None else str(value)
        prop[name] = value
    if ftype in OPTION_TYPES:
        prop["options"] = _normalize_options(raw.get("options", {}), path, errors)
        if ftype == "RADIO_BUTTON" and not prop["defaultValue"] and prop["options"]:
            # kintone always preselects a radio option; the first one unless told otherwise.
            first = min(prop["options"].values(), key=lambda o: int(o["index"]))
            prop["defaultValue"] = first["label"]
    if ftype in ("NUMBER", "SINGLE_LINE_TEXT", "LINK", "DATE", "DATETIME", "TIME"):
        default = prop.get("defaultValue")
        prop["defaultValue"] = "" if default is None else str(default)
    if "unique" in prop and (inner or ftype not in UNIQUE_TYPES):
        prop["unique"] = False
    if inner and "unique" in prop:
        # Table cells cannot prohibit duplicates; kintone drops the flag silently.
        prop.pop("unique")
    if ftype in LOOKUP_TYPES and raw.get("lookup"):
        prop["lookup"] = _normalize_lookup(raw["lookup"])
    if ftype == "SUBTABLE":
        inner_raw = raw.get("fields") or {}
        fields: dict[str, dict] = {}
        for inner_code, inner_prop in inner_raw.items():
            if not isinstance(inner_prop, dict):
                errors.add(f"{path}.fields.{inner_code}", "not_object")
                continue
            inner_code = inner_prop.get("code", inner_code)
            fields[inner_code] = normalize_property(
                inner_code, inner_prop, errors, f"{path}.fields.{inner_code}", inner=True
            )
        prop["fields"] = fields
    return prop


def _normalize_lookup(raw: dict) -> dict:
    """Lookup settings with string app ids and every list present."""
    related = raw.get("relatedApp") or {}
    return {
        "relatedApp": {"app": str(related.get("app", "")), "code": str(related.get("code", ""))},
        "relatedKeyField": str(raw.get("relatedKeyField", "")),
        "fieldMappings": [
            {"field": str(m.get("field")), "relatedField": str(m.get("relatedField"))}
            for m in raw.get("fieldMappings", [])
        ],
        "lookupPickerFields": list(raw.get("lookupPickerFields", [])),
        "filterCond": str(raw.get("filterCond", "")),
        "sort": str(raw.get("sort", "")),
    }


class Field:
    """One field of a schema: a stable internal id plus its public property."""

    __slots__ = ("fid", "prop", "inner", "parent")

    def __init__(self, fid: int, prop: dict, parent: Field | None = None) -> None:
        self.fid = fid
        self.prop = prop
        self.parent = parent
        self.inner: dict[str, Field] | None = None

    @property
    def code(self) -> str:
        """The field code."""
        return self.prop["code"]

    @property
    def type(self) -> str:
        """The field type."""
        return self.prop["type"]

    def public(self) -> dict:
        """The property exactly as form/fields.json returns it."""
        if self.inner is None:
            return self.prop
        out = dict(self.prop)
        out["fields"] = {code: f.prop for code, f in self.inner.items()}
        return out


class Schema:
    """An app's form: fields by code (top level, insertion order), layout and revision."""

    def __init__(self, fid_counter: Iterator[int]) -> None:
        self.fields: dict[str, Field] = {}
        self.layout: list | None = None
        self.revision = 1
        self._fids = fid_counter
        self._derived: dict = {}

    # -- building -----------------------------------------------------------------------------

    def add(self, prop: dict) -> Field:
        """Append a normalized property as a new field with a fresh internal id."""
        field = Field(next(self._fids), prop)
        if prop["type"] == "SUBTABLE":
            field.prop = {k: v for k, v in prop.items() if k != "fields"}
            field.inner = {
                code: Field(next(self._fids), inner_prop, field)
                for code, inner_prop in prop.get("fields", {}).items()
            }
        self.fields[field.code] = field
        self._derived.clear()
        return field

    def new_field(self, prop: dict, parent: Field | None = None) -> Field:
        """A field with a fresh internal id that is not yet part of the form."""
        return Field(next(self._fids), prop, parent)

    def ensure_system_fields(self, locale: str) -> None:
        """Create every system field kintone has but the given properties lack."""
        present = {f.type for f in self.fields.values()}
        codes = SYSTEM_CODES.get(locale, SYSTEM_CODES["ja"])
        for ftype in SYSTEM_ORDER:
            if ftype not in present:
                code = codes[ftype]
                label = code.replace(
                    "_", " "
                )  # English domains label "Record_number" "Record number"
                self.add(normalize_property(code, {"type": ftype, "label": label}, Collector(), ""))

    def copy(self) -> Schema:
        """A deep copy sharing the internal-id counter (so ids stay unique across versions)."""
        other = Schema(self._fids)
        for code, field in self.fields.items():
            clone = Field(field.fid, copy.deepcopy(field.prop))
            if field.inner is not None:
                clone.inner = {
                    c: Field(f.fid, copy.deepcopy(f.prop), clone) for c, f in field.inner.items()
                }
            other.fields[code] = clone
        other.layout = copy.deepcopy(self.layout)
        other.revision = self.revision
        return other

    def invalidate(self) -> None:
        """Forget derived data after an in-place change."""
        self._derived.clear()

    # -- reading ------------------------------------------------------------------------------

    def find(self, code: str) -> Field | None:
        """A top-level or table-inner field by code."""
        field = self.fields.get(code)
        if field is not None:
            return field
        return self.inner_fields().get(code)

    def inner_fields(self) -> dict[str, Field]:
        """Every field inside a table, by code."""
        cached = self._derived.get("inner")
        if cached is None:
            cached = {
                code: inner
                for f in self.fields.values()
                if f.inner is not None
                for code, inner in f.inner.items()
            }
            self._derived["inner"] = cached
        return cached

    def by_type(self, ftype: str) -> Field | None:
        """The first top-level field of a (system) type."""
        for field in self.fields.values():
            if field.type == ftype:
                return field
        return None

    def record_fields(self) -> list[Field]:
        """Fields that appear in records, in form order."""
        cached = self._derived.get("record")
        if cached is None:
            cached = []
            for field in self.fields.values():
                if field.type in LAYOUT_ONLY_TYPES:
                    continue
                if field.type in PROCESS_TYPES and not field.prop.get("enabled"):
                    continue
                cached.append(field)
            self._derived["record"] = cached
        return cached

    def derived(self, key: str, build):
        """Memoize a value computed from this schema (cleared by `invalidate`)."""
        value = self._derived.get(key)
        if value is None:
            value = build()
            self._derived[key] = value
        return value

    def properties(self) -> dict:
        """`properties` of form/fields.json."""
        return {code: field.public() for code, field in self.fields.items()}

    def layout_json(self) -> list:
        """The stored layout, or kintone's default of one row per field in form order."""
        if self.layout is not None:
            placed = _codes_in_layout(self.layout)
            extra = [
                f for f in self.fields.values() if f.code not in placed and _layout_placeable(f)
            ]
            return self.layout + [_default_element(f) for f in extra]
        return [_default_element(f) for f in self.fields.values() if _layout_placeable(f)]


def _layout_placeable(field: Field) -> bool:
    return field.type not in SYSTEM_TYPES


def _default_element(field: Field) -> dict:
    size = {"width": "193"}
    if field.type in ("MULTI_LINE_TEXT", "RICH_TEXT"):
        size = {"width": "315", "innerHeight": "125"}
    if field.type == "SUBTABLE":
        return {
            "type": "SUBTABLE",
            "code": field.code,
            "fields": [
                {"type": inner.type, "code": inner.code, "size": {"width": "193"}}
                for inner in (field.inner or {}).values()
            ],
        }
    if field.type == "GROUP":
        return {"type": "GROUP", "code": field.code, "layout": []}
    if field.type == "REFERENCE_TABLE":
        return {"type": "ROW", "fields": [{"type": "REFERENCE_TABLE", "code": field.code}]}
    return {"type": "ROW", "fields": [{"type": field.type, "code": field.code, "size": size}]}


def _codes_in_layout(layout: list) -> set[str]:
    codes: set[str] = set()
    for element in layout:
        if not isinstance(element, dict):
            continue
        if element.get("code"):
            codes.add(element["code"])
        for inner in element.get("fields", []) or []:
            if isinstance(inner, dict) and inner.get("code"):
                codes.add(inner["code"])
        if element.get("layout"):
            codes |= _codes_in_layout(element["layout"])
    return codes


def fid_counter(start: int = 1) -> Iterator[int]:
    """A fresh internal field-id sequence for one app."""
    return itertools.count(start)
