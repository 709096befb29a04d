"""Repositories, unit of work and migrations on each engine: a real SQLite file and a PostgreSQL database.

A few tests are about SQLite itself (its pragmas, its one write lock) and run on SQLite only; what
PostgreSQL does instead is in test_postgres_limits.py."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mcp_server.adapters import migrations
from mcp_server.adapters.database import (
    DatabaseMissingError,
    PoolOptions,
    create_engine,
    current_revision,
    ensure_schema,
    unit_of_work_factory,
)
from mcp_server.adapters.migrations import HEAD_REVISION
from mcp_server.adapters.service_factories import Backend
from mcp_server.models.audit import AuditEntry, AuditQuery
from mcp_server.models.catalog import Product, ProductCreate, StockAdjustment
from mcp_server.models.customers import Customer, CustomerCreate, CustomerQuery
from mcp_server.models.entities import Base
from mcp_server.models.errors import UniqueViolationError
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory
from mcp_server.services.audit import AuditService
from mcp_server.services.catalog import CatalogService
from mcp_server.services.customers import CustomerService
from mcp_server.services.results import Conflict, Rejected, Success, Unavailable
from mcp_server.utils.ids import IdGenerator
from mcp_server.utils.time import SystemClock
from tests.engines import ShopDatabase

pytestmark = pytest.mark.anyio
ON_SQLITE = pytest.mark.parametrize("db_engine", ["sqlite"])
ON_POSTGRESQL = pytest.mark.parametrize("db_engine", ["postgresql"])

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def customer(n: int, email: str | None = None) -> Customer:
    return Customer(
        id=f"cus_{n:026d}",
        name=f"Customer {n}",
        email=email or f"c{n}@example.com",
        phone=None,
        notes=None,
        created_at=T0 + timedelta(seconds=n),
        updated_at=T0 + timedelta(seconds=n),
    )


async def test_customer_round_trip_keeps_every_field_and_utc(uow: SqlUnitOfWorkFactory):
    original = Customer(
        id="cus_00000000000000000000000001",
        name="Zoë O'Brien",
        email="zoe@example.com",
        phone="+353 1 555 0100",
        notes="prefers e-mail; ünïcode ✓",
        created_at=T0,
        updated_at=T0,
    )
    async with uow(write=True) as w:
        await w.customers.add(original)
        await w.commit()

    async with uow(write=False) as r:
        by_id = await r.customers.get(original.id)
        by_email = await r.customers.find_by_email("ZOE@example.com")

    assert by_id == original
    assert by_email == original
    assert by_id is not None
    assert by_id.created_at.tzinfo is not None


async def test_leaving_without_commit_discards_everything(uow: SqlUnitOfWorkFactory):
    async with uow(write=True) as w:
        await w.customers.add(customer(1))
    async with uow(write=False) as r:
        assert await r.customers.get(customer(1).id) is None


async def test_duplicate_email_raises_domain_error_not_integrity_error(uow: SqlUnitOfWorkFactory):
    async with uow(write=True) as w:
        await w.customers.add(customer(1, "same@example.com"))
        await w.commit()
    async with uow(write=True) as w:
        with pytest.raises(UniqueViolationError):
            await w.customers.add(customer(2, "same@example.com"))


async def test_page_after_is_keyset_ordered_and_filters(uow: SqlUnitOfWorkFactory):
    async with uow(write=True) as w:
        for n in range(1, 8):
            await w.customers.add(customer(n))
        await w.customers.add(customer(8, "percent%under_score@example.com"))
        await w.commit()

    async with uow(write=False) as r:
        first = await r.customers.page_after(text=None, after_id=None, limit=3)
        after = await r.customers.page_after(text=None, after_id=first[-1].id, limit=3)
        by_name = await r.customers.page_after(text="CUSTOMER 7", after_id=None, limit=10)
        wildcard = await r.customers.page_after(text="%", after_id=None, limit=10)
        underscore = await r.customers.page_after(text="t_s", after_id=None, limit=10)

    assert [c.id for c in first] == [customer(n).id for n in (1, 2, 3)]
    assert [c.id for c in after] == [customer(n).id for n in (4, 5, 6)]
    assert [c.id for c in by_name] == [customer(7).id]
    assert [c.id for c in wildcard] == [customer(8).id]  # '%' is matched literally, not as a wildcard
    assert underscore == []


async def test_audit_pages_newest_first_by_sequence(uow: SqlUnitOfWorkFactory):
    async with uow(write=True) as w:
        for n in range(5):
            await w.audit.add(
                AuditEntry(
                    id=f"aud_{n:026d}",
                    occurred_at=T0,
                    actor="t",
                    action="customer.registered" if n % 2 == 0 else "customer.updated",
                    entity_type="customer",
                    entity_id=f"cus_{n % 2:026d}",
                    before=None,
                    after={"n": n},
                )
            )
        await w.commit()

    async with uow(write=False) as r:
        newest = await r.audit.page_before(entity_type=None, entity_id=None, action=None, before_sequence=None, limit=2)
        older = await r.audit.page_before(
            entity_type=None, entity_id=None, action=None, before_sequence=newest[-1].sequence, limit=10
        )
        updates = await r.audit.page_before(
            entity_type="customer", entity_id=None, action="customer.updated", before_sequence=None, limit=10
        )

    assert [e.after for e in newest] == [{"n": 4}, {"n": 3}]
    assert [e.after for e in older] == [{"n": 2}, {"n": 1}, {"n": 0}]
    assert [e.after for e in updates] == [{"n": 3}, {"n": 1}]


async def test_concurrent_registrations_of_one_email_in_different_case(database_url: str, engine: AsyncEngine):
    """Two connections race to register the same address: exactly one wins, the other gets a Conflict."""
    second_engine = create_engine(database_url)  # a second pool, as a second server process would have
    try:
        services = [
            CustomerService(unit_of_work_factory(e), SystemClock(), IdGenerator()) for e in (engine, second_engine)
        ]
        results: list[Success[Customer] | Conflict | Unavailable] = []

        async def attempt(service: CustomerService, email: str) -> None:
            results.append(await service.register(CustomerCreate(name="Racer", email=email), actor="t"))

        for round_no in range(5):  # several rounds: the interleaving differs from run to run
            results.clear()
            email = f"race{round_no}@example.com"
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(attempt, services[0], email)
                tasks.start_soon(attempt, services[1], email.upper())
            wins = [r for r in results if isinstance(r, Success)]
            conflicts = [r for r in results if isinstance(r, Conflict)]
            assert len(wins) == 1
            assert len(conflicts) == 1
            assert conflicts[0].existing_id == wins[0].value.id

        async with engine.connect() as conn:
            customers = (await conn.execute(text("SELECT count(*) FROM customers"))).scalar_one()
            audits = (await conn.execute(text("SELECT count(*) FROM audit_log"))).scalar_one()
            queued = (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
        assert (customers, audits, queued) == (5, 5, 5)
    finally:
        await second_engine.dispose()


async def test_service_writes_customer_audit_and_outbox_together(uow: SqlUnitOfWorkFactory, engine: AsyncEngine):
    service = CustomerService(uow, SystemClock(), IdGenerator())
    created = await service.register(CustomerCreate(name="Ada", email="ada@example.com"), actor="t")
    duplicate = await service.register(CustomerCreate(name="Ada again", email="ADA@example.com"), actor="t")
    listed = await service.list(CustomerQuery())
    trail = await AuditService(uow).list(AuditQuery())

    assert isinstance(created, Success)
    assert isinstance(duplicate, Conflict)
    assert isinstance(listed, Success)
    assert [c.email for c in listed.value.items] == ["ada@example.com"]
    assert isinstance(trail, Success)
    assert [e.action for e in trail.value.items] == ["customer.registered"]
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT kind, recipient, status FROM outbox"))).all()
    assert [tuple(r) for r in rows] == [("welcome", "ada@example.com", "pending")]


@ON_SQLITE  # PostgreSQL has no pragmas: its sessions' lock timeout is checked below
async def test_sqlite_pragmas_are_set(engine: AsyncEngine):
    async with engine.connect() as conn:
        journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
        synchronous = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar_one()
        foreign_keys = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar_one()
        busy = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
    assert (journal, synchronous, foreign_keys) == ("wal", 1, 1)
    assert busy >= 1000


@ON_POSTGRESQL  # SQLite's counterpart is its pragmas, above
async def test_postgresql_sessions_wait_for_a_locked_row_as_long_as_for_a_connection(database_url: str):
    engine = create_engine(database_url, pool=PoolOptions(timeout_s=2.5))
    try:
        async with engine.connect() as conn:
            lock = (await conn.exec_driver_sql("SHOW lock_timeout")).scalar_one()
            name = (await conn.exec_driver_sql("SHOW application_name")).scalar_one()
    finally:
        await engine.dispose()
    assert (lock, name) == ("2500ms", "shopkeeper")


async def test_migrations_create_what_the_models_describe(engine: AsyncEngine):

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION
    assert await current_revision(engine) == HEAD_REVISION

    def diff(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})  # pyright: ignore[reportArgumentType]
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert differences == []
    assert {"customers", "audit_log", "outbox", "alembic_version"} <= tables


async def test_start_on_current_database_does_not_migrate_again(database_url: str, engine: AsyncEngine):
    again = create_engine(database_url)
    try:
        assert await ensure_schema(again) is False
    finally:
        await again.dispose()


async def test_first_start_creates_missing_directories_where_allowed(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'deep' / 'er' / 'shop.db'}"
    with pytest.raises(DatabaseMissingError, match="does not exist"):
        await Backend.start(url, create="new-file")
    assert not (tmp_path / "deep").exists()
    backend = await Backend.start(url, create="anywhere")
    await backend.close()
    assert backend.is_new
    assert (tmp_path / "deep" / "er" / "shop.db").exists()


@ON_SQLITE  # SQLite's one database-wide write lock; PostgreSQL writers lock rows (test_concurrency_postgres.py)
async def test_a_writer_holds_the_write_lock_from_its_first_statement(uow: SqlUnitOfWorkFactory, shop_db: ShopDatabase):
    """Check-then-write is safe only if the lock is taken before the check."""
    assert shop_db.path is not None
    other = sqlite3.connect(shop_db.path, timeout=0, isolation_level=None)
    try:
        async with uow(write=True) as w:
            await w.customers.find_by_email("nobody@example.com")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released when the unit of work ends
        other.execute("ROLLBACK")
        async with uow(write=False) as r:
            await r.customers.find_by_email("nobody@example.com")
            other.execute("BEGIN IMMEDIATE")  # readers take no lock
            other.execute("ROLLBACK")
    finally:
        other.close()


# SQLite's write lock held by another program; on PostgreSQL a row locked past the lock timeout, or a pool
# with no free connection, answers the same "busy" (test_postgres_limits.py).
@ON_SQLITE
async def test_a_database_locked_too_long_is_unavailable_and_changes_nothing(shop_db: ShopDatabase):
    """Another program holds the write lock past the busy timeout: a clear result, not a crash."""
    assert shop_db.path is not None
    impatient = create_engine(shop_db.url, busy_timeout_ms=100)
    other = sqlite3.connect(shop_db.path, isolation_level=None)
    try:
        await ensure_schema(impatient)
        service = CustomerService(unit_of_work_factory(impatient), SystemClock(), IdGenerator())
        other.execute("BEGIN IMMEDIATE")
        blocked = await service.register(CustomerCreate(name="Ada", email="ada@example.com"), actor="t")
        readable = await service.list(CustomerQuery())  # readers are not blocked by a writer (WAL)
        other.execute("ROLLBACK")
        after = await service.register(CustomerCreate(name="Ada", email="ada@example.com"), actor="t")
    finally:
        other.close()
        await impatient.dispose()

    assert isinstance(blocked, Unavailable)
    assert "busy" in blocked.message
    assert isinstance(readable, Success)
    assert readable.value.items == []
    assert isinstance(after, Success)


async def test_concurrent_stock_decrements_never_oversell(database_url: str, engine: AsyncEngine):
    """Twenty removals of one unit race over two engines for ten units: exactly ten succeed."""
    second = create_engine(database_url)
    try:
        services = [CatalogService(unit_of_work_factory(e), SystemClock(), IdGenerator()) for e in (engine, second)]
        created = await services[0].create_product(
            ProductCreate(sku="LAST-10", name="Scarce", price_minor=100, currency="EUR", stock=10), actor="t"
        )
        assert isinstance(created, Success)
        outcomes: list[object] = []

        async def take_one(service: CatalogService) -> None:
            outcomes.append(
                await service.adjust_stock(created.value.id, StockAdjustment(delta=-1, reason="damage"), actor="t")
            )

        async with anyio.create_task_group() as tasks:
            for n in range(20):
                tasks.start_soon(take_one, services[n % 2])

        async with engine.connect() as conn:
            stock = (await conn.execute(text("SELECT stock FROM products"))).scalar_one()
            audits = (
                await conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'product.stock_adjusted'"))
            ).scalar_one()
    finally:
        await second.dispose()

    assert sum(isinstance(o, Success) for o in outcomes) == 10
    assert sum(isinstance(o, Rejected) for o in outcomes) == 10
    assert (stock, audits) == (0, 10)


async def test_sku_unique_in_any_case_at_the_storage_level(uow: SqlUnitOfWorkFactory):
    first = Product(
        id="prd_00000000000000000000000001",
        sku="AB-1",
        name="A",
        description=None,
        price_minor=1,
        currency="EUR",
        stock=0,
        active=True,
        created_at=T0,
        updated_at=T0,
    )
    async with uow(write=True) as w:
        await w.products.add(first)
        await w.commit()
    async with uow(write=True) as w:
        with pytest.raises(UniqueViolationError):
            await w.products.add(replace(first, id="prd_00000000000000000000000002", sku="ab-1"))
    async with uow(write=False) as r:
        assert await r.products.find_by_sku("AB-1") == first
        assert await r.products.adjust_stock(first.id, -1, T0) is None  # would go below zero
