"""「ダウンロード」 of Setup.zip (login page and Step1) and `flask kintone-plugin build`.

The download needs no sign-in: the package holds no secret (the plugin token is entered in
kintone), and the manual offers it on the login page.
"""

from __future__ import annotations

import logging

import click
from flask import Blueprint, Response, current_app, request

from portal.connector_types.haihai_kintone.plugin import package
from portal.inbound.limits import address_key, limiter

log = logging.getLogger(__name__)

bp = Blueprint("kintone_plugin_downloads", __name__, cli_group="kintone-plugin")

DOWNLOADS_PER_ADDRESS = "KINTONE_PLUGIN_DOWNLOADS_PER_ADDRESS"
MSG_BUILD_FAILED = (
    "kintone プラグインを作成できませんでした。時間を置いて再度お試しください。"
    "再度お試しいただいても失敗する場合は、サポートにご連絡ください。"
)


def built_plugin() -> package.BuiltPlugin:
    """The deployment's plugin package (built on first use)."""
    return package.build_plugin(
        current_app.instance_path,
        node=current_app.config.get("NODE_BINARY") or "node",
        node_modules=current_app.config.get("ASSETS_FOLDER"),
    )


def _downloads_limit() -> str:
    return str(current_app.config.get(DOWNLOADS_PER_ADDRESS) or "30 per minute")


@bp.get("/downloads/Setup.zip")
@limiter.limit(_downloads_limit, key_func=address_key)
def setup_zip() -> Response:
    """Setup.zip: hai2-connect-plugin.zip and a README of the steps."""
    try:
        plugin = built_plugin()
    except package.PluginBuildError:
        log.exception("kintone plugin build failed")
        return Response(MSG_BUILD_FAILED, 503, content_type="text/plain; charset=utf-8")
    body = package.setup_zip(plugin, request.url_root)
    response = Response(body, 200, content_type="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{package.SETUP_FILE_NAME}"'
    return response


@bp.cli.command("build")
def build_command() -> None:
    """Build the kintone plugin package now and print its plugin ID and file."""
    try:
        plugin = built_plugin()
    except package.PluginBuildError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"plugin id: {plugin.plugin_id}")
    click.echo(f"version: {plugin.version}")
    click.echo(f"file: {plugin.path}")
