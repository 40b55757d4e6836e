"""Forms of the sign-in pages."""

from __future__ import annotations

from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from portal.web.forms import PortalForm


class LoginForm(PortalForm):
    """配配メールコネクタ ID + パスワード (manual §2.1.1)."""

    connector_id = StringField(
        "配配メールコネクタ ID",
        validators=[DataRequired("配配メールコネクタ ID を入力してください。")],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )
    password = PasswordField(
        "パスワード", validators=[DataRequired("パスワードを入力してください。")]
    )


class PasswordChangeForm(PortalForm):
    """新しいパスワード + 再入力(確認) (manual §2.1.2); the policy is checked by the service."""

    new_password = PasswordField("新しいパスワード")
    confirm_password = PasswordField("再入力(確認)")
