"""The approval rules on fakes: a call that needs a person makes an approval request and changes
nothing else; only a request a person approved, for the same call and state, in time, and never
used before, lets the change happen, once."""

from __future__ import annotations

import copy
from zoneinfo import ZoneInfo

import pytest

from mcp_server.models.payments import RefundCreate
from mcp_server.services.approvals import CANCEL, NEEDS_A_PERSON, ApprovalDesk, ApprovalGiven, NeedsApproval
from mcp_server.services.payments import PaymentService
from mcp_server.services.results import Conflict, NotFound, Rejected, Success
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.commerce import ACTOR, Shop, add_customer, add_product, make_shop, pay, place, refund_now

pytestmark = pytest.mark.anyio

APPROVER, PASSPHRASE = "ada", "a long passphrase"


@pytest.fixture
async def shop() -> Shop:
    """A shop with one customer and a stocked mug, and no approver yet."""
    shop = make_shop()
    await add_customer(shop)
    await add_product(shop, "MUG-01", price_minor=1000, stock=10)
    return shop


async def paid_order(shop: Shop) -> str:
    """An order of two mugs, paid in full (20.00 EUR)."""
    (customer,) = shop.db.customers
    order = await place(shop, customer, [("MUG-01", 2)])
    await pay(shop, order.id, 2000)
    return order.id


async def add_approver(shop: Shop) -> None:
    assert isinstance(await shop.approvals.add_approver(APPROVER, PASSPHRASE, actor=ACTOR), Success)


def refund(order_id: str, amount: int = 500, reason: str = "chipped") -> RefundCreate:
    return RefundCreate(order_id=order_id, amount=amount, reason=reason)


def money(shop: Shop) -> object:
    """What an approval request must never change: orders, payments, stock."""
    return copy.deepcopy((shop.db.orders, shop.db.payments, shop.db.products))


async def ask(shop: Shop, request: RefundCreate) -> str:
    asked = await shop.payments.refund(request, actor=ACTOR, approval=None)
    assert isinstance(asked, NeedsApproval), asked
    assert asked.request is not None
    return asked.request.id


async def decide(shop: Shop, approval_id: str, *, approve: bool = True) -> None:
    decided = await shop.approvals.decide(approval_id, approve=approve, name=APPROVER, passphrase=PASSPHRASE)
    assert isinstance(decided, Success), decided


async def redeem(shop: Shop, request: RefundCreate, approval_id: str) -> object:
    return await shop.payments.refund(request, actor=ACTOR, approval=ApprovalGiven(approval_id))


async def test_without_an_approver_a_refund_makes_no_request_and_changes_nothing(shop: Shop) -> None:
    order_id = await paid_order(shop)
    before = copy.deepcopy(shop.db)

    asked = await shop.payments.refund(refund(order_id), actor=ACTOR, approval=None)

    assert isinstance(asked, NeedsApproval)
    assert asked.request is None
    assert asked.approvers is False
    assert shop.db == before


async def test_with_an_approver_a_refund_makes_one_pending_request_and_changes_no_money(shop: Shop) -> None:
    order_id = await paid_order(shop)
    await add_approver(shop)
    before = money(shop)

    asked = await shop.payments.refund(refund(order_id), actor=ACTOR, approval=None)

    assert isinstance(asked, NeedsApproval)
    assert asked.request is not None
    assert asked.approvers is True
    assert list(shop.db.approvals.values()) == [asked.request]
    assert asked.request.status == "pending"
    entry = shop.db.audit[-1]
    assert (entry.action, entry.entity_id) == ("approval.requested", asked.request.id)
    assert money(shop) == before


async def test_a_pending_request_is_refused_and_changes_nothing(shop: Shop) -> None:
    order_id = await paid_order(shop)
    await add_approver(shop)
    approval_id = await ask(shop, refund(order_id))
    before = copy.deepcopy(shop.db)

    result = await redeem(shop, refund(order_id), approval_id)

    assert isinstance(result, Rejected)
    assert (result.field, "waiting for a person" in result.message) == ("approval_id", True)
    assert shop.db == before


async def test_an_approved_request_refunds_exactly_once(shop: Shop) -> None:
    order_id = await paid_order(shop)
    await add_approver(shop)
    approval_id = await ask(shop, refund(order_id))
    await decide(shop, approval_id)

    done = await redeem(shop, refund(order_id), approval_id)
    again = await redeem(shop, refund(order_id), approval_id)

    assert isinstance(done, Success)
    assert isinstance(again, Rejected)
    assert "already used" in again.message
    assert shop.db.orders[order_id].refunded_minor == 500
    assert [p.amount_minor for p in shop.db.payments if p.kind == "refund"] == [500]
    assert shop.db.approvals[approval_id].status == "used"


async def test_a_denied_request_is_refused_and_the_audit_names_who_denied_it(shop: Shop) -> None:
    order_id = await paid_order(shop)
    await add_approver(shop)
    approval_id = await ask(shop, refund(order_id))
    await decide(shop, approval_id, approve=False)
    before = money(shop)

    result = await redeem(shop, refund(order_id), approval_id)

    assert isinstance(result, Rejected)
    assert "denied by person:ada" in result.message
    assert money(shop) == before
    entry = shop.db.audit[-1]
    assert (entry.action, entry.actor, entry.entity_id) == ("approval.denied", f"person:{APPROVER}", approval_id)


async def test_an_expired_approval_is_refused(shop: Shop) -> None:
    order_id = await paid_order(shop)
    await add_approver(shop)
    approval_id = await ask(shop, refund(order_id))
    await decide(shop, approval_id)
    shop.clock.advance(10 * 60 + 1)
    before = money(shop)

    result = await redeem(shop, refund(order_id), approval_id)

    assert isinstance(result, Rejected)
    assert "expired" in result.message
    assert money(shop) == before


@pytest.mark.parametrize(("amount", "reason"), [(501, "chipped"), (500, "cracked")], ids=["amount", "reason"])
async def test_an_approval_for_other_arguments_is_refused(shop: Shop, amount: int, reason: str) -> None:
    order_id = await paid_order(shop)
    await add_approver(shop)
    approval_id = await ask(shop, refund(order_id))
    await decide(shop, approval_id)
    before = money(shop)

    result = await redeem(shop, refund(order_id, amount, reason), approval_id)

    assert isinstance(result, Rejected)
    assert "different call" in result.message
    assert money(shop) == before
    assert shop.db.approvals[approval_id].status == "approved"


async def test_an_approval_is_refused_once_the_order_moved_on(shop: Shop) -> None:
    order_id = await paid_order(shop)
    await add_approver(shop)
    approval_id = await ask(shop, refund(order_id))
    await decide(shop, approval_id)
    await refund_now(shop, order_id, 100)  # a person at the terminal refunds meanwhile

    result = await redeem(shop, refund(order_id), approval_id)

    assert isinstance(result, Rejected)
    assert "the order changed" in result.message
    assert shop.db.orders[order_id].refunded_minor == 100


@pytest.mark.parametrize(
    ("name", "passphrase"), [(APPROVER, "not the passphrase"), ("bob", PASSPHRASE)], ids=["passphrase", "name"]
)
async def test_a_wrong_passphrase_or_unknown_approver_decides_nothing(shop: Shop, name: str, passphrase: str) -> None:
    order_id = await paid_order(shop)
    await add_approver(shop)
    approval_id = await ask(shop, refund(order_id))
    audits = len(shop.db.audit)

    decided = await shop.approvals.decide(approval_id, approve=True, name=name, passphrase=passphrase)

    assert isinstance(decided, Rejected)
    assert decided.field == "passphrase"
    assert shop.db.approvals[approval_id].status == "pending"
    assert len(shop.db.audit) == audits


async def test_cancelling_a_paid_order_needs_approval_but_an_unpaid_one_does_not(shop: Shop) -> None:
    assert CANCEL in NEEDS_A_PERSON
    paid = await paid_order(shop)
    (customer,) = shop.db.customers
    unpaid = (await place(shop, customer, [("MUG-01", 1)])).id
    await add_approver(shop)

    asked = await shop.orders.cancel(paid, reason=None, actor=ACTOR, approval=None)
    done = await shop.orders.cancel(unpaid, reason=None, actor=ACTOR, approval=None)

    assert isinstance(asked, NeedsApproval)
    assert asked.request is not None
    assert asked.request.use_case == CANCEL
    assert shop.db.orders[paid].status == "paid"
    assert isinstance(done, Success)
    assert shop.db.orders[unpaid].status == "cancelled"
    assert list(shop.db.approvals) == [asked.request.id]


async def test_a_desk_that_does_not_require_approval_lets_a_refund_through_and_says_so(shop: Shop) -> None:
    order_id = await paid_order(shop)
    desk = ApprovalDesk(shop.clock, shop.ids, required=False)
    payments = PaymentService(FakeUnitOfWorkFactory(shop.db), shop.clock, shop.ids, desk, ZoneInfo("UTC"))

    done = await payments.refund(refund(order_id), actor=ACTOR, approval=None)

    assert isinstance(done, Success)
    assert shop.db.orders[order_id].refunded_minor == 500
    assert "SHOPKEEPER_APPROVALS=none" in shop.db.audit[-1].actor
    assert shop.db.approvals == {}


@pytest.mark.parametrize("name", ["", "has space", "-dash-first", "x" * 41])
async def test_add_approver_refuses_a_bad_name(shop: Shop, name: str) -> None:
    added = await shop.approvals.add_approver(name, PASSPHRASE, actor=ACTOR)
    assert isinstance(added, Rejected)
    assert added.field == "name"
    assert shop.db.approvers == {}


async def test_add_approver_refuses_a_short_passphrase_and_a_second_approver_of_the_same_name(shop: Shop) -> None:
    short = await shop.approvals.add_approver(APPROVER, "7 chars", actor=ACTOR)
    assert isinstance(short, Rejected)
    assert short.field == "passphrase"
    await add_approver(shop)

    again = await shop.approvals.add_approver(APPROVER.upper(), "another passphrase", actor=ACTOR)

    assert isinstance(again, Conflict)
    assert list(shop.db.approvers) == [APPROVER]


async def test_remove_approver_writes_an_audit_entry(shop: Shop) -> None:
    await add_approver(shop)

    removed = await shop.approvals.remove_approver(APPROVER, actor=ACTOR)
    missing = await shop.approvals.remove_approver(APPROVER, actor=ACTOR)

    assert isinstance(removed, Success)
    assert isinstance(missing, NotFound)
    assert shop.db.approvers == {}
    entry = shop.db.audit[-1]
    assert (entry.action, entry.actor, entry.entity_id) == ("approver.removed", ACTOR, APPROVER)


async def test_asking_again_before_the_person_decided_gives_the_same_request(shop: Shop) -> None:
    order = await paid_order(shop)
    await add_approver(shop)
    first = await ask(shop, refund(order, 500))
    again = await ask(shop, refund(order, 500))
    other = await ask(shop, refund(order, 600))

    elsewhere = await shop.payments.refund(refund(order, 500), actor="another assistant", approval=None)

    assert again == first, "one request for the person to decide, however often the assistant asks"
    assert other != first
    assert isinstance(elsewhere, NeedsApproval)
    assert elsewhere.request is not None
    assert elsewhere.request.id != first, "another caller's request is its own"
    assert len(shop.db.approvals) == 3
