"""The MCP Bundle ``make bundle`` builds: a valid MCPB 0.3 manifest that agrees with the server (version,
every tool), and, unzipped and started the way a desktop host starts it, a server that answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from mcp_server import __version__
from mcp_server.handlers.mcp.server import shop_tools
from tests.e2e.support import JsonObject, as_object
from tests.packaging.support import (
    CHECKOUT,
    HostLaunch,
    assert_serves_shopkeeper,
    handshake,
    host_launch,
    outside_env,
    schema_problems,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def extension(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle unzipped as a host installs it (once: the first start compiles its modules there)."""
    into = tmp_path_factory.mktemp("extensions") / "Shopkeeper extension"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(into)
    return into


@pytest.fixture(scope="module")
def manifest(bundle: Path) -> JsonObject:
    with zipfile.ZipFile(bundle) as archive:
        return as_object(json.loads(archive.read("manifest.json")))


def _system_dirs(home: Path) -> dict[str, str]:
    """The folders a host offers to ${…} (only HOME exists in the test's home, as on a fresh Linux account)."""
    return {
        "HOME": str(home),
        "DESKTOP": str(home / "Desktop"),
        "DOCUMENTS": str(home / "Documents"),
        "DOWNLOADS": str(home / "Downloads"),
    }


def _start(launch: HostLaunch, home: Path, cwd: Path, call: tuple[str, JsonObject]) -> Any:
    """Start the server the host's way: the command looked up on the host's PATH, the host's environment plus
    the manifest's env."""
    env = outside_env(home, launch.env)
    command = shutil.which(launch.command, path=env["PATH"])
    assert command is not None, f"no {launch.command} on PATH"
    return handshake([command, *launch.args], env=env, cwd=cwd, stderr_path=cwd / "stderr.log", call=call)


def test_the_manifest_is_valid_and_agrees_with_the_server(bundle: Path, manifest: JsonObject) -> None:
    assert bundle.name == f"shopkeeper-{__version__}.mcpb"
    schema = json.loads((CHECKOUT / "packaging" / "mcpb-manifest-v0.3.schema.json").read_text())
    assert schema_problems(schema, manifest) == []
    assert manifest["manifest_version"] == "0.3"
    assert manifest["version"] == __version__
    listed = [as_object(tool) for tool in manifest["tools"]]  # type: ignore[union-attr]
    assert [tool["name"] for tool in listed] == [tool.name for tool in shop_tools()]
    for tool, served in zip(listed, shop_tools(), strict=True):
        first_paragraph = " ".join((served.description or "").split("\n\n")[0].split())
        assert tool["description"] == first_paragraph, tool["name"]


def test_the_manifest_records_what_the_bundle_was_built_for(manifest: JsonObject, extension: Path) -> None:
    compatibility = as_object(manifest["compatibility"])
    runtimes = as_object(compatibility["runtimes"])
    assert compatibility["platforms"] == [sys.platform]
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert runtimes["python"] == f">={minor},<{sys.version_info.major}.{sys.version_info.minor + 1}"
    compiled = {p.name for p in (extension / "server" / "lib").rglob("*.so")}
    assert any(f"cpython-{minor.replace('.', '')}" in name for name in compiled), "compiled for this Python"


def test_the_database_setting_follows_the_new_file_rule(manifest: JsonObject) -> None:
    """The server creates a shop only as a new file in a folder that exists: the setting is a folder, its
    default one that every account has."""
    options = as_object(manifest["user_config"])
    database = as_object(options["database"])
    assert (database["type"], database["required"], database["default"]) == ("directory", True, "${HOME}")
    key = as_object(options["stripe_secret_key"])
    assert (key["type"], key["sensitive"], key["required"], key["default"]) == ("string", True, False, "")


def test_a_host_starts_the_bundle_and_it_serves(manifest: JsonObject, extension: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shop = home / "My Shop"
    shop.mkdir(parents=True)
    # The person picked the shop folder and gave a (test) Stripe key; the host keeps both and fills them in.
    launch = host_launch(
        manifest, extension, _system_dirs(home), {"database": str(shop), "stripe_secret_key": "sk_test_bundle"}
    )
    assert launch is not None
    assert launch.env["SHOPKEEPER_DATABASE_URL"] == f"sqlite+aiosqlite:///{shop}{os.sep}shopkeeper.db"
    assert launch.env["SHOPKEEPER_STRIPE_SECRET_KEY"] == "sk_test_bundle"
    _python_fits(manifest, launch, home)

    shake = _start(launch, home, tmp_path, ("customers_register", {"name": "Ada Lovelace", "email": "ada@example.com"}))

    assert_serves_shopkeeper(shake)
    assert shake.called is not None
    assert shake.called.get("isError") is False, shake.called
    assert (shop / "shopkeeper.db").is_file()
    assert "sk_test_bundle" not in shake.stderr


def test_a_folder_that_does_not_exist_is_refused_not_created(
    manifest: JsonObject, extension: Path, tmp_path: Path
) -> None:
    """No Stripe key given (the host fills in the empty default, which the server reads as unset)."""
    home = tmp_path / "home"
    home.mkdir()
    missing = home / "Documents" / "Shop"
    launch = host_launch(manifest, extension, _system_dirs(home), {"database": str(missing)})
    assert launch is not None
    assert launch.env["SHOPKEEPER_STRIPE_SECRET_KEY"] == ""

    shake = _start(launch, home, tmp_path, ("customers_list", {}))

    assert_serves_shopkeeper(shake)
    assert shake.called is not None
    assert shake.called.get("isError") is True, shake.called
    assert "shopkeeper db init" in json.dumps(shake.called)
    assert not (home / "Documents").exists(), "nothing was created under a folder that does not exist"


def test_a_host_does_not_start_it_before_the_folder_is_chosen(manifest: JsonObject, tmp_path: Path) -> None:
    assert host_launch(manifest, tmp_path, _system_dirs(tmp_path), {}) is None


def _python_fits(manifest: JsonObject, launch: HostLaunch, home: Path) -> None:
    """The host's python3 is the version the bundle was built for (else its compiled dependencies cannot load)."""
    env = outside_env(home)
    command = shutil.which(launch.command, path=env["PATH"])
    assert command is not None
    said = subprocess.run(
        [command, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.strip()
    wanted = str(as_object(as_object(manifest["compatibility"])["runtimes"])["python"])
    assert wanted.startswith(f">={said},"), f"{command} is Python {said}; the bundle needs {wanted}"
