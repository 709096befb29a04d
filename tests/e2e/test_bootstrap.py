"""``bootstrap(settings)`` is the one wiring: the MCP server and the command line built from it share a shop,
and building either imports nothing of the database half (a desktop app's first ``initialize`` stays quick)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult

from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from mcp_server.handlers.cli.common import Terminal
from mcp_server.handlers.cli.main import run
from tests.databases import sqlite_url
from tests.e2e.support import CHECKOUT, as_object, objects, string
from tests.engines import ENGINES, Engine, ShopDatabase

NOBODY = Terminal(ask=lambda question: pytest.fail(f"nobody should be asked: {question}"), interactive=lambda: False)


def test_both_doors_of_one_bootstrap_work_on_the_same_shop(
    shop_db: ShopDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings({"SHOPKEEPER_DATABASE_URL": shop_db.url, "SHOPKEEPER_WORKER": "off"})
    app = bootstrap(settings)

    async def register() -> CallToolResult:
        async with Client(app.mcp_server()) as client:
            return await client.call_tool("customers_register", {"name": "Ada", "email": "ada@engines.example"})

    registered = anyio.run(register)
    assert not registered.is_error
    capsys.readouterr()
    code = run(["--json", "customers", "list"], app.cli_actions(), NOBODY)

    listed = as_object(json.loads(capsys.readouterr().out))
    assert code == 0
    assert [string(c, "id") for c in objects(listed, "customers")] == [
        string(as_object(registered.structured_content), "id")
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_bootstrapping_either_door_leaves_the_database_half_unimported(tmp_path: Path, engine: Engine) -> None:
    """No database is opened, so a URL of each kind is enough (the PostgreSQL one names no server)."""
    code = (
        "import sys\n"
        "from mcp_server.config import load_settings\n"
        "from mcp_server.entrypoint import bootstrap\n"
        "app = bootstrap(load_settings())\n"
        "app.mcp_server(), app.cli_actions()\n"
        "heavy = ('sqlalchemy', 'aiosqlite', 'asyncpg', 'psycopg', 'alembic', 'httpx')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    url = sqlite_url(tmp_path / "shop.db") if engine == "sqlite" else "postgresql+asyncpg://shop@127.0.0.1:1/shop"
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT), "SHOPKEEPER_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
    assert not (tmp_path / "shop.db").exists()


def test_the_mcp_server_starts_without_the_services(tmp_path: Path) -> None:
    """The services and the domain events load with the database, on the background thread, after the
    server answered ``initialize``: the tools need only the models and the result types to be built."""
    code = (
        "import sys\n"
        "from mcp_server.config import load_settings\n"
        "from mcp_server.entrypoint import bootstrap\n"
        "from mcp_server.handlers.mcp.server import shop_tools\n"
        "from mcp_server.handlers.mcp.stdio import serve_stdio\n"
        "bootstrap(load_settings()).mcp_server()\n"
        "assert len(shop_tools()) > 20\n"
        "loaded = [m for m in sys.modules if m.startswith('mcp_server.services.') or m == 'mcp_server.models.events']\n"
        "print(sorted(m for m in loaded if m != 'mcp_server.services.results'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT), "SHOPKEEPER_DATABASE_URL": sqlite_url(tmp_path / "shop.db")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n", "imported at start-up; import it where it is used instead: " + done.stdout
