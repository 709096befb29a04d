"""PostgreSQL for the benchmark: a throwaway server (``tests.postgres``) and a typed view of asyncpg's connection."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, cast

import asyncpg  # pyright: ignore[reportMissingTypeStubs]

from tests.postgres import PostgresServer, bindir, postgres_server


class Connection(Protocol):
    """The part of ``asyncpg.Connection`` the benchmark uses (asyncpg ships no type hints)."""

    async def execute(self, query: str, *args: object) -> str: ...
    async def fetch(self, query: str, *args: object) -> list[Sequence[Any]]: ...
    async def fetchval(self, query: str, *args: object) -> Any: ...
    async def copy_records_to_table(
        self, table_name: str, *, records: Iterable[Sequence[object]], columns: Sequence[str]
    ) -> str: ...
    def transaction(self) -> AbstractAsyncContextManager[Any]: ...
    async def close(self) -> None: ...


async def connect(dsn: str) -> Connection:
    """An asyncpg connection to ``postgresql://…`` (not SQLAlchemy's ``postgresql+asyncpg://``)."""
    return cast("Connection", await asyncpg.connect(dsn))  # pyright: ignore[reportUnknownMemberType]


def driver_dsn(url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy's form, which Shopkeeper takes) as asyncpg's ``postgresql://…``."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Why there is no PostgreSQL column."""

    reason: str


@contextmanager
def server() -> Generator[PostgresServer | Unavailable]:
    """A fresh PostgreSQL cluster for the run, stopped afterwards; ``Unavailable`` when it cannot be had."""
    if bindir() is None:
        yield Unavailable("PostgreSQL's server programs are not installed (`pg_config --bindir` has no initdb/pg_ctl)")
        return
    try:
        started = postgres_server()
        running = started.__enter__()
    except Exception as exc:  # any failure to start means: no PostgreSQL column, the rest still runs
        yield Unavailable(f"PostgreSQL did not start: {type(exc).__name__}: {exc}")
        return
    try:
        yield running
    finally:
        started.__exit__(None, None, None)
