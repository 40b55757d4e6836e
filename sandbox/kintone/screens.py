"""Browser screens of the kintone sandbox: a record list, plugin import and plugin settings.

Enough of kintone's front end to run a real plugin package: the record list of an app (views,
an ad-hoc filter, paging) with the plugin's desktop scripts, the system screen that imports a
plugin zip (verified like kintone does), an app's plugin list, and the plugin settings screen
that shows the plugin's config.html. `static/kintone.js` is the JS API shim these pages load;
its calls that need the server (setConfig, setProxyConfig, proxy, REST through kintone.api)
come back here with the page's session cookie.

Paths (under the domain, as the REST API is): `/{sub}/k/{app}/`,
`/{sub}/k/admin/system/plugin/`, `/{sub}/k/admin/app/{app}/plugin/`,
`/{sub}/k/admin/app/{app}/plugin/config?pluginId=…`, `/{sub}/k/plugin/{id}/{file}`,
`/{sub}/k/_shim/…`. Settings take effect at once (no 「アプリを更新」).
"""

from __future__ import annotations

import json
import mimetypes
import re
import secrets
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from sandbox.kintone import plugins
from sandbox.kintone.api import Auth, Call, op_get_records
from sandbox.kintone.errors import KintoneError
from sandbox.kintone.store import ADMINISTRATOR, App, Domain, State

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "KSB_SESSION"
PAGE_SIZE = 20
MAX_COLUMNS = 6
ALL_RECORDS_VIEW = 0
_SCREEN = re.compile(r"^/(?P<sub>[^/]+)/k/(?P<rest>.*)$")
_NOT_SCREENS = ("v1/", "guest/")


def is_screen(path: str) -> bool:
    """True for a browser screen or shim path (REST and guest-space paths are not)."""
    match = _SCREEN.match(path)
    return bool(match) and not match.group("rest").startswith(_NOT_SCREENS)


def session_user(state: State, domain: Domain, request: Request) -> dict | None:
    """The user of a browser session call (cookie plus X-Requested-With), else None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or request.headers.get("X-Requested-With") != "XMLHttpRequest":
        return None
    with state.lock:
        return ADMINISTRATOR if token in domain.sessions else None


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status, content_type="application/json; charset=utf-8"
    )


def _page(title: str, body: str, base: str, *, head: str = "", scripts: str = "") -> Response:
    html = (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        f'<link rel="stylesheet" href="{base}_shim/screens.css">'
        f"{head}</head><body>{body}{scripts}</body></html>"
    )
    return Response(html, 200, content_type="text/html; charset=utf-8")


class Screens:
    """Serves the screens of every domain of `state`."""

    def __init__(self, state: State) -> None:
        self.state = state

    def __call__(self, request: Request) -> Response:
        match = _SCREEN.match(request.path)
        sub, rest = match.group("sub"), match.group("rest")
        with self.state.lock:
            domain = self.state.domain(sub)
            known = request.cookies.get(SESSION_COOKIE) in domain.sessions
        response = _ScreenRequest(self.state, f"/{sub}/k/")._route(request, domain, rest)
        if response.mimetype == "text/html" and not known:
            # Opening a screen signs the browser in (as Administrator), like a kintone login.
            token = secrets.token_urlsafe(24)
            with self.state.lock:
                domain.sessions.add(token)
            response.set_cookie(SESSION_COOKIE, token, path=f"/{sub}/", httponly=True)
        return response


class _ScreenRequest:
    """One screen request of one domain (`base` = "/{sub}/k/")."""

    def __init__(self, state: State, base: str) -> None:
        self.state = state
        self.base = base

    def _route(self, request: Request, domain: Domain, rest: str) -> Response:
        method = request.method
        if rest.startswith("_shim/"):
            return self._shim(request, domain, rest[len("_shim/") :])
        if re.fullmatch(r"\d+/", rest) and method == "GET":
            return self.record_list(request, domain, int(rest[:-1]))
        if rest == "admin/system/plugin/" and method == "GET":
            return self.import_screen(domain, request.args.get("message", ""))
        if rest == "admin/system/plugin/import" and method == "POST":
            return self.import_plugin(request, domain)
        app_screen = re.fullmatch(r"admin/app/(\d+)/plugin/(add|config)?", rest)
        if app_screen:
            app_id, action = int(app_screen.group(1)), app_screen.group(2)
            if action is None and method == "GET":
                return self.app_plugins(domain, app_id, request.args.get("message", ""))
            if action == "add" and method == "POST":
                return self.add_plugin(request, domain, app_id)
            if action == "config" and method == "GET":
                return self.plugin_config(domain, app_id, request.args.get("pluginId", ""))
        file_match = re.fullmatch(r"plugin/([a-p]{32})/(.+)", rest)
        if file_match and method == "GET":
            return self.plugin_file(domain, file_match.group(1), file_match.group(2))
        return Response(
            "<h1>404</h1><p>ページが見つかりません。</p>", 404, content_type="text/html"
        )

    # -- the record list -------------------------------------------------------------------------

    def _app(self, domain: Domain, app_id: int) -> App | None:
        app = domain.apps.get(app_id)
        return app if app is not None and app.live is not None else None

    def _views(self, domain: Domain, app_id: int) -> list:
        from sandbox.kintone.store import View

        return [View(ALL_RECORDS_VIEW, "（すべて）"), *domain.views.get(app_id, [])]

    def record_list(self, request: Request, domain: Domain, app_id: int) -> Response:
        """The app's record list: chosen view, ad-hoc filter, one page of records, plugins."""
        with self.state.lock:
            app = self._app(domain, app_id)
            if app is None:
                return Response("<p>アプリが見つかりません。</p>", 404, content_type="text/html")
            views = self._views(domain, app_id)
            wanted = request.args.get("view", type=int, default=ALL_RECORDS_VIEW)
            view = next((v for v in views if v.id == wanted), views[0])
            ad_hoc = (request.args.get("q") or "").strip()
            condition = _combine(view.filter_cond, ad_hoc)
            offset = max(0, request.args.get("offset", type=int, default=0))
            query = f"{condition} order by {view.sort} limit {PAGE_SIZE} offset {offset}".strip()
            call = Call(self.state, domain, None, {}, Auth(ADMINISTRATOR, True))
            try:
                result = op_get_records(call, {"app": app_id, "query": query, "totalCount": True})
                error = ""
            except KintoneError as failure:
                result, error = {"records": [], "totalCount": "0"}, failure.body("ja")["message"]
            columns = _columns(app)
            scripts, styles = self._plugin_assets(domain, app_id, "desktop")
            boot = {
                "page": "index",
                "appId": app_id,
                "base": self.base,
                "view": {"id": view.id, "name": view.name, "type": "list"},
                "condition": condition,
                "query": query,
                "records": result["records"],
                "offset": offset,
                "size": len(result["records"]),
                "scripts": scripts,
                "configs": self._configs(domain, app_id),
            }
        total = int(result["totalCount"] or 0)
        body = _list_body(app, views, view, ad_hoc, total, offset, result["records"], columns)
        if error:
            body = f'<p class="ksb-error" role="alert">{escape(error)}</p>' + body
        head = "".join(f'<link rel="stylesheet" href="{escape(href)}">' for href in styles)
        return _page(
            f"{app.name} - レコード一覧", body, self.base, head=head, scripts=_boot(boot, self.base)
        )

    def _configs(self, domain: Domain, app_id: int) -> dict[str, dict[str, str]]:
        return {
            plugin_id: dict(domain.plugin_configs.get((app_id, plugin_id), {}))
            for plugin_id in domain.app_plugins.get(app_id, [])
        }

    def _plugin_assets(
        self, domain: Domain, app_id: int, area: str
    ) -> tuple[list[dict], list[str]]:
        """Scripts ({pluginId, src}) and style sheets of the plugins ready on this app."""
        scripts, styles = [], []
        for plugin_id in domain.app_plugins.get(app_id, []):
            plugin = domain.plugins.get(plugin_id)
            if plugin is None or not self._configured(domain, app_id, plugin):
                continue
            for entry in plugin.resources(area, "js"):
                scripts.append({"pluginId": plugin_id, "src": self._file_url(plugin_id, entry)})
            styles += [self._file_url(plugin_id, entry) for entry in plugin.resources(area, "css")]
        return scripts, styles

    def _configured(self, domain: Domain, app_id: int, plugin: plugins.Plugin) -> bool:
        config = domain.plugin_configs.get((app_id, plugin.id), {})
        return all(config.get(key) for key in plugin.required_params())

    def _file_url(self, plugin_id: str, entry: str) -> str:
        if entry.startswith("https://"):
            return entry
        return f"{self.base}plugin/{plugin_id}/{entry}"

    # -- plugins ---------------------------------------------------------------------------------

    def import_screen(self, domain: Domain, message: str) -> Response:
        """［kintone システム管理］→［プラグイン］: the imported plugins and 「読み込む」."""
        with self.state.lock:
            rows = "".join(
                f"<tr><td class='ksb-plugin-name'>{escape(p.name)}</td>"
                f"<td class='ksb-plugin-id'>{p.id}</td><td>{escape(p.version)}</td></tr>"
                for p in domain.plugins.values()
            )
        body = (
            "<header class='ksb-bar'>kintone システム管理 ＞ プラグイン</header><main>"
            f"{_message(message)}<h1>プラグイン</h1>"
            f"<form method='post' action='{self.base}admin/system/plugin/import' "
            "enctype='multipart/form-data' class='ksb-form'>"
            "<label for='ksb-plugin-file'>プラグインファイル（zip）</label> "
            "<input type='file' id='ksb-plugin-file' name='file' accept='.zip'> "
            "<button type='submit' class='ksb-primary'>読み込む</button></form>"
            "<table class='ksb-table'><thead><tr><th>プラグイン名</th><th>プラグインID</th>"
            f"<th>バージョン</th></tr></thead><tbody>{rows}</tbody></table></main>"
        )
        return _page("プラグイン - kintone システム管理", body, self.base)

    def import_plugin(self, request: Request, domain: Domain) -> Response:
        """Read an uploaded plugin zip (an update when its ID is already imported)."""
        upload = request.files.get("file")
        back = f"{self.base}admin/system/plugin/"
        if upload is None or not upload.filename:
            return redirect(back + "?" + urlencode({"message": "!ファイルを選択してください。"}))
        try:
            plugin = plugins.read_package(upload.read())
        except plugins.PluginPackageError as error:
            return redirect(back + "?" + urlencode({"message": "!" + error.message}))
        with self.state.lock:
            updated = plugin.id in domain.plugins
            domain.plugins[plugin.id] = plugin
        done = "更新しました" if updated else "読み込みました"
        text = f"プラグイン「{plugin.name}」（{plugin.id}）を{done}。"
        return redirect(back + "?" + urlencode({"message": text}))

    def app_plugins(self, domain: Domain, app_id: int, message: str) -> Response:
        """［アプリの設定］→［プラグイン］: added plugins, 「設定」 links and 「追加」."""
        with self.state.lock:
            app = self._app(domain, app_id)
            if app is None:
                return Response("<p>アプリが見つかりません。</p>", 404, content_type="text/html")
            added = [domain.plugins[p] for p in domain.app_plugins.get(app_id, [])]
            addable = [p for p in domain.plugins.values() if p not in added]
            ready = {p.id: self._configured(domain, app_id, p) for p in added}
        rows = "".join(
            f"<tr data-plugin-id='{p.id}'><td class='ksb-plugin-name'>{escape(p.name)}</td>"
            f"<td>{'' if ready[p.id] else '<span class=ksb-warn>設定が完了していません</span>'}</td>"
            f"<td><a href='{self.base}admin/app/{app_id}/plugin/config?pluginId={p.id}'>設定</a>"
            "</td></tr>"
            for p in added
        )
        options = "".join(f"<option value='{p.id}'>{escape(p.name)}</option>" for p in addable)
        add_form = (
            f"<form method='post' action='{self.base}admin/app/{app_id}/plugin/add' "
            "class='ksb-form'><label for='ksb-add-plugin'>プラグインの追加</label> "
            f"<select id='ksb-add-plugin' name='pluginId'>{options}</select> "
            "<button type='submit' class='ksb-primary'>追加</button></form>"
            if addable
            else ""
        )
        body = (
            f"<header class='ksb-bar'>{escape(app.name)} ＞ アプリの設定 ＞ プラグイン</header><main>"
            f"{_message(message)}<h1>プラグイン</h1>{add_form}"
            f"<table class='ksb-table'><tbody>{rows}</tbody></table>"
            f"<p><a href='{self.base}{app_id}/'>レコード一覧へ</a></p></main>"
        )
        return _page(f"{app.name} - プラグイン", body, self.base)

    def add_plugin(self, request: Request, domain: Domain, app_id: int) -> Response:
        """Add an imported plugin to the app."""
        plugin_id = request.form.get("pluginId", "")
        with self.state.lock:
            if plugin_id not in domain.plugins or self._app(domain, app_id) is None:
                text = "!プラグインを選択してください。"
            else:
                added = domain.app_plugins.setdefault(app_id, [])
                if plugin_id not in added:
                    added.append(plugin_id)
                text = f"プラグイン「{domain.plugins[plugin_id].name}」を追加しました。"
        return redirect(f"{self.base}admin/app/{app_id}/plugin/?" + urlencode({"message": text}))

    def plugin_config(self, domain: Domain, app_id: int, plugin_id: str) -> Response:
        """The plugin settings screen: its config.html, css and js with the shim."""
        with self.state.lock:
            app = self._app(domain, app_id)
            plugin = domain.plugins.get(plugin_id)
            if app is None or plugin is None or plugin_id not in domain.app_plugins.get(app_id, []):
                return Response(
                    "<p>プラグインが見つかりません。</p>", 404, content_type="text/html"
                )
            html_file = (plugin.manifest.get("config") or {}).get("html")
            fragment = plugin.files[html_file].decode("utf-8") if html_file else ""
            boot = {
                "page": "config",
                "appId": app_id,
                "pluginId": plugin_id,
                "base": self.base,
                "afterSave": f"{self.base}admin/app/{app_id}/plugin/",
                "configs": {plugin_id: dict(domain.plugin_configs.get((app_id, plugin_id), {}))},
                # Only the settings screen may read what setProxyConfig stored (getProxyConfig).
                "proxyConfigs": [
                    {"method": method, "url": url, **entry}
                    for (method, url), entry in domain.proxy_configs.get(
                        (app_id, plugin_id), {}
                    ).items()
                ],
                "scripts": [
                    {"pluginId": plugin_id, "src": self._file_url(plugin_id, entry)}
                    for entry in plugin.resources("config", "js")
                ],
            }
            styles = [self._file_url(plugin_id, e) for e in plugin.resources("config", "css")]
        head = "".join(f'<link rel="stylesheet" href="{escape(href)}">' for href in styles)
        body = (
            f"<header class='ksb-bar'>{escape(app.name)} ＞ アプリの設定 ＞ プラグイン ＞ "
            f"{escape(plugin.name)}</header><main class='ksb-config'>{fragment}</main>"
        )
        return _page(
            f"{plugin.name} - 設定", body, self.base, head=head, scripts=_boot(boot, self.base)
        )

    def plugin_file(self, domain: Domain, plugin_id: str, path: str) -> Response:
        """One file of an imported plugin."""
        with self.state.lock:
            plugin = domain.plugins.get(plugin_id)
            data = plugin.files.get(path) if plugin else None
        if data is None:
            return Response("not found", 404)
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        return Response(data, 200, content_type=kind)

    # -- the JS API shim's server side ------------------------------------------------------------

    def _shim(self, request: Request, domain: Domain, name: str) -> Response:
        if request.method == "GET" and name in ("kintone.js", "screens.css"):
            kind = "text/javascript" if name.endswith(".js") else "text/css"
            return Response(
                (STATIC / name).read_bytes(), 200, content_type=f"{kind}; charset=utf-8"
            )
        if request.method != "POST" or session_user(self.state, domain, request) is None:
            return _json({"message": "セッションが無効です。画面を再読み込みしてください。"}, 401)
        body = request.get_json(silent=True) or {}
        try:
            app_id, plugin_id = int(body.get("app")), str(body.get("pluginId"))
        except (TypeError, ValueError):
            return _json({"message": "app が正しくありません。"}, 400)
        key = (app_id, plugin_id)
        with self.state.lock:
            if plugin_id not in domain.app_plugins.get(app_id, []):
                return _json({"message": "このアプリにプラグインが追加されていません。"}, 404)
            if name == "plugin/config":
                config = body.get("config")
                if not isinstance(config, dict) or not all(
                    isinstance(v, str) for v in config.values()
                ):
                    return _json({"message": "設定値は文字列で指定してください。"}, 400)
                domain.plugin_configs[key] = dict(config)
                return _json({})
            if name == "plugin/proxy-config":
                entry = {"headers": dict(body.get("headers") or {}), "data": body.get("data") or {}}
                method, url = str(body.get("method")).upper(), str(body.get("url"))
                domain.proxy_configs.setdefault(key, {})[(method, url)] = entry
                return _json({})
            entries = dict(domain.proxy_configs.get(key, {}))
        if name == "plugin/proxy":
            method = str(body.get("method") or "GET").upper()
            answer = plugins.proxy_request(
                entries, str(body.get("url")), method, body.get("headers") or {}, body.get("data")
            )
            return _json(answer)
        return _json({"message": "not found"}, 404)


# --- rendering helpers ------------------------------------------------------------------------


def _combine(view_condition: str, ad_hoc: str) -> str:
    parts = [part for part in (view_condition.strip(), ad_hoc) if part]
    if len(parts) == 2:
        return f"({parts[0]}) and ({parts[1]})"
    return parts[0] if parts else ""


def _columns(app: App) -> list[tuple[str, str]]:
    """(code, label) of the record number and the first few value fields."""
    fields = list(app.live.fields.values())
    number = [(f.code, f.prop.get("label", f.code)) for f in fields if f.type == "RECORD_NUMBER"]
    values = [
        (f.code, f.prop.get("label", f.code))
        for f in fields
        if f.inner is None
        and f.type
        in {"SINGLE_LINE_TEXT", "NUMBER", "DROP_DOWN", "RADIO_BUTTON", "DATE", "LINK", "CHECK_BOX"}
    ]
    return number + values[:MAX_COLUMNS]


def _display(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_display(item) for item in value)
    if isinstance(value, dict):
        return str(value.get("name") or value.get("code") or "")
    return "" if value is None else str(value)


def _list_body(app, views, view, ad_hoc, total, offset, records, columns) -> str:
    view_links = "".join(
        f"<option value='{v.id}'{' selected' if v.id == view.id else ''}>{escape(v.name)}</option>"
        for v in views
    )
    head = "".join(f"<th>{escape(label)}</th>" for _code, label in columns)
    rows = "".join(
        "<tr class='ksb-record'>"
        + "".join(
            f"<td>{escape(_display((r.get(code) or {}).get('value')))}</td>" for code, _ in columns
        )
        + "</tr>"
        for r in records
    )
    shown = f"{offset + 1} - {offset + len(records)}" if records else "0"
    pager = ""
    if offset > 0:
        prev = {"view": view.id, "q": ad_hoc, "offset": max(0, offset - PAGE_SIZE)}
        pager += f"<a href='?{urlencode(prev)}'>＜ 前へ</a> "
    if offset + len(records) < total:
        nxt = {"view": view.id, "q": ad_hoc, "offset": offset + PAGE_SIZE}
        pager += f"<a href='?{urlencode(nxt)}'>次へ ＞</a>"
    return (
        f"<header class='ksb-bar'>{escape(app.name)}</header><main>"
        "<div class='ksb-toolbar'><form method='get' class='ksb-view-form'>"
        f"<select name='view' id='ksb-view' aria-label='一覧'>{view_links}</select>"
        f"<input type='text' name='q' id='ksb-filter' value='{escape(ad_hoc)}' "
        "placeholder='絞り込み条件（例: 業種 in (\"製造業\")）' aria-label='絞り込み条件'>"
        "<button type='submit' id='ksb-filter-apply'>絞り込む</button></form>"
        "<div id='ksb-header-menu-space' class='ksb-header-menu-space'></div></div>"
        "<div id='ksb-header-space' class='ksb-header-space'></div>"
        f"<p class='ksb-count'><span id='ksb-total'>{total}</span> 件中 {shown} 件</p>"
        f"<table class='ksb-table ksb-records'><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table><p class='ksb-pager'>{pager}</p></main>"
    )


def _message(text: str) -> str:
    if not text:
        return ""
    if text.startswith("!"):
        return f"<p class='ksb-error' role='alert'>{escape(text[1:])}</p>"
    return f"<p class='ksb-notice' role='status'>{escape(text)}</p>"


def _boot(data: dict, base: str) -> str:
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return (
        f'<script type="application/json" id="ksb-bootstrap">{payload}</script>'
        f'<script src="{base}_shim/kintone.js"></script>'
    )
