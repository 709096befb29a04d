"""Settling a stuck card payment or refund by hand, on fakes: what a person read in the gateway's
dashboard is booked exactly as the gateway's own answer would have been, once a person says yes.

The rows are made stuck the way they get stuck: the gateway does not answer, and then a day passes,
longer than it keeps idempotency keys, so asking it again is no longer allowed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
from mcp_types import TextContent

from mcp_server.handlers.mcp.payments import not_charged_result
from mcp_server.handlers.views import cards
from mcp_server.models.orders import Shipment
from mcp_server.models.payments import Payment, PaymentCreate, PaymentSettle, RefundCreate
from mcp_server.services.approvals import ApprovalGiven, NeedsApproval, PersonConfirmed, PreviewOnly
from mcp_server.services.cancellation import PaymentStillPending
from mcp_server.services.cards import CardDesk
from mcp_server.services.payments import CardNotCharged, HandSettlement, SettleRound
from mcp_server.services.results import NotFound, Rejected, Success
from mcp_server.services.unit_of_work import with_events
from tests.fakes import FakeDatabase, FakeGateway, FakeUnitOfWorkFactory
from tests.unit.commerce import ACTOR, Shop, add_customer, add_product, make_shop, pay, place

pytestmark = pytest.mark.anyio

VISA = "pm_card_visa"
APPROVER, PASSPHRASE = "ada", "a long passphrase"
A_DAY = 24 * 3600


@dataclass
class World:
    shop: Shop
    gateway: FakeGateway
    customer: str

    @property
    def db(self) -> FakeDatabase:
        return self.shop.db

    def row(self, row_id: str) -> Payment:
        return next(p for p in self.db.payments if p.id == row_id)

    def actions(self) -> list[str]:
        return [entry.action for entry in self.db.audit]


@pytest.fixture
async def world() -> World:
    gateway = FakeGateway()
    shop = make_shop(gateway=gateway)
    customer = await add_customer(shop)
    await add_product(shop, "MUG-01", price_minor=1000, stock=10)
    return World(shop, gateway, customer)


async def placed(world: World, mugs: int = 3) -> str:
    return (await place(world.shop, world.customer, [("MUG-01", mugs)])).id


async def charge(world: World, order_id: str) -> object:
    request = PaymentCreate(order_id=order_id, method="card", payment_method=VISA)
    return await world.shop.payments.record(request, actor=ACTOR)


async def stuck_payment(world: World) -> tuple[str, Payment]:
    """An order whose card payment the gateway never answered, a day ago: only a person can settle it."""
    order_id = await placed(world)
    world.gateway.faults.append("down")
    left = await charge(world, order_id)
    assert isinstance(left, CardNotCharged)
    assert left.pending
    world.shop.clock.advance(A_DAY)
    again = await charge(world, order_id)
    assert isinstance(again, CardNotCharged)
    assert again.needs_person
    assert "dashboard" in again.reason
    assert "payments settle" not in again.reason  # a fact for every door; each door says how it is settled
    assert f'run `shopkeeper payments settle {left.payment.id} --note "…" --succeeded --gateway-reference pi_…' in (
        cards.not_charged(again).reason
    )
    return order_id, left.payment


async def stuck_refund(world: World, amount: int = 1000) -> tuple[str, Payment]:
    """A card-paid order with a card refund the gateway never answered, a day ago."""
    order_id = await placed(world)
    assert isinstance(await charge(world, order_id), Success)
    world.gateway.faults.append("down")
    started = await world.shop.payments.refund(
        RefundCreate(order_id=order_id, amount=amount, reason="one mug chipped"),
        actor=ACTOR,
        approval=PersonConfirmed(),
    )
    assert isinstance(started, Success)
    (refund,) = started.value.refunds
    assert refund.status == "pending"
    world.shop.clock.advance(A_DAY)
    return order_id, refund


def settle(
    row_id: str, outcome: str = "succeeded", reference: str | None = None, note: str = "seen in the dashboard"
) -> PaymentSettle:
    return PaymentSettle.model_validate(
        {"payment_id": row_id, "outcome": outcome, "gateway_reference": reference, "note": note}
    )


async def settled_by_hand(world: World, request: PaymentSettle, *, who: str = "cli:owner") -> HandSettlement:
    """Preview, then the person at the terminal says yes to what it showed, as the CLI does."""
    preview = await world.shop.payments.settle_by_hand(request, actor=who, approval=PreviewOnly())
    assert isinstance(preview, NeedsApproval), preview
    done = await world.shop.payments.settle_by_hand(request, actor=who, approval=PersonConfirmed(seen=preview.bound))
    assert isinstance(done, Success), done
    assert done.value.done
    return done.value


# -- where people and agents are told about it --------------------------------------------------------


async def test_an_agent_told_a_payment_needs_a_person_is_given_the_command(world: World) -> None:
    order_id, payment = await stuck_payment(world)
    again = await charge(world, order_id)
    assert isinstance(again, CardNotCharged)

    result = not_charged_result(again)

    assert result.is_error
    text = "".join(c.text for c in result.content if isinstance(c, TextContent))
    next_step = text.partition("Next:")[2]
    assert "dashboard" in next_step
    assert f"shopkeeper payments settle {payment.id}" in next_step


async def test_a_key_used_elsewhere_names_the_command_to_the_caller_and_to_the_worker_log(world: World) -> None:
    order_id = await placed(world)
    world.gateway.faults.append("down")
    left = await charge(world, order_id)
    assert isinstance(left, CardNotCharged)
    await world.gateway.create_and_confirm_payment(1, "EUR", VISA, f"shopkeeper-{left.payment.id}")

    again = await charge(world, order_id)
    world.shop.clock.advance(61)
    background = await world.shop.payments.settle_pending(actor="worker")

    assert isinstance(again, CardNotCharged)
    assert again.needs_person
    assert f"shopkeeper payments settle {left.payment.id}" in cards.not_charged(again).reason
    assert isinstance(background, SettleRound)
    (stuck,) = background.for_a_person
    assert stuck.row.id == left.payment.id
    assert f"shopkeeper payments settle {left.payment.id}" in cards.stuck(stuck)  # what the worker logs


# -- the four outcomes ---------------------------------------------------------------------------------


async def test_a_stuck_payment_settled_as_succeeded_pays_the_order_like_the_gateways_answer(world: World) -> None:
    order_id, payment = await stuck_payment(world)
    calls = world.gateway.calls

    done = await settled_by_hand(world, settle(payment.id, "succeeded", "pi_dashboard_42"), who="cli:ada")

    row = world.row(payment.id)
    assert (row.status, row.gateway_reference, row.reason) == ("succeeded", "pi_dashboard_42", None)
    order = world.db.orders[order_id]
    assert (order.status, order.paid_minor) == ("paid", 3000)
    assert (done.row.status, done.order.status) == ("succeeded", "paid")
    entry = world.db.audit[-1]
    assert entry.action == "payment.recorded"
    assert entry.actor == "cli:ada"
    assert entry.after is not None
    assert entry.after["payment_id"] == payment.id
    assert entry.after["settled_by_hand"] == "seen in the dashboard"
    assert world.gateway.calls == calls  # the gateway was not asked: the person's word is the answer
    # The order goes on as any paid order.
    shipped = await world.shop.orders.mark_shipped(order_id, Shipment(carrier="DHL", tracking_number="T1"), actor=ACTOR)
    assert isinstance(shipped, Success)


async def test_a_stuck_payment_settled_as_failed_frees_the_order_for_another_payment(world: World) -> None:
    order_id, payment = await stuck_payment(world)

    done = await settled_by_hand(world, settle(payment.id, "failed", note="not in the dashboard at all"))

    row = world.row(payment.id)
    assert row.status == "failed"
    assert row.reason == "marked failed by hand: not in the dashboard at all"
    assert done.row.status == "failed"
    order = world.db.orders[order_id]
    assert (order.status, order.paid_minor) == ("placed", 0)
    entry = world.db.audit[-1]
    assert entry.action == "payment.failed"
    assert entry.after is not None
    assert entry.after["settled_by_hand"] == "not in the dashboard at all"
    # No longer blocked: another payment is taken (a new card charge, not the old row resumed).
    again = await charge(world, order_id)
    assert isinstance(again, Success)
    assert world.db.orders[order_id].status == "paid"
    assert sum(world.gateway.charged.values()) == 3000


async def test_an_order_freed_by_a_failed_settlement_can_be_cancelled(world: World) -> None:
    order_id, payment = await stuck_payment(world)
    blocked = await world.shop.orders.cancel(order_id, reason=None, actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(blocked, PaymentStillPending)
    assert blocked.waiting is not None
    assert blocked.waiting.needs_person
    assert f"shopkeeper payments settle {payment.id}" in cards.still_pending(blocked)

    await settled_by_hand(world, settle(payment.id, "failed"))

    cancelled = await world.shop.orders.cancel(order_id, reason=None, actor=ACTOR, approval=None)
    assert isinstance(cancelled, Success)  # nothing was paid, so nothing to confirm
    assert cancelled.value.order.status == "cancelled"


async def test_a_stuck_refund_settled_as_succeeded_counts_as_refunded_and_mails_the_customer(world: World) -> None:
    order_id, refund = await stuck_refund(world, amount=3000)
    mails = len(world.db.outbox)

    done = await settled_by_hand(world, settle(refund.id, "succeeded", "re_dashboard_7"))

    row = world.row(refund.id)
    assert (row.status, row.gateway_reference, row.reason) == ("succeeded", "re_dashboard_7", "one mug chipped")
    order = world.db.orders[order_id]
    assert (order.status, order.refunded_minor) == ("refunded", 3000)
    assert done.order.refunded_minor == 3000
    assert [m.kind for m in world.db.outbox[mails:]] == ["order_refunded"]
    entry = world.db.audit[-1]
    assert entry.action == "payment.refunded"
    assert entry.after is not None
    assert entry.after["settled_by_hand"] == "seen in the dashboard"
    paid_by = world.row(refund.payment_id or "")
    assert paid_by.refunded_minor == 3000  # the reservation became the refund


async def test_a_stuck_refund_settled_as_succeeded_needs_no_reference(world: World) -> None:
    order_id, refund = await stuck_refund(world)

    await settled_by_hand(world, settle(refund.id, "succeeded"))

    assert world.row(refund.id).status == "succeeded"
    assert world.db.orders[order_id].refunded_minor == 1000


async def test_a_stuck_refund_settled_as_failed_frees_its_money_for_another_refund(world: World) -> None:
    order_id, refund = await stuck_refund(world, amount=1000)

    await settled_by_hand(world, settle(refund.id, "failed", note="the dashboard shows no refund"))

    row = world.row(refund.id)
    assert row.status == "failed"
    assert row.reason == "one mug chipped — not refunded: marked failed by hand: the dashboard shows no refund"
    assert world.row(refund.payment_id or "").refunded_minor == 0  # the reservation is released
    assert world.db.orders[order_id].refunded_minor == 0
    assert world.actions()[-1] == "payment.refund_failed"
    again = await world.shop.payments.refund(
        RefundCreate(order_id=order_id, amount=3000, reason="all of it"), actor=ACTOR, approval=PersonConfirmed()
    )
    assert isinstance(again, Success), again
    assert world.gateway.refunded == {"pi_1": 3000}
    assert world.db.orders[order_id].status == "refunded"


# -- approval ----------------------------------------------------------------------------------------


async def test_without_approval_nothing_changes_and_the_preview_says_what_will(world: World) -> None:
    order_id, payment = await stuck_payment(world)
    before = copy.deepcopy(world.db)
    request = settle(payment.id, "succeeded", "pi_42", note="charged on the 26th")

    preview = await world.shop.payments.settle_by_hand(request, actor=ACTOR, approval=None)

    assert isinstance(preview, NeedsApproval)
    assert (preview.request, preview.approvers) == (None, False)  # no approver yet: no request either
    text = preview.preview.describe()
    assert text.startswith(f"Settle card payment {payment.id} of 30.00 EUR for order {order_id}")
    assert "by hand as succeeded (gateway reference pi_42)" in text
    assert "counts 30.00 EUR more as paid" in text
    assert "charged on the 26th" in text
    assert "may still settle it by itself" not in text  # a day old: the gateway no longer will
    assert world.db == before


async def approved_settle(world: World, request: PaymentSettle) -> ApprovalGiven:
    """An approval request made by ``request``, approved by a person."""
    assert isinstance(await world.shop.approvals.add_approver(APPROVER, PASSPHRASE, actor=ACTOR), Success)
    asked = await world.shop.payments.settle_by_hand(request, actor=ACTOR, approval=None)
    assert isinstance(asked, NeedsApproval), asked
    assert asked.request is not None
    decided = await world.shop.approvals.decide(asked.request.id, approve=True, name=APPROVER, passphrase=PASSPHRASE)
    assert isinstance(decided, Success), decided
    return ApprovalGiven(asked.request.id)


async def test_an_approval_works_once_and_only_for_what_was_asked(world: World) -> None:
    _, payment = await stuck_payment(world)
    request = settle(payment.id, "failed")
    approval = await approved_settle(world, request)

    other = await world.shop.payments.settle_by_hand(
        settle(payment.id, "succeeded", "pi_1"), actor=ACTOR, approval=approval
    )
    assert isinstance(other, Rejected)
    assert other.field == "approval_id"
    assert world.row(payment.id).status == "pending"

    assert isinstance(await world.shop.payments.settle_by_hand(request, actor=ACTOR, approval=approval), Success)
    assert world.db.approvals[approval.approval_id].status == "used"
    used = await world.shop.payments.settle_by_hand(request, actor=ACTOR, approval=approval)
    assert isinstance(used, Rejected)  # the row is not pending any more, and the approval was used


async def test_a_person_who_confirmed_in_place_needs_no_approval_request(world: World) -> None:
    order_id, payment = await stuck_payment(world)

    done = await world.shop.payments.settle_by_hand(
        settle(payment.id, "succeeded", "pi_9"), actor=ACTOR, approval=PersonConfirmed()
    )

    assert isinstance(done, Success)
    assert world.db.orders[order_id].status == "paid"


async def test_the_preview_of_a_young_row_warns_that_the_gateway_may_still_answer(world: World) -> None:
    order_id = await placed(world)
    world.gateway.faults.append("down")
    left = await charge(world, order_id)
    assert isinstance(left, CardNotCharged)

    preview = await world.shop.payments.settle_by_hand(settle(left.payment.id, "failed"), actor=ACTOR, approval=None)

    assert isinstance(preview, NeedsApproval)
    assert "may still settle it by itself" in preview.preview.describe()


# -- refusals ------------------------------------------------------------------------------------------


async def test_unknown_and_malformed_ids_are_refused(world: World) -> None:
    missing = await world.shop.payments.settle_by_hand(
        settle("pay_" + "0" * 26, "failed"), actor=ACTOR, approval=PersonConfirmed()
    )
    assert isinstance(missing, NotFound)
    missing_refund = await world.shop.payments.settle_by_hand(
        settle("ref_" + "0" * 26, "failed"), actor=ACTOR, approval=PersonConfirmed()
    )
    assert isinstance(missing_refund, NotFound)
    assert "refund" in missing_refund.message
    malformed = await world.shop.payments.settle_by_hand(settle("ord_x", "failed"), actor=ACTOR, approval=None)
    assert isinstance(malformed, Rejected)
    assert malformed.field == "payment_id"


async def test_a_manual_payment_is_not_settled_by_hand(world: World) -> None:
    order_id = await placed(world)
    cash = await pay(world.shop, order_id, 1000)
    before = copy.deepcopy(world.db)

    refused = await world.shop.payments.settle_by_hand(settle(cash, "failed"), actor=ACTOR, approval=PersonConfirmed())

    assert isinstance(refused, Rejected)
    assert "cash payment, not a card one" in refused.message
    assert world.db == before


async def test_a_row_that_is_not_pending_is_reported_as_it_is(world: World) -> None:
    order_id = await placed(world)
    paid = await charge(world, order_id)
    assert isinstance(paid, Success)
    payment = next(p for p in world.db.payments if p.order_id == order_id)
    before = copy.deepcopy(world.db)

    refused = await world.shop.payments.settle_by_hand(
        settle(payment.id, "failed"), actor=ACTOR, approval=PersonConfirmed()
    )

    assert isinstance(refused, Rejected)
    assert f"card payment {payment.id} is not pending any more: it succeeded (gateway reference pi_1)" in (
        refused.message
    )
    assert "nothing was changed" in refused.message
    assert world.db == before


async def test_a_succeeded_payment_needs_its_payment_intent_id(world: World) -> None:
    _, payment = await stuck_payment(world)
    before = copy.deepcopy(world.db)

    without = await world.shop.payments.settle_by_hand(
        settle(payment.id, "succeeded"), actor=ACTOR, approval=PersonConfirmed()
    )
    wrong_kind = await world.shop.payments.settle_by_hand(
        settle(payment.id, "succeeded", "re_1"), actor=ACTOR, approval=PersonConfirmed()
    )

    assert isinstance(without, Rejected)
    assert without.field == "gateway_reference"
    assert "pi_" in without.message
    assert isinstance(wrong_kind, Rejected)
    assert wrong_kind.field == "gateway_reference"
    assert world.db == before


async def test_a_refund_is_not_given_a_payment_intent_id(world: World) -> None:
    _, refund = await stuck_refund(world)

    refused = await world.shop.payments.settle_by_hand(
        settle(refund.id, "succeeded", "pi_1"), actor=ACTOR, approval=PersonConfirmed()
    )

    assert isinstance(refused, Rejected)
    assert "re_" in refused.message


def test_the_request_checks_the_reference_and_wants_a_note() -> None:
    with pytest.raises(ValueError, match="gateway_reference"):
        settle("pay_" + "0" * 26, "succeeded", "ch_123")
    with pytest.raises(ValueError, match="note"):
        settle("pay_" + "0" * 26, "failed", note="   ")


# -- settled meanwhile ---------------------------------------------------------------------------------


async def test_a_row_the_gateway_settles_after_the_preview_is_left_as_the_gateway_said(world: World) -> None:
    order_id = await placed(world)
    world.gateway.faults.append("lost")  # charged, but the answer was lost
    left = await charge(world, order_id)
    assert isinstance(left, CardNotCharged)
    request = settle(left.payment.id, "failed", note="I could not find it")
    approval = await approved_settle(world, request)
    # Meanwhile the background round asks the gateway again, which replays the charge.
    world.shop.clock.advance(61)
    await world.shop.payments.settle_pending(actor="worker")
    assert world.db.orders[order_id].status == "paid"
    before = copy.deepcopy(world.db)

    late = await world.shop.payments.settle_by_hand(request, actor=ACTOR, approval=approval)

    assert isinstance(late, Rejected)
    assert "is not pending any more: it succeeded (gateway reference pi_1)" in late.message
    assert world.db == before  # the gateway's answer stands; the approval was not used up either
    assert world.db.approvals[approval.approval_id].status == "approved"


async def test_the_desk_does_not_settle_a_row_someone_settled_between_reading_and_writing(world: World) -> None:
    """The conditional settle: a stale copy of the row changes nothing once the row is settled."""
    order_id = await placed(world)
    world.gateway.faults.append("lost")
    left = await charge(world, order_id)
    assert isinstance(left, CardNotCharged)
    stale = left.payment
    assert isinstance(await charge(world, order_id), Success)  # the gateway's replay settles it
    before = copy.deepcopy(world.db)
    uow_factory = with_events(FakeUnitOfWorkFactory(world.db), world.shop.clock, world.shop.ids)
    desk = CardDesk(uow_factory, world.shop.clock, world.shop.ids, world.gateway)

    async with uow_factory(write=True) as uow:
        settled = await desk.settle_by_hand(
            uow, stale, succeeded=False, gateway_reference=None, note="too late", actor=ACTOR
        )
        assert settled is None
        await uow.commit()  # even committing the unit of work changes nothing

    assert world.db.payments == before.payments
    assert world.db.orders == before.orders
    assert world.db.audit == before.audit
