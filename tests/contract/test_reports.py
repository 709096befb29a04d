"""ReportRepository: the same figures from the same orders and payments on every engine. Days are
local (Paris) calendar days as UTC intervals; cancelled orders and their refunds are left out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mcp_server.models.reports import DaySales, DayWindow, ProductSales
from mcp_server.services.ports import UnitOfWorkFactory
from tests.contract.records import customer, order, payment, product, read, save

pytestmark = pytest.mark.anyio

PARIS = ZoneInfo("Europe/Paris")
ADA = customer(1)
MUG = product(1, "MUG-01", "Mug", price_minor=1000)
TEA = product(2, "TEA-01", "Thé vert", price_minor=450)
CUP = product(3, "CUP-01", "Cup", price_minor=800, currency="USD")
PLATE = product(4, "PLT-01", "Plate", price_minor=1000)


def day(d: int) -> DayWindow:
    """26, 27 or 28 November 2026 in Paris (UTC+1), as a UTC interval."""
    start = datetime(2026, 11, d, tzinfo=PARIS)
    return DayWindow(date(2026, 11, d), start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC))


def utc(d: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, d, hour, minute, tzinfo=UTC)


# Orders: o2 is cancelled; o3 is placed on the 26th in UTC but the 27th in Paris; o5 on the 25th in Paris.
O1 = order(1, ADA, [(MUG, 2), (TEA, 1)], when=utc(26, 10)).pay(2450, utc(26, 10, 5))
O2 = order(2, ADA, [(MUG, 1)], when=utc(26, 22, 30)).pay(1000, utc(26, 22, 31)).cancel(1000, utc(26, 22, 40))
O3 = order(3, ADA, [(TEA, 4)], when=utc(26, 23, 30))
O4 = order(4, ADA, [(CUP, 3)], when=utc(27, 12)).pay(2400, utc(27, 12, 1))
O5 = order(5, ADA, [(MUG, 5)], when=day(26).start - timedelta(microseconds=1))
O6 = order(6, ADA, [(PLATE, 2)], when=utc(27, 9))
P1 = payment(1, O1, 2450, when=utc(26, 10, 5))
P2 = payment(2, O2, 1000, when=utc(26, 22, 31))
P4 = payment(4, O4, 2400, when=utc(27, 12, 1))
LEDGER = [
    P1,
    P2,
    P4,
    payment(11, O1, 500, kind="refund", refund_of=P1, when=utc(27, 10)),
    payment(12, O1, 300, kind="refund", refund_of=P1, when=utc(27, 11), status="pending"),  # not returned (yet)
    payment(13, O2, 1000, kind="refund", refund_of=P2, when=utc(26, 22, 40)),  # leaves with the cancelled order
    payment(14, O4, 400, kind="refund", refund_of=P4, when=utc(27, 13)),
    payment(15, O1, 100, kind="refund", refund_of=P1, when=utc(28, 12)),
]


async def seeded(uow: UnitOfWorkFactory) -> None:
    await save(uow, ADA, MUG, TEA, CUP, PLATE, O1, O2, O3, O4, O5, O6, *LEDGER)


async def test_sales_by_day_per_currency(uow_factory: UnitOfWorkFactory) -> None:
    await seeded(uow_factory)
    days = [day(26), day(27), day(28)]
    got = await read(uow_factory, lambda w: w.reports.sales_by_day(days))
    assert got == [
        DaySales(date(2026, 11, 26), "EUR", orders=1, units=3, revenue_minor=2450, refunds_minor=0, cancelled=1),
        DaySales(date(2026, 11, 27), "EUR", orders=2, units=6, revenue_minor=3800, refunds_minor=500, cancelled=0),
        DaySales(date(2026, 11, 27), "USD", orders=1, units=3, revenue_minor=2400, refunds_minor=400, cancelled=0),
        DaySales(date(2026, 11, 28), "EUR", orders=0, units=0, revenue_minor=0, refunds_minor=100, cancelled=0),
    ]
    assert await read(uow_factory, lambda w: w.reports.sales_by_day([day(28)])) == got[3:]
    assert await read(uow_factory, lambda w: w.reports.sales_by_day([])) == []


async def test_sales_by_product_best_first(uow_factory: UnitOfWorkFactory) -> None:
    await seeded(uow_factory)
    start, end = day(26).start, day(28).end
    got = await read(uow_factory, lambda w: w.reports.sales_by_product(start, end, 10))
    assert got == [
        ProductSales(CUP.id, "CUP-01", "Cup", "USD", orders=1, units=3, revenue_minor=2400),
        ProductSales(TEA.id, "TEA-01", "Thé vert", "EUR", orders=2, units=5, revenue_minor=2250),
        ProductSales(MUG.id, "MUG-01", "Mug", "EUR", orders=1, units=2, revenue_minor=2000),  # ties: by id
        ProductSales(PLATE.id, "PLT-01", "Plate", "EUR", orders=1, units=2, revenue_minor=2000),
    ]
    assert await read(uow_factory, lambda w: w.reports.sales_by_product(start, end, 2)) == got[:2]
    first_day = await read(uow_factory, lambda w: w.reports.sales_by_product(day(26).start, day(26).end, 10))
    assert [(p.sku, p.units) for p in first_day] == [("MUG-01", 2), ("TEA-01", 1)]
    with_o5 = await read(
        uow_factory, lambda w: w.reports.sales_by_product(day(26).start - timedelta(microseconds=1), day(26).end, 10)
    )
    assert [(p.sku, p.units) for p in with_o5] == [("MUG-01", 7), ("TEA-01", 1)], "start inclusive"
    assert await read(uow_factory, lambda w: w.reports.sales_by_product(day(28).start, day(28).end, 10)) == []
