from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mcp_server.adapters.database import create_engine, ensure_schema, unit_of_work_factory
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory
from tests.engines import ShopDatabase


@pytest.fixture
def database_url(shop_db: ShopDatabase) -> str:
    """A new, migrated shop database of the test's own, on each engine in turn (``shop_db``)."""
    return shop_db.url


@pytest.fixture
async def engine(database_url: str) -> AsyncGenerator[AsyncEngine]:
    engine = create_engine(database_url)
    await ensure_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return unit_of_work_factory(engine)
