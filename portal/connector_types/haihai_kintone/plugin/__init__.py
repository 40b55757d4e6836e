"""The kintone plugin: its package (Setup.zip), its endpoint, and the checks behind them.

- `api` — the inbound endpoint the plugin calls through kintone's proxy (token, CORS, limits).
- `service` — checking a run request against the connector and starting the run exactly once.
- `package` — packing the plugin with @kintone/plugin-packer under the deployment's key.
- `downloads` — 「ダウンロード」 of Setup.zip on the login page and in Step1.
- `source/` — the plugin's files (manifest, record-list script, settings screen).
"""

from __future__ import annotations

from portal.connector_types.haihai_kintone.plugin.api import bp as api_blueprint
from portal.connector_types.haihai_kintone.plugin.downloads import bp as downloads_blueprint

INBOUND = (api_blueprint,)
BLUEPRINTS = (downloads_blueprint,)
