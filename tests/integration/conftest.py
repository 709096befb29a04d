from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mcp_server.adapters.database import create_engine, ensure_schema, writer
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.stripe_standin import READ_TIMEOUT_S, FaultProxy, LocalStripe, Sleeps


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"


@pytest.fixture
async def engine(database_url: str) -> AsyncGenerator[AsyncEngine]:
    engine = create_engine(database_url)
    await ensure_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine, writer(engine))


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
