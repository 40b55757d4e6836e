"""Plugin packages as kintone reads them (spec §7.1–§7.2), and the plugin proxy (§7.3).

`read_package` checks what kintone checks on import: the outer zip holds `contents.zip`,
`PUBKEY` and `SIGNATURE`; the signature is RSA PKCS#1 v1.5 / SHA-1 over contents.zip under
PUBKEY; the plugin ID is derived from PUBKEY; contents.zip has one manifest.json whose files all
exist. `proxy_request` merges stored setProxyConfig entries into a call (same app, plugin and
method; the longest stored URL that prefixes the request URL; stored keys win) and sends it
from the sandbox's side, as kintone's servers do.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import zipfile
from dataclasses import dataclass, field
from typing import Any

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PROXY_TIMEOUT_SECONDS = 30
MAX_PACKAGE_BYTES = 100 * 1024 * 1024
_ID_MAP = str.maketrans("0123456789abcdef", "abcdefghijklmnop")
_RESOURCE_KEYS = ("js", "css")


class PluginPackageError(Exception):
    """kintone refuses the file; `message` is what its import screen says."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Plugin:
    """An imported plugin: its ID, manifest and files (manifest-relative paths)."""

    id: str
    manifest: dict
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The Japanese name, else the English one."""
        names = self.manifest.get("name") or {}
        return str(names.get("ja") or names.get("en") or self.id)

    @property
    def version(self) -> str:
        """The manifest's version."""
        return str(self.manifest.get("version"))

    def resources(self, area: str, kind: str) -> list[str]:
        """The `kind` ("js"/"css") entries of `area` ("desktop"/"config"), paths or URLs."""
        return list((self.manifest.get(area) or {}).get(kind) or [])

    def required_params(self) -> list[str]:
        """Config keys without which kintone treats the plugin as not set up."""
        return list((self.manifest.get("config") or {}).get("required_params") or [])


def plugin_id(public_der: bytes) -> str:
    """The plugin ID of a public key (sha256 → first 32 hex digits → a–p)."""
    return hashlib.sha256(public_der).hexdigest()[:32].translate(_ID_MAP)


def read_package(data: bytes) -> Plugin:
    """Verify and unpack a plugin zip; PluginPackageError with kintone-like Japanese text."""
    if len(data) > MAX_PACKAGE_BYTES:
        raise PluginPackageError("プラグインファイルのサイズが上限（100MB）を超えています。")
    outer = _unzip(data, "プラグインファイルの形式が正しくありません。")
    if set(outer) != {"contents.zip", "PUBKEY", "SIGNATURE"}:
        raise PluginPackageError(
            "プラグインファイルの形式が正しくありません。"
            "contents.zip、PUBKEY、SIGNATURE の3つのファイルを含むzipファイルを指定してください。"
        )
    try:
        public_key = serialization.load_der_public_key(outer["PUBKEY"])
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise ValueError("not an RSA key")
        public_key.verify(
            outer["SIGNATURE"], outer["contents.zip"], padding.PKCS1v15(), hashes.SHA1()
        )
    except (ValueError, InvalidSignature):
        raise PluginPackageError("プラグインファイルの署名が正しくありません。") from None
    contents = _unzip(outer["contents.zip"], "contents.zip の形式が正しくありません。")
    manifests = [name for name in contents if posixpath.basename(name) == "manifest.json"]
    if len(manifests) != 1:
        raise PluginPackageError("contents.zip には manifest.json を1つだけ含めてください。")
    root = posixpath.dirname(manifests[0])
    files = {
        posixpath.relpath(name, root) if root else name: body
        for name, body in contents.items()
        if not name.endswith("/")
    }
    try:
        manifest = json.loads(files["manifest.json"].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise PluginPackageError("manifest.json の形式が正しくありません。") from None
    _check_manifest(manifest, files)
    return Plugin(plugin_id(outer["PUBKEY"]), manifest, files)


def _unzip(data: bytes, message: str) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    except (zipfile.BadZipFile, OSError, KeyError):
        raise PluginPackageError(message) from None


def _check_manifest(manifest: Any, files: dict[str, bytes]) -> None:
    """The checks of the manifest schema that decide whether kintone can use the plugin."""
    problems = []
    if not isinstance(manifest, dict):
        raise PluginPackageError("manifest.json の形式が正しくありません。")
    if manifest.get("type") != "APP":
        problems.append("type は APP を指定してください。")
    if not isinstance(manifest.get("name"), dict) or not manifest["name"].get("en"):
        problems.append("name.en を指定してください。")
    if manifest.get("version") in (None, ""):
        problems.append("version を指定してください。")
    if manifest.get("icon") not in files:
        problems.append(f"icon のファイル（{manifest.get('icon')}）がありません。")
    for area in ("desktop", "mobile", "config"):
        section = manifest.get(area) or {}
        for kind in _RESOURCE_KEYS:
            for entry in section.get(kind) or []:
                if not str(entry).startswith("https://") and entry not in files:
                    problems.append(f"{area}.{kind} のファイル（{entry}）がありません。")
    html = (manifest.get("config") or {}).get("html")
    if html is not None and html not in files:
        problems.append(f"config.html のファイル（{html}）がありません。")
    if problems:
        raise PluginPackageError("manifest.json が正しくありません。" + " ".join(problems))


# --- the plugin proxy -----------------------------------------------------------------------


def stored_proxy_config(entries: dict[tuple[str, str], dict], url: str, method: str) -> dict | None:
    """The stored entry for (url, method): same method, longest URL that prefixes `url`."""
    matches = [
        (len(stored_url), entry)
        for (stored_method, stored_url), entry in entries.items()
        if stored_method == method and url.startswith(stored_url)
    ]
    if not matches:
        return None
    return max(matches, key=lambda match: match[0])[1]


def merged_request(
    entries: dict[tuple[str, str], dict], url: str, method: str, headers: dict, data: Any
) -> tuple[dict[str, str], bytes | None]:
    """Headers and body of a proxy call after merging the stored config (stored keys win)."""
    stored = stored_proxy_config(entries, url, method) or {"headers": {}, "data": {}}
    merged_headers = {str(k): str(v) for k, v in (headers or {}).items()}
    merged_headers.update({str(k): str(v) for k, v in (stored.get("headers") or {}).items()})
    if method not in ("POST", "PUT"):
        return merged_headers, None
    if isinstance(data, dict):
        body = {**data, **(stored.get("data") or {})}
        return merged_headers, json.dumps(body, ensure_ascii=False).encode("utf-8")
    return merged_headers, str(data or "").encode("utf-8")


def proxy_request(
    entries: dict[tuple[str, str], dict], url: str, method: str, headers: dict, data: Any
) -> dict:
    """Send the call from the sandbox: `{"body", "status", "headers"}` (status 0 if unreachable)."""
    merged_headers, body = merged_request(entries, url, method, headers, data)
    try:
        response = requests.request(
            method, url, headers=merged_headers, data=body, timeout=PROXY_TIMEOUT_SECONDS
        )
    except requests.RequestException as error:
        return {"body": str(error), "status": 0, "headers": {}}
    return {
        "body": response.text,
        "status": response.status_code,
        "headers": dict(response.headers),
    }
