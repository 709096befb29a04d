"""Both engines for every suite that touches storage: a test asks for ``shop_db`` (or ``database_url``)
and runs once on a SQLite file and once on a PostgreSQL database of its own.

A test's database is a copy of one migrated template per engine (a file copy; ``CREATE DATABASE …
TEMPLATE`` on the throwaway server, about 30 ms with its drop), so migrating is paid once per run.
``ShopDatabase`` lets a test look at (or, for set-up, change) the rows behind a door without caring
which engine holds them: SQL with ``:named`` parameters, through SQLAlchemy's synchronous drivers.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from tests.databases import sqlite_url

Engine = Literal["sqlite", "postgresql"]
ENGINES: tuple[Engine, ...] = ("sqlite", "postgresql")
Tables = dict[str, list[tuple[object, ...]]]
_names = itertools.count(1)


@dataclass(frozen=True, slots=True)
class ShopDatabase:
    """One test's shop database: its SHOPKEEPER_DATABASE_URL, and SQL to look inside."""

    engine: Engine
    url: str
    path: Path | None = None  # the SQLite file
    name: str | None = None  # the PostgreSQL database

    @property
    def sync_url(self) -> str:
        if self.engine == "sqlite":
            assert self.path is not None
            return f"sqlite:///{self.path}"
        return self.url.replace("+asyncpg", "+psycopg", 1)

    @contextmanager
    def connect(self) -> Generator[Connection]:
        """A connection in a transaction, committed at the end (set-up and looks alike)."""
        engine = create_engine(self.sync_url, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                yield conn
        finally:
            engine.dispose()

    def query(self, sql: str, **params: object) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]

    def scalar(self, sql: str, **params: object) -> Any:
        rows = self.query(sql, **params)
        assert len(rows) == 1, rows
        assert len(rows[0]) == 1, rows
        return rows[0][0]

    def execute(self, sql: str, **params: object) -> int:
        """Run a change (set-up only: tests change the shop through its doors); rows it touched."""
        with self.connect() as conn:
            return conn.execute(text(sql), params).rowcount

    def moment(self, at: datetime) -> object:
        """``at`` as this engine stores a UTC timestamp, to bind in ``execute`` (SQLite: naive UTC text)."""
        if self.engine == "postgresql":
            return at.astimezone(UTC)
        return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    def tables(self) -> Tables:
        """Every row of every table, in a stable order: to prove a refused call changed nothing."""
        with self.connect() as conn:
            if self.engine == "sqlite":
                listed = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
            else:
                listed = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            names = sorted(str(row[0]) for row in listed)
            return {
                name: sorted((tuple(row) for row in conn.execute(text(f'SELECT * FROM "{name}"'))), key=repr)  # noqa: S608 - names from the catalog
                for name in names
            }

    def count(self, table: str, where: str = "TRUE", **params: object) -> int:
        return int(self.scalar(f'SELECT count(*) FROM "{table}" WHERE {where}', **params))  # noqa: S608 - tests' own SQL

    def leaks_in(self, text_: str) -> str | None:
        """What of this database's location shows in ``text_`` (None when nothing does)."""
        if self.path is not None and str(self.path.parent) in text_:
            return str(self.path.parent)
        if self.name is not None and (self.name in text_ or self.url in text_):
            return self.name
        return None


def sqlite_shop(path: Path, template: Path | None = None) -> ShopDatabase:
    """A SQLite shop at ``path``: a copy of ``template`` when given (and ``path`` does not exist yet)."""
    if template is not None and not path.exists():
        shutil.copy2(template, path)
    return ShopDatabase("sqlite", sqlite_url(path), path=path)


def postgres_shop(server: Any, template: str | None) -> ShopDatabase:
    """A new PostgreSQL database of the test's own (a copy of ``template``, or empty); dropped by the fixture."""
    name = f"t{next(_names)}"
    url = server.create_database(name, template=template)
    return ShopDatabase("postgresql", url, name=name)


def rows_added(before: Mapping[str, list[tuple[object, ...]]], after: Tables) -> dict[str, int]:
    """How many rows each table gained between two ``tables()`` (tables that did not change are left out)."""
    grown = {name: len(rows) - len(before.get(name, [])) for name, rows in after.items()}
    return {name: count for name, count in grown.items() if count}
