"""The demo's reaction and Bridge apps, events with late arrivals, and both imports configured."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from portal.connector_types.haihai_kintone.bridge.config import bridge_setting
from portal.connector_types.haihai_kintone.event_import.fields import BRIDGE_FIELDS, REACTION_FIELDS
from portal.connector_types.haihai_kintone.reaction.config import reaction_setting
from portal.connector_types.loading import load_connector_config
from portal.db import session_scope
from portal.demo_events import DEMO_ADMIN_LOGIN, DEMO_ADMIN_PASSWORD
from portal.demo_fixtures import configure_demo_connector, seed_sandboxes
from portal.integrations.kintone import KintoneClient
from tests.support.event_env import TOKYO, ImportEnv
from tests.support.settings_env import SettingsEnv


@pytest.fixture
def demo(app, kintone_sandbox, haihai_sandbox):
    from tests.support.accounts import create_account

    seeds = seed_sandboxes(kintone_sandbox, haihai_sandbox)
    account = create_account(app, "DEMO03")
    template = kintone_sandbox + "/{subdomain}"
    with app.app_context(), session_scope() as session:
        connector_id = configure_demo_connector(
            session, account.id, template, haihai_sandbox, seeds
        ).id
    return seeds, connector_id, template


@pytest.fixture
def app_config(app_config, kintone_sandbox):
    return {**app_config, "KINTONE_BASE_URL_TEMPLATE": kintone_sandbox + "/{subdomain}"}


def test_demo_apps_were_created_through_the_rest_api_with_the_fixed_fields(demo, kintone_sandbox):
    seeds, _connector_id, _template = demo
    apps = seeds["event_apps"]
    with KintoneClient(
        f"{kintone_sandbox}/demo", username=DEMO_ADMIN_LOGIN, password=DEMO_ADMIN_PASSWORD
    ) as client:
        for role, fixed in (("reaction", REACTION_FIELDS), ("bridge", BRIDGE_FIELDS)):
            fields = client.get_form_fields(int(apps[role]["app_id"]))
            assert {f.code for f in fixed} | {"company"} <= set(fields)
            assert client.get_deploy_status([int(apps[role]["app_id"])]) == {
                int(apps[role]["app_id"]): "SUCCESS"
            }
    # Seeding again (a restarted demo) reuses the apps.
    assert (
        seed_sandboxes(kintone_sandbox, seeds["haihai"]["url"].rsplit("/", 2)[0])["event_apps"]
        == apps
    )


def test_demo_connector_imports_reactions_and_answers_and_late_arrivals_later(
    app, client, demo, kintone_sandbox, haihai_sandbox
):
    seeds, connector_id, template = demo
    with app.app_context(), session_scope() as session:
        config = load_connector_config(session, connector_id, kintone_base_template=template)
    reaction, bridge = reaction_setting(config), bridge_setting(config)
    assert reaction.timing == "manual" and len(reaction.types) == 5
    assert [m.kintone_code for m in reaction.mappings] == ["company"]
    assert bridge.timing == "manual" and bridge.unavailable is None
    env = SettingsEnv(app, client, connector_id, 0, kintone_sandbox, haihai_sandbox)
    now = dt.datetime.now(TOKYO).replace(microsecond=0)
    reactions = ImportEnv(env, seeds["event_apps"]["reaction"]["app_id"], "reaction", "demo")
    # The lag hides the last ten minutes; ImportEnv.run sets lag 0, so restore the demo's.
    first = _run(reactions, haihai_sandbox, now)
    assert first.processed == first.total > 0
    written = len(reactions.records())
    later = _run(reactions, haihai_sandbox, now + dt.timedelta(minutes=40))
    assert later.processed > 0  # events that happened meanwhile or showed up late
    addresses = [r["RH01RecordDatetime"]["value"] for r in reactions.records()]
    assert len(addresses) == written + later.processed
    assert reactions.records()[0]["company"]["value"]
    answers = ImportEnv(env, seeds["event_apps"]["bridge"]["app_id"], "bridge", "demo")
    outcome = answers.run(now)
    assert outcome.processed > 0
    assert "お問い合わせフォーム" in outcome.message_detail


def _run(target: ImportEnv, haihai_url: str, at: dt.datetime):
    outcome = target.run(at)
    requests.post(f"{haihai_url}/_sandbox/config", json={"event_lag_seconds": 600}, timeout=10)
    return outcome
