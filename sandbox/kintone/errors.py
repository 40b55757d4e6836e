"""kintone error envelope: typed exception, message catalogue (en / ja) and validation collector."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

# key -> (English, Japanese). English is what a "follow the browser" user gets without an
# Accept-Language header; Japanese is chosen by `Accept-Language: ja`.
MESSAGES: dict[str, tuple[str, str]] = {
    "invalid_input": ("Missing or invalid input.", "入力内容が正しくありません。"),
    "required_field": ("Required field.", "必須です。"),
    "required": ("Required.", "必須です。"),
    "min_one": ("must be greater than or equal to 1", "最小でも1以上です。"),
    "min_zero": ("must be greater than or equal to 0", "最小でも0以上です。"),
    "max_value_param": ("must be less than or equal to {max}", "最大でも{max}以下です。"),
    "not_integer": ("must be an integer", "整数でなければなりません。"),
    "not_boolean": ("must be a boolean", "真偽値でなければなりません。"),
    "not_array": ("must be an array", "配列でなければなりません。"),
    "not_object": ("must be an object", "オブジェクトでなければなりません。"),
    "not_string": ("must be a string", "文字列でなければなりません。"),
    "enum": ("must be one of the enum value", "Enum値のいずれかでなければなりません。"),
    "not_number": ("Only numbers are allowed.", "数字でなければなりません。"),
    "max_length": ("Enter less than {n} characters.", "{n}文字より短くなければなりません。"),
    "min_length": ("Enter more than {n} characters.", "{n}文字より長くなければなりません。"),
    "max_value": ("The value must be {v} or less.", "{v}以下である必要があります。"),
    "min_value": ("The value must be {v} or more.", "{v}以上である必要があります。"),
    "not_in_options": ('The value, "{v}", is not in options.', '"{v}"は選択肢にありません。'),
    "unique": (
        "This value already exists in another record.",
        "値がほかのレコードと重複しています。",
    ),
    "unique_too_long": (
        "Values of fields that prohibit duplicates must be 64 characters or less.",
        "重複禁止のフィールドの値は64文字以内で入力してください。",
    ),
    "bad_date": ("Invalid date format.", "日付の形式が不正です。"),
    "bad_time": ("Invalid time format.", "時刻の形式が不正です。"),
    "bad_datetime": ("Invalid date and time format.", "日時の形式が不正です。"),
    "date_range": (
        "Specify a date between 1000-01-01 and 9999-12-31.",
        "1000-01-01から9999-12-31までの日付を指定してください。",
    ),
    "bad_link_mail": ("Enter a valid email address.", "メールアドレスの形式が不正です。"),
    "bad_link_call": ("Enter a valid phone number.", "電話番号の形式が不正です。"),
    "bad_link_web": ("Enter a valid URL.", "URLの形式が不正です。"),
    "bad_value": ("The value is invalid.", "値が不正です。"),
    "too_many_digits": (
        "Numbers can have up to 30 digits.",
        "数値は30桁以内で入力してください。",
    ),
    "not_writable": ("This field cannot be updated.", "このフィールドは更新できません。"),
    "add_max": (
        "A maximum of 100 records can be added at one time.",
        "一度に100件までのレコードを追加できます。",
    ),
    "update_max": (
        "A maximum of 100 records can be updated at one time.",
        "一度に100件までのレコードを更新できます。",
    ),
    "delete_range": (
        "Between 1 and 100 records can be deleted at one time.",
        "一度に1件から100件までのレコードを削除できます。",
    ),
    "bulk_max": (
        "A maximum of 20 requests can be sent at one time.",
        "一度に20件までのリクエストを送信できます。",
    ),
    "bulk_api": (
        "The API cannot be used in a bulk request.",
        "一括リクエストでは使用できないAPIです。",
    ),
    "revisions_mismatch": (
        "The number of revisions must match the number of ids.",
        "revisionsの数はidsの数と一致する必要があります。",
    ),
    "id_or_update_key": (
        "Specify either id or updateKey.",
        "idとupdateKeyのどちらか一方を指定してください。",
    ),
    "update_key_field": (
        "The updateKey field must be a text or number field that prohibits duplicates.",
        "updateKeyには重複禁止の文字列（1行）または数値フィールドを指定してください。",
    ),
    "query_syntax": ("The query is invalid.", "クエリ記法が間違っています。"),
    "cursor_no_limit": (
        "limit and offset cannot be used in the query of a cursor.",
        "カーソルのクエリにはlimitとoffsetを指定できません。",
    ),
    "fields_max": (
        "A maximum of 1000 field codes can be specified.",
        "フィールドコードは1000個まで指定できます。",
    ),
    "field_code_used": ("The field code is already used.", "フィールドコードが重複しています。"),
    "field_code_rule": (
        "Field codes cannot start with a number and may use only _ among symbols "
        "(up to 128 characters).",
        "先頭に数字が使用されているか、使用できない記号、またはスペースが含まれているため保存できません。",
    ),
    "field_type": ("Unknown field type.", "フィールドタイプが不正です。"),
    "field_type_change": (
        "The field type cannot be changed.",
        "フィールドタイプは変更できません。",
    ),
    "field_system": ("System fields cannot be deleted.", "システムフィールドは削除できません。"),
    "option_label": (
        "The option key must be the same as its label.",
        "選択肢のキーとラベルは同じにしてください。",
    ),
    "name_length": ("Enter 1 to 64 characters.", "1文字から64文字で入力してください。"),
    # Codes that are not validation errors.
    "CB_AU01": ("Please login.", "ログインしてください。"),
    "CB_WA01": ("Password authentication failed.", "ユーザーのパスワード認証に失敗しました。"),
    "CB_IJ01": ("Invalid JSON string.", "JSONの形式が不正です。"),
    "CB_IL02": ("Illegal request.", "不正なリクエストです。"),
    "CB_NO02": ("No privilege to proceed.", "権限がありません。"),
    "GAIA_IA02": (
        "The specified API token does not match the API token generated via an app.",
        "指定されたAPIトークンがアプリで生成されたAPIトークンと一致しません。",
    ),
    "GAIA_NO01": (
        "Using this API token, you cannot run the specified API.",
        "このAPIトークンでは、指定したAPIを実行できません。",
    ),
    "GAIA_DA03": (
        "You cannot specify a duplicate API token for the same app.",
        "同じアプリのAPIトークンを重複して指定することはできません。",
    ),
    "too_many_tokens": (
        "A maximum of 9 API tokens can be specified in one request.",
        "1回のリクエストで指定できるAPIトークンは9個までです。",
    ),
    "GAIA_AP01": (
        "The app (ID: {id}) not found. The app may have been deleted.",
        "指定したアプリ（id: {id}）が見つかりません。削除されている可能性があります。",
    ),
    "GAIA_RE01": (
        "The specified record (ID: {id}) is not found.",
        "指定したレコード（id: {id}）が見つかりません。",
    ),
    "record_by_key_not_found": (
        "The specified record ({field}: {value}) is not found.",
        "指定したレコード（{field}: {value}）が見つかりません。",
    ),
    "GAIA_BL01": (
        "The specified file (id: {id}) not found.",
        "指定したファイル（id: {id}）が見つかりません。",
    ),
    "GAIA_CO02": (
        "The revision is not the latest. Someone may update a record after you opened it.",
        "ほかのユーザーがレコードを更新したため、リビジョンが最新ではありません。",
    ),
    "app_revision": (
        "The revision is not the latest. Someone may update the app settings.",
        "ほかのユーザーがアプリの設定を更新したため、リビジョンが最新ではありません。",
    ),
    "GAIA_IL23": (
        "The app is in a guest space. Specify the guest space ID in the request URL.",
        "ゲストスペース内のアプリです。リクエストURLにゲストスペースのIDを指定してください。",
    ),
    "GAIA_IQ03": (
        "The field type of {field} field does not support the operator {op}.",
        "{field}フィールドのフィールドタイプには演算子{op}を使用できません。",
    ),
    "GAIA_IQ07": (
        "The operator {op} cannot be used for the field {field} in a table. Use in or not in.",
        "テーブル内のフィールド{field}には演算子{op}を使用できません。in または not in を使用します。",
    ),
    "GAIA_IQ11": (
        "Specified field ({field}) not found.",
        "指定されたフィールド（{field}）が見つかりません。",
    ),
    "GAIA_IQ23": (
        "The specified day ({value}) is invalid. Specify an integer from 1 to 31.",
        "指定した日にち（{value}）は無効です。1から31までの整数で指定します。",
    ),
    "GAIA_IQ25": (
        'Specify "DAYS", "WEEKS", "MONTHS", or "YEARS" as the second argument of FROM_TODAY().',
        "FROM_TODAY()の第2引数には、「DAYS」「WEEKS」「MONTHS」「YEARS」のいずれかを指定します。",
    ),
    "GAIA_IL08": ("The query is invalid.", "クエリの指定が不正です。"),
    "GAIA_IR02": (
        "The field {field} cannot be specified in this form. Specify the field code only.",
        "フィールド{field}はこの形式では指定できません。フィールドコードのみを指定してください。",
    ),
    "sort_field": (
        "The field ({field}) cannot be used for sorting.",
        "フィールド（{field}）はソートに使用できません。",
    ),
    "GAIA_QU01": (
        "Specify a value of 500 or less for limit.",
        "limit には 500 以下の値を指定してください。",
    ),
    "GAIA_QU02": (
        "Specify a value of 10,000 or less for offset.",
        "offset には 10,000 以下の値を指定してください。",
    ),
    "GAIA_LO04": (
        "A value {value} in the field {field} does not exist in the datasource app for lookup, "
        "or you do not have permission to view the app or the field.",
        "フィールド「{field}」の値「{value}」が、ルックアップの参照先のフィールドにないか、"
        "またはアプリやフィールドの閲覧権限がありません。",
    ),
    "GAIA_IL26": (
        "The specified user (code: {user}) not found.",
        "指定したユーザー（code: {user}）が見つかりません。",
    ),
    "GAIA_FC01": (
        "The specified field (code: {field}) not found.",
        "指定されたフィールド（code: {field}）が見つかりません。",
    ),
    "GAIA_TM12": (
        "The number of cursors has reached the limit (10). Delete unnecessary cursors.",
        "作成できるカーソルの上限（10個）に達しています。不要なカーソルを削除してください。",
    ),
    "GAIA_CN01": (
        "The specified cursor does not exist. The cursor may have been deleted or expired.",
        "指定したカーソルが存在しません。削除されたか、有効期限が切れている可能性があります。",
    ),
    "GAIA_TO04": (
        "The number of concurrent API requests to the domain exceeds the limit.",
        "The number of concurrent API requests to the domain exceeds the limit.",
    ),
    "GAIA_ST02": (
        "Your request failed. The process management feature has been disabled.",
        "操作に失敗しました。プロセス管理機能が無効化されています。",
    ),
    "GAIA_NF01": ("The specified API does not exist.", "指定したAPIは存在しません。"),
    "method_not_allowed": (
        "The HTTP method is not supported by this API.",
        "このAPIではそのHTTPメソッドは使用できません。",
    ),
    "fault": ("Injected fault.", "障害を注入しました。"),
}


@dataclass(frozen=True)
class Msg:
    """A catalogue message key with its format arguments, rendered per request language."""

    key: str
    args: tuple[tuple[str, object], ...] = ()

    def render(self, lang: str) -> str:
        """Return the message text in `lang` ("en" or "ja")."""
        en, ja = MESSAGES.get(self.key, (self.key, self.key))
        template = ja if lang == "ja" else en
        return template.format(**dict(self.args)) if self.args else template


def msg(key: str, **args: object) -> Msg:
    """Build a catalogue message reference."""
    return Msg(key, tuple(args.items()))


def new_error_id() -> str:
    """An opaque per-response id of 20 base64url characters, like kintone's."""
    return secrets.token_urlsafe(15)


class KintoneError(Exception):
    """An error answered with the kintone envelope `{id, code, message, errors?}`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: Msg | None = None,
        errors: dict[str, list[Msg]] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message or msg(code)
        self.errors = errors
        super().__init__(f"{status} {code}")

    def body(self, lang: str) -> dict:
        """The JSON envelope in `lang`."""
        out: dict = {"code": self.code, "id": new_error_id(), "message": self.message.render(lang)}
        if self.errors is not None:
            out["errors"] = {
                path: {"messages": [m.render(lang) for m in messages]}
                for path, messages in self.errors.items()
            }
        return out


def validation_error(errors: dict[str, list[Msg]]) -> KintoneError:
    """A 400 CB_VA01 carrying dotted-path `errors`."""
    return KintoneError(400, "CB_VA01", msg("invalid_input"), errors)


def param_error(name: str, key: str, **args: object) -> KintoneError:
    """A 400 CB_VA01 about one request parameter."""
    return validation_error({name: [msg(key, **args)]})


def query_error(key: str = "query_syntax", **args: object) -> KintoneError:
    """A 400 CB_VA01 whose `errors.query` explains a query syntax problem."""
    return validation_error({"query": [msg(key, **args)]})


def coded(status: int, code: str, **args: object) -> KintoneError:
    """An error whose message is the catalogue entry named after its code."""
    return KintoneError(status, code, msg(code, **args))


@dataclass
class Collector:
    """Accumulates record validation messages by dotted path, in discovery order."""

    errors: dict[str, list[Msg]] = field(default_factory=dict)

    def add(self, path: str, key: str, **args: object) -> None:
        """Record one message at `path`."""
        self.errors.setdefault(path, []).append(msg(key, **args))

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        """Raise CB_VA01 with everything collected, if anything was."""
        if self.errors:
            raise validation_error(self.errors)
