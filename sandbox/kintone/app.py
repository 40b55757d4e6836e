"""The WSGI application: routing, parameters, authentication, limits, faults, latency, stats."""

from __future__ import annotations

import base64
import binascii
import fnmatch
import gc
import json
import logging
import re
import time
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from sandbox.kintone import admin
from sandbox.kintone.api import KNOWN_ENDPOINTS, ROUTES, Auth, Call, RawBody
from sandbox.kintone.errors import MESSAGES, KintoneError, coded, msg, new_error_id
from sandbox.kintone.plugins import PluginPackageError, read_package
from sandbox.kintone.screens import Screens, is_screen, session_user
from sandbox.kintone.store import ADMINISTRATOR, Domain, Fault, State

_REST_PATH = re.compile(
    r"/(?P<sub>[^/]+)(?P<api>/k(?:/guest/(?P<guest>\d+))?/v1/(?P<preview>preview/)?"
    r"(?P<endpoint>[A-Za-z/]+)\.json)"
)
_INDEXED = re.compile(r"([^\[\]]+)\[(\d*)\](?:\[([^\[\]]+)\])?")
_METHODS = ("GET", "POST", "PUT", "DELETE")
MAX_TOKENS_PER_REQUEST = 9
MAX_URI_BYTES = 8192
LOG = logging.getLogger("sandbox.kintone")
BIG_LOAD_BYTES = 5_000_000


def parse_query_string(args: MultiDict) -> dict[str, Any]:
    """Query-string parameters with `name[0]=` (and `name[0][key]=`) arrays rebuilt."""
    out: dict[str, Any] = {}
    arrays: dict[str, dict[int, Any]] = {}
    for key, value in args.items(multi=True):
        match = _INDEXED.fullmatch(key)
        if not match:
            out[key] = value
            continue
        name, index, sub = match.groups()
        slots = arrays.setdefault(name, {})
        position = int(index) if index else len(slots)
        if sub:
            slot = slots.setdefault(position, {})
            if isinstance(slot, dict):
                slot[sub] = value
        else:
            slots[position] = value
    for name, slots in arrays.items():
        out[name] = [slots[i] for i in sorted(slots)]
    return out


def request_language(request: Request, default: str) -> str:
    """'ja' or 'en' from Accept-Language (highest q wins); the default without a header."""
    header = request.headers.get("Accept-Language", "").strip()
    if not header or header == "*":
        return default
    best, best_q = None, -1.0
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > best_q:
            best, best_q = tag.lower(), quality
    if best is None or best == "*":
        return default
    return "ja" if best.startswith("ja") else "en"


def authenticate(request: Request, domain: Domain, state: State) -> Auth:
    """Password beats tokens, tokens beat a screen's session; no credentials -> 401 CB_AU01."""
    header = request.headers.get("X-Cybozu-Authorization")
    if header:
        try:
            decoded = base64.b64decode(header.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise coded(401, "CB_WA01") from None
        login, sep, password = decoded.partition(":")
        user = domain.users.get(login)
        if not sep or user is None or user.password != password:
            raise coded(401, "CB_WA01")
        return Auth(user.entity(), True)
    headers = request.headers.getlist("X-Cybozu-API-Token")
    if headers:
        values = [v.strip() for h in headers for v in h.split(",") if v.strip()]
        if len(values) > MAX_TOKENS_PER_REQUEST:
            raise KintoneError(400, "CB_IL02", msg("too_many_tokens"))
        tokens: dict[int, frozenset[str]] = {}
        found = []
        for value in values:
            token = domain.tokens.get(value)
            if token is None or not token.active:
                raise coded(400, "GAIA_IA02")
            found.append(token)
        if not found:
            raise coded(400, "GAIA_IA02")
        for token in found:
            if token.app in tokens:
                raise coded(400, "GAIA_DA03")
            tokens[token.app] = token.permissions
        return Auth(ADMINISTRATOR, False, tokens)
    if session_user(state, domain, request) is not None:
        # kintone.api from a screen: the browser's session (cookie) signs the call in.
        return Auth(ADMINISTRATOR, True)
    raise coded(401, "CB_AU01")


class KintoneSandbox:
    """WSGI callable serving the kintone REST API and the `/_sandbox` admin API."""

    def __init__(self, data: dict | None = None) -> None:
        self.state = State()
        self.screens = Screens(self.state)
        self.initial_data = data
        if data:
            admin.load_data(self.state, data)

    def __call__(self, environ: dict, start_response):
        request = Request(environ)
        try:
            if request.path.startswith("/_sandbox/"):
                response = self.admin(request)
            elif is_screen(request.path):
                response = self.screens(request)
            else:
                response = self.rest(request)
        finally:
            request.close()
        return response(environ, start_response)

    # -- admin -----------------------------------------------------------------------------------

    def admin(self, request: Request) -> Response:
        """Dispatch `/_sandbox/<name>`."""
        name = request.path[len("/_sandbox/") :].strip("/")
        if request.method == "POST" and name == "records":
            # Bulk loads create millions of long-lived objects: the cyclic GC would rescan them
            # on every full collection (seconds at 1M records), so pause it and, after a big
            # load, move everything to the permanent generation.
            enabled = gc.isenabled()
            gc.disable()
            try:
                response = self._admin(request, name)
            finally:
                if enabled:
                    gc.enable()
            if response.status_code == 200 and (request.content_length or 0) > BIG_LOAD_BYTES:
                gc.freeze()
            return response
        return self._admin(request, name)

    def _admin(self, request: Request, name: str) -> Response:
        method = request.method
        state = self.state
        if (method, name) == ("POST", "plugins"):
            return self._admin_plugin_import(request)
        try:
            body = self._admin_body(request)
            args = request.args.to_dict()
            with state.lock:
                if (method, name) == ("POST", "reset"):
                    result = admin.reset(state)
                    if self.initial_data:
                        admin.load_data(state, self.initial_data)
                elif (method, name) == ("POST", "apps"):
                    result = admin.create_app(state, body)
                elif (method, name) == ("POST", "tokens"):
                    result = admin.create_token(state, body)
                elif (method, name) == ("GET", "tokens"):
                    result = admin.list_tokens(state, args)
                elif (method, name) == ("POST", "users"):
                    result = admin.create_user(state, body)
                elif (method, name) == ("POST", "records"):
                    result = admin.load_records(state, body)
                    body = {}  # drop the request objects before any freeze below
                elif (method, name) == ("GET", "records"):
                    result = admin.dump_records(state, args)
                elif method in ("POST", "PUT") and name == "fields":
                    result = admin.change_fields(state, body)
                elif (method, name) == ("POST", "config"):
                    result = admin.set_config(state, body)
                elif (method, name) == ("GET", "config"):
                    result = admin.config_json(state)
                elif (method, name) == ("POST", "views"):
                    result = admin.create_view(state, body)
                elif (method, name) == ("POST", "plugins/app"):
                    result = admin.add_plugin_to_app(state, body)
                elif (method, name) == ("GET", "plugins"):
                    result = admin.plugins_json(state, args)
                elif (method, name) == ("GET", "stats"):
                    result = admin.stats(state, args)
                elif (method, name) == ("POST", "stats/reset"):
                    result = admin.reset_stats(state, body)
                else:
                    raise admin.AdminError(404, f"no admin endpoint {method} /_sandbox/{name}")
                payload = _dumps(result)
        except admin.AdminError as exc:
            return Response(_dumps(exc.body()), exc.status, content_type="application/json")
        except KintoneError as exc:
            return Response(_dumps(exc.body("en")), exc.status, content_type="application/json")
        return Response(payload, 200, content_type="application/json; charset=utf-8")

    def _admin_plugin_import(self, request: Request) -> Response:
        """POST /_sandbox/plugins?subdomain=…: import the plugin zip in the body."""
        subdomain = request.args.get("subdomain", "")
        if not subdomain:
            return Response(_dumps({"error": "'subdomain' is required"}), 400)
        try:
            plugin = read_package(request.get_data())
        except PluginPackageError as error:
            return Response(
                json.dumps({"error": error.message}, ensure_ascii=False),
                400,
                content_type="application/json; charset=utf-8",
            )
        with self.state.lock:
            self.state.domain(subdomain).plugins[plugin.id] = plugin
        body = {"id": plugin.id, "name": plugin.name, "version": plugin.version}
        return Response(_dumps(body), 200, content_type="application/json; charset=utf-8")

    @staticmethod
    def _admin_body(request: Request) -> dict:
        raw = request.get_data()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise admin.AdminError(400, "body is not valid JSON") from None
        if not isinstance(body, dict):
            raise admin.AdminError(400, "body must be a JSON object")
        return body

    # -- REST ------------------------------------------------------------------------------------

    def rest(self, request: Request) -> Response:
        """Serve one kintone REST call."""
        state = self.state
        lang = request_language(request, state.config.language)
        uri = (
            request.environ.get("RAW_URI")
            or request.environ.get("REQUEST_URI")
            or request.full_path
        )
        if len(uri) > MAX_URI_BYTES:
            # kintone's front end refuses long URLs before any API logic (clients must switch
            # to POST + X-HTTP-Method-Override).
            return Response(
                "<html><body><h1>414 Request-URI Too Large</h1></body></html>",
                414,
                content_type="text/html; charset=utf-8",
            )
        match = _REST_PATH.fullmatch(request.path)
        if not match:
            return _error(coded(404, "GAIA_NF01"), lang, {})
        method = request.method
        override = request.headers.get("X-HTTP-Method-Override")
        bad_override = False
        if override is not None and method == "POST":
            if override in _METHODS:
                method = override
            else:
                bad_override = True
        api_path = match.group("api")
        with state.lock:
            domain = state.domain(match.group("sub"))
            domain.calls[f"{method} {api_path}"] += 1
        limit = state.config.concurrency_limit
        with state.running_lock:
            rejected = domain.running >= limit
            if rejected:
                domain.rejected_concurrent += 1
            else:
                domain.running += 1
                domain.peak_running = max(domain.peak_running, domain.running)
            running = domain.running
        headers = {
            "X-ConcurrencyLimit-Limit": str(limit),
            "X-ConcurrencyLimit-Running": str(running),
        }
        if rejected:
            headers["X-Cybozu-Error"] = "GAIA_TO04"
            return _error(coded(429, "GAIA_TO04"), lang, headers)
        try:
            latency = state.config.latency_ms
            if latency:
                time.sleep(latency / 1000)
            fault = self._take_fault(method, api_path, request.path)
            if fault is not None:
                return _fault_response(fault, lang, headers)
            if bad_override:
                raise coded(400, "CB_IL02")
            return self._handle(request, match, method, domain, headers, lang)
        except KintoneError as exc:
            return _error(exc, lang, headers)
        except Exception as exc:
            # A sandbox bug: answer loudly (500, JSON) instead of an HTML traceback page.
            LOG.exception("kintone sandbox failed on %s %s", method, request.path)
            body = {
                "code": "SANDBOX_ERROR",
                "id": new_error_id(),
                "message": f"{type(exc).__name__}: {exc}",
            }
            return Response(
                _dumps(body), 500, content_type="application/json; charset=utf-8", headers=headers
            )
        finally:
            with state.running_lock:
                domain.running -= 1

    def _take_fault(self, method: str, api_path: str, full_path: str) -> Fault | None:
        with self.state.lock:
            faults = self.state.config.faults
            for fault in faults:
                if fault.method and fault.method.upper() != method:
                    continue
                if not (
                    fnmatch.fnmatchcase(api_path, fault.path)
                    or fnmatch.fnmatchcase(full_path, fault.path)
                ):
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    faults.remove(fault)
                return fault
        return None

    def _handle(
        self,
        request: Request,
        match: re.Match,
        method: str,
        domain: Domain,
        headers: dict[str, str],
        lang: str,
    ) -> Response:
        preview = bool(match.group("preview"))
        endpoint = match.group("endpoint")
        guest = int(match.group("guest")) if match.group("guest") else None
        handler = ROUTES.get((method, preview, endpoint))
        if handler is None:
            if (preview, endpoint) in KNOWN_ENDPOINTS:
                raise KintoneError(405, "CB_IL02", msg("method_not_allowed"))
            raise coded(404, "GAIA_NF01")
        state = self.state
        with state.lock:
            auth = authenticate(request, domain, state)
            params, files = _params(request)
            self._count_daily(domain, endpoint, params)
            call = Call(state, domain, guest, params, auth, files=files, headers=headers)
            body = handler(call, params)
            if isinstance(body, RawBody):
                return Response(body.data, 200, content_type=body.content_type, headers=headers)
            payload = _dumps(body)
        return Response(
            payload, 200, content_type="application/json; charset=utf-8", headers=headers
        )

    def _count_daily(self, domain: Domain, endpoint: str, params: dict) -> None:
        raw = params.get("id") if endpoint == "app" else params.get("app")
        try:
            app_id = int(raw)
        except (TypeError, ValueError):
            return
        domain.daily[(admin.today_key(self.state.clock.now()), app_id)] += 1


def _params(request: Request) -> tuple[dict, Any]:
    """Query string plus JSON body (body wins); multipart bodies give files instead."""
    params = parse_query_string(request.args)
    if request.mimetype == "multipart/form-data":
        params.update(request.form.to_dict())
        return params, request.files
    raw = request.get_data()
    if raw and raw.strip():
        try:
            body = json.loads(raw)
        except ValueError:
            raise coded(400, "CB_IJ01") from None
        if not isinstance(body, dict):
            raise coded(400, "CB_IJ01")
        params.update(body)
    return params, None


# ASCII output with \u escapes is valid JSON and the C encoder's fast path (2-3x faster).
_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def _dumps(body: Any) -> bytes:
    return _ENCODER.encode(body).encode("ascii")


def _error(exc: KintoneError, lang: str, headers: dict[str, str]) -> Response:
    return Response(
        _dumps(exc.body(lang)),
        exc.status,
        content_type="application/json; charset=utf-8",
        headers=headers,
    )


def _fault_response(fault: Fault, lang: str, headers: dict[str, str]) -> Response:
    if not fault.code:
        # Like kintone's maintenance page: not JSON at all.
        html = f"<html><body><h1>{fault.status}</h1><p>{fault.message or ''}</p></body></html>"
        return Response(html, fault.status, content_type="text/html; charset=utf-8")
    exc = KintoneError(fault.status, fault.code, msg("fault"))
    body = exc.body(lang)
    if fault.message:
        body["message"] = fault.message
    elif fault.code in _KNOWN_CODES:
        body["message"] = msg(fault.code).render(lang)
    out_headers = dict(headers)
    if fault.status == 429 or fault.code == "GAIA_TO04":
        out_headers["X-Cybozu-Error"] = fault.code
    return Response(
        _dumps(body),
        fault.status,
        content_type="application/json; charset=utf-8",
        headers=out_headers,
    )


_KNOWN_CODES = frozenset(key for key in MESSAGES if re.fullmatch(r"[A-Z]+_[A-Z]+\d+", key))
