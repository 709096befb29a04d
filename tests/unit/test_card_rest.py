"""A pending card row that asking again did not settle rests before the settler asks again, and
that rest is stored with the row: every process and every use case sees the same schedule."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from mcp_server.models.payments import PaymentCreate
from mcp_server.services.approvals import PersonConfirmed
from mcp_server.services.payments import CardNotCharged, PaymentService, SettleRound
from mcp_server.services.results import Rejected
from tests.fakes import FakeGateway, FakeUnitOfWorkFactory
from tests.unit.commerce import ACTOR, Shop, add_customer, add_product, make_shop, place

pytestmark = pytest.mark.anyio

VISA = "pm_card_visa"


async def left_pending(shop: Shop, gateway: FakeGateway) -> tuple[str, str]:
    """An order whose card payment the gateway did not answer: (order id, the row's idempotency key)."""
    customer = await add_customer(shop)
    await add_product(shop, "MUG-01", price_minor=1000, stock=10)
    order_id = (await place(shop, customer, [("MUG-01", 3)])).id
    gateway.faults.append("down")
    request = PaymentCreate(order_id=order_id, method="card", payment_method=VISA)
    left = await shop.payments.record(request, actor=ACTOR)
    assert isinstance(left, CardNotCharged)
    assert left.pending
    return order_id, f"shopkeeper-{left.payment.id}"


def another_process(shop: Shop, gateway: FakeGateway) -> PaymentService:
    """The same shop's payments as a second server process (or the worker) builds them."""
    uow = FakeUnitOfWorkFactory(shop.db)
    return PaymentService(uow, shop.clock, shop.ids, shop.desk, ZoneInfo("UTC"), gateway)


async def test_a_row_resting_after_one_process_asked_is_not_asked_about_by_another() -> None:
    gateway = FakeGateway()
    shop = make_shop(gateway=gateway)
    order_id, key = await left_pending(shop, gateway)
    shop.clock.advance(61)
    gateway.faults.append("down")
    first = await shop.payments.settle_pending(actor="worker")
    assert isinstance(first, SettleRound)
    assert first.pending == 1
    assert gateway.sent[key] == 2

    shop.clock.advance(30)  # resting: asked again 1 min after the first round
    elsewhere = await another_process(shop, gateway).settle_pending(actor="worker")

    assert elsewhere == SettleRound()
    assert gateway.sent[key] == 2  # before: the other process asked again at once
    shop.clock.advance(31)
    due = await another_process(shop, gateway).settle_pending(actor="worker")
    assert isinstance(due, SettleRound)
    assert (due.succeeded, gateway.sent[key]) == (1, 3)
    assert shop.db.orders[order_id].status == "paid"


async def test_each_round_that_leaves_a_row_pending_doubles_its_rest_for_every_process() -> None:
    gateway = FakeGateway()
    shop = make_shop(gateway=gateway)
    _, key = await left_pending(shop, gateway)
    shop.clock.advance(61)
    asked_at: list[int] = []
    for second in range(1, 8 * 60):  # one round a second, each from a fresh process, for 8 minutes
        gateway.faults.append("down")
        before = gateway.sent[key]
        await another_process(shop, gateway).settle_pending(actor="worker")
        gateway.faults.clear()
        if gateway.sent[key] > before:
            asked_at.append(second)
        shop.clock.advance(1)

    # Asked at once, then after 1, 2 and 4 minutes of rest.
    assert asked_at == [1, 61, 181, 421]


async def test_a_cancel_that_found_the_payment_still_pending_makes_it_rest_for_the_settler() -> None:
    gateway = FakeGateway()
    shop = make_shop(gateway=gateway)
    order_id, key = await left_pending(shop, gateway)
    shop.clock.advance(61)
    gateway.faults.append("down")
    refused = await shop.orders.cancel(order_id, reason="changed mind", actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(refused, Rejected)  # the payment is still pending at the gateway
    assert gateway.sent[key] == 2

    shop.clock.advance(30)
    background = await shop.payments.settle_pending(actor="worker")

    assert background == SettleRound()
    assert gateway.sent[key] == 2  # before: the settler kept its own rest, apart from the cancel's
