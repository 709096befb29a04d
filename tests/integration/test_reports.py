"""The sales report's SQL on each engine (a SQLite file, a PostgreSQL database) after cancellations,
refunds and card refunds.

Revenue is the total of the orders placed in the range that are not cancelled; refunds are the
succeeded refunds made in the range on orders that are not cancelled; net is revenue minus refunds.
A cancelled order (its payments, its refunds, whenever they were made) only shows under ``cancelled``.
The same rows go through FakeReportRepository too, so the fake the unit tests use stays faithful.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from mcp_server.adapters.service_factories import Backend, MailOptions
from mcp_server.models.catalog import ProductCreate
from mcp_server.models.customers import CustomerCreate
from mcp_server.models.orders import OrderCreate, OrderLineRequest
from mcp_server.models.payments import Payment, PaymentCreate, PaymentStatus, RefundCreate
from mcp_server.models.reports import DaySales, ProductSales, SalesQuery, SalesSummary
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory
from mcp_server.services.approvals import PersonConfirmed
from mcp_server.services.reports import day_windows
from mcp_server.services.results import Success
from tests.fakes import FakeDatabase, FakeReportRepository
from tests.integration.test_orders import MUG, TEA, a_customer, a_payment, an_order

pytestmark = pytest.mark.anyio

FEB_10, FEB_11 = date(2026, 2, 10), date(2026, 2, 11)


def feb(day: int, hour: int) -> datetime:
    return datetime(2026, 2, day, hour, tzinfo=UTC)


def refund(n: int, payment: Payment, amount: int, at: datetime, status: PaymentStatus = "succeeded") -> Payment:
    order = next(o for o in ORDERS if o.id == payment.order_id)
    return replace(a_payment(n, order, amount, at, refund_of=payment), status=status)


ORDERS = [
    an_order(11, feb(10, 9), "delivered", 1, (MUG, 2), paid=2500),  # refunded in part; a pending and a failed refund
    an_order(12, feb(10, 10), "cancelled", 1, (MUG, 1), paid=1250),  # 2.50 refunded, then cancelled the next day
    an_order(13, feb(10, 11), "refunded", 2, (TEA, 3), paid=900),  # refunded in full the next day
    an_order(14, feb(11, 9), "placed", 2, (TEA, 1)),  # a card charge pending, another failed
    an_order(15, feb(11, 10), "cancelled", 2, (TEA, 2)),  # cancelled before any payment
]
PAY_11 = a_payment(21, ORDERS[0], 2500, feb(10, 9))
PAY_12 = a_payment(22, ORDERS[1], 1250, feb(10, 10))
PAY_13 = a_payment(23, ORDERS[2], 900, feb(10, 11))
PAYMENTS = [
    PAY_11,
    PAY_12,
    PAY_13,
    replace(a_payment(24, ORDERS[3], 300, feb(11, 9)), status="pending"),
    replace(a_payment(25, ORDERS[3], 300, feb(11, 9)), status="failed"),
    refund(31, PAY_11, 500, feb(10, 12)),
    refund(32, PAY_11, 300, feb(10, 13), "pending"),
    refund(33, PAY_11, 200, feb(11, 12), "failed"),
    refund(34, PAY_12, 250, feb(10, 14)),
    refund(35, PAY_12, 1000, feb(11, 8)),  # the cancellation's refund
    refund(36, PAY_13, 900, feb(11, 13)),
]

EXPECTED_DAYS = [
    # 11 and 13 (2 + 3 units); 12 cancelled, its two refunds left out; 11's pending refund is not money returned
    DaySales(FEB_10, "EUR", orders=1 + 1, units=5, revenue_minor=2500 + 900, refunds_minor=500, cancelled=1),
    # 14 (its pending and failed charges change nothing); 15 cancelled; 13's refund; 11's failed one left out
    DaySales(FEB_11, "EUR", orders=1, units=1, revenue_minor=300, refunds_minor=900, cancelled=1),
]
EXPECTED_PRODUCTS = [
    ProductSales(MUG.id, "MUG", MUG.name, "EUR", orders=1, units=2, revenue_minor=2500),
    ProductSales(TEA.id, "TEA", TEA.name, "EUR", orders=2, units=4, revenue_minor=1200),
]


@pytest.fixture
async def seeded(uow: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow(write=True) as w:
        for n in (1, 2):
            await w.customers.add(a_customer(n))
        for product in (MUG, TEA):
            await w.products.add(product)
        for order in ORDERS:
            await w.orders.add(order)
        for payment in PAYMENTS:
            await w.payments.add(payment)
        await w.commit()
    return uow


def fake() -> FakeReportRepository:
    db = FakeDatabase(
        customers={c.id: c for c in (a_customer(1), a_customer(2))},
        products={p.id: p for p in (MUG, TEA)},
        orders={o.id: o for o in ORDERS},
        payments=list(PAYMENTS),
    )
    return FakeReportRepository(db)


async def test_cancelled_orders_refunds_and_unfinished_card_refunds_by_day(seeded: SqlUnitOfWorkFactory) -> None:
    windows = day_windows(FEB_10, FEB_11, UTC)
    async with seeded(write=False) as r:
        days = await r.reports.sales_by_day(windows)

    assert days == EXPECTED_DAYS
    assert sum(d.revenue_minor - d.refunds_minor for d in days) == 3700 - 1400
    assert await fake().sales_by_day(windows) == days, "the fake computes the same figures"


async def test_the_cancellations_day_alone_is_not_made_negative(seeded: SqlUnitOfWorkFactory) -> None:
    """Only order 12's cancellation refund (and 13's full refund) fall on the 11th: 12 must not count."""
    windows = day_windows(FEB_11, FEB_11, UTC)
    async with seeded(write=False) as r:
        (day,) = await r.reports.sales_by_day(windows)

    assert day.refunds_minor == 900
    assert await fake().sales_by_day(windows) == [day]


async def test_products_add_up_to_the_days_revenue(seeded: SqlUnitOfWorkFactory) -> None:
    windows = day_windows(FEB_10, FEB_11, UTC)
    async with seeded(write=False) as r:
        products = await r.reports.sales_by_product(windows[0].start, windows[-1].end, 100)

    assert products == EXPECTED_PRODUCTS
    assert sum(p.revenue_minor for p in products) == sum(d.revenue_minor for d in EXPECTED_DAYS)
    assert await fake().sales_by_product(windows[0].start, windows[-1].end, 100) == products


async def test_paid_then_cancelled_through_the_services_nets_to_zero(database_url: str, tmp_path: Path) -> None:
    """The reported bug, end to end: a paid order cancelled showed revenue 0, refunds 18.00, net -18.00."""
    backend = await Backend.start(database_url, mail=MailOptions(directory=tmp_path / "mail"))
    try:
        s = backend.services
        customer = await s.customers.register(CustomerCreate(name="Ada", email="ada@example.com"), actor="t")
        product = await s.catalog.create_product(
            ProductCreate(sku="SCARF", name="Scarf", price_minor=1800, currency="EUR", stock=10), actor="t"
        )
        assert isinstance(customer, Success)
        assert isinstance(product, Success)
        order_ids: list[str] = []
        for quantity in (1, 2):
            request = OrderCreate(
                customer_id=customer.value.id, lines=[OrderLineRequest(sku="SCARF", quantity=quantity)]
            )
            placed = await s.orders.place(request, actor="t")
            assert isinstance(placed, Success)
            order_ids.append(placed.value.order.id)
            paid = await s.payments.record(PaymentCreate(order_id=order_ids[-1], method="cash"), actor="t")
            assert isinstance(paid, Success)
        cancelled_id, kept_id = order_ids
        partly = RefundCreate(order_id=kept_id, amount=600, reason="scratched", restock=False)
        assert isinstance(await s.payments.refund(partly, actor="t", approval=PersonConfirmed()), Success)
        cancelled = await s.orders.cancel(cancelled_id, reason=None, actor="t", approval=PersonConfirmed())
        assert isinstance(cancelled, Success)
        assert cancelled.value.refund_minor == 1800

        today = datetime.now(UTC).date()
        query = SalesQuery(date_from=today - timedelta(days=1), date_to=today + timedelta(days=1))
        by_day = await s.reports.sales_summary(query)
        by_product = await s.reports.sales_summary(query.model_copy(update={"group_by": "product"}))
    finally:
        await backend.close()

    assert isinstance(by_day, Success)
    assert isinstance(by_product, Success)
    assert figures(by_day.value) == (1, 2, 3600, 600, 3000, 1)
    assert [(p.sku, p.orders, p.units, p.revenue_minor) for p in by_product.value.products] == [("SCARF", 1, 2, 3600)]


def figures(s: SalesSummary) -> tuple[int, int, int, int, int, int]:
    """(orders, units, revenue, refunds, net, cancelled) over every day row."""
    days = s.days
    revenue, refunds = sum(d.revenue_minor for d in days), sum(d.refunds_minor for d in days)
    return (
        sum(d.orders for d in days),
        sum(d.units for d in days),
        revenue,
        refunds,
        revenue - refunds,
        sum(d.cancelled for d in days),
    )
