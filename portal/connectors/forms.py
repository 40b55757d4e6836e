"""Forms of the connector list."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import AnyOf, DataRequired, Length

from portal.models.connectors import CONNECTOR_KIND_LABELS, HAIHAI_KINTONE

NAME_MAX_LENGTH = 100


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ConnectorCreateForm(FlaskForm):
    """「新しい連携を追加」: the connector type and its 連携設定名."""

    # Rendered as a <select> of CONNECTOR_KIND_LABELS by the template (SelectField's choice
    # format changes between WTForms releases; a validated string does not).
    kind = StringField(
        "連携の種類",
        default=HAIHAI_KINTONE,
        validators=[AnyOf(list(CONNECTOR_KIND_LABELS), message="連携の種類を選択してください。")],
    )

    @property
    def kind_choices(self) -> list[tuple[str, str]]:
        """(value, label) of every connector type the select offers."""
        return list(CONNECTOR_KIND_LABELS.items())

    name = StringField(
        "連携設定名",
        filters=[_strip],
        validators=[
            DataRequired("連携設定名を入力してください。"),
            Length(
                max=NAME_MAX_LENGTH,
                message=f"連携設定名は{NAME_MAX_LENGTH}文字以内で入力してください。",
            ),
        ],
    )
