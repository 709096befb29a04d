"""One unit-of-work factory per engine: the in-memory fakes, SQLite and PostgreSQL. Every contract
test runs on each, so the fakes the unit tests trust cannot drift from the databases.

Each engine is migrated once per run. SQLite: each test gets a copy of the migrated file.
PostgreSQL: the tests share one migrated database, emptied before each test by DELETEs and a restart
of its sequences in one round trip (measured here: ~2 ms, against ~10 ms for TRUNCATE and ~50 ms to
copy a template database and drop it again; several times that when the machine is busy).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncGenerator, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text

from mcp_server.adapters.database import create_engine, ensure_schema, unit_of_work_factory
from mcp_server.models.entities import Base
from mcp_server.services.ports import UnitOfWorkFactory
from tests.databases import new_database, sqlite_url
from tests.fakes import FakeDatabase, FakeUnitOfWorkFactory
from tests.postgres import PostgresServer

ENGINES = ["fake", "sqlite", "postgresql"]


@dataclass(frozen=True, slots=True)
class SharedDatabase:
    url: str
    empty_all: str  # the script that empties every table of the shop (not Alembic's) and restarts its sequences


async def _migrate(url: str) -> str:
    """Migrate the database at ``url``; the script that empties it again."""
    engine = create_engine(url)
    try:
        await ensure_schema(engine)
        async with engine.connect() as conn:
            listed = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            tables = {str(row[0]) for row in listed} - {"alembic_version"}
            listed = await conn.execute(text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"))
            sequences = sorted(str(row[0]) for row in listed)
    finally:
        await engine.dispose()
    # Children before parents, so no foreign key refuses a DELETE.
    ordered = [table.name for table in reversed(Base.metadata.sorted_tables)]
    assert set(ordered) == tables, "a table the entities do not know would keep its rows between tests"
    statements = [f'DELETE FROM "{name}"' for name in ordered]  # noqa: S608 - names from the catalog
    statements += [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
    return "; ".join(statements)


@pytest.fixture(scope="session")
def contract_shop_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty shop made as `shopkeeper db init` makes it, once per run, for the tests to copy."""
    path = tmp_path_factory.mktemp("contract") / "shop.db"
    new_database(path)
    return path


@pytest.fixture(scope="session")
def contract_postgres(postgres: PostgresServer) -> Generator[SharedDatabase]:
    url = postgres.create_database("contract_shared")
    with ThreadPoolExecutor(max_workers=1) as pool:  # a loop of its own, whatever runs this fixture
        empty_all = pool.submit(anyio.run, _migrate, url).result()
    yield SharedDatabase(url, empty_all)
    postgres.drop_database("contract_shared")


@pytest.fixture(params=ENGINES)
async def uow_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncGenerator[UnitOfWorkFactory]:
    """A factory of units of work, ``(*, write) -> UnitOfWork``, on a new, empty shop."""
    kind: str = request.param
    if kind == "fake":
        yield FakeUnitOfWorkFactory(FakeDatabase())
        return
    if kind == "sqlite":
        path = tmp_path / "shop.db"
        shutil.copy2(request.getfixturevalue("contract_shop_file"), path)
        engine = create_engine(sqlite_url(path))
    else:
        shared: SharedDatabase = request.getfixturevalue("contract_postgres")
        engine = create_engine(shared.url)
        async with engine.begin() as conn:
            # A connection some earlier test left open in a transaction would make this wait: fail instead.
            await conn.execute(text("SET LOCAL lock_timeout = '5s'"))
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.execute(shared.empty_all)  # asyncpg: a script of several statements, one round trip
    try:
        yield unit_of_work_factory(engine)
    finally:
        await engine.dispose()
