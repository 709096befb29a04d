"""PostgreSQL's limits, answered as the shop's usual "not now": a row locked past the lock timeout, a
pool with no free connection, a server that is not there; and the PgBouncer settings at work."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

import anyio
import psycopg
import pytest

from mcp_server.adapters.database import PoolOptions
from mcp_server.adapters.service_factories import Backend, MailOptions
from mcp_server.models.catalog import ProductCreate, StockAdjustment
from mcp_server.models.customers import CustomerCreate
from mcp_server.models.orders import OrderCreate, OrderLineRequest, OrderQuery
from mcp_server.services.results import BUSY, OFFLINE, Success, Unavailable
from tests.engines import ShopDatabase

pytestmark = pytest.mark.anyio
ON_POSTGRESQL = pytest.mark.parametrize("db_engine", ["postgresql"])
ACTOR = "test"


async def _open(url: str, tmp_path: Path, pool: PoolOptions) -> Backend:
    return await Backend.start(url, mail=MailOptions(directory=tmp_path / "mail"), pool=pool)


async def _stocked(backend: Backend) -> tuple[str, str]:
    """(customer id, product id) of a customer and a product with 5 in stock."""
    s = backend.services
    ada = await s.customers.register(CustomerCreate(name="Ada", email="ada@example.com"), actor=ACTOR)
    mug = await s.catalog.create_product(
        ProductCreate(sku="MUG-1", name="Mug", price_minor=1250, currency="EUR", stock=5), actor=ACTOR
    )
    assert isinstance(ada, Success)
    assert isinstance(mug, Success)
    return ada.value.id, mug.value.id


def _one_mug(customer: str) -> OrderCreate:
    return OrderCreate(customer_id=customer, lines=[OrderLineRequest(sku="MUG-1", quantity=1)])


@contextmanager
def _product_locked(shop_db: ShopDatabase, product: str) -> Generator[None]:
    """Another client holds ``product``'s row lock (uncommitted) for the duration; nothing waits forever."""
    with psycopg.connect(shop_db.sync_url.replace("postgresql+psycopg", "postgresql")) as other:
        other.execute("SELECT 1 FROM products WHERE id = %s FOR UPDATE", (product,))
        with anyio.fail_after(10):
            yield
        other.rollback()


@ON_POSTGRESQL
async def test_a_row_locked_past_the_timeout_answers_busy_and_changes_nothing(
    shop_db: ShopDatabase, tmp_path: Path
) -> None:
    backend = await _open(shop_db.url, tmp_path, PoolOptions(timeout_s=0.5))
    try:
        customer, product = await _stocked(backend)
        before = shop_db.tables()
        with _product_locked(shop_db, product):
            placed = await backend.services.orders.place(_one_mug(customer), actor=ACTOR)
            adjusted = await backend.services.catalog.adjust_stock(
                product, StockAdjustment(delta=3, reason="restock"), actor=ACTOR
            )
        assert placed == BUSY
        assert adjusted == BUSY
        assert shop_db.tables() == before, "nothing was written"
        again = await backend.services.orders.place(_one_mug(customer), actor=ACTOR)
        assert isinstance(again, Success), "once the lock is gone, the same call goes through"
    finally:
        await backend.close()


@ON_POSTGRESQL
async def test_a_pool_with_no_free_connection_answers_busy(shop_db: ShopDatabase, tmp_path: Path) -> None:
    backend = await _open(shop_db.url, tmp_path, PoolOptions(size=1, timeout_s=0.3))
    try:
        customer, _ = await _stocked(backend)
        engine = backend.engine
        async with engine.connect() as held:  # the pool's only connection, taken
            await held.exec_driver_sql("SELECT 1")
            with anyio.fail_after(10):
                read = await backend.services.customers.get(customer_id=customer, email=None)
                placed = await backend.services.orders.place(_one_mug(customer), actor=ACTOR)
        assert read == BUSY
        assert placed == BUSY
        assert shop_db.count("orders") == 0
        assert isinstance(await backend.services.customers.get(customer_id=customer, email=None), Success)
    finally:
        await backend.close()


@ON_POSTGRESQL
async def test_a_server_that_went_away_answers_offline(shop_db: ShopDatabase, tmp_path: Path) -> None:
    backend = await _open(shop_db.url, tmp_path, PoolOptions(timeout_s=2))
    try:
        customer, _ = await _stocked(backend)
        with psycopg.connect(shop_db.sync_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as admin:
            # Every connection the shop holds is cut, as a server restart would.
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        placed = await backend.services.orders.place(_one_mug(customer), actor=ACTOR)
        assert placed == OFFLINE, "a dead pooled connection: nothing was written, retry"
        assert shop_db.count("orders") == 0
        got = await backend.services.customers.get(customer_id=customer, email=None)
        assert isinstance(got, Success), "the pool reconnects: the next call works"
    finally:
        await backend.close()


async def test_a_server_that_is_not_there_is_named_in_words(tmp_path: Path) -> None:
    """Nothing listens on the port: the start fails with the database server's words, not a driver's."""
    from mcp_server.adapters.database import describe_failure

    with pytest.raises(Exception) as failed:  # noqa: PT011 - the driver's own class; only its words matter here
        await _open("postgresql+asyncpg://shop@127.0.0.1:9/shop", tmp_path, PoolOptions(timeout_s=2))
    assert describe_failure(failed.value) == (
        "the database server refused the connection (is it running, on that host and port?)"
    )


@ON_POSTGRESQL
async def test_the_pgbouncer_settings_keep_every_use_case_working(shop_db: ShopDatabase, tmp_path: Path) -> None:
    """No prepared statements and a lock timeout per transaction: the same answers as without."""
    backend = await _open(shop_db.url, tmp_path, PoolOptions(pgbouncer=True, timeout_s=0.5))
    try:
        customer, product = await _stocked(backend)
        s = backend.services
        order = OrderCreate(customer_id=customer, lines=[OrderLineRequest(sku="MUG-1", quantity=2)])
        placed = await s.orders.place(order, actor=ACTOR, idempotency_key="k")
        replayed = await s.orders.place(order, actor=ACTOR, idempotency_key="k")
        assert isinstance(placed, Success)
        assert isinstance(replayed, Success)
        assert replayed.value.replayed
        for _ in range(3):  # the same statements again: nothing prepared is reused under another name
            assert isinstance(await s.orders.get(placed.value.order.id), Success)
        with _product_locked(shop_db, product):
            blocked = await s.orders.place(_one_mug(customer), actor=ACTOR)
        assert isinstance(blocked, Unavailable), "the per-transaction lock timeout applies"
        assert shop_db.count("orders") == 1
    finally:
        await backend.close()


@ON_POSTGRESQL
async def test_the_psycopg_driver_serves_the_same_shop(shop_db: ShopDatabase, tmp_path: Path) -> None:
    """postgresql+psycopg:// (the `psycopg` extra) gives the same answers as asyncpg."""
    url = shop_db.url.replace("+asyncpg", "+psycopg", 1)
    backend = await _open(url, tmp_path, PoolOptions(timeout_s=0.5))
    try:
        customer, product = await _stocked(backend)
        s = backend.services
        order = OrderCreate(customer_id=customer, lines=[OrderLineRequest(sku="mug-1", quantity=2)])
        placed = await s.orders.place(order, actor=ACTOR, idempotency_key="k")
        replayed = await s.orders.place(order, actor=ACTOR, idempotency_key="k")
        assert isinstance(placed, Success)
        assert isinstance(replayed, Success)
        assert replayed.value.replayed
        today = placed.value.order.placed_at.date()
        listed = await s.orders.list(OrderQuery(placed_from=today, placed_to=today))
        assert isinstance(listed, Success)
        assert [o.id for o in listed.value.items] == [placed.value.order.id]
        stock = await s.catalog.get(product_id=product, sku=None)
        assert isinstance(stock, Success)
        assert stock.value.stock == 3
        with _product_locked(shop_db, product):
            blocked = await s.orders.place(_one_mug(customer), actor=ACTOR)
        assert blocked == BUSY, "the lock timeout is set on psycopg's connections too"
    finally:
        await backend.close()
