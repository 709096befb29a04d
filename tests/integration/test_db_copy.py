"""``shopkeeper db copy``: a shop's SQLite file moved into PostgreSQL, every row and id as it was, and the
shop keeps working there; a target that holds anything of a shop is refused and left as it was."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncGenerator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from sqlalchemy import JSON, Text, cast, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mcp_server.adapters import copy as copying
from mcp_server.adapters.copy import CopyError, copy_database
from mcp_server.adapters.database import DatabaseMissingError, create_engine
from mcp_server.adapters.migrations import HEAD_REVISION
from mcp_server.adapters.service_factories import Backend, MailOptions
from mcp_server.models.audit import AuditEntry, AuditQuery
from mcp_server.models.catalog import ProductCreate
from mcp_server.models.customers import CustomerCreate, CustomerQuery
from mcp_server.models.entities import Base
from mcp_server.models.gateway_events import GatewayEvent
from mcp_server.models.orders import OrderCreate, OrderLineRequest
from mcp_server.models.payments import PaymentCreate, RefundCreate
from mcp_server.services.approvals import ApprovalGiven, NeedsApproval, PersonConfirmed
from mcp_server.services.results import Conflict, Success, Unavailable
from tests.databases import new_database
from tests.postgres import PostgresServer

pytestmark = pytest.mark.anyio

ACTOR = "test"
APPROVER, PASSPHRASE = "ada", "a long enough passphrase"
STOCK = 100_000
TABLES = [table for table in Base.metadata.sorted_tables if table.name != "alembic_version"]
Dump = dict[str, list[tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class Shop:
    url: str
    path: Path
    mail: MailOptions
    customer_id: str
    order_ids: list[str]


async def seed(backend: Backend) -> tuple[str, list[str]]:
    """A small day of business through the services: every table gets rows; (a customer id, the order ids)."""
    s = backend.services
    names = [("Élodie Ада", "elodie@example.com"), ("Zoë 日本", "zoe@example.com"), ("Ada", "ada@example.com")]
    customers: list[str] = []
    for name, email in names:
        made = await s.customers.register(CustomerCreate(name=name, email=email, notes="“quoted” ñ"), actor=ACTOR)
        assert isinstance(made, Success), made
        customers.append(made.value.id)
    for sku, price in (("MUG-1", 1250), ("TEA-2", 399), ("BAG-3", 4500)):
        product = ProductCreate(sku=sku, name=f"Thing {sku} ☕", price_minor=price, currency="EUR", stock=STOCK)
        assert isinstance(await s.catalog.create_product(product, actor=ACTOR), Success)
    orders: list[str] = []
    for number, customer_id in enumerate(customers * 2):
        lines = [OrderLineRequest(sku="MUG-1", quantity=1 + number % 3), OrderLineRequest(sku="TEA-2", quantity=2)]
        if number % 2:
            lines.append(OrderLineRequest(sku="BAG-3", quantity=1))
        placed = await s.orders.place(
            OrderCreate(customer_id=customer_id, lines=lines), actor=ACTOR, idempotency_key=f"order-{number}"
        )
        assert isinstance(placed, Success), placed
        orders.append(placed.value.order.id)
    for order_id in orders[:4]:
        paid = await s.payments.record(PaymentCreate(order_id=order_id, method="cash"), actor=ACTOR)
        assert isinstance(paid, Success), paid
    refund = RefundCreate(order_id=orders[0], amount=500, reason="chipped", restock=False)
    assert isinstance(await s.payments.refund(refund, actor=ACTOR, approval=PersonConfirmed()), Success)
    assert isinstance(await s.approvals.add_approver(APPROVER, PASSPHRASE, actor=ACTOR), Success)
    late = RefundCreate(order_id=orders[1], amount=300, reason="late")
    asked = await s.payments.refund(late, actor=ACTOR, approval=None)  # an approval request, approved, then used
    assert isinstance(asked, NeedsApproval), asked
    assert asked.request is not None, asked
    decided = await s.approvals.decide(asked.request.id, approve=True, name=APPROVER, passphrase=PASSPHRASE)
    assert isinstance(decided, Success), decided
    assert isinstance(await s.payments.refund(late, actor=ACTOR, approval=ApprovalGiven(asked.request.id)), Success)
    await s.notifications.deliver_due(limit=3)  # some messages sent, the rest still queued
    made = await s.access.create("assistant", ["read", "orders"], actor=ACTOR)  # a token for the HTTP door
    assert isinstance(made, Success), made
    unknown = GatewayEvent(
        "evt_copied", "payment_intent.succeeded", "payment", "pi_unknown", references=("pi_unknown",)
    )
    taken = await s.payments.take_gateway_event(unknown, actor="webhook:stripe")  # filed as naming nothing of ours
    assert not isinstance(taken, Unavailable), taken
    return customers[0], orders


@pytest.fixture
async def shop(tmp_path: Path) -> Shop:
    path = tmp_path / "shop #1?" / "shop.db"  # the source is opened by a file: URI; odd characters stay in it
    url = new_database(path)
    mail = MailOptions(directory=tmp_path / "mail")
    backend = await Backend.start(url, create="never", mail=mail)
    try:
        customer_id, orders = await seed(backend)
    finally:
        await backend.close()
    return Shop(url, path, mail, customer_id, orders)


@pytest.fixture
async def engines() -> AsyncGenerator[list[AsyncEngine]]:
    """Engines a test opens to look at databases, disposed at its end."""
    made: list[AsyncEngine] = []
    yield made
    for engine in made:
        await engine.dispose()


async def dump(engines: list[AsyncEngine], url: str) -> Dump:
    """Every row of every shop table (and the schema stamp), in key order: values as the shop reads them,
    JSON as its stored text, so a JSON null and an SQL NULL stay apart."""
    engine = create_engine(url)
    engines.append(engine)
    rows: Dump = {}
    async with engine.connect() as conn:
        for table in TABLES:
            columns = [cast(c, Text) if isinstance(c.type, JSON) else c for c in table.columns]
            ordered = select(*columns).order_by(*table.primary_key.columns)
            rows[table.name] = [tuple(row) for row in await conn.execute(ordered)]
        version = await conn.execute(text("SELECT version_num FROM alembic_version"))
        rows["alembic_version"] = [tuple(row) for row in version]
    return rows


async def tables_in(engines: list[AsyncEngine], url: str) -> list[str]:
    engine = create_engine(url)
    engines.append(engine)
    async with engine.connect() as conn:
        found = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        return sorted(str(row[0]) for row in found)


async def test_every_row_arrives_with_its_id_and_the_shop_keeps_working(
    shop: Shop, postgres: PostgresServer, engines: list[AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(copying, "BATCH_ROWS", 3)  # several pages per table: keyset paging, composite keys too
    target = postgres.create_database("copy_everything")
    with closing(sqlite3.connect(shop.path)) as conn, conn:  # an SQL NULL beside the shop's JSON nulls
        conn.execute("UPDATE audit_log SET before = NULL WHERE sequence = 1")
    before = await dump(engines, shop.url)
    assert {None, "null"} <= set(values(before, "audit_log", "before"))
    assert all(before[table.name] for table in TABLES), "every table has rows to copy"

    report = await copy_database(shop.url, target.replace("postgresql+asyncpg://", "postgresql://"))

    assert report.target == target.replace("+asyncpg", "").replace("+psycopg", ""), "as psql takes it"
    assert dict(report.tables) == {name: len(rows) for name, rows in before.items() if name != "alembic_version"}
    assert report.rows == sum(len(before[table.name]) for table in TABLES)
    assert await dump(engines, target) == before, "every row, id, timestamp and JSON text as in the file"
    assert await dump(engines, shop.url) == before, "the file is only read"

    # Timestamps to the microsecond, read past the shop's own column type on both sides.
    with closing(sqlite3.connect(shop.path)) as conn:
        stored = sorted(str(row[0]) for row in conn.execute("SELECT occurred_at FROM audit_log"))
    pg = create_engine(target)
    engines.append(pg)
    async with pg.connect() as conn:
        utc = "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        there = sorted(str(row[0]) for row in await conn.execute(text(f"SELECT {utc} FROM audit_log")))  # noqa: S608
    assert there == stored
    assert any(not moment.endswith("000") for moment in there), "microseconds are there to compare"

    old_audit = await audit_trail(shop.url, shop.mail)
    backend = await Backend.start(target, create="never", mail=shop.mail)
    try:
        s = backend.services
        assert not backend.is_new
        found = await s.customers.list(CustomerQuery(text="élodie"))
        assert isinstance(found, Success)
        assert [c.id for c in found.value.items] == [shop.customer_id]
        twin = await s.customers.register(CustomerCreate(name="Other", email="elodie@example.com"), actor=ACTOR)
        assert isinstance(twin, Conflict), "the unique e-mail came along"
        for order_id in shop.order_ids:
            detail = await s.orders.get(order_id)
            assert isinstance(detail, Success), order_id
        first = await s.orders.get(shop.order_ids[0])
        assert isinstance(first, Success)
        assert [p.kind for p in first.value.payments] == ["payment", "refund"]
        assert first.value.order.refunded_minor == 500

        # New rows take the next numbers: payments and the audit log number theirs from a sequence.
        lines = [OrderLineRequest(sku="MUG-1", quantity=1)]
        placed = await s.orders.place(OrderCreate(customer_id=shop.customer_id, lines=lines), actor=ACTOR)
        assert isinstance(placed, Success), placed
        paid = await s.payments.record(PaymentCreate(order_id=placed.value.order.id, method="cash"), actor=ACTOR)
        assert isinstance(paid, Success), paid
        replayed = await s.orders.place(
            OrderCreate(customer_id=shop.customer_id, lines=[OrderLineRequest(sku="MUG-1", quantity=1)]),
            actor=ACTOR,
            idempotency_key="order-0",
        )
        assert isinstance(replayed, Conflict), "idempotency keys came along: the same key, other arguments"
    finally:
        await backend.close()
    new_audit = await audit_trail(target, shop.mail)
    assert [e.id for e in new_audit[len(new_audit) - len(old_audit) :]] == [e.id for e in old_audit]
    added = new_audit[: len(new_audit) - len(old_audit)]
    assert [e.action for e in added] == ["payment.recorded", "order.placed"], "newest first, after the copied ones"
    assert min(e.sequence for e in added) == max(e.sequence for e in old_audit) + 1
    payments = (await dump(engines, target))["payments"]
    assert [row[0] for row in payments] == list(range(1, len(payments) + 1)), "no gap, no collision"


async def audit_trail(url: str, mail: MailOptions) -> list[AuditEntry]:
    """The whole audit log as the shop lists it, newest first, every page."""
    backend = await Backend.start(url, create="never", mail=mail)
    entries: list[AuditEntry] = []
    cursor: str | None = None
    try:
        while True:
            page = await backend.services.audit.list(AuditQuery(limit=7, cursor=cursor))
            assert isinstance(page, Success), page
            entries += page.value.items
            cursor = page.value.next_cursor
            if cursor is None:
                return entries
    finally:
        await backend.close()


async def test_a_database_the_shop_has_opened_but_not_used_is_taken(
    shop: Shop, postgres: PostgresServer, engines: list[AsyncEngine], tmp_path: Path
) -> None:
    """A server pointed at the new database before the copy made its (empty) schema: that is still empty."""
    target = postgres.create_database("copy_opened")
    opened = await Backend.start(target, create="never", mail=MailOptions(directory=tmp_path / "other-mail"))
    await opened.close()

    report = await copy_database(shop.url, target)

    assert report.rows > 0
    assert await dump(engines, target) == await dump(engines, shop.url)


async def test_the_second_driver_copies_the_same_rows(
    shop: Shop, postgres: PostgresServer, engines: list[AsyncEngine]
) -> None:
    """postgresql+psycopg:// (SHOPKEEPER_DATABASE_URL takes it too) is kept as given."""
    postgres.create_database("copy_psycopg")
    target = postgres.url("copy_psycopg", driver="psycopg")

    report = await copy_database(shop.url, target)

    assert report.target == target.replace("+asyncpg", "").replace("+psycopg", ""), "as psql takes it"
    assert await dump(engines, target) == await dump(engines, shop.url)


async def test_a_database_that_holds_a_shop_is_refused_and_left_as_it_was(
    shop: Shop, postgres: PostgresServer, engines: list[AsyncEngine], tmp_path: Path
) -> None:
    target = postgres.create_database("copy_taken")
    other = await Backend.start(target, create="never", mail=MailOptions(directory=tmp_path / "other-mail"))
    try:
        made = await other.services.customers.register(CustomerCreate(name="Grace", email="g@example.com"), actor=ACTOR)
        assert isinstance(made, Success)
    finally:
        await other.close()
    before = await dump(engines, target)

    with pytest.raises(CopyError) as refused:
        await copy_database(shop.url, target)

    assert refused.value.problem == "refused"
    assert str(refused.value).startswith(f"{target.replace('+asyncpg', '')} already holds a shop")
    assert await dump(engines, target) == before


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        ("CREATE TABLE customers (id text PRIMARY KEY)", "already has tables named customers"),
        (
            "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); "
            "INSERT INTO alembic_version VALUES ('0007')",
            "already holds a Shopkeeper database (schema revision 0007)",
        ),
    ],
    ids=["a table of the same name", "an older shop"],
)
async def test_a_database_with_shop_tables_is_refused_and_left_as_it_was(
    shop: Shop, postgres: PostgresServer, engines: list[AsyncEngine], setup: str, words: str
) -> None:
    target = postgres.create_database("copy_clash")
    engine = create_engine(target)
    engines.append(engine)
    async with engine.begin() as conn:
        for statement in setup.split("; "):
            await conn.execute(text(statement))
    before = await tables_in(engines, target)

    with pytest.raises(CopyError, match=re.escape(words)) as refused:
        await copy_database(shop.url, target)

    assert refused.value.problem == "refused"
    assert await tables_in(engines, target) == before, "no schema was added"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///{tmp}/elsewhere.db",
        "mysql+aiomysql://shop@localhost/shop",
        "postgresql+asyncpg://shop@localhost",
        "postgresql+asyncpg://shop@localhost/",
        "not a url",
        "",
    ],
)
async def test_only_a_named_postgresql_database_is_a_target(url: str, tmp_path: Path) -> None:
    """Told before anything is opened: neither the shop's file nor the target is touched."""
    source = tmp_path / "shop.db"
    with pytest.raises(CopyError) as refused:
        await copy_database(f"sqlite+aiosqlite:///{source}", url.format(tmp=tmp_path))

    assert refused.value.problem == "bad-url"
    assert not source.exists()
    assert not (tmp_path / "elsewhere.db").exists()


@pytest.mark.parametrize(
    ("stamp", "problem"), [("0007", "outdated"), ("9999", "refused")], ids=["older schema", "unknown schema"]
)
async def test_a_shop_not_at_this_versions_schema_is_not_copied(
    shop: Shop, postgres: PostgresServer, engines: list[AsyncEngine], stamp: str, problem: str
) -> None:
    with closing(sqlite3.connect(shop.path)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (stamp,))
    target = postgres.create_database("copy_outdated")

    with pytest.raises(CopyError, match=f"revision {stamp}") as refused:
        await copy_database(shop.url, target)

    assert refused.value.problem == problem
    assert await tables_in(engines, target) == [], "the target was not touched"


async def test_a_missing_file_is_not_created(postgres: PostgresServer, tmp_path: Path) -> None:
    missing = tmp_path / "dya.db"
    with pytest.raises(DatabaseMissingError):
        await copy_database(f"sqlite+aiosqlite:///{missing}", postgres.create_database("copy_missing"))
    assert not missing.exists()


async def test_a_row_postgresql_refuses_leaves_every_table_empty(
    shop: Shop, postgres: PostgresServer, engines: list[AsyncEngine]
) -> None:
    """SQLite does not check lengths, PostgreSQL does: the copy stops, says which table, shows no data."""
    secret = "+33 6 12 34 56 78 " * 5
    with closing(sqlite3.connect(shop.path)) as conn, conn:
        conn.execute("UPDATE customers SET phone = ? WHERE id = ?", (secret, shop.customer_id))
    target = postgres.create_database("copy_refused_row")

    with pytest.raises(CopyError) as failed:
        await copy_database(shop.url, target)

    message = str(failed.value)
    assert failed.value.problem == "failed"
    assert "copy table customers" in message
    assert "longer than PostgreSQL's column allows" in message
    assert secret.strip() not in message
    copied = await dump(engines, target)
    assert {name: rows for name, rows in copied.items() if rows} == {"alembic_version": [(HEAD_REVISION,)]}, (
        "the tables copied before customers were rolled back too"
    )
    # The copy can be run again once the row is fixed: the empty schema left behind is accepted.
    with closing(sqlite3.connect(shop.path)) as conn, conn:
        conn.execute("UPDATE customers SET phone = NULL WHERE id = ?", (shop.customer_id,))
    await copy_database(shop.url, target)
    assert await dump(engines, target) == await dump(engines, shop.url)


async def test_a_shop_in_use_is_copied_as_of_one_moment(
    shop: Shop, postgres: PostgresServer, engines: list[AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orders keep coming in while the copy runs: the copy holds none of them half (an order without its
    lines, its audit entry or its stock taken), because every table is read in one read transaction."""
    monkeypatch.setattr(copying, "BATCH_ROWS", 2)  # many round trips, for the writer to get in between
    target = postgres.create_database("copy_live")
    writer = await Backend.start(shop.url, create="never", mail=shop.mail)
    placed_during: list[str] = []
    done = anyio.Event()

    async def keep_ordering() -> None:
        while not done.is_set():
            lines = [OrderLineRequest(sku="MUG-1", quantity=1), OrderLineRequest(sku="BAG-3", quantity=1)]
            placed = await writer.services.orders.place(
                OrderCreate(customer_id=shop.customer_id, lines=lines), actor=ACTOR
            )
            assert isinstance(placed, Success), placed
            placed_during.append(placed.value.order.id)
            await anyio.lowlevel.checkpoint()

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(keep_ordering)
            await anyio.sleep(0.05)
            await copy_database(shop.url, target)
            done.set()
    finally:
        await writer.close()

    copied = await dump(engines, target)
    now = await dump(engines, shop.url)
    assert placed_during, "orders came in while the copy ran"
    assert len(copied["orders"]) < len(now["orders"]), "some came in after the copy's moment"
    orders = set(values(copied, "orders", "id"))
    assert set(values(copied, "order_lines", "order_id")) == orders, "every copied order has its lines, no more"
    audited = zip(values(copied, "audit_log", "action"), values(copied, "audit_log", "entity_id"), strict=True)
    assert {subject for action, subject in audited if action == "order.placed"} == orders, (
        "every copied order has its audit entry, and no more"
    )
    mug = values(copied, "products", "sku").index("MUG-1")
    lines = zip(
        values(copied, "order_lines", "sku"),
        values(copied, "order_lines", "quantity"),
        values(copied, "order_lines", "restocked"),
        strict=True,
    )
    taken = sum(quantity - restocked for sku, quantity, restocked in lines if sku == "MUG-1")
    assert values(copied, "products", "stock")[mug] + taken == STOCK, "the stock taken matches the orders copied"


def values(rows: Dump, table: str, column: str) -> list[Any]:
    """One column of a dumped table, in key order."""
    at = Base.metadata.tables[table].columns.keys().index(column)
    return [row[at] for row in rows[table]]
