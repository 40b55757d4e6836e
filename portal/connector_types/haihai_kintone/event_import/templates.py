"""The 「kintoneテンプレート」 downloads and 「kintoneアプリを作成」 of Step8 / Step9.

kintone's own template file format is not public, so each zip holds the exact field
definitions as app/form/fields.json takes them (`fields.json`) and a README in Japanese. Beyond
the manual, the portal can also create the app itself through the kintone REST API: a pre-live
app (preview/app.json), its fields, then the deploy, waiting until kintone reports it done. The
administrator's login is used for that one call and never stored; an API token cannot be made
through the API, so the user issues it in kintone afterwards.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

from portal.connector_types.haihai_kintone.event_import.fields import (
    BRIDGE_FIELDS,
    REACTION_FIELDS,
    FixedField,
)
from portal.integrations import kintone as kintone_api
from portal.syncs.clients import kintone_login_client
from portal.syncs.kintone_schema import type_label

ZIP_NAMES = {
    "reaction": "HaihaiConnect_kintone_template.zip",
    "bridge": "HaihaiConnect_kintone_customer_inquiry_template.zip",
}
APP_NAMES = {
    "reaction": "配配メールコネクタ_顧客反応履歴取込連携アプリ",
    "bridge": "配配メールコネクタ_Bridgeフォーム連携アプリ",
}
PROCESS_NAMES = {"reaction": "顧客反応履歴情報取込連携", "bridge": "Bridgeフォーム連携"}
STEP_NAMES = {"reaction": "Step8. 顧客反応履歴情報取込連携", "bridge": "Step9. Bridgeフォーム連携"}
# Fixed so that the same template downloads byte for byte every time.
ZIP_TIMESTAMP = (2024, 6, 1, 0, 0, 0)
DEPLOY_TIMEOUT_SECONDS = 60.0
NAME_MAX = 64  # kintone app names are at most 64 characters

MSG_NAME = "アプリ名を64文字以内で入力してください。"
MSG_LOGIN = "kintoneのログイン名を入力してください。"
MSG_PASSWORD = "パスワードを入力してください。"


class AppCreationFailed(Exception):
    """kintone refused to create or deploy the app; `message` says what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def fixed_fields_of(role: str) -> tuple[FixedField, ...]:
    """The fields the template of `role` defines."""
    return REACTION_FIELDS if role == "reaction" else BRIDGE_FIELDS


def default_app_name(role: str) -> str:
    """The app name the template suggests."""
    return APP_NAMES[role]


def field_definitions(fields: Sequence[FixedField]) -> dict[str, dict[str, Any]]:
    """`properties` for POST app/form/fields.json, in the manual's order."""
    return {f.code: f.properties() for f in fields}


def readme(role: str) -> str:
    """The README of the template zip (Japanese, CRLF so Windows editors show it well)."""
    fields = fixed_fields_of(role)
    lines = [
        f"配配メールコネクタ {PROCESS_NAMES[role]} kintoneテンプレート",
        "",
        f"このファイルには「{PROCESS_NAMES[role]}」の連携先となる kintone アプリのフィールド定義が",
        "含まれています。",
        "",
        "■ 内容",
        f"  {APP_NAMES[role]}/fields.json",
        "    フィールド定義（kintone REST API「フォームのフィールドを追加する」の properties 形式）",
        "",
        "■ アプリの作り方",
        f"  1. 配配メールコネクタの連携設定画面「{STEP_NAMES[role]}」で「kintoneアプリを作成」を",
        "     クリックし、kintone の管理者のログイン名とパスワードを入力すると、以下のフィールドを",
        "     持つアプリが作成されます（ログイン名とパスワードは保存されません）。",
        "  2. または、kintone でアプリを新規作成し、以下の表のとおりにフィールドを追加してください。",
        "  3. 作成したアプリで API トークンを発行してください。アクセス権は「レコード閲覧」と",
        "     「レコード追加」にチェックを入れてください。",
        "  4. 連携設定画面で kintone アプリID と API トークンを入力し、「kintone項目の同期」を",
        "     クリックしてください。「アプリを確認」でフィールドの過不足を確認できます。",
        "",
        "■ フィールド",
        "  用途 / フィールドコード / 表示名 / データ型",
    ]
    for f in fields:
        note = f" ※{f.note}" if f.note else ""
        lines.append(f"  {f.purpose} / {f.code} / {f.label} / {type_label(f.type)}{note}")
    lines += [
        "",
        "  ※すべて「必須項目にする」、「値の重複を禁止する」にチェックなし",
        "  ・上記のフィールドは、設定の変更を行わないでください。",
        "  ・上記とは別に独自のフィールドを追加し、配配メールの顧客データベースの項目を",
        "    「連携項目の設定」で連携できます。",
    ]
    return "\r\n".join(lines) + "\r\n"


def template_zip(role: str) -> tuple[str, bytes]:
    """(file name, zip bytes) of the 「kintoneテンプレート」 download of `role`."""
    if role not in ZIP_NAMES:
        raise KeyError(role)
    definition = {
        "app_name": APP_NAMES[role],
        "properties": field_definitions(fixed_fields_of(role)),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in (
            ("README.txt", readme(role)),
            (
                f"{APP_NAMES[role]}/fields.json",
                json.dumps(definition, ensure_ascii=False, indent=2) + "\n",
            ),
        ):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, text.encode("utf-8"))
    return ZIP_NAMES[role], buffer.getvalue()


def validate_create_form(form: Mapping[str, Any]) -> dict[str, str]:
    """Errors of the 「kintoneアプリを作成」 dialog's inputs."""
    errors: dict[str, str] = {}
    name = (form.get("create_app_name") or "").strip()
    if not name or len(name) > NAME_MAX:
        errors["create_app_name"] = MSG_NAME
    if not (form.get("create_login") or "").strip():
        errors["create_login"] = MSG_LOGIN
    if not form.get("create_password"):
        errors["create_password"] = MSG_PASSWORD
    return errors


def _failure(error: kintone_api.KintoneError, created: int | None) -> str:
    if isinstance(error, kintone_api.KintoneAuthError):
        text = "kintoneのログイン名またはパスワードが正しくありません。"
    elif isinstance(error, kintone_api.KintonePermissionError):
        text = "このユーザーにはアプリを作成する権限がありません。kintoneの管理者のログイン名を入力してください。"
    elif isinstance(error, kintone_api.KintoneDeployError):
        text = (
            "アプリの設定をkintoneに反映できませんでした。kintoneでアプリの設定を確認してください。"
        )
    elif isinstance(error, kintone_api.KintoneNetworkError):
        text = "kintoneに接続できませんでした。時間を置いて再度実行してください。"
    else:
        text = f"kintoneでエラーが発生しました（{error.code}）: {error.message}"
    if created is not None:
        text += (
            f"（アプリID {created} のアプリは作成途中のため、kintoneで削除してから"
            "もう一度作成してください。）"
        )
    return text


def create_app(
    app_config: Mapping[str, Any],
    subdomain: str,
    role: str,
    *,
    login: str,
    password: str,
    name: str,
) -> int:
    """Create and deploy the app of `role` with an administrator's login → its app ID."""
    template = app_config.get("KINTONE_BASE_URL_TEMPLATE") or "https://{subdomain}.cybozu.com"
    created: int | None = None
    try:
        with kintone_login_client(
            kintone_api.kintone_base_url(template, subdomain), login, password
        ) as client:
            created = client.create_app(name)
            client.add_form_fields(created, field_definitions(fixed_fields_of(role)))
            client.deploy_app_settings(
                [created], wait=True, timeout=DEPLOY_TIMEOUT_SECONDS, poll_interval=0.5
            )
    except kintone_api.KintoneError as error:
        raise AppCreationFailed(_failure(error, created)) from error
    except ValueError as error:  # a malformed subdomain or login
        raise AppCreationFailed(
            "kintoneのサブドメイン名またはログイン名が正しくありません。"
        ) from error
    return created


def created_message(app_id: int) -> str:
    """What the section says after 「kintoneアプリを作成」."""
    return (
        f"kintoneアプリを作成しました（アプリID: {app_id}）。kintoneでこのアプリのAPIトークンを"
        "「レコード閲覧」「レコード追加」の権限で発行し、kintone APIトークンに入力してから"
        "「kintone項目の同期」をクリックしてください。"
    )
