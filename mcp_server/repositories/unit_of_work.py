"""The SQLAlchemy unit of work: one connection, one transaction, committed once or rolled back."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path
from types import TracebackType
from typing import ClassVar
from urllib.parse import unquote

import anyio
import anyio.lowlevel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mcp_server.models.errors import (
    StorageBusyError,
    StorageFullError,
    StorageOfflineError,
    StorageReadOnlyError,
    StorageUnavailableError,
)
from mcp_server.repositories.access import SqlAccessTokenRepository
from mcp_server.repositories.audit import SqlAuditRepository
from mcp_server.repositories.catalog import SqlProductRepository
from mcp_server.repositories.customers import SqlCustomerRepository
from mcp_server.repositories.orders import SqlOrderRepository
from mcp_server.repositories.outbox import SqlOutboxRepository
from mcp_server.repositories.payments import SqlPaymentRepository
from mcp_server.repositories.reports import SqlReportRepository
from mcp_server.repositories.requests import SqlRequestLog
from mcp_server.repositories.webhooks import SqlWebhookEventRepository

logger = logging.getLogger("mcp_server.storage")


class StorageConditions:
    """Logs a lasting storage condition (disk full, read-only) once when it starts and once when
    writes work again, instead of once per refused call: one per engine, shared by its units of work."""

    _SAYS: ClassVar[dict[type[StorageUnavailableError], tuple[str, str]]] = {
        StorageFullError: (
            "disk full",
            "the database's disk is full: writes are refused, nothing is changed, until space is freed; "
            "reads are still served",
        ),
        StorageReadOnlyError: (
            "read-only",
            "the database file or its folder is read-only: writes are refused, nothing is changed, until "
            "it is writable; reads are still served",
        ),
    }

    def __init__(self) -> None:
        self._current: type[StorageUnavailableError] | None = None

    def refused(self, error: StorageUnavailableError) -> None:
        kind = type(error)
        if kind not in self._SAYS:  # busy: a passing wait the caller is told about, not a condition
            return
        if kind is self._current:
            logger.debug("write refused again (%s)", self._SAYS[kind][0])
            return
        self._current = kind
        logger.error("%s", self._SAYS[kind][1])

    def wrote(self) -> None:
        if self._current is not None:
            logger.info("the database takes writes again (no longer %s)", self._SAYS[self._current][0])
            self._current = None


class SqlUnitOfWork:
    customers: SqlCustomerRepository
    products: SqlProductRepository
    audit: SqlAuditRepository
    outbox: SqlOutboxRepository
    orders: SqlOrderRepository
    payments: SqlPaymentRepository
    requests: SqlRequestLog
    reports: SqlReportRepository
    webhooks: SqlWebhookEventRepository
    tokens: SqlAccessTokenRepository

    def __init__(self, engine: AsyncEngine, *, write: bool, conditions: StorageConditions | None = None) -> None:
        self._engine = engine
        self._write = write
        self._conditions = conditions or StorageConditions()
        self._connection: AsyncConnection | None = None
        self._shield: anyio.CancelScope | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        # Cancellation never reaches the driver: SQLAlchemy answers a cancelled statement by
        # "terminating" the aiosqlite connection, which stops its thread while a graceful close still
        # waits on it, leaving a task (and a shutdown) waiting forever. So the connect and BEGIN, the
        # body and the close run shielded: only the shop's own SQL runs inside a unit of work (never a
        # gateway or provider call), bounded by the busy timeout. A cancelled caller gets its
        # cancellation once the unit of work is over, with the connection given back in order.
        connection: AsyncConnection | None = None
        with anyio.CancelScope(shield=True):
            connection = await self._open()
        if connection is None:  # pragma: no cover - nothing cancels a shielded scope of its own
            raise RuntimeError("the database connection was not opened")
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
        except BaseException:
            await _close(connection)
            raise
        self._connection = connection
        self._shield = anyio.CancelScope(shield=True)
        self._shield.__enter__()
        self.customers = SqlCustomerRepository(connection)
        self.products = SqlProductRepository(connection)
        self.audit = SqlAuditRepository(connection)
        self.outbox = SqlOutboxRepository(connection)
        # SQLite's BEGIN IMMEDIATE already serializes writers; a database server locks the rows (and
        # idempotency keys) a writer must see before it writes over them.
        server_writer = self._write and connection.dialect.name != "sqlite"
        self.orders = SqlOrderRepository(connection, lock=server_writer)
        self.payments = SqlPaymentRepository(connection)
        self.requests = SqlRequestLog(connection, lock=server_writer)
        self.reports = SqlReportRepository(connection)
        self.webhooks = SqlWebhookEventRepository(connection)
        self.tokens = SqlAccessTokenRepository(connection)
        return self

    async def _open(self) -> AsyncConnection:
        try:
            connection = await self._engine.connect()
        except Exception as exc:  # no free connection in time, or a server that is not there
            self._raise_for_storage(exc)
            raise
        try:
            if self._write:
                # Begin now, before the first read: a writer's checks must see what it will write over.
                await connection.begin()
        except BaseException as exc:
            await _close(connection)
            self._raise_for_storage(exc)
            raise
        return connection

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._connection is not None:
                # close() rolls back whatever was not committed and returns the connection to the pool.
                await _close(self._connection)
                self._connection = None
        finally:
            if self._shield is not None:
                shield, self._shield = self._shield, None
                shield.__exit__(exc_type, exc, tb)
        if exc is not None:
            self._raise_for_storage(exc)
        await anyio.lowlevel.checkpoint_if_cancelled()  # a cancellation that arrived meanwhile, now

    async def commit(self) -> None:
        if self._connection is None:
            raise RuntimeError("commit() outside 'async with'")
        await self._connection.commit()
        self._conditions.wrote()

    def _raise_for_storage(self, exc: BaseException) -> None:
        """Re-raise a driver error that means "the database cannot take this now" in domain words."""
        error = storage_error(exc, _database_folder(self._engine))
        if error is not None:
            self._conditions.refused(error)
            raise error from exc


async def _close(connection: AsyncConnection) -> None:
    # Shielded: a cancelled tool call must still hand its connection back (rolled back) in order.
    with anyio.CancelScope(shield=True):
        await connection.close()


NEARLY_FULL_BYTES = 64 * 1024
"""Less free space than this and SQLite cannot grow its -shm index or journal: the disk is full."""


def storage_error(exc: BaseException, folder: Path | None = None) -> StorageUnavailableError | None:
    """The domain error for a driver error that says the database cannot take this work now, else None.

    SQLITE_BUSY: another writer kept the lock past the busy timeout. SQLITE_FULL: no space left for
    the journal or the file. SQLITE_READONLY: the file, its folder or its mount is read-only. A full
    disk also shows as a read-only open or an I/O error on the -shm index: ``folder`` (the database's)
    tells those apart by its free space.
    """
    if isinstance(exc, SATimeoutError):  # no free connection in the pool in time
        return StorageBusyError()
    if isinstance(exc, DBAPIError) and isinstance(exc.orig, BaseException):
        if exc.connection_invalidated:
            return StorageOfflineError()  # the server went away mid-call; the pool reconnects next time
        exc = exc.orig
    if isinstance(exc, OSError | TimeoutError):  # connecting to a database server
        return StorageOfflineError()
    if not isinstance(exc, sqlite3.Error):
        return _server_error(getattr(exc, "sqlstate", None))
    code = getattr(exc, "sqlite_errorcode", -1) & 0xFF  # the primary code, without the extended bits
    if code == sqlite3.SQLITE_FULL:
        return StorageFullError()
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN) and _nearly_full(folder):
        return StorageFullError()
    if code == sqlite3.SQLITE_READONLY:
        return StorageReadOnlyError()
    text = str(exc)
    if code == sqlite3.SQLITE_BUSY or (
        isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)
    ):
        return StorageBusyError()
    return None


_SERVER_STATES: dict[str, type[StorageUnavailableError]] = {
    "55P03": StorageBusyError,  # lock_not_available: a row stayed locked past the lock timeout
    "40001": StorageBusyError,  # serialization_failure
    "40P01": StorageBusyError,  # deadlock_detected: one of the two is rolled back
    "53100": StorageFullError,  # disk_full
    "53300": StorageBusyError,  # too_many_connections
    "25006": StorageReadOnlyError,  # read_only_sql_transaction: a standby, or default_transaction_read_only
    "57P01": StorageOfflineError,  # admin_shutdown
    "57P02": StorageOfflineError,  # crash_shutdown
    "57P03": StorageOfflineError,  # cannot_connect_now: starting up or shutting down
}


def _server_error(sqlstate: object) -> StorageUnavailableError | None:
    """A database server's SQLSTATE that means "not now" in domain words; None for anything else."""
    if not isinstance(sqlstate, str):
        return None
    kind = _SERVER_STATES.get(sqlstate)
    if kind is None and sqlstate.startswith("08"):  # connection_exception and its kinds
        kind = StorageOfflineError
    return kind() if kind is not None else None


def _database_folder(engine: AsyncEngine) -> Path | None:
    """The folder of a SQLite database file (its URL may be a ``file:`` URI); None for anything else."""
    name = engine.url.database
    if engine.dialect.name != "sqlite" or not name or name == ":memory:":
        return None
    return Path(unquote(name.removeprefix("file:"))).parent


def _nearly_full(folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES
    except OSError:
        return False


class SqlUnitOfWorkFactory:
    """Hands out units of work. Writers take SQLite's write lock at BEGIN; readers take none."""

    def __init__(self, read_engine: AsyncEngine, write_engine: AsyncEngine) -> None:
        self._read = read_engine
        self._write = write_engine
        self._conditions = StorageConditions()

    def __call__(self, *, write: bool) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._write if write else self._read, write=write, conditions=self._conditions)
