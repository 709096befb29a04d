"""Adversarial review of card payments (money safety), on the in-memory fakes.

Every test here pinned a bug found in review (each failed before its fix).
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from mcp_types import CallToolResult, TextContent

from mcp_server.handlers.mcp.orders import order_failure
from mcp_server.handlers.mcp.payments import not_charged_result, recorded_result, refund_result
from mcp_server.models.payments import PaymentCreate, RefundCreate
from mcp_server.models.payments_gateway import (
    GatewayPayment,
    GatewayRefund,
    GatewayRejected,
    PaymentOutcome,
    RefundOutcome,
    RetrieveOutcome,
)
from mcp_server.services.approvals import PersonConfirmed
from mcp_server.services.payments import CardNotCharged, SettleRound
from mcp_server.services.results import Rejected, Success
from tests.fakes import FakeGateway
from tests.unit.commerce import ACTOR, World, card_world, placed

pytestmark = pytest.mark.anyio

VISA = "pm_card_visa"
UNAUTHORIZED = GatewayRejected(401, None, "Invalid API Key provided: sk_test_****1234")


class AuthFailingGateway(FakeGateway):
    """FakeGateway plus an ``unauthorized`` fault: a 401, as Stripe answers a revoked or rolled key.
    Authentication comes before Stripe's idempotency layer, so a 401 is never a replay of what
    the key did the first time: it says nothing about whether the card was charged or refunded."""

    def _unauthorized(self) -> bool:
        if self.faults and self.faults[0] == "unauthorized":
            self.faults.popleft()
            self.calls += 1
            return True
        return False

    async def create_and_confirm_payment(
        self,
        amount_minor: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> PaymentOutcome:
        if self._unauthorized():
            return UNAUTHORIZED
        return await super().create_and_confirm_payment(amount_minor, currency, payment_method, idempotency_key)

    async def refund(
        self, payment_ref: str, amount_minor: int, idempotency_key: str, metadata: Mapping[str, str] | None = None
    ) -> RefundOutcome:
        if self._unauthorized():
            return UNAUTHORIZED
        return await super().refund(payment_ref, amount_minor, idempotency_key)


class ProcessingGateway(FakeGateway):
    """A charge whose first answer is ``processing`` and that succeeds at the gateway a moment later.
    Like Stripe, a repeated POST with the same key replays the *first answer* (``processing``);
    only a GET of the payment intent shows that it has succeeded since."""

    def __init__(self) -> None:
        super().__init__()
        self._first: dict[str, GatewayPayment] = {}

    async def create_and_confirm_payment(
        self,
        amount_minor: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> PaymentOutcome:
        self.calls += 1
        if idempotency_key not in self._first:
            intent = f"pi_{len(self._first) + 1}"
            self._first[idempotency_key] = GatewayPayment(intent, "processing", amount_minor, currency.upper())
            self.charged[intent] = amount_minor  # the bank completes it right after answering
        return self._first[idempotency_key]

    async def retrieve_payment(self, intent_id: str) -> RetrieveOutcome:
        first = next(p for p in self._first.values() if p.id == intent_id)
        return GatewayPayment(first.id, "succeeded", first.amount_minor, first.currency, f"ch_{first.id[3:]}")


class ShortRefundGateway(FakeGateway):
    """A gateway that refunds less than asked (and says so in the refund's amount)."""

    async def refund(
        self, payment_ref: str, amount_minor: int, idempotency_key: str, metadata: Mapping[str, str] | None = None
    ) -> RefundOutcome:
        answer = await super().refund(payment_ref, amount_minor, idempotency_key)
        if isinstance(answer, GatewayRefund):
            self.refunded[payment_ref] -= amount_minor - 1
            return GatewayRefund(answer.id, answer.status, 1, answer.charge_id)
        return answer


async def charge(world: World, order_id: str, *, key: str | None = None):
    request = PaymentCreate(order_id=order_id, method="card", payment_method=VISA)
    return await world.shop.payments.record(request, actor=ACTOR, idempotency_key=key)


async def refund(world: World, order_id: str, amount: int, *, key: str | None = None, reason: str = "returned"):
    request = RefundCreate(order_id=order_id, amount=amount, reason=reason)
    return await world.shop.payments.refund(request, actor=ACTOR, approval=PersonConfirmed(), idempotency_key=key)


def rows(world: World, order_id: str):
    return [p for p in world.shop.db.payments if p.order_id == order_id]


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


# -- P1: a 401 on a resend fails a row the gateway may already have done ------------------------


async def test_a_401_when_resuming_a_charge_does_not_fail_it_so_the_card_is_not_charged_twice() -> None:
    world = await card_world(AuthFailingGateway())
    order_id = await placed(world)
    world.gateway.faults.extend(["lost", "unauthorized"])

    first = await charge(world, order_id)  # charged at the gateway, answer lost: pending
    assert isinstance(first, CardNotCharged)
    assert first.pending
    assert sum(world.gateway.charged.values()) == 3000
    world.shop.clock.advance(61)
    await world.shop.payments.settle_pending(actor="worker")  # the key was rolled meanwhile: 401

    (row,) = rows(world, order_id)
    assert row.status == "pending", row.reason  # unknown, not "nothing was charged"
    again = await charge(world, order_id)  # the key works again; the agent tries "another card"
    assert isinstance(again, Success), again
    assert sum(world.gateway.charged.values()) == 3000  # today: 6000, the customer paid twice


async def test_a_401_when_resuming_a_refund_does_not_release_money_the_gateway_gave_back() -> None:
    world = await card_world(AuthFailingGateway())
    order_id = await placed(world)
    assert isinstance(await charge(world, order_id), Success)
    world.gateway.faults.extend(["lost", "unauthorized"])

    first = await refund(world, order_id, 1000)  # refunded at the gateway, answer lost: pending
    assert isinstance(first, Success)
    world.shop.clock.advance(61)
    await world.shop.payments.settle_pending(actor="worker")  # 401 on the resend

    refund_row = next(r for r in rows(world, order_id) if r.kind == "refund")
    assert refund_row.status == "pending", refund_row.reason
    await refund(world, order_id, 1000, reason="still owed?")
    booked = sum(r.amount_minor for r in rows(world, order_id) if r.kind == "refund" and r.status == "succeeded")
    assert sum(world.gateway.refunded.values()) == booked  # today: gateway 2000, books 1000


# -- P2: money stranded on a cancelled order ---------------------------------------------------


async def test_a_cancelled_orders_failed_card_refund_can_be_refunded_again() -> None:
    world = await card_world(FakeGateway())
    order_id = await placed(world)
    assert isinstance(await charge(world, order_id), Success)
    world.gateway.faults.append("refuse")
    done = await world.shop.orders.cancel(order_id, reason="changed mind", actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(done, Success)
    assert [r.status for r in done.value.refunds] == ["failed"]
    assert world.shop.db.orders[order_id].status == "cancelled"
    # The result told the agent: "can be refunded again once the cause is fixed". The cause is fixed:
    again = await refund(world, order_id, 3000, reason="cancellation refund, again")

    assert isinstance(again, Success), again  # today: IllegalTransition (cancelled orders take no refund)
    assert world.gateway.refunded == {"pi_1": 3000}


# -- P2: Stripe replays the first answer, so "processing" never settles ------------------------


async def test_a_charge_first_answered_processing_is_booked_once_the_gateway_completes_it() -> None:
    world = await card_world(ProcessingGateway())
    order_id = await placed(world)

    first = await charge(world, order_id)
    assert isinstance(first, CardNotCharged)
    assert first.pending
    for _ in range(3):
        world.shop.clock.advance(61)
        await world.shop.payments.settle_pending(actor="worker")

    (row,) = rows(world, order_id)
    assert row.status == "succeeded"
    assert world.shop.db.orders[order_id].paid_minor == 3000 == sum(world.gateway.charged.values())


# -- P2: a refund's amount is never checked against the gateway's answer -----------------------


async def test_a_refund_the_gateway_made_for_another_amount_is_not_booked_as_asked() -> None:
    world = await card_world(ShortRefundGateway())
    order_id = await placed(world)
    assert isinstance(await charge(world, order_id), Success)

    await refund(world, order_id, 1000)

    assert sum(world.gateway.refunded.values()) == 1
    assert world.shop.db.orders[order_id].refunded_minor in (0, 1)  # today: 1000 booked, 1 refunded


# -- P3: rows that never settle starve the background settler ----------------------------------


async def test_rows_that_stay_pending_do_not_starve_the_background_settler() -> None:
    world = await card_world(FakeGateway())
    stuck_order, later_order = await placed(world), await placed(world)
    world.gateway.faults.append("down")
    stuck = await charge(world, stuck_order)
    assert isinstance(stuck, CardNotCharged)
    # The key was used for something else at the gateway: every resend gets idempotency_error.
    await world.gateway.create_and_confirm_payment(1, "EUR", VISA, f"shopkeeper-{stuck.payment.id}")
    world.shop.clock.advance(1)
    world.gateway.faults.append("down")
    assert isinstance(await charge(world, later_order), CardNotCharged)

    for _ in range(5):
        world.shop.clock.advance(61)
        round_ = await world.shop.payments.settle_pending(actor="worker", limit=1)
        assert isinstance(round_, SettleRound)

    assert world.shop.db.orders[later_order].status == "paid"  # today: never asked about


# -- P3: the ledger loses a card refund's reason --------------------------------------------------


async def test_a_settled_card_refund_keeps_its_reason_in_the_ledger() -> None:
    world = await card_world(FakeGateway())
    order_id = await placed(world)
    assert isinstance(await charge(world, order_id), Success)

    await refund(world, order_id, 1200, reason="one mug broke")

    (stored,) = [r for r in rows(world, order_id) if r.kind == "refund"]
    assert stored.status == "succeeded"
    assert stored.reason == "one mug broke"  # today: None


# -- P3: what the agent is told ------------------------------------------------------------------


async def test_a_row_past_the_key_lifetime_does_not_tell_the_agent_to_try_again_in_a_minute() -> None:
    world = await card_world(FakeGateway())
    order_id = await placed(world)
    world.gateway.faults.append("down")
    assert isinstance(await charge(world, order_id), CardNotCharged)
    world.shop.clock.advance(24 * 3600)

    again = await charge(world, order_id)
    assert isinstance(again, CardNotCharged)
    assert again.pending
    assert "dashboard" in again.reason

    assert "again in a minute" not in text_of(not_charged_result(again))


async def test_a_key_retry_that_completes_a_pending_refund_does_not_say_nothing_changed() -> None:
    world = await card_world(FakeGateway())
    order_id = await placed(world)
    assert isinstance(await charge(world, order_id), Success)
    world.gateway.faults.append("down")
    first = await refund(world, order_id, 3000, key="r1")
    assert isinstance(first, Success)
    assert [r.status for r in first.value.refunds] == ["pending"]

    again = await refund(world, order_id, 3000, key="r1")
    assert isinstance(again, Success)
    assert [r.status for r in again.value.refunds] == ["succeeded"]
    assert world.gateway.refunded == {"pi_1": 3000}  # this very call moved the money

    assert "nothing was changed now" not in text_of(refund_result(again))


async def test_cancel_blocked_by_a_pending_card_payment_says_to_wait_not_to_find_the_order() -> None:
    world = await card_world(FakeGateway())
    order_id = await placed(world)
    world.gateway.faults.extend(["down", "down"])
    assert isinstance(await charge(world, order_id), CardNotCharged)

    refused = await world.shop.orders.cancel(order_id, reason=None, actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(refused, Rejected)

    assert "orders_list" not in text_of(order_failure(refused, tool_name="orders_cancel"))


async def test_a_cash_payment_that_only_completed_a_pending_card_payment_says_the_cash_was_not_recorded() -> None:
    world = await card_world(FakeGateway())
    order_id = await placed(world)
    world.gateway.faults.append("down")
    assert isinstance(await charge(world, order_id), CardNotCharged)
    cash = PaymentCreate(order_id=order_id, method="cash", amount=500)

    result = await world.shop.payments.record(cash, actor=ACTOR)

    assert isinstance(result, Success)
    assert result.value.resumed
    text = text_of(recorded_result(result.value, cash))
    assert "What this call asked for (cash, 5.00 EUR) was not recorded" in text
    assert [p.method for p in rows(world, order_id)] == ["card"]
