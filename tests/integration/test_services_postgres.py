"""The shop's services on PostgreSQL, end to end below the doors: a day of business on a new
database, with the same answers SQLite gives (the first slice of the PostgreSQL engine; the
settings do not offer it to users yet).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from mcp_server.adapters.service_factories import Backend, MailOptions
from mcp_server.models.audit import AuditQuery
from mcp_server.models.catalog import ProductCreate
from mcp_server.models.customers import CustomerCreate, CustomerQuery
from mcp_server.models.orders import OrderCreate, OrderLineRequest, OrderQuery
from mcp_server.models.payments import PaymentCreate, PaymentQuery, RefundCreate
from mcp_server.models.reports import SalesQuery
from mcp_server.services.approvals import PersonConfirmed
from mcp_server.services.results import Success, Unavailable
from tests.postgres import PostgresServer

pytestmark = pytest.mark.anyio
ACTOR = "test"


async def test_a_day_of_business_on_postgresql(postgres: PostgresServer, tmp_path: Path) -> None:
    mail = MailOptions(directory=tmp_path / "mail")  # no file beside a server's database to put them by
    backend = await Backend.start(postgres.create_database("services"), create="anywhere", mail=mail)
    try:
        s = backend.services
        today = datetime.now(UTC).date()
        ada = await s.customers.register(CustomerCreate(name="Élodie Ада", email="elodie@example.com"), actor=ACTOR)
        assert isinstance(ada, Success)
        found = await s.customers.list(CustomerQuery(text="ÉLODIE"))
        assert isinstance(found, Success)
        assert [c.id for c in found.value.items] == [ada.value.id], "any letter case, beyond ASCII"

        mug = ProductCreate(sku="MUG-1", name="Mug", price_minor=1250, currency="EUR", stock=5)
        made = await s.catalog.create_product(mug, actor=ACTOR)
        assert isinstance(made, Success)
        order = OrderCreate(customer_id=ada.value.id, lines=[OrderLineRequest(sku="MUG-1", quantity=2)])
        placed = await s.orders.place(order, actor=ACTOR, idempotency_key="k-1")
        again = await s.orders.place(order, actor=ACTOR, idempotency_key="k-1")
        assert isinstance(placed, Success)
        assert isinstance(again, Success)
        assert again.value.order.id == placed.value.order.id
        assert again.value.replayed
        order_id = placed.value.order.id
        stocked = await s.catalog.get(product_id=made.value.id, sku=None)
        assert isinstance(stocked, Success)
        assert stocked.value.stock == 3, "one order placed, once"

        paid = await s.payments.record(PaymentCreate(order_id=order_id, method="cash"), actor=ACTOR)
        assert isinstance(paid, Success)
        assert paid.value.order.status == "paid"
        refund = RefundCreate(order_id=order_id, amount=500, reason="chipped")
        refunded = await s.payments.refund(refund, actor=ACTOR, approval=PersonConfirmed())
        assert isinstance(refunded, Success)
        assert refunded.value.order.refunded_minor == 500

        listed = await s.orders.list(OrderQuery(placed_from=today, placed_to=today))
        assert isinstance(listed, Success)
        assert [o.id for o in listed.value.items] == [order_id]
        ledger = await s.payments.list(PaymentQuery(date_from=today - timedelta(days=1), date_to=today))
        assert isinstance(ledger, Success)
        assert sorted(p.kind for p in ledger.value.items) == ["payment", "refund"]

        report = await s.reports.sales_summary(SalesQuery(date_from=today - timedelta(days=6), date_to=today))
        assert isinstance(report, Success)
        day = [d for d in report.value.days if d.day == today]
        assert [(d.orders, d.revenue_minor, d.refunds_minor) for d in day] == [(1, 2500, 500)]

        audit = await s.audit.list(AuditQuery())
        assert isinstance(audit, Success)
        assert {e.action for e in audit.value.items} >= {
            "customer.registered",
            "product.created",
            "order.placed",
            "payment.recorded",
            "payment.refunded",
        }
        delivered = await s.notifications.deliver_due()
        assert not isinstance(delivered, Unavailable)
        assert delivered.sent == 3, "welcome, order placed, refunded: each e-mail once"
        assert len(list((tmp_path / "mail").glob("*.eml"))) == 3
    finally:
        await backend.close()


async def test_two_refunds_racing_on_one_order_never_give_back_more_than_paid(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """Two server processes' worth of engines refund the same orders at once, at READ COMMITTED: the
    order row lock makes them take turns, so the money given back never exceeds what was paid."""
    url = postgres.create_database("racing")
    mail = MailOptions(directory=tmp_path / "mail")
    first = await Backend.start(url, create="anywhere", mail=mail)
    second = await Backend.start(url, create="anywhere", mail=mail)
    try:
        s = first.services
        ada = await s.customers.register(CustomerCreate(name="Ada", email="ada@example.com"), actor=ACTOR)
        assert isinstance(ada, Success)
        mug = ProductCreate(sku="MUG-1", name="Mug", price_minor=1250, currency="EUR", stock=1000)
        assert isinstance(await s.catalog.create_product(mug, actor=ACTOR), Success)
        orders: list[str] = []
        for _ in range(12):
            order = OrderCreate(customer_id=ada.value.id, lines=[OrderLineRequest(sku="MUG-1", quantity=2)])
            placed = await s.orders.place(order, actor=ACTOR)
            assert isinstance(placed, Success)
            orders.append(placed.value.order.id)
            paid = await s.payments.record(PaymentCreate(order_id=placed.value.order.id, method="cash"), actor=ACTOR)
            assert isinstance(paid, Success)

        outcomes: list[object] = []

        async def refund(backend: Backend, order_id: str) -> None:
            request = RefundCreate(order_id=order_id, amount=1500, reason="race")
            outcomes.append(await backend.services.payments.refund(request, actor=ACTOR, approval=PersonConfirmed()))

        async with anyio.create_task_group() as tasks:
            for order_id in orders:
                tasks.start_soon(refund, first, order_id)
                tasks.start_soon(refund, second, order_id)

        assert sum(isinstance(o, Success) for o in outcomes) == len(orders), "one refund per order goes through"
        for order_id in orders:
            got = await s.orders.get(order_id)
            assert isinstance(got, Success)
            given_back = sum(p.amount_minor for p in got.value.payments if p.kind == "refund")
            assert (got.value.order.refunded_minor, given_back) == (1500, 1500), order_id
    finally:
        await first.close()
        await second.close()
