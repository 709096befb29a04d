"""The same Alembic migrations create and upgrade a PostgreSQL database: from empty to head, with the
schema the ORM entities describe, and back down to nothing and up again, as the server's start does.

The server is a throwaway PostgreSQL 15 cluster (tests/postgres.py), on asyncpg (decision 0013).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from mcp_server.adapters import migrations
from mcp_server.adapters.database import create_engine, current_revision, ensure_schema
from mcp_server.adapters.migrations import HEAD_REVISION
from mcp_server.adapters.service_factories import Backend, MailOptions
from mcp_server.models.entities import Base
from tests.postgres import PostgresServer

pytestmark = pytest.mark.anyio

SHOP_TABLES = {t.name for t in Base.metadata.sorted_tables}


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _downgrade_to_nothing(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations.__path__[0]))
    config.attributes["connection"] = connection
    command.downgrade(config, "base")


async def test_the_migrations_build_the_schema_on_postgresql_and_undo_it(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.create_database("migrations")
    engine = create_engine(url)
    try:
        assert await current_revision(engine) is None
        assert await ensure_schema(engine) is True
        assert await current_revision(engine) == HEAD_REVISION
        assert await ensure_schema(engine) is False, "a current database is not migrated again"
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == [], "the migrations build what the entities say"
            assert await connection.run_sync(_tables) >= SHOP_TABLES

        async with engine.begin() as connection:
            await connection.run_sync(_downgrade_to_nothing)
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) & SHOP_TABLES == set()

        backend = await Backend.start(url, mail=MailOptions(directory=tmp_path / "mail"))
        await backend.close()
        assert backend.is_new, "a start on an empty database builds the shop and says it is new"
        assert await current_revision(engine) == HEAD_REVISION
    finally:
        await engine.dispose()
