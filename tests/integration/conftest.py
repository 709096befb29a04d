from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mcp_server.adapters.database import create_engine, ensure_schema, writer
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory
from tests.databases import new_database


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A new, migrated shop database at ``tmp_path / 'shop.db'``."""
    return new_database(tmp_path / "shop.db")


@pytest.fixture
async def engine(database_url: str) -> AsyncGenerator[AsyncEngine]:
    engine = create_engine(database_url)
    await ensure_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine, writer(engine))
