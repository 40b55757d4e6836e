"""The kintone plugin package: packed by @kintone/plugin-packer, checked here without it.

The signature and the plugin ID are verified with Python's `cryptography` against spec §7.1
(RSA PKCS#1 v1.5 with SHA-1 over contents.zip; ID = the first 32 hex digits of sha256(PUBKEY)
mapped 0-9a-f → a-p), so a packer that signed or named differently would fail here.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from portal.connector_types.haihai_kintone.plugin import package

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EXPECTED_CONTENTS = {
    "manifest.json",
    "image/icon.png",
    "js/desktop.js",
    "css/desktop.css",
    "html/config.html",
    "js/config.js",
    "css/config.css",
}


def plugin_id_of(public_der: bytes) -> str:
    """Spec §7.1 step 5, written out independently of the packer."""
    digits = hashlib.sha256(public_der).hexdigest()[:32]
    return digits.translate(str.maketrans("0123456789abcdef", "abcdefghijklmnop"))


def unpack(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture
def instance(tmp_path) -> Path:
    folder = tmp_path / "instance"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def shared_instance(tmp_path_factory) -> Path:
    """One deployment for the tests that only read its package."""
    return tmp_path_factory.mktemp("shared-instance")


@pytest.fixture(scope="module")
def built(shared_instance) -> package.BuiltPlugin:
    return package.build_plugin(shared_instance)


def test_package_is_signed_and_named_by_its_key(built, shared_instance):
    outer = unpack(built.read())
    assert set(outer) == {"contents.zip", "PUBKEY", "SIGNATURE"}

    public_key = serialization.load_der_public_key(outer["PUBKEY"])
    public_key.verify(outer["SIGNATURE"], outer["contents.zip"], padding.PKCS1v15(), hashes.SHA1())
    with pytest.raises(InvalidSignature):
        public_key.verify(
            outer["SIGNATURE"], outer["contents.zip"] + b"x", padding.PKCS1v15(), hashes.SHA1()
        )

    assert built.plugin_id == plugin_id_of(outer["PUBKEY"])
    assert len(built.plugin_id) == 32 and set(built.plugin_id) <= set("abcdefghijklmnop")

    # The key in the instance folder is the one that signed, kept private.
    key_file = package.key_path(shared_instance)
    assert key_file.stat().st_mode & 0o777 == 0o600
    private_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    public_der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_der == outer["PUBKEY"]


def test_contents_are_the_manifests_files(built):
    contents = unpack(unpack(built.read())["contents.zip"])
    assert set(contents) == EXPECTED_CONTENTS
    manifest = json.loads(contents["manifest.json"])
    assert manifest["type"] == "APP"
    assert manifest["config"]["required_params"] == ["portalUrl", "settings"]
    for name in EXPECTED_CONTENTS - {"manifest.json"}:
        assert contents[name] == (package.SOURCE_DIR / name).read_bytes()


def test_same_key_same_id_across_versions(instance, tmp_path, monkeypatch):
    first = package.build_plugin(instance)
    again = package.build_plugin(instance)
    assert again.path == first.path and again.read() == first.read()  # cached, not re-signed

    changed = tmp_path / "source"
    shutil.copytree(package.SOURCE_DIR, changed)
    manifest = json.loads((changed / "manifest.json").read_text())
    manifest["version"] = "1.0.1"
    (changed / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
    (changed / "js" / "desktop.js").write_text("/* newer */\n", encoding="utf-8")
    monkeypatch.setattr(package, "SOURCE_DIR", changed)
    newer = package.build_plugin(instance)
    assert newer.path != first.path
    assert newer.version == "1.0.1"
    assert newer.plugin_id == first.plugin_id
    contents = unpack(unpack(newer.read())["contents.zip"])
    assert contents["js/desktop.js"] == b"/* newer */\n"


def test_another_deployment_gets_another_id(built, tmp_path):
    assert package.build_plugin(tmp_path / "other").plugin_id != built.plugin_id


def test_concurrent_first_builds_create_one_key(instance):
    script = (
        "import sys; from portal.connector_types.haihai_kintone.plugin import package;"
        "print(package.build_plugin(sys.argv[1]).plugin_id)"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(instance)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    ids = {process.communicate(timeout=120)[0].strip() for process in processes}
    assert len(ids) == 1 and "" not in ids
    assert ids == {package.build_plugin(instance).plugin_id}


def test_invalid_manifest_is_refused_by_the_validator(instance, tmp_path, monkeypatch):
    broken = tmp_path / "source"
    shutil.copytree(package.SOURCE_DIR, broken)
    (broken / "image" / "icon.png").unlink()
    monkeypatch.setattr(package, "SOURCE_DIR", broken)
    with pytest.raises(package.PluginBuildError) as raised:
        package.build_plugin(instance)
    assert "icon" in str(raised.value)
    assert not package.key_path(instance).exists()


def test_missing_node_is_a_build_error(instance):
    with pytest.raises(package.PluginBuildError):
        package.build_plugin(instance, node="/nonexistent/node")


def test_setup_zip_holds_the_plugin_and_the_steps(built):
    files = unpack(package.setup_zip(built, "https://portal.example.com/"))
    assert set(files) == {"hai2-connect-plugin.zip", "README.txt"}
    assert files["hai2-connect-plugin.zip"] == built.read()
    readme = files["README.txt"].decode("utf-8-sig")
    assert built.plugin_id in readme
    assert "https://portal.example.com/" in readme
    assert "hai2-connect-plugin.zip" in readme
    assert "顧客情報連携 (kintoneからの実行)" in readme
