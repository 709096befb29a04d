"""The SQLAlchemy async engine, sessions, SQLite pragmas and schema upgrades."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote
from uuid import uuid4

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mcp_server.adapters.migrations import HEAD_REVISION
from mcp_server.adapters.sqlite_driver import OneTripAiosqliteDBAPI
from mcp_server.clients.private_files import make_private, make_private_directories
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "shopkeeper_begin"


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """A database server's connection pool: at most ``size`` connections, each call waiting at most
    ``timeout_s`` for one (and for a locked row); ``pgbouncer``: no server-side prepared statements."""

    size: int = 5
    timeout_s: float = 10.0
    pgbouncer: bool = False


def create_engine(url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, pool: PoolOptions | None = None) -> AsyncEngine:
    """An engine for ``url``: SQLite with WAL, synchronous=NORMAL, foreign keys and a busy timeout, or
    PostgreSQL with a bounded pool (decision 0013)."""
    is_sqlite = url.startswith("sqlite")  # the file is there: provide_database_file() decides who creates it
    if not is_sqlite:
        return _server_engine(url, pool or PoolOptions())
    url = _read_only_if_unwritable(url)
    extra: dict[str, Any] = {"module": OneTripAiosqliteDBAPI()} if url.startswith("sqlite+aiosqlite") else {}
    engine = create_async_engine(
        url,
        # check_same_thread=False: index lookups run on the event loop's thread (decision 0006)
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        **extra,
        # Sessions always end their own transaction (commit, or rollback on close); a second
        # rollback when the connection returns to the pool would only cost another thread hop.
        pool_reset_on_return=None,
        # A failed statement's text (in a log or a traceback) shows the SQL, never a customer's data.
        hide_parameters=True,
    )
    _install_sqlite_hooks(engine, busy_timeout_ms)
    driver_log = logging.getLogger("aiosqlite")
    if driver_log.level == logging.NOTSET:  # at DEBUG it logs every statement with its values: customers' data
        driver_log.setLevel(logging.INFO)
    return engine


def _server_engine(url: str, pool: PoolOptions) -> AsyncEngine:
    """PostgreSQL: a pool of at most ``pool.size`` connections (no overflow); a call that waits longer
    than ``pool.timeout_s`` for a connection, or for a row another call has locked, is told "busy"."""
    lock_ms = str(int(pool.timeout_s * 1000))
    asyncpg = url.startswith("postgresql+asyncpg")
    connect_args: dict[str, Any]
    if asyncpg:
        connect_args = {"timeout": pool.timeout_s}
        if pool.pgbouncer:
            # Transaction pooling hands each transaction any server connection: a statement prepared on
            # one is unknown on the next (and PgBouncer refuses unknown start-up parameters).
            connect_args |= {
                "statement_cache_size": 0,  # asyncpg's own cache
                "prepared_statement_cache_size": 0,  # SQLAlchemy's
                # the statements SQLAlchemy still prepares get names no other client of PgBouncer uses
                "prepared_statement_name_func": lambda: f"__shopkeeper_{uuid4().hex}__",
            }
        else:
            connect_args["server_settings"] = {"lock_timeout": lock_ms, "application_name": "shopkeeper"}
    else:  # psycopg 3
        connect_args = {"connect_timeout": max(1, round(pool.timeout_s))}
        if pool.pgbouncer:
            connect_args["prepare_threshold"] = None
        else:
            connect_args["options"] = f"-c lock_timeout={lock_ms}"
            connect_args["application_name"] = "shopkeeper"
    engine = create_async_engine(
        url,
        connect_args=connect_args,
        pool_size=pool.size,
        max_overflow=0,
        pool_timeout=pool.timeout_s,
        pool_recycle=3600,
        hide_parameters=True,
    )
    if pool.pgbouncer:
        _lock_timeout_per_transaction(engine, lock_ms)
    return engine


def _lock_timeout_per_transaction(engine: AsyncEngine, lock_ms: str) -> None:
    """Behind PgBouncer a session setting would stay on whichever server connection had it: each
    transaction sets its own lock timeout instead."""

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:  # pyright: ignore[reportUnusedFunction]
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":  # readers lock nothing
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(lock_ms)}")


def _read_only_if_unwritable(url: str) -> str:
    """The URL that still reads a database that cannot be written: its folder is read-only (a
    read-only mount, no permission), or its disk is full and has no room for a -shm index.

    In WAL mode every reader needs the -shm index beside the file, which then cannot be made, so
    even reads would fail. With no -wal file the main file holds every committed change: opened
    immutable, it serves reads and refuses writes. (A process writing it through some other, writable
    path to the folder would not be seen until a restart.)
    """
    path = sqlite_file(url)
    if path is None or not path.is_file() or os.path.lexists(f"{path}-wal"):
        return url  # with a -wal, changes may wait in it: only a normal open (with its -shm) reads them
    if not os.access(path.parent, os.W_OK):
        why = "the database's folder is read-only"
    elif not os.path.lexists(f"{path}-shm") and shutil.disk_usage(path.parent).free < NEARLY_FULL_BYTES:
        why = "the database's disk is full"
    else:
        return url
    logger.warning("%s: serving reads only until Shopkeeper restarts with that fixed", why)
    driver = url.split(":", 1)[0]
    # Quoted twice: SQLAlchemy decodes the URL once, then SQLite decodes the file: URI ('#', '?', '%').
    return f"{driver}:///file:{quote(quote(str(path)))}?mode=ro&immutable=1&uri=true"


NEARLY_FULL_BYTES = 64 * 1024
"""Less free space than this and SQLite cannot make its 32 KiB -shm index, nor much else."""


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool for readers: on a database server each statement runs in autocommit
    (no BEGIN and ROLLBACK round trips), as readers do on SQLite."""
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def writer(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool, but its transactions start with BEGIN IMMEDIATE on SQLite."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})


def unit_of_work_factory(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    """Units of work on ``engine``: readers without a transaction of their own, writers with one that
    locks up front on SQLite (see ``reader`` and ``writer``)."""
    return SqlUnitOfWorkFactory(reader(engine), writer(engine))


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


async def current_revision(engine: AsyncEngine) -> str | None:
    """The schema revision stamped in the database, or None for an empty database."""
    async with engine.connect() as conn:
        try:
            result = await conn.execute(text("SELECT version_num FROM alembic_version"))
        except (OperationalError, ProgrammingError):  # no such table: SQLite's, then PostgreSQL's word for it
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


# -- where the database file is, and who may create it ---------------------------------------------

Creation = Literal["never", "new-file", "anywhere"]
"""Who may create a missing database: ``never`` (commands on a shop that must exist), ``new-file`` (a new
file in a directory that exists: the MCP server), ``anywhere`` (missing directories too: ``db init``,
``db upgrade``, and the MCP server at the default location)."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class DatabaseMissingError(Exception):
    """There is no database file at ``path``, and it may not be created there; ``reason`` says why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"no database at {path} ({reason})")
        self.path = path
        self.reason = reason


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names, its %-escapes decoded as SQLAlchemy decodes them; None for others."""
    parsed = make_url(url)
    database = parsed.database
    if not parsed.drivername.startswith("sqlite") or database in (None, "", ":memory:"):
        return None
    return Path(database)


def provide_database_file(path: Path, creation: Creation) -> bool:
    """Make sure the database file exists, creating it (empty, 0600) only as ``creation`` allows.

    True when this call created it. A mistyped location is refused instead of becoming a new shop.
    """
    if path.is_dir():
        raise DatabaseMissingError(path, "that is a directory, not a database file")
    if os.path.lexists(path):
        return False
    if creation == "never":
        raise DatabaseMissingError(path, "there is no file there")
    if not path.parent.is_dir():
        if creation != "anywhere":
            reason = "not a directory" if path.parent.exists() else "does not exist"
            raise DatabaseMissingError(path, f"its directory {path.parent} {reason}")
        make_private_directories(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
    except FileExistsError:
        return False  # another process created it a moment ago
    try:
        make_private(fd)
    finally:
        os.close(fd)
    return True


def describe_failure(exc: BaseException) -> str:
    """Why a database could not be opened, migrated or copied, in words for a person: no SQL, no class names."""
    if isinstance(exc, DatabaseMissingError | BackupError):
        return str(exc)
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str):
        return _SERVER_WORDS.get(state, f"the database server refused (SQLSTATE {state[:5]})")
    if isinstance(exc, socket.gaierror):
        return "the database server's host name is not known (check SHOPKEEPER_DATABASE_URL)"
    if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
        return "the database server refused the connection (is it running, on that host and port?)"
    if isinstance(exc, TimeoutError):
        return "the database server did not answer in time"
    if isinstance(exc, sqlite3.Error):
        if getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL:
            return "the disk is full"
        return " ".join(str(exc).split())[:200] or "SQLite could not use the file"
    if isinstance(exc, OSError):
        words = (exc.strerror or "the operating system refused").lower()
        return f"{words}: {exc.filename}" if exc.filename else words
    if type(exc).__module__.startswith("alembic"):
        return "its schema is not one this version of Shopkeeper knows (was it made by a newer version?)"
    return "an unexpected problem (SHOPKEEPER_LOG_LEVEL=DEBUG shows the details)"


_SERVER_WORDS = {
    "28P01": "the database server refused the user name or password (check SHOPKEEPER_DATABASE_URL)",
    "28000": "the database server refused this user from here (check SHOPKEEPER_DATABASE_URL and pg_hba.conf)",
    "3D000": "that database does not exist on the server (create it first, e.g. createdb shop)",
    "42501": "the database user may not create or change tables there (use the database's owner)",
    "53300": "the database server has no free connections",
    "57P03": "the database server is starting up or shutting down",
}


# -- backups ---------------------------------------------------------------------------------------

_SQLITE_FULL = 13


class BackupError(Exception):
    """A backup that was not made, in words for a person; ``refused``: the request, not the machine, was at fault."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


@dataclass(frozen=True, slots=True)
class Backup:
    """A checked copy: where it is, its pages, and its tables (as many as the source has)."""

    path: Path
    pages: int
    tables: int


def backup_sqlite(source: Path, target: Path | str) -> Backup:
    """A consistent, checked copy of a live SQLite database (the online backup API), private to its user.

    Runs while servers keep reading and writing: the copy is the database as of one moment. It is
    written to a new file with an unguessable name beside the target (created exclusively, never through
    a link), checked (integrity and table count), then linked to the target, which must not exist yet:
    a typo never overwrites something. A directory as the target gets a dated file inside it.
    """
    named = str(target)
    target = Path(target)
    if not source.is_file():
        raise DatabaseMissingError(source, "that is a directory" if source.is_dir() else "there is no file there")
    if target.is_dir():
        target = target / f"{source.stem}-{datetime.now(UTC):%Y%m%d-%H%M%S}.db"
    elif named.endswith(("/", os.sep)):
        raise BackupError(f"there is no directory {named}; create it first, or name a new file", refused=True)
    if os.path.lexists(target):
        raise BackupError(f"{target} already exists; choose a new file name", refused=True)
    blocker = next((p for p in (target.parent, *target.parent.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise BackupError(f"{blocker} is a file, not a directory")
    try:
        make_private_directories(target.parent)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise BackupError(describe_failure(exc)) from exc
    partial = Path(name)
    try:
        make_private(fd)
        done = _copy_into(source, partial, fd)
        _publish(partial, target)
    except (sqlite3.Error, OSError) as exc:
        if describe_failure(exc) == "the disk is full" or getattr(exc, "errno", None) == errno.ENOSPC:
            raise BackupError(f"the disk is full at {target.parent}; the partial copy was removed") from exc
        raise BackupError(describe_failure(exc)) from exc
    finally:
        os.close(fd)
        for leftover in (partial, *(partial.with_name(partial.name + end) for end in ("-journal", "-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
    return Backup(target, *done)


def _copy_into(source: Path, partial: Path, fd: int) -> tuple[int, int]:
    """Copy ``source`` into ``partial`` (the file open as ``fd``), check it; (pages, tables)."""
    read_only = f"{source.absolute().as_uri()}?mode=ro"  # the path %-escaped: '#', '?' and '%' stay in it
    with closing(sqlite3.connect(read_only, uri=True)) as src, closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)
        pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
        tables = check_copy(src, dst)
    written, there = os.fstat(fd), os.lstat(partial)
    if (written.st_dev, written.st_ino) != (there.st_dev, there.st_ino):
        raise BackupError("the partial copy was replaced while it was written; nothing was published")
    os.fsync(fd)
    return pages, tables


def check_copy(source: sqlite3.Connection, copy: sqlite3.Connection) -> int:
    """The copy passes SQLite's integrity check and has as many tables as the source; how many."""
    verdict = [str(row[0]) for row in copy.execute("PRAGMA integrity_check")]
    if verdict != ["ok"]:
        raise BackupError(f"the copy failed SQLite's integrity check ({verdict[0][:100]}); nothing was published")
    count = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
    copied, expected = int(copy.execute(count).fetchone()[0]), int(source.execute(count).fetchone()[0])
    if copied != expected:
        raise BackupError(f"the copy has {copied} of {expected} tables; nothing was published")
    return copied


def _publish(partial: Path, target: Path) -> None:
    """Give the checked copy its name without ever replacing a file (or a link) that got there first."""
    try:
        os.link(partial, target, follow_symlinks=False)
    except FileExistsError:
        raise BackupError(f"{target} already exists; choose a new file name", refused=True) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # No hard links on this file system: a rename, after one more look (a race here would need a
        # second backup to the same new name at the same moment).
        if os.path.lexists(target):
            raise BackupError(f"{target} already exists; choose a new file name", refused=True) from None
        os.replace(partial, target)
