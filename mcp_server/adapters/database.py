"""The SQLAlchemy async engine, sessions, SQLite pragmas and schema upgrades."""

from __future__ import annotations

import logging
import secrets
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mcp_server.adapters.migrations import HEAD_REVISION
from mcp_server.adapters.sqlite_driver import OneTripAiosqliteDBAPI

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "shopkeeper_begin"


def create_engine(url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> AsyncEngine:
    """An engine for ``url``; for SQLite with WAL, synchronous=NORMAL, foreign keys and a busy timeout."""
    is_sqlite = url.startswith("sqlite")
    if is_sqlite:
        path = _sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {"module": OneTripAiosqliteDBAPI()} if url.startswith("sqlite+aiosqlite") else {}
    engine = create_async_engine(
        url,
        # check_same_thread=False: index lookups run on the event loop's thread (decision 0006)
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False} if is_sqlite else {},
        **extra,
        # Sessions always end their own transaction (commit, or rollback on close); a second
        # rollback when the connection returns to the pool would only cost another thread hop.
        pool_reset_on_return=None,
    )
    if is_sqlite:
        _install_sqlite_hooks(engine, busy_timeout_ms)
    return engine


def writer(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool, but its transactions start with BEGIN IMMEDIATE on SQLite."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})


def _sqlite_file(url: str) -> Path | None:
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    rest = rest.split("?", 1)[0]
    return None if rest in ("", ":memory:") else Path(rest)


def _install_sqlite_hooks(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    dialect = engine.sync_engine.dialect
    rollback = dialect.do_rollback

    def _rollback_if_open(dbapi_connection: Any) -> None:
        # Readers run in autocommit, so most "rollbacks" have nothing to undo; asking SQLite
        # anyway costs a round trip to aiosqlite's thread on every read. Ask the driver first.
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and not driver.in_transaction:
            return
        rollback(dbapi_connection)

    dialect.do_rollback = _rollback_if_open  # pyright: ignore[reportAttributeAccessIssue]

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:  # pyright: ignore[reportUnusedFunction]
        # Take transactions into our own hands (see _on_begin) instead of the driver's implicit BEGIN.
        dbapi_connection.isolation_level = None
        # SQLite's own lower() folds ASCII only; searches promise any letter case ("Élodie").
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")  # first, so the others wait for locks too
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:  # pyright: ignore[reportUnusedFunction]
        # Writers lock up front so "check, then write" cannot interleave with another writer.
        # Readers run each statement in autocommit and see the latest committed state.
        begin = conn.get_execution_options().get(_BEGIN_OPTION)
        if begin:
            conn.exec_driver_sql(str(begin))


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


async def current_revision(engine: AsyncEngine) -> str | None:
    """The schema revision stamped in the database, or None for an empty database."""
    async with engine.connect() as conn:
        try:
            result = await conn.execute(text("SELECT version_num FROM alembic_version"))
        except OperationalError:
            return None
        row = result.first()
    return None if row is None else str(row[0])


async def ensure_schema(engine: AsyncEngine) -> bool:
    """Upgrade the schema to the newest revision if needed; True when this call ran a migration.

    A current database costs one SELECT; Alembic is imported only when there is work to do.
    """
    if await current_revision(engine) == HEAD_REVISION:
        return False
    return await upgrade(engine)


async def server_secret(engine: AsyncEngine, name: str) -> bytes:
    """A random 32-byte key kept in the database, created by whichever process needs it first.

    Every process on the same database signs with it, so a confirmation token issued by one
    (say, an MCP Inspector run) can be redeemed by the next.
    """
    query = text("SELECT value FROM server_secrets WHERE name = :name")
    async with engine.connect() as conn:
        row = (await conn.execute(query, {"name": name})).first()
    if row is None:
        async with writer(engine).begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO server_secrets (name, value, created_at) VALUES (:name, :value, :at) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                {"name": name, "value": secrets.token_hex(32), "at": _utc_text()},
            )
            row = (await conn.execute(query, {"name": name})).first()
    assert row is not None  # inserted above, or by a process that won the race
    return bytes.fromhex(str(row[0]))


def _utc_text() -> str:
    return datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


async def upgrade(engine: AsyncEngine) -> bool:
    """Run Alembic migrations up to head inside one write transaction; True if any ran.

    The revision is read again under the write lock, so of several processes starting on one
    new file exactly one migrates and the others see it done.
    """
    async with writer(engine).begin() as conn:
        before = await conn.run_sync(_revision_sync)
        if before == HEAD_REVISION:
            return False
        await conn.run_sync(_upgrade_sync)
    logger.info("database schema upgraded from %s to revision %s", before or "nothing", HEAD_REVISION)
    return True


def _revision_sync(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    return None if row is None else str(row[0])


def _upgrade_sync(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def backup_sqlite(source: Path, target: Path) -> int:
    """A consistent copy of a live SQLite database (the online backup API); the pages copied.

    Runs while servers keep reading and writing: the copy is the database as of one moment.
    The target must not exist yet, so a typo never overwrites something.
    """
    import sqlite3

    if target.exists():
        raise FileExistsError(f"{target} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)
        pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
    partial.replace(target)
    return pages
