"""The sales report's figures against in-memory fakes, after cancellations, refunds and card refunds.

The definition under test (README, the tool's description): revenue is the total of the orders placed
in the range that are not cancelled; refunds are the money actually returned in the range (succeeded
refunds) on those orders; net is revenue minus refunds. A cancelled order leaves the report entirely,
its payments and its refunds with it, and is only counted under ``cancelled``; so cancelling never
turns a day negative, and sales by product (which leave cancelled orders out too) add up to the
revenue of the days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from mcp_server.models.payments import PaymentCreate, RefundCreate
from mcp_server.models.reports import SalesQuery, SalesSummary, SalesSummaryRead
from mcp_server.services.approvals import PersonConfirmed
from mcp_server.services.results import Success
from tests.fakes import FakeGateway
from tests.unit.commerce import ACTOR, Shop, add_customer, add_product, make_shop, pay, place, refund_now

pytestmark = pytest.mark.anyio

DAY = date(2026, 11, 26)
START = datetime(2026, 11, 26, 9, tzinfo=UTC)


@dataclass
class World:
    shop: Shop
    gateway: FakeGateway
    customer: str


@pytest.fixture
async def world() -> World:
    gateway = FakeGateway()
    shop = make_shop(start=START, gateway=gateway)
    customer = await add_customer(shop)
    await add_product(shop, "MUG-01", price_minor=1250, stock=20)
    return World(shop, gateway, customer)


async def paid(world: World, mugs: int, *, card: bool = False) -> str:
    order = await place(world.shop, world.customer, [("MUG-01", mugs)])
    if card:
        request = PaymentCreate(order_id=order.id, amount=None, method="card", payment_method="pm_card_visa")
        assert isinstance(await world.shop.payments.record(request, actor=ACTOR), Success)
    else:
        await pay(world.shop, order.id, order.total_minor)
    return order.id


async def cancel(world: World, order_id: str) -> None:
    result = await world.shop.orders.cancel(order_id, reason=None, actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(result, Success), result
    assert world.shop.db.orders[order_id].status == "cancelled"


async def summary(world: World, first: date = DAY, last: date = DAY) -> SalesSummary:
    result = await world.shop.reports.sales_summary(SalesQuery(date_from=first, date_to=last))
    assert isinstance(result, Success)
    return result.value


def totals(s: SalesSummary) -> tuple[int, int, int, int, int, int]:
    """(orders, units, revenue, refunds, net, cancelled) over every day row, as the tool returns them."""
    days = SalesSummaryRead.from_record(s).days
    return (
        sum(d.orders for d in days),
        sum(d.units for d in days),
        sum(d.revenue_minor for d in days),
        sum(d.refunds_minor for d in days),
        sum(d.net_minor for d in days),
        sum(d.cancelled for d in days),
    )


async def test_a_paid_then_cancelled_order_is_out_of_revenue_and_refunds_so_net_is_zero(world: World) -> None:
    order_id = await paid(world, 1)
    await cancel(world, order_id)  # restocks and refunds 12.50 EUR

    report = await summary(world)

    # before the fix: revenue 0, refunds 1250, net -1250
    assert totals(report) == (0, 0, 0, 0, 0, 1)
    assert report.top == []


async def test_a_cancelled_order_beside_a_partly_refunded_one_keeps_day_and_product_figures_in_step(
    world: World,
) -> None:
    kept = await paid(world, 2)
    await refund_now(world.shop, kept, 500)
    dropped = await paid(world, 1)
    await refund_now(world.shop, dropped, 250)  # a partial refund first, then the cancellation returns the rest
    await cancel(world, dropped)

    report = await summary(world)

    assert totals(report) == (1, 2, 2500, 500, 2000, 1)
    assert [(p.sku, p.orders, p.units, p.revenue_minor) for p in report.top] == [("MUG-01", 1, 2, 2500)]
    assert sum(p.revenue_minor for p in report.top) == totals(report)[2], "by product adds up to the days' revenue"


async def test_a_cancellation_on_a_later_day_does_not_make_that_day_negative(world: World) -> None:
    order_id = await paid(world, 2)
    world.shop.clock.advance(timedelta(days=1).total_seconds())
    await cancel(world, order_id)

    first, second = await summary(world), await summary(world, DAY + timedelta(days=1), DAY + timedelta(days=1))

    assert totals(first) == (0, 0, 0, 0, 0, 1)
    assert totals(second) == (0, 0, 0, 0, 0, 0)
    assert second.days == []


async def test_a_fully_refunded_order_counts_in_revenue_and_refunds_and_nets_to_zero(world: World) -> None:
    order_id = await paid(world, 2)
    await refund_now(world.shop, order_id, 2500)
    assert world.shop.db.orders[order_id].status == "refunded"

    assert totals(await summary(world)) == (1, 2, 2500, 2500, 0, 0)


async def test_card_refunds_count_only_once_the_gateway_has_made_them(world: World) -> None:
    pending_order = await paid(world, 2, card=True)
    failed_order = await paid(world, 1, card=True)
    world.gateway.faults.append("lost")  # the gateway's answer never arrives: the refund stays pending
    late = RefundCreate(order_id=pending_order, amount=1000, reason="late", restock=False)
    first = await world.shop.payments.refund(late, actor=ACTOR, approval=PersonConfirmed(), idempotency_key="r1")
    assert isinstance(first, Success)
    world.gateway.faults.append("refuse")  # the gateway refuses: the refund fails, no money went back
    request = RefundCreate(order_id=failed_order, amount=1250, reason="refused", restock=False)
    assert isinstance(await world.shop.payments.refund(request, actor=ACTOR, approval=PersonConfirmed()), Success)
    statuses = sorted(p.status for p in world.shop.db.payments if p.kind == "refund")
    assert statuses == ["failed", "pending"]

    assert totals(await summary(world)) == (2, 3, 3750, 0, 3750, 0)

    # once the gateway answers (a retry with the key), the pending refund is money returned
    world.shop.clock.advance(300)
    again = await world.shop.payments.refund(late, actor=ACTOR, approval=PersonConfirmed(), idempotency_key="r1")
    assert isinstance(again, Success)
    assert [p.status for p in world.shop.db.payments if p.kind == "refund" and p.order_id == pending_order] == [
        "succeeded"
    ]
    assert totals(await summary(world)) == (2, 3, 3750, 1000, 2750, 0)


async def test_a_declined_card_payment_leaves_the_order_placed_and_its_total_in_revenue(world: World) -> None:
    order = await place(world.shop, world.customer, [("MUG-01", 1)])
    declined = PaymentCreate(order_id=order.id, amount=None, method="card", payment_method=FakeGateway.DECLINED)
    await world.shop.payments.record(declined, actor=ACTOR)
    assert world.shop.db.orders[order.id].status == "placed"

    # revenue is what orders placed are worth, paid or not; a declined charge neither adds nor takes away
    assert totals(await summary(world)) == (1, 1, 1250, 0, 1250, 0)
