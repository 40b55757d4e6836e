"""Building the kintone plugin package and Setup.zip.

The package is packed and signed by @kintone/plugin-packer (npm; run through `pack_plugin.cjs`
with Node.js) after @kintone/plugin-manifest-validator accepted the manifest. The signing key
is one RSA key per deployment in the instance folder (`kintone-plugin/private.ppk`, mode 0600):
created by the packer on the first build, never served, so the plugin ID — derived from the
public key — stays the same across versions and downloads. Built packages are cached in the
same folder under a name made of the version, the source files' digest and the key's digest;
a file lock makes concurrent first downloads (several web processes) build once.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SOURCE_DIR = HERE / "source"
PACK_SCRIPT = HERE / "pack_plugin.cjs"
PLUGIN_FILE_NAME = "hai2-connect-plugin.zip"
SETUP_FILE_NAME = "Setup.zip"
README_FILE_NAME = "README.txt"
BUILD_FOLDER = "kintone-plugin"
KEY_FILE_NAME = "private.ppk"
PACK_TIMEOUT_SECONDS = 120


class PluginBuildError(RuntimeError):
    """The plugin could not be packed (Node.js or the npm packages missing, invalid manifest)."""


@dataclass(frozen=True)
class BuiltPlugin:
    """A packed plugin: its file, its plugin ID and its version."""

    path: Path
    plugin_id: str
    version: str

    def read(self) -> bytes:
        """The package's bytes."""
        return self.path.read_bytes()


def manifest() -> dict:
    """The plugin's manifest.json."""
    return json.loads((SOURCE_DIR / "manifest.json").read_text(encoding="utf-8"))


def _source_files() -> Iterator[Path]:
    for path in sorted(SOURCE_DIR.rglob("*")):
        if path.is_file():
            yield path


def source_digest() -> str:
    """A digest of every source file's path and content (changes whenever the plugin does)."""
    digest = hashlib.sha256()
    for path in _source_files():
        digest.update(path.relative_to(SOURCE_DIR).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def key_path(instance_path: str | os.PathLike) -> Path:
    """Where the deployment's plugin signing key lives (it is never served)."""
    return Path(instance_path) / BUILD_FOLDER / KEY_FILE_NAME


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with open(folder / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _node_environment(node_modules: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if node_modules:
        # The packages normally resolve from the project's node_modules; a deployment that
        # keeps them elsewhere (PORTAL_ASSETS_FOLDER) is found through NODE_PATH.
        env["NODE_PATH"] = os.pathsep.join(filter(None, [node_modules, env.get("NODE_PATH")]))
    return env


def _pack(out: Path, key: Path, node: str, node_modules: str | None) -> dict:
    """Run pack_plugin.cjs; its JSON answer (id, keyCreated, warnings)."""
    executable = shutil.which(node) or node
    try:
        finished = subprocess.run(
            [executable, str(PACK_SCRIPT), str(SOURCE_DIR), str(out), str(key)],
            capture_output=True,
            text=True,
            timeout=PACK_TIMEOUT_SECONDS,
            env=_node_environment(node_modules),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PluginBuildError(f"could not run {node}: {error}") from error
    if finished.returncode != 0:
        raise PluginBuildError(
            f"pack_plugin.cjs exited {finished.returncode}: "
            f"{finished.stdout.strip()} {finished.stderr.strip()}"
        )
    try:
        return json.loads(finished.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as error:
        raise PluginBuildError(f"pack_plugin.cjs answered {finished.stdout!r}") from error


def build_plugin(
    instance_path: str | os.PathLike, *, node: str = "node", node_modules: str | None = None
) -> BuiltPlugin:
    """The deployment's plugin package, built on first use and cached in the instance folder."""
    folder = Path(instance_path) / BUILD_FOLDER
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    version = str(manifest()["version"])
    key = folder / KEY_FILE_NAME
    with _locked(folder):
        if key.exists():
            cached = _cached(folder, version, key)
            if cached is not None:
                return cached
        scratch = folder / f".building-{os.getpid()}.zip"
        try:
            answer = _pack(scratch, key, node, node_modules)
            if answer.get("keyCreated"):
                key.chmod(0o600)
                log.info("kintone plugin key created plugin_id=%s", answer["id"])
            for warning in answer.get("warnings") or ():
                log.info("kintone plugin manifest: %s", warning)
            target = _cache_name(folder, version, key)
            scratch.replace(target)
        finally:
            scratch.unlink(missing_ok=True)
        target.with_suffix(".json").write_text(json.dumps({"id": answer["id"]}))
        log.info("kintone plugin built plugin_id=%s version=%s", answer["id"], version)
        return BuiltPlugin(target, answer["id"], version)


def _cache_name(folder: Path, version: str, key: Path) -> Path:
    key_digest = hashlib.sha256(key.read_bytes()).hexdigest()[:12]
    return folder / f"plugin-{version}-{source_digest()[:12]}-{key_digest}.zip"


def _cached(folder: Path, version: str, key: Path) -> BuiltPlugin | None:
    path = _cache_name(folder, version, key)
    meta = path.with_suffix(".json")
    if not (path.exists() and meta.exists()):
        return None
    try:
        plugin_id = json.loads(meta.read_text())["id"]
    except (ValueError, KeyError):
        return None
    return BuiltPlugin(path, plugin_id, version)


def readme_text(plugin: BuiltPlugin, portal_url: str) -> str:
    """The Japanese README of Setup.zip: how to install and set up the plugin."""
    return "\n".join(
        [
            "配配メールコネクタ kintone プラグイン",
            "",
            f"プラグインファイル: {PLUGIN_FILE_NAME}",
            f"バージョン: {plugin.version}",
            f"プラグインID: {plugin.plugin_id}",
            f"配配メールコネクタのURL: {portal_url}",
            "",
            "■ kintone への適用",
            f"1. kintone の［kintone システム管理］→［プラグイン］→［読み込む］で「{PLUGIN_FILE_NAME}」を読み込みます。",
            "2. 顧客情報アプリ（連携設定画面の Step3 で設定した kintone アプリ）の［アプリの設定］→［プラグイン］→［プラグインの追加］で、",
            "   「配配メールコネクタ kintone プラグイン」を追加します。",
            "3. プラグインの［設定］を開き、次の項目を入力して「接続を確認」を押します。",
            f"   ・配配メールコネクタのURL: {portal_url}",
            "   ・配配メールコネクタ kintone プラグイン用トークン: 連携設定画面の Step1 で発行したトークン",
            "4. 実行する顧客情報連携設定を選択して「保存する」を押し、［アプリを更新］します。",
            "",
            "■ 実行",
            "1. 顧客情報アプリのレコード一覧で、連携したいレコードに絞り込みます。",
            "2. 「配配メールへ連携」を押し、件数と顧客情報連携設定を確認して「連携する」を押します。",
            "3. 実行状況がレコード一覧に表示されます。結果は配配メールコネクタの「連携ログ」にも",
            "   「顧客情報連携 (kintoneからの実行)」として表示されます。",
            "",
            "※ トークンを再発行した場合は、プラグインの設定のトークンも変更してください。",
            "",
        ]
    )


def setup_zip(plugin: BuiltPlugin, portal_url: str) -> bytes:
    """Setup.zip: the plugin package and the README."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PLUGIN_FILE_NAME, plugin.read())
        # A BOM so that Windows editors open the Japanese text as UTF-8.
        archive.writestr(README_FILE_NAME, "\ufeff" + readme_text(plugin, portal_url))
    return buffer.getvalue()
