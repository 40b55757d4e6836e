"""The portal's app factory: config → extensions → blueprints → CLI. No work at import."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the Flask app; `config` overrides settings read from the environment."""
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get(
        "PORTAL_INSTANCE_PATH", str(PROJECT_ROOT / "instance")
    )
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=None,
    )
    from portal.config import load_config

    app.config.update(load_config(app.instance_path))
    if config:
        app.config.update(config)

    if app.config.get("PROXY_FIX_HOPS"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_FIX_HOPS"]
        # Login throttling counts per client address; behind a proxy that is X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    _init_extensions(app)
    _register_blueprints(app)
    _register_connector_types(app)
    _register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    import portal.models  # noqa: F401 - every table, and the encrypted columns crypto checks
    from portal import db
    from portal.crypto import init_app as init_crypto
    from portal.extensions import csrf, login_manager
    from portal.inbound import init_app as init_inbound
    from portal.web import errors, htmx, security
    from portal.web.templating import init_app as init_templating

    db.init_app(app)
    init_crypto(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    htmx.init_app(app)
    init_inbound(app)
    security.init_app(app)
    errors.init_app(app)
    init_templating(app)


def _register_blueprints(app: Flask) -> None:
    from portal.account.views import bp as account_bp
    from portal.auth.views import bp as auth_bp
    from portal.connectors.views import bp as connectors_bp
    from portal.health import bp as health_bp
    from portal.runs.timeline import bp as schedule_timeline_bp
    from portal.runs.views import bp as runs_bp
    from portal.settings.views import bp as settings_bp
    from portal.web.assets import bp as assets_bp

    for blueprint in (
        assets_bp,
        health_bp,
        auth_bp,
        account_bp,
        connectors_bp,
        runs_bp,
        schedule_timeline_bp,
        settings_bp,
    ):
        app.register_blueprint(blueprint)

    from portal.demo_info import bp as demo_info_bp
    from portal.demo_info import is_demo

    # 「デモ環境の接続情報」 exists only inside `flask demo run`.
    app.jinja_env.globals["demo_mode"] = is_demo(app.config)
    if is_demo(app.config):
        app.register_blueprint(demo_info_bp)


def _register_connector_types(app: Flask) -> None:
    from portal.connector_types.wiring import init_app as init_connector_types

    init_connector_types(app)


def _register_cli(app: Flask) -> None:
    from jobs.cli import jobs_cli
    from portal.cli import (
        accounts_cli,
        connectors_cli,
        db_cli,
        demo_cli,
        runs_cli,
        secrets_cli,
    )
    from portal.connector_types.haihai_kintone.reaction.cli import reaction_cli

    groups = (db_cli, accounts_cli, connectors_cli, runs_cli, jobs_cli, secrets_cli, demo_cli)
    for group in (*groups, reaction_cli):
        app.cli.add_command(group)
