"""PaymentService against in-memory fakes: payments, refunds, approvals, idempotency."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest

from mcp_server.models.orders import Shipment
from mcp_server.models.payments import PaymentCreate, PaymentQuery, RefundCreate
from mcp_server.services.approvals import ApprovalGiven, NeedsApproval, PersonConfirmed
from mcp_server.services.results import Conflict, IllegalTransition, NotFound, Rejected, Success
from tests.fakes import FakeDatabase
from tests.unit.commerce import ACTOR, Shop, add_customer, add_product, make_shop, pay, place

pytestmark = pytest.mark.anyio


@dataclass
class World:
    shop: Shop
    customer: str
    mug: str
    tee: str

    @property
    def db(self) -> FakeDatabase:
        return self.shop.db


@pytest.fixture
async def world() -> World:
    shop = make_shop()
    customer = await add_customer(shop)
    mug = await add_product(shop, "MUG-01", price_minor=1000, stock=10)
    tee = await add_product(shop, "TEE-01", price_minor=500, stock=10)
    return World(shop, customer, mug, tee)


async def placed(world: World) -> str:
    """An order of 2 mugs and 2 tees: 3000 in total, nothing paid yet."""
    return (await place(world.shop, world.customer, [("MUG-01", 2), ("TEE-01", 2)])).id


async def paid(world: World) -> str:
    order_id = await placed(world)
    await pay(world.shop, order_id, 3000)
    return order_id


async def shipped(world: World) -> str:
    order_id = await paid(world)
    result = await world.shop.orders.mark_shipped(order_id, Shipment(carrier="DHL", tracking_number="T1"), actor=ACTOR)
    assert isinstance(result, Success)
    return order_id


def refund_request(order_id: str, amount: int, *, restock: bool = False, reason: str = "broken") -> RefundCreate:
    return RefundCreate(order_id=order_id, amount=amount, reason=reason, restock=restock)


# -- recording payments --------------------------------------------------------------------------


async def test_payments_within_the_outstanding_amount_until_the_order_is_paid(world: World):
    order_id = await placed(world)
    db = world.db
    commits, audits = db.commits, len(db.audit)

    first = await world.shop.payments.record(
        PaymentCreate(order_id=order_id.lower(), amount=1200, method="bank_transfer", reference="SEPA-1"), actor=ACTOR
    )

    assert isinstance(first, Success)
    assert (first.value.order.status, first.value.order.paid_minor, first.value.order.outstanding_minor) == (
        "placed",
        1200,
        1800,
    )
    assert (first.value.payment.kind, first.value.payment.reference) == ("payment", "SEPA-1")
    assert db.commits == commits + 1

    second = await world.shop.payments.record(PaymentCreate(order_id=order_id, amount=1800, method="cash"), actor=ACTOR)

    assert isinstance(second, Success)
    stored = db.orders[order_id]
    assert (stored.status, stored.paid_minor, stored.outstanding_minor) == ("paid", 3000, 0)
    assert [(e.action, (e.after or {})["status"]) for e in db.audit[audits:]] == [
        ("payment.recorded", "placed"),
        ("payment.recorded", "paid"),
    ]
    assert [p.amount_minor for p in db.payments] == [1200, 1800]


async def test_a_payment_over_the_outstanding_amount_is_refused(world: World):
    order_id = await placed(world)
    await pay(world.shop, order_id, 1000)
    before = copy.deepcopy(world.db)

    result = await world.shop.payments.record(PaymentCreate(order_id=order_id, amount=2001, method="cash"), actor=ACTOR)

    assert isinstance(result, Rejected)
    assert result.field == "amount"
    assert "20.00" in result.message
    assert world.db == before


async def test_a_paid_order_takes_no_payment(world: World):
    order_id = await paid(world)
    before = copy.deepcopy(world.db)

    result = await world.shop.payments.record(PaymentCreate(order_id=order_id, amount=1, method="cash"), actor=ACTOR)

    assert result == IllegalTransition(order_id, "paid", "take a payment", ("ship", "cancel", "refund"))
    assert world.db == before


async def test_payment_for_unknown_or_malformed_order(world: World):
    missing = await world.shop.payments.record(
        PaymentCreate(order_id="ord_" + "9" * 26, amount=1, method="cash"), actor=ACTOR
    )
    malformed = await world.shop.payments.record(PaymentCreate(order_id="x", amount=1, method="cash"), actor=ACTOR)
    assert isinstance(missing, NotFound)
    assert isinstance(malformed, Rejected)


async def test_record_replays_with_the_same_key_and_conflicts_with_other_arguments(world: World):
    order_id = await placed(world)
    request = PaymentCreate(order_id=order_id, amount=1000, method="cash")
    first = await world.shop.payments.record(request, actor=ACTOR, idempotency_key="pay-1")
    assert isinstance(first, Success)
    before = copy.deepcopy(world.db)

    again = await world.shop.payments.record(
        PaymentCreate(order_id=order_id.lower(), amount=1000, method="cash"), actor=ACTOR, idempotency_key="pay-1"
    )
    other = await world.shop.payments.record(
        PaymentCreate(order_id=order_id, amount=999, method="cash"), actor=ACTOR, idempotency_key="pay-1"
    )

    assert isinstance(again, Success)
    assert again.value.replayed is True
    assert again.value.payment.id == first.value.payment.id
    assert isinstance(other, Conflict)
    assert other.existing_id == first.value.payment.id
    assert world.db == before
    assert world.db.orders[order_id].paid_minor == 1000


async def test_list_payments_of_one_order(world: World):
    one = await paid(world)
    other = await placed(world)
    await pay(world.shop, other, 100)
    page = await world.shop.payments.list(PaymentQuery(order_id=one))
    assert isinstance(page, Success)
    assert [(p.order_id, p.amount_minor) for p in page.value.items] == [(one, 3000)]


# -- refunds: approval ------------------------------------------------------------------------

APPROVER, PASSPHRASE = "ada", "a long passphrase"


async def asked_and_approved(world: World, request: RefundCreate) -> str:
    """The id of an approval request made by ``request`` and approved by a person."""
    if not world.db.approvers:
        assert isinstance(await world.shop.approvals.add_approver(APPROVER, PASSPHRASE, actor=ACTOR), Success)
    asked = await world.shop.payments.refund(request, actor=ACTOR, approval=None)
    assert isinstance(asked, NeedsApproval), asked
    assert asked.request is not None
    decided = await world.shop.approvals.decide(asked.request.id, approve=True, name=APPROVER, passphrase=PASSPHRASE)
    assert isinstance(decided, Success), decided
    return asked.request.id


async def test_refund_without_approval_is_a_preview_that_changes_nothing(world: World):
    order_id = await shipped(world)
    before = copy.deepcopy(world.db)

    result = await world.shop.payments.refund(refund_request(order_id, 1000, restock=True), actor=ACTOR, approval=None)

    assert isinstance(result, NeedsApproval)
    assert (result.request, result.approvers) == (None, False)  # no approver yet: no request either
    plan = result.preview
    assert (plan.amount_minor, plan.restock_units, plan.refunds) == (1000, 4, ())
    assert "Refund 10.00" in plan.describe()
    assert "4 unit(s) go back into stock" in plan.describe()
    assert world.db == before


async def test_an_approval_works_once(world: World):
    order_id = await paid(world)
    request = refund_request(order_id, 1000)
    approval_id = await asked_and_approved(world, request)

    done = await world.shop.payments.refund(request, actor=ACTOR, approval=ApprovalGiven(approval_id))
    assert isinstance(done, Success)
    assert world.db.orders[order_id].refunded_minor == 1000
    assert world.db.audit[-1].actor == f"{ACTOR} (approved by person:{APPROVER} in {approval_id})"
    before = copy.deepcopy(world.db)

    reused = await world.shop.payments.refund(request, actor=ACTOR, approval=ApprovalGiven(approval_id))

    assert isinstance(reused, Rejected)
    assert reused.field == "approval_id"
    assert "already used" in reused.message
    assert world.db == before


async def test_an_approval_used_meanwhile_is_refused(world: World):
    """The approval is marked used in the transaction of the change: a second redeemer (another process) loses."""
    order_id = await paid(world)
    request = refund_request(order_id, 3000)
    approval_id = await asked_and_approved(world, request)
    world.db.approvals[approval_id] = world.db.approvals[approval_id].use(world.shop.clock.now())
    before = copy.deepcopy(world.db)

    result = await world.shop.payments.refund(request, actor=ACTOR, approval=ApprovalGiven(approval_id))

    assert isinstance(result, Rejected)
    assert "already used" in result.message
    assert world.db == before


async def test_an_unknown_approval_id_is_refused(world: World):
    order_id = await paid(world)
    request = refund_request(order_id, 1000)
    approval_id = await asked_and_approved(world, request)
    before = copy.deepcopy(world.db)

    for wrong in ("apr_garbage", "apr_" + "9" * 26, approval_id.removeprefix("apr_"), ""):
        result = await world.shop.payments.refund(request, actor=ACTOR, approval=ApprovalGiven(wrong))
        assert isinstance(result, Rejected), wrong
        assert result.field == "approval_id"
        assert "no approval request" in result.message
    assert world.db == before


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"amount": 999}, id="amount"),
        pytest.param({"restock": True}, id="restock"),
        pytest.param({"reason": "other"}, id="reason"),
    ],
)
async def test_an_approval_for_other_arguments_is_refused(world: World, change: dict[str, object]):
    order_id = await shipped(world)
    approval_id = await asked_and_approved(world, refund_request(order_id, 1000))
    before = copy.deepcopy(world.db)
    other = RefundCreate.model_validate(refund_request(order_id, 1000).model_dump() | change)

    result = await world.shop.payments.refund(other, actor=ACTOR, approval=ApprovalGiven(approval_id))

    assert isinstance(result, Rejected)
    assert "different call" in result.message
    assert world.db == before


async def test_an_approval_for_another_order_is_refused(world: World):
    first, second = await paid(world), await paid(world)
    approval_id = await asked_and_approved(world, refund_request(first, 1000))
    result = await world.shop.payments.refund(
        refund_request(second, 1000), actor=ACTOR, approval=ApprovalGiven(approval_id)
    )
    assert isinstance(result, Rejected)
    assert world.db.orders[second].refunded_minor == 0


async def test_an_expired_approval_is_refused(world: World):
    order_id = await paid(world)
    request = refund_request(order_id, 1000)
    approval_id = await asked_and_approved(world, request)
    world.shop.clock.advance(601)
    before = copy.deepcopy(world.db)

    result = await world.shop.payments.refund(request, actor=ACTOR, approval=ApprovalGiven(approval_id))

    assert isinstance(result, Rejected)
    assert "expired" in result.message
    assert world.db == before


async def test_an_approval_just_inside_its_lifetime_still_works(world: World):
    order_id = await paid(world)
    request = refund_request(order_id, 1000)
    approval_id = await asked_and_approved(world, request)
    world.shop.clock.advance(599)
    result = await world.shop.payments.refund(request, actor=ACTOR, approval=ApprovalGiven(approval_id))
    assert isinstance(result, Success)


async def test_person_confirmed_refund_is_done_at_once(world: World):
    order_id = await paid(world)
    db = world.db
    commits, audits, mails = db.commits, len(db.audit), len(db.outbox)

    result = await world.shop.payments.refund(refund_request(order_id, 1000), actor=ACTOR, approval=PersonConfirmed())

    assert isinstance(result, Success)
    stored = db.orders[order_id]
    assert (stored.status, stored.paid_minor, stored.refunded_minor) == ("paid", 3000, 1000)
    refund = db.payments[-1]
    assert (refund.kind, refund.amount_minor, refund.reason, refund.restock) == ("refund", 1000, "broken", False)
    assert [r.id for r in result.value.refunds] == [refund.id]
    assert db.commits == commits + 1
    assert len(db.audit) == audits + 1
    entry = db.audit[-1]
    assert entry.action == "payment.refunded"
    assert entry.after is not None
    assert (entry.after["refunded_minor"], entry.after["amount_minor"], entry.after["status"]) == (1000, 1000, "paid")
    assert [m.kind for m in db.outbox[mails:]] == ["order_refunded"]
    # What a person reads afterwards describes this refund against what came before it.
    assert "already refunded 0.00" in result.value.describe()
    # Nothing went back to stock.
    assert db.products[world.mug].stock == 8
    assert db.products[world.tee].stock == 8


# -- refunds: amounts, status, stock -----------------------------------------------------------


async def test_refund_more_than_paid_minus_refunded_is_refused(world: World):
    order_id = await paid(world)
    over = await world.shop.payments.refund(refund_request(order_id, 3001), actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(over, Rejected)
    assert over.field == "amount"
    ok = await world.shop.payments.refund(refund_request(order_id, 2000), actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(ok, Success)
    before = copy.deepcopy(world.db)

    again = await world.shop.payments.refund(refund_request(order_id, 1001), actor=ACTOR, approval=PersonConfirmed())

    assert isinstance(again, Rejected)
    assert "at most 10.00" in again.message
    assert world.db == before


async def test_refunding_everything_paid_makes_the_order_refunded(world: World):
    order_id = await paid(world)
    first = await world.shop.payments.refund(refund_request(order_id, 1000), actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(first, Success)
    assert world.db.orders[order_id].status == "paid"

    rest = await world.shop.payments.refund(refund_request(order_id, 2000), actor=ACTOR, approval=PersonConfirmed())

    assert isinstance(rest, Success)
    stored = world.db.orders[order_id]
    assert (stored.status, stored.refunded_minor) == ("refunded", 3000)
    assert world.db.audit[-1].after is not None
    assert world.db.audit[-1].after["status"] == "refunded"
    final = await world.shop.payments.refund(refund_request(order_id, 1), actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(final, IllegalTransition)
    assert final.allowed == ()


async def test_refund_of_a_shipped_order(world: World):
    order_id = await shipped(world)
    result = await world.shop.payments.refund(refund_request(order_id, 3000), actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(result, Success)
    assert world.db.orders[order_id].status == "refunded"


async def test_refund_of_an_unpaid_order_is_an_illegal_transition(world: World):
    order_id = await placed(world)
    await pay(world.shop, order_id, 100)
    before = copy.deepcopy(world.db)
    result = await world.shop.payments.refund(refund_request(order_id, 100), actor=ACTOR, approval=PersonConfirmed())
    assert result == IllegalTransition(order_id, "placed", "be refunded", ("pay", "cancel"))
    assert world.db == before


async def test_restock_of_an_unshipped_order_is_refused(world: World):
    order_id = await paid(world)
    before = copy.deepcopy(world.db)

    result = await world.shop.payments.refund(
        refund_request(order_id, 500, restock=True), actor=ACTOR, approval=PersonConfirmed()
    )

    assert isinstance(result, Rejected)
    assert result.field == "restock"
    assert "cancel" in result.message
    assert world.db == before


async def test_restock_returns_every_unit_once(world: World):
    order_id = await shipped(world)
    db = world.db

    first = await world.shop.payments.refund(
        refund_request(order_id, 500, restock=True), actor=ACTOR, approval=PersonConfirmed()
    )

    assert isinstance(first, Success)
    assert first.value.restock_units == 4
    assert (db.products[world.mug].stock, db.products[world.tee].stock) == (10, 10)
    assert [line.restocked for line in db.orders[order_id].lines] == [2, 2]
    assert db.payments[-1].restock is True

    second = await world.shop.payments.refund(
        refund_request(order_id, 500, restock=True), actor=ACTOR, approval=PersonConfirmed()
    )

    assert isinstance(second, Success)
    assert second.value.restock_units == 0
    assert (db.products[world.mug].stock, db.products[world.tee].stock) == (10, 10)


async def test_refund_by_payment_is_limited_to_that_payment(world: World):
    order_id = await placed(world)
    first = await pay(world.shop, order_id, 1000)
    second = await pay(world.shop, order_id, 2000)
    before = copy.deepcopy(world.db)

    too_much = await world.shop.payments.refund(
        RefundCreate(payment_id=first, amount=1001, reason="broken"), actor=ACTOR, approval=PersonConfirmed()
    )

    assert isinstance(too_much, Rejected)
    assert f"payment {first}" in too_much.message
    assert world.db == before

    done = await world.shop.payments.refund(
        RefundCreate(payment_id=first.lower(), amount=1000, reason="broken"), actor=ACTOR, approval=PersonConfirmed()
    )

    assert isinstance(done, Success)
    refunds = [p for p in world.db.payments if p.kind == "refund"]
    assert [(r.payment_id, r.amount_minor) for r in refunds] == [(first, 1000)]
    by_id = {p.id: p for p in world.db.payments}
    assert (by_id[first].refunded_minor, by_id[second].refunded_minor) == (1000, 0)
    assert world.db.orders[order_id].refunded_minor == 1000


async def test_refund_by_payment_refuses_a_refund_id_and_both_or_neither_reference(world: World):
    order_id = await paid(world)
    await world.shop.payments.refund(refund_request(order_id, 10), actor=ACTOR, approval=PersonConfirmed())
    refund_id = world.db.payments[-1].id
    before = copy.deepcopy(world.db)
    approve = PersonConfirmed()

    by_refund = await world.shop.payments.refund(
        RefundCreate(payment_id=refund_id, amount=1, reason="x"), actor=ACTOR, approval=approve
    )
    both = await world.shop.payments.refund(
        RefundCreate(order_id=order_id, payment_id=world.db.payments[0].id, amount=1, reason="x"),
        actor=ACTOR,
        approval=approve,
    )
    neither = await world.shop.payments.refund(RefundCreate(amount=1, reason="x"), actor=ACTOR, approval=approve)

    assert isinstance(by_refund, Rejected | NotFound)
    assert isinstance(both, Rejected)
    assert isinstance(neither, Rejected)
    assert world.db == before


async def test_an_order_refund_takes_from_the_newest_payment_first(world: World):
    order_id = await placed(world)
    older = await pay(world.shop, order_id, 1000)
    newer = await pay(world.shop, order_id, 2000)

    result = await world.shop.payments.refund(refund_request(order_id, 2500), actor=ACTOR, approval=PersonConfirmed())

    assert isinstance(result, Success)
    assert [(r.payment_id, r.amount_minor) for r in result.value.refunds] == [(newer, 2000), (older, 500)]


async def test_refund_replays_with_the_same_key(world: World):
    order_id = await paid(world)
    request = refund_request(order_id, 700)
    first = await world.shop.payments.refund(request, actor=ACTOR, approval=PersonConfirmed(), idempotency_key="r-1")
    assert isinstance(first, Success)
    before = copy.deepcopy(world.db)

    again = await world.shop.payments.refund(request, actor=ACTOR, approval=PersonConfirmed(), idempotency_key="r-1")
    other = await world.shop.payments.refund(
        refund_request(order_id, 701), actor=ACTOR, approval=PersonConfirmed(), idempotency_key="r-1"
    )

    in_lower_case = await world.shop.payments.refund(
        refund_request(order_id.upper(), 700), actor=ACTOR, approval=PersonConfirmed(), idempotency_key="r-1"
    )

    assert isinstance(again, Success)
    assert again.value.replayed is True
    assert [r.id for r in again.value.refunds] == [r.id for r in first.value.refunds]
    assert isinstance(other, Conflict)
    assert isinstance(in_lower_case, Success), "an id in another letter case is the same refund"
    assert in_lower_case.value.replayed is True
    assert world.db == before
