"""Card payments and card refunds through a gateway, on fakes: one charge per payment, whatever fails.

The FakeGateway keeps Stripe's idempotency promise; these tests check that the services keep
theirs: a pending row before the gateway is asked, the same key on every retry, resuming
instead of charging again, declines as results, reserved money for pending refunds.
"""

from __future__ import annotations

import pytest
from mcp_types import CallToolResult, TextContent

from mcp_server.handlers.mcp.orders import money_back
from mcp_server.models.orders import Shipment
from mcp_server.models.payments import PaymentCreate, RefundCreate
from mcp_server.services.approvals import NeedsApproval, PersonConfirmed
from mcp_server.services.payments import CardNotCharged, SettleRound
from mcp_server.services.results import Rejected, Success
from tests.fakes import FakeGateway
from tests.unit.commerce import ACTOR, World, add_customer, add_product, card_world, make_shop, pay, place, placed

pytestmark = pytest.mark.anyio

VISA = "pm_card_visa"


@pytest.fixture
async def world() -> World:
    return await card_world(FakeGateway())


def card(order_id: str, amount: int | None = None, pm: str = VISA) -> PaymentCreate:
    return PaymentCreate(order_id=order_id, amount=amount, method="card", payment_method=pm)


async def charge(world: World, order_id: str, amount: int | None = None, *, key: str | None = None, pm: str = VISA):
    return await world.shop.payments.record(card(order_id, amount, pm), actor=ACTOR, idempotency_key=key)


def order(world: World, order_id: str):
    return world.shop.db.orders[order_id]


def audit_actions(world: World) -> list[str]:
    return [entry.action for entry in world.shop.db.audit]


async def test_a_card_payment_charges_the_outstanding_amount_once_and_pays_the_order(world: World) -> None:
    order_id = await placed(world)

    result = await charge(world, order_id)

    assert isinstance(result, Success), result
    payment = result.value.payment
    assert (payment.method, payment.status, payment.amount_minor, payment.reference) == (
        "card",
        "succeeded",
        3000,
        VISA,
    )
    assert payment.gateway_reference == "pi_1"
    assert list(world.gateway.charged.values()) == [3000]
    assert order(world, order_id).status == "paid"
    assert order(world, order_id).paid_minor == 3000
    assert audit_actions(world)[-2:] == ["payment.started", "payment.recorded"]


async def test_without_a_gateway_card_payments_are_refused_and_manual_ones_still_work() -> None:
    shop = make_shop()
    customer = await add_customer(shop)
    await add_product(shop, "MUG-01", price_minor=1000)
    order_id = (await place(shop, customer, [("MUG-01", 1)])).id
    payments_before = list(shop.db.payments)

    result = await shop.payments.record(card(order_id), actor=ACTOR)

    assert isinstance(result, Rejected)
    assert result.field == "method"
    assert "SHOPKEEPER_STRIPE_SECRET_KEY" in result.message
    assert shop.db.payments == payments_before
    await pay(shop, order_id, 1000)
    assert shop.db.orders[order_id].status == "paid"


async def test_a_declined_card_is_a_result_with_the_code_and_the_order_stays_unpaid(world: World) -> None:
    order_id = await placed(world)

    result = await charge(world, order_id, pm=FakeGateway.DECLINED)

    assert isinstance(result, CardNotCharged)
    assert not result.pending
    assert result.reason.startswith("card declined: card_declined")
    assert result.payment.status == "failed"
    assert world.gateway.charged == {}
    assert order(world, order_id).paid_minor == 0
    assert "payment.failed" in audit_actions(world)
    # Another card works afterwards: the failed attempt blocks nothing.
    again = await charge(world, order_id)
    assert isinstance(again, Success)
    assert order(world, order_id).status == "paid"


@pytest.mark.parametrize("fault", ["down", "lost"])
async def test_an_unanswered_charge_stays_pending_and_the_next_record_resumes_it_without_charging_again(
    world: World, fault: str
) -> None:
    order_id = await placed(world)
    world.gateway.faults.append(fault)

    first = await charge(world, order_id)

    assert isinstance(first, CardNotCharged)
    assert first.pending
    pending = first.payment
    assert order(world, order_id).paid_minor == 0  # not booked while unknown
    assert order(world, order_id).status == "placed"

    # Any later record for the order completes that attempt; here even one meant as cash.
    second = await world.shop.payments.record(PaymentCreate(order_id=order_id, amount=500, method="cash"), actor=ACTOR)

    assert isinstance(second, Success), second
    assert second.value.resumed
    assert second.value.payment.id == pending.id
    assert sum(world.gateway.charged.values()) == 3000  # exactly one charge
    assert order(world, order_id).paid_minor == 3000
    assert [p.method for p in world.shop.db.payments] == ["card"]  # the cash was not recorded


async def test_a_retry_with_the_same_idempotency_key_resumes_the_pending_attempt(world: World) -> None:
    order_id = await placed(world)
    world.gateway.faults.extend(["lost"])

    first = await charge(world, order_id, key="k-1")
    second = await charge(world, order_id, key="k-1")
    third = await charge(world, order_id, key="k-1")

    assert isinstance(first, CardNotCharged)
    assert first.pending
    assert isinstance(second, Success)
    assert second.value.resumed
    assert isinstance(third, Success)
    assert third.value.replayed
    assert len(world.gateway.charged) == 1
    assert len(world.shop.db.payments) == 1


async def test_a_refused_request_fails_the_payment_with_the_gateways_reason(world: World) -> None:
    order_id = await placed(world)
    world.gateway.faults.append("refuse")

    result = await charge(world, order_id)

    assert isinstance(result, CardNotCharged)
    assert result.payment.status == "failed"
    assert "parameter_invalid" in result.reason
    assert world.gateway.charged == {}


async def test_a_card_payment_is_refunded_through_the_gateway(world: World) -> None:
    order_id = await placed(world)
    paid = await charge(world, order_id)
    assert isinstance(paid, Success)
    request = RefundCreate(order_id=order_id, amount=1200, reason="one mug broke")

    result = await world.shop.payments.refund(request, actor=ACTOR, approval=PersonConfirmed())

    assert isinstance(result, Success), result
    (refund,) = result.value.refunds
    assert (refund.status, refund.method, refund.amount_minor) == ("succeeded", "card", 1200)
    assert refund.gateway_reference is not None
    assert refund.gateway_reference.startswith("re_")
    assert world.gateway.refunded == {"pi_1": 1200}
    assert result.value.order.refunded_minor == 1200
    assert order(world, order_id).refunded_minor == 1200
    assert refund.reason == "one mug broke"  # kept here; the gateway got only id and amount
    assert any(m.kind == "order_refunded" for m in world.shop.db.outbox)


async def test_a_pending_refund_holds_its_money_and_a_retry_with_the_key_completes_it_once(world: World) -> None:
    order_id = await placed(world)
    assert isinstance(await charge(world, order_id), Success)
    request = RefundCreate(order_id=order_id, amount=3000, reason="returned")
    world.gateway.faults.append("lost")

    first = await world.shop.payments.refund(request, actor=ACTOR, approval=PersonConfirmed(), idempotency_key="r1")

    assert isinstance(first, Success)
    assert [r.status for r in first.value.refunds] == ["pending"]
    assert order(world, order_id).refunded_minor == 0  # not counted until the gateway confirms
    # The pending refund holds the money: nothing more can be refunded meanwhile (the gateway is
    # still down when this refund first asks it about the pending one).
    world.gateway.faults.append("down")
    other = await world.shop.payments.refund(
        RefundCreate(order_id=order_id, amount=1, reason="again"), actor=ACTOR, approval=PersonConfirmed()
    )
    assert isinstance(other, Rejected)
    assert other.field == "amount"

    again = await world.shop.payments.refund(request, actor=ACTOR, approval=PersonConfirmed(), idempotency_key="r1")

    assert isinstance(again, Success)
    assert [r.status for r in again.value.refunds] == ["succeeded"]
    assert world.gateway.refunded == {"pi_1": 3000}
    assert order(world, order_id).status == "refunded"
    assert order(world, order_id).refunded_minor == 3000


async def test_a_refund_the_gateway_refuses_fails_and_gives_the_money_back_to_refund(world: World) -> None:
    order_id = await placed(world)
    assert isinstance(await charge(world, order_id), Success)
    world.gateway.faults.append("refuse")

    result = await world.shop.payments.refund(
        RefundCreate(order_id=order_id, amount=1000, reason="x"), actor=ACTOR, approval=PersonConfirmed()
    )

    assert isinstance(result, Success)
    (refund,) = result.value.refunds
    assert refund.status == "failed"
    assert refund.reason is not None
    assert "refused the refund" in refund.reason
    assert order(world, order_id).refunded_minor == 0
    (card_payment,) = [p for p in world.shop.db.payments if p.kind == "payment"]
    assert card_payment.refunded_minor == 0  # released: a later refund may take it
    assert "payment.refund_failed" in audit_actions(world)
    later = await world.shop.payments.refund(
        RefundCreate(order_id=order_id, amount=3000, reason="y"), actor=ACTOR, approval=PersonConfirmed()
    )
    assert isinstance(later, Success)
    assert world.gateway.refunded == {"pi_1": 3000}


async def test_a_refund_over_cash_and_card_pays_back_each_its_way(world: World) -> None:
    order_id = await placed(world)
    await pay(world.shop, order_id, 1000)
    assert isinstance(await charge(world, order_id), Success)  # the remaining 2000 by card
    ship = await world.shop.orders.mark_shipped(order_id, Shipment(carrier="DHL", tracking_number="T"), actor=ACTOR)
    assert isinstance(ship, Success)

    result = await world.shop.payments.refund(
        RefundCreate(order_id=order_id, amount=2500, reason="returned", restock=True),
        actor=ACTOR,
        approval=PersonConfirmed(),
    )

    assert isinstance(result, Success)
    by_method = {r.method: (r.amount_minor, r.status) for r in result.value.refunds}
    assert by_method == {"card": (2000, "succeeded"), "cash": (500, "succeeded")}  # newest payment first
    assert world.gateway.refunded == {"pi_1": 2000}
    assert order(world, order_id).refunded_minor == 2500


async def test_cancelling_a_card_paid_order_refunds_the_card(world: World) -> None:
    order_id = await placed(world)
    assert isinstance(await charge(world, order_id), Success)

    preview = await world.shop.orders.cancel(order_id, reason="changed mind", actor=ACTOR, approval=None)
    assert isinstance(preview, NeedsApproval)
    result = await world.shop.orders.cancel(order_id, reason="changed mind", actor=ACTOR, approval=PersonConfirmed())

    assert isinstance(result, Success), result
    assert [r.status for r in result.value.refunds] == ["succeeded"]
    assert world.gateway.refunded == {"pi_1": 3000}
    assert result.value.order.status == "cancelled"
    assert result.value.order.refunded_minor == 3000


async def test_an_order_with_a_card_payment_pending_is_not_cancelled_until_it_settles(world: World) -> None:
    order_id = await placed(world)
    world.gateway.faults.extend(["lost", "down"])
    first = await charge(world, order_id)
    assert isinstance(first, CardNotCharged)
    assert first.pending

    refused = await world.shop.orders.cancel(order_id, reason=None, actor=ACTOR, approval=PersonConfirmed())

    assert isinstance(refused, Rejected)
    assert "pending" in refused.message
    assert order(world, order_id).status == "placed"

    # The gateway answers now: the payment turns out to have been taken, so cancelling refunds it.
    preview = await world.shop.orders.cancel(order_id, reason=None, actor=ACTOR, approval=None)
    assert isinstance(preview, NeedsApproval)
    assert preview.preview.refund_minor == 3000
    done = await world.shop.orders.cancel(order_id, reason=None, actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(done, Success)
    assert world.gateway.charged == {"pi_1": 3000}
    assert world.gateway.refunded == {"pi_1": 3000}


async def test_refunds_never_exceed_charges_whatever_the_gateway_does(world: World) -> None:
    """Many refund attempts through every fault: the gateway never refunds more than it charged,
    and the shop's books agree with the gateway once everything has settled."""
    order_id = await placed(world, mugs=5)
    assert isinstance(await charge(world, order_id), Success)
    world.gateway.faults.extend(["lost", "down", "refuse", "lost", "down", "lost"])
    for n in range(8):
        await world.shop.payments.refund(
            RefundCreate(order_id=order_id, amount=1500, reason=f"r{n % 3}"),  # a repeated key replays
            actor=ACTOR,
            approval=PersonConfirmed(),
            idempotency_key=f"key-{n % 3}",
        )
    # Settle whatever is still pending, then compare the books.
    await world.shop.payments.refund(
        RefundCreate(order_id=order_id, amount=1, reason="last"), actor=ACTOR, approval=PersonConfirmed()
    )
    gateway_refunded = sum(world.gateway.refunded.values())
    assert gateway_refunded <= sum(world.gateway.charged.values()) == 5000
    shop_refunded = sum(
        p.amount_minor for p in world.shop.db.payments if p.kind == "refund" and p.status == "succeeded"
    )
    assert shop_refunded == gateway_refunded
    assert order(world, order_id).refunded_minor == gateway_refunded
    assert not [p for p in world.shop.db.payments if p.status == "pending"]


async def test_the_background_round_settles_what_was_left_pending_after_a_minute(world: World) -> None:
    paid_order, refunded_order = await placed(world), await placed(world)
    assert isinstance(await charge(world, refunded_order), Success)
    world.gateway.faults.extend(["lost", "down"])
    left = await charge(world, paid_order)
    assert isinstance(left, CardNotCharged)
    refund = await world.shop.payments.refund(
        RefundCreate(order_id=refunded_order, amount=3000, reason="x"), actor=ACTOR, approval=PersonConfirmed()
    )
    assert isinstance(refund, Success)
    assert [r.status for r in refund.value.refunds] == ["pending"]

    too_early = await world.shop.payments.settle_pending(actor="worker")
    assert isinstance(too_early, SettleRound)
    assert too_early.handled == too_early.pending == 0  # younger than a minute: a caller may still be at it
    world.shop.clock.advance(61)
    settled = await world.shop.payments.settle_pending(actor="worker")

    assert isinstance(settled, SettleRound)
    assert (settled.succeeded, settled.failed, settled.pending) == (2, 0, 0)
    assert order(world, paid_order).status == "paid"
    assert order(world, refunded_order).status == "refunded"
    assert sum(world.gateway.charged.values()) == 6000
    assert world.gateway.refunded == {"pi_1": 3000}
    assert world.shop.db.audit[-1].actor == "worker"


async def test_a_row_pending_longer_than_the_gateway_keeps_keys_is_left_for_a_person(world: World) -> None:
    order_id = await placed(world)
    world.gateway.faults.append("down")
    left = await charge(world, order_id)
    assert isinstance(left, CardNotCharged)
    world.shop.clock.advance(24 * 3600)
    calls = world.gateway.calls

    again = await charge(world, order_id)
    background = await world.shop.payments.settle_pending(actor="worker")
    assert isinstance(background, SettleRound)

    assert isinstance(again, CardNotCharged)
    assert again.pending
    assert "dashboard" in again.reason
    assert f"shopkeeper-{left.payment.id}" in again.reason
    assert background.handled == background.pending == 0
    assert world.gateway.calls == calls  # the gateway was not asked again


async def test_a_key_the_gateway_says_was_used_for_other_parameters_leaves_the_payment_pending(world: World) -> None:
    order_id = await placed(world)
    world.gateway.faults.append("down")
    left = await charge(world, order_id)
    assert isinstance(left, CardNotCharged)
    # Someone used the same key at the gateway for something else.
    await world.gateway.create_and_confirm_payment(1, "EUR", VISA, f"shopkeeper-{left.payment.id}")

    again = await charge(world, order_id)

    assert isinstance(again, CardNotCharged)
    assert again.pending  # unknown, so neither booked nor failed
    assert order(world, order_id).paid_minor == 0


async def test_a_cancellation_during_an_outage_promises_no_refund_until_the_gateway_makes_it(world: World) -> None:
    order_id = await placed(world)
    assert isinstance(await charge(world, order_id), Success)
    world.gateway.faults.append("down")

    done = await world.shop.orders.cancel(order_id, reason=None, actor=ACTOR, approval=PersonConfirmed())

    assert isinstance(done, Success)
    assert [r.status for r in done.value.refunds] == ["pending"]
    cancelled_mail = next(m for m in world.shop.db.outbox if m.kind == "order_cancelled")
    assert "refund" not in cancelled_mail.payload  # the e-mail does not claim money not yet returned
    assert order(world, order_id).allowed == ("refund",)  # money is still owed on the cancelled order
    text = text_of(money_back(done, "orders_cancel"))
    assert "0.00 EUR so far (30.00 EUR pending at the payment gateway)" in text
    assert not any(m.kind == "order_refunded" for m in world.shop.db.outbox)

    world.shop.clock.advance(61)
    settled = await world.shop.payments.settle_pending(actor="worker")

    assert isinstance(settled, SettleRound)
    assert settled.succeeded == 1
    refunded_mail = next(m for m in world.shop.db.outbox if m.kind == "order_refunded")
    assert refunded_mail.payload["refund"] == "30.00 EUR"
    assert order(world, order_id).status == "cancelled"
    assert order(world, order_id).allowed == ()


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))
