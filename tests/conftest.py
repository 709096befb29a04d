"""Fixtures every kind of test may use: the anyio backend, an address that refuses connections, and
the Stripe stand-in (localstripe behind the fault-injecting proxy) for the integration, end-to-end
and CLI tests of card payments."""

from __future__ import annotations

import shutil
import socket
from collections.abc import AsyncGenerator, Generator
from pathlib import Path

import anyio
import httpx
import pytest

from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from tests.databases import new_database, sqlite_url
from tests.e2e.support import add_approver
from tests.engines import ENGINES, Engine, ShopDatabase, postgres_shop, sqlite_shop
from tests.integration.stripe_standin import READ_TIMEOUT_S, FaultProxy, LocalStripe, Sleeps
from tests.postgres import PostgresServer, postgres_server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def matplotlib_config(tmp_path_factory: pytest.TempPathFactory) -> Generator[None]:
    """Charts (matplotlib) keep their font cache in the run's own folder, not in the tester's home."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPLCONFIGDIR", str(tmp_path_factory.mktemp("matplotlib")))
        yield


@pytest.fixture
def unreachable_url() -> Generator[str]:
    """``http://127.0.0.1:<port>`` where every connection is refused: the port stays bound (never
    listened on) for the whole test, so no other process can start listening there meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


@pytest.fixture(scope="session")
def localstripe() -> Generator[LocalStripe]:
    """One localstripe for the whole run (it starts in about a second); tests reset it."""
    server = LocalStripe()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def proxy(localstripe: LocalStripe) -> AsyncGenerator[FaultProxy]:
    localstripe.reset()
    proxy = FaultProxy(localstripe.url, hold_s=READ_TIMEOUT_S * 3)
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def gateway_http() -> AsyncGenerator[httpx.AsyncClient]:
    """The HTTP client a gateway gets in tests: short timeouts, so a held answer times out quickly."""
    timeout = httpx.Timeout(connect=1.0, read=READ_TIMEOUT_S, write=1.0, pool=1.0)
    async with httpx.AsyncClient(timeout=timeout) as client:
        yield client


@pytest.fixture(scope="session")
def postgres() -> Generator[PostgresServer]:
    """One throwaway PostgreSQL 15 server for the whole run (started on first use, about a second)."""
    with postgres_server() as server:
        yield server


# -- both engines -------------------------------------------------------------------------------


@pytest.fixture(params=ENGINES)
def db_engine(request: pytest.FixtureRequest) -> Engine:
    """The engine a storage test runs on: each such test runs on both."""
    chosen: Engine = request.param
    return chosen


@pytest.fixture(scope="session")
def migrated_shop_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One empty shop, made as `shopkeeper db init` makes it, once per test run."""
    path = tmp_path_factory.mktemp("template") / "shop.db"
    new_database(path)
    return path


@pytest.fixture(scope="session")
def approving_shop_file(tmp_path_factory: pytest.TempPathFactory, migrated_shop_file: Path) -> Path:
    """The empty shop with one approver (``support.APPROVER``), set up as `shopkeeper approvers add` does."""
    path = tmp_path_factory.mktemp("template-approver") / "shop.db"
    shutil.copy2(migrated_shop_file, path)
    anyio.run(add_approver, sqlite_url(path))
    return path


@pytest.fixture(scope="session")
def postgres_templates(postgres: PostgresServer) -> dict[str, str]:
    """The same two shops on PostgreSQL, as template databases: ``shop`` and ``approver``."""
    url = postgres.create_database("tpl_shop")
    init = bootstrap(load_settings({"SHOPKEEPER_DATABASE_URL": url})).cli_actions().init_database
    assert init is not None
    anyio.run(init)
    anyio.run(add_approver, postgres.create_database("tpl_approver", template="tpl_shop"))
    return {"shop": "tpl_shop", "approver": "tpl_approver"}


@pytest.fixture
def shop_db(request: pytest.FixtureRequest, db_engine: Engine, tmp_path: Path) -> Generator[ShopDatabase]:
    """An empty, migrated shop of the test's own on ``db_engine``. Tests marked ``approver`` start with one
    approver (``tests.e2e.support.APPROVER``)."""
    approver = request.node.get_closest_marker("approver") is not None
    if db_engine == "sqlite":
        template = request.getfixturevalue("approving_shop_file" if approver else "migrated_shop_file")
        yield sqlite_shop(tmp_path / "shop.db", template)
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    templates: dict[str, str] = request.getfixturevalue("postgres_templates")
    made = postgres_shop(server, templates["approver" if approver else "shop"])
    try:
        yield made
    finally:
        assert made.name is not None
        server.drop_database(made.name)
