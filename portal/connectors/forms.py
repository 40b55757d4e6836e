"""Forms of the connector list."""

from __future__ import annotations

from wtforms import StringField
from wtforms.validators import DataRequired, Length, ValidationError

from portal.connector_types.registry import connector_types, is_known_kind
from portal.models.connectors import HAIHAI_KINTONE
from portal.web.forms import PortalForm

NAME_MAX_LENGTH = 100


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _registered_kind(form, field) -> None:
    if not isinstance(field.data, str) or not is_known_kind(field.data):
        raise ValidationError("連携の種類を選択してください。")


class ConnectorCreateForm(PortalForm):
    """「新しい連携を追加」: the connector type and its 連携設定名."""

    # Rendered as a <select> of the registered connector types by the template (SelectField's
    # choice format changes between WTForms releases; a validated string does not).
    kind = StringField(
        "連携の種類",
        default=HAIHAI_KINTONE,
        validators=[_registered_kind],
    )

    @property
    def kind_choices(self) -> list[tuple[str, str]]:
        """(value, label) of every registered connector type the select offers."""
        return [(t.kind, t.label) for t in connector_types()]

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
