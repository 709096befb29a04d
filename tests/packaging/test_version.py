"""The version is written once, in mcp_server/__init__.py, and everything that names one says that."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from mcp_server import __version__
from mcp_server.entrypoint import cli_main, main
from mcp_server.handlers.cli.main import CliActions, SchemaState, run
from tests.packaging.support import CHECKOUT, outside_env


def test_pyproject_reads_the_version_from_the_package() -> None:
    project = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())
    assert "version" not in project["project"], "the version is written in mcp_server/__init__.py only"
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "mcp_server.__version__"}


def test_shopkeeper_mcp_version(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPKEEPER_LOG_LEVEL", "loud")  # a bad setting does not hide the version
    main(["--version"])  # returns: exit status 0
    out = capsys.readouterr()
    assert out.out == f"shopkeeper-mcp {__version__}\n"
    assert out.err == ""


def test_shopkeeper_version(capsys: pytest.CaptureFixture[str]) -> None:
    async def never() -> SchemaState:
        raise AssertionError("--version touches no database")

    assert run(["--version"], CliActions(upgrade_database=never, database_label="unused")) == 0
    assert capsys.readouterr().out == f"shopkeeper {__version__}\n"


def test_shopkeeper_version_despite_a_bad_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPKEEPER_DATABASE_URL", "nowhere://at-all")
    with pytest.raises(SystemExit) as stopped:
        cli_main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out == f"shopkeeper {__version__}\n"


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_client_sees_the_version_in_server_info(anyio_backend: str, tmp_path: Path) -> None:
    del anyio_backend
    env = outside_env(tmp_path, {"SHOPKEEPER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/shop.db"})
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_server"], env=env, cwd=CHECKOUT)
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            info = client.server_info
    assert info is not None
    assert (info.name, info.version) == ("shopkeeper", __version__)


def test_the_readme_names_this_version_s_files() -> None:
    """Every wheel, sdist and bundle file name the README shows is this version's."""
    readme = (CHECKOUT / "README.md").read_text()
    named = re.findall(r"shopkeeper_mcp-(\d[\w.]*?)(?:-py3-none-any\.whl|\.tar\.gz)", readme)
    named += re.findall(r"shopkeeper-(\d[\w.]*?)\.mcpb", readme)
    assert named, "the README names the files make dist and make bundle write"
    assert set(named) == {__version__}
