"""`flask reaction legacy-method`: flag a connector created before the 2024-06 update."""

from __future__ import annotations

from portal.db import session_scope
from portal.models import Connector
from portal.models.event_imports import EventImportSettings
from tests.support.accounts import create_account


def test_operator_allows_and_forbids_the_legacy_method(app):
    account = create_account(app, "HC0042")
    with app.app_context(), session_scope() as session:
        connector = Connector(account_id=account.id, name="旧コネクタ")
        session.add(connector)
        session.flush()
        connector_id = connector.id
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reaction", "legacy-method", "HC0042"])
    assert result.exit_code == 0, result.output
    assert f"{connector_id} 旧コネクタ: legacy 連携方式 allowed" in result.output
    with app.app_context(), session_scope() as session:
        row = session.get(EventImportSettings, (connector_id, "reaction"))
        assert row.legacy_method_allowed
        row.reaction_method = "legacy"
    result = runner.invoke(args=["reaction", "legacy-method", "HC0042", "--forbid"])
    assert result.exit_code == 0
    with app.app_context(), session_scope() as session:
        row = session.get(EventImportSettings, (connector_id, "reaction"))
        assert not row.legacy_method_allowed and row.reaction_method == "full"
    missing = runner.invoke(args=["reaction", "legacy-method", "HC9999"])
    assert missing.exit_code != 0 and "no account HC9999" in missing.output
