"""The wheel and sdist ``make dist`` builds: built without a warning, the sdist enough to build the wheel
again, and the wheel, installed into a clean virtualenv, a working Shopkeeper (migrations included)."""

from __future__ import annotations

import re
import sqlite3
import tarfile
import zipfile
from contextlib import closing
from pathlib import Path

import pytest

from mcp_server import __version__
from mcp_server.adapters.migrations import HEAD_REVISION
from tests.packaging.support import CHECKOUT, Built, assert_serves_shopkeeper, handshake, outside_env, run

pytestmark = pytest.mark.slow

MIGRATIONS = CHECKOUT / "mcp_server" / "adapters" / "migrations"


def _package_files() -> set[str]:
    """Every file of the package in the checkout that a build should carry: modules and the Alembic template."""
    files = {p for p in (CHECKOUT / "mcp_server").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    return {p.relative_to(CHECKOUT).as_posix() for p in files if p.suffix in (".py", ".mako", ".typed")}


def test_the_build_prints_no_warning(built: Built) -> None:
    noted = [line for line in built.log.splitlines() if re.search(r"warn|deprecat", line, re.IGNORECASE)]
    assert noted == [], "\n".join(noted)
    assert "Building wheel from sdist" in built.log, "the wheel is built from the sdist, so the sdist is enough"


def test_the_sdist_holds_what_a_rebuild_needs(built: Built) -> None:
    root = f"shopkeeper_mcp-{__version__}/"
    with tarfile.open(built.sdist) as sdist:
        names = {name.removeprefix(root) for name in sdist.getnames()}
    assert {"pyproject.toml", "README.md", "LICENSE", "PKG-INFO"} <= names
    assert _package_files() <= names, sorted(_package_files() - names)


def test_the_wheel_holds_the_package_and_its_migrations(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"shopkeeper_mcp-{__version__}.dist-info/METADATA").decode()
        entry_points = wheel.read(f"shopkeeper_mcp-{__version__}.dist-info/entry_points.txt").decode()
    assert _package_files() <= names, sorted(_package_files() - names)
    versions = {p.name for p in (MIGRATIONS / "versions").glob("*.py")}
    assert {Path(n).name for n in names if n.startswith("mcp_server/adapters/migrations/versions/")} >= versions
    assert f"Version: {__version__}\n" in metadata
    assert "License-Expression: MIT\n" in metadata
    assert f"shopkeeper_mcp-{__version__}.dist-info/licenses/LICENSE" in names
    assert "shopkeeper-mcp = mcp_server.entrypoint:main" in entry_points
    assert "shopkeeper = mcp_server.entrypoint:cli_main" in entry_points


def test_the_installed_commands_say_their_version(installed: Path, tmp_path: Path) -> None:
    env = outside_env(tmp_path)
    assert run([installed / "shopkeeper", "--version"], env=env, cwd=tmp_path) == f"shopkeeper {__version__}\n"
    assert run([installed / "shopkeeper-mcp", "--version"], env=env, cwd=tmp_path) == f"shopkeeper-mcp {__version__}\n"
    where = run([installed / "python", "-c", "import mcp_server; print(mcp_server.__file__)"], env=env, cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(installed.parent), f"imported from {where}, not the clean virtualenv"


def test_db_init_makes_a_shop_from_the_installed_migrations(installed: Path, tmp_path: Path) -> None:
    db = tmp_path / "new shop.db"
    env = outside_env(tmp_path, {"SHOPKEEPER_DATABASE_URL": f"sqlite+aiosqlite:///{db}"})
    run([installed / "shopkeeper", "db", "init"], env=env, cwd=tmp_path)
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert revision == HEAD_REVISION
    assert {"customers", "products", "orders", "payments"} <= tables


@pytest.mark.parametrize("how", ["shopkeeper-mcp", "python -m mcp_server"])
def test_the_installed_server_answers_over_stdio(installed: Path, tmp_path: Path, how: str) -> None:
    argv = [installed / "shopkeeper-mcp"] if how == "shopkeeper-mcp" else [installed / "python", "-m", "mcp_server"]
    env = outside_env(tmp_path, {"SHOPKEEPER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/shop.db"})
    shake = handshake(
        argv,
        env=env,
        cwd=tmp_path,
        stderr_path=tmp_path / "stderr.log",
        call=("customers_register", {"name": "Ada Lovelace", "email": "ada@example.com"}),
    )
    assert_serves_shopkeeper(shake)
    assert shake.called is not None
    assert shake.called.get("isError") is False, shake.called
