"""Domain events: every change raises one, one table turns each into exactly one audit entry (and
the customer's e-mail where there is one), and no service writes either by hand."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

import pytest

from mcp_server.models.access import AccessToken
from mcp_server.models.approvals import ApprovalRequest, Approver
from mcp_server.models.catalog import Product
from mcp_server.models.customers import Customer
from mcp_server.models.events import (
    ApprovalDecided,
    ApprovalRequested,
    ApproverAdded,
    ApproverRemoved,
    CardRefunded,
    CustomerRegistered,
    CustomerUpdated,
    Event,
    NotificationRequeued,
    OrderCancelled,
    OrderDelivered,
    OrderPlaced,
    OrderShipped,
    PaymentFailed,
    PaymentRecorded,
    PaymentRefunded,
    PaymentStarted,
    ProductCreated,
    ProductUpdated,
    RefundFailed,
    RefundStarted,
    StockAdjusted,
    TokenCreated,
    TokenRevoked,
)
from mcp_server.models.orders import Order, OrderLine
from mcp_server.models.outbox import OutboxMessage
from mcp_server.models.payments import Payment
from mcp_server.services import event_handlers
from mcp_server.services.event_handlers import HANDLERS, Stamp, effects_of, handles
from mcp_server.services.unit_of_work import with_events
from tests.fakes import FakeClock, FakeDatabase, FakeUnitOfWorkFactory, SequentialIds

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SERVICES = Path(event_handlers.__file__).parent

ALICE = Customer("cus_1", "Alice", "alice@example.com", None, None, AT, AT)
MUG = Product("prd_1", "mug-1", "Mug", None, 500, "EUR", 3, True, AT, AT)
PLACED = Order.place(
    order_id="ord_1",
    customer_id=ALICE.id,
    currency="EUR",
    lines=(OrderLine(1, MUG.id, MUG.sku, MUG.name, 2, 500),),
    shipping_address=None,
    at=AT,
)
PAID = PLACED.pay(1000, AT)
CASH = Payment("pay_1", "payment", PLACED.id, 1000, "EUR", "cash", "succeeded", AT)
CARD = replace(CASH, id="pay_2", method="card", status="pending", reference="pm_card_visa")
CASH_BACK = Payment("ref_1", "refund", PLACED.id, 400, "EUR", "cash", "succeeded", AT, payment_id=CASH.id, reason="r")
CARD_BACK = replace(CASH_BACK, id="ref_2", method="card", status="pending", payment_id=CARD.id)
ADA = Approver("ada", "scrypt$secret-hash", AT)
ASKED = ApprovalRequest(
    "apr_1", "payments_refund", "args", "state", "Refund 4.00 EUR", PAID.id, "a", AT, AT + timedelta(minutes=10)
)
CI_TOKEN = AccessToken("tok_1", "ci", "f" * 64, frozenset({"read", "orders"}), AT)
FAILED_MAIL = OutboxMessage("ntf_1", "welcome", ALICE.email, ALICE.id, {}, "failed", 5, AT, AT, last_error="bounced")

ORDER_EVENTS = (
    OrderPlaced,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
    PaymentStarted,
    PaymentRecorded,
    PaymentRefunded,
    RefundStarted,
    CardRefunded,
    PaymentFailed,
    RefundFailed,
)

# One example of every event, with the action of its audit entry and the e-mail it queues (or None).
EXAMPLES: list[tuple[Event, str, str | None]] = [
    (CustomerRegistered("a", ALICE), "customer.registered", "welcome"),
    (CustomerUpdated("a", ALICE, replace(ALICE, name="Al"), ("name",)), "customer.updated", None),
    (ProductCreated("a", MUG), "product.created", None),
    (ProductUpdated("a", MUG, replace(MUG, price_minor=600), ("price_minor",)), "product.updated", None),
    (StockAdjusted("a", MUG.id, 3, 5, "restock", None), "product.stock_adjusted", None),
    (NotificationRequeued("a", FAILED_MAIL), "notification.requeued", None),
    (OrderPlaced("a", PLACED, ALICE), "order.placed", "order_placed"),
    (OrderShipped("a", PAID, PAID.ship("DHL", "T1", AT), ALICE), "order.shipped", "order_shipped"),
    (OrderShipped("a", PAID, PAID.ship("DHL", "T1", AT), None), "order.shipped", None),
    (OrderDelivered("a", PAID.ship("DHL", "T1", AT), PAID.ship("DHL", "T1", AT).deliver(AT)), "order.delivered", None),
    (
        OrderCancelled("a", PAID, PAID.cancel(1000, AT), 2, (CASH_BACK,), None, ALICE),
        "order.cancelled",
        "order_cancelled",
    ),
    (OrderCancelled("a", PAID, PAID.cancel(0, AT), 2, (), "x", None), "order.cancelled", None),
    (PaymentStarted("a", PLACED, CARD), "payment.started", None),
    (PaymentRecorded("a", PLACED, PAID, CASH), "payment.recorded", None),
    (
        PaymentRefunded("a", PAID, PAID.refund(400, AT), (CASH_BACK,), 400, "r", 0, ALICE),
        "payment.refunded",
        "order_refunded",
    ),
    (RefundStarted("a", PAID, PAID, (CARD_BACK,), 400, "r", 0, ALICE), "payment.refund_started", None),
    (
        RefundStarted("a", PAID, PAID.refund(400, AT), (CASH_BACK, CARD_BACK), 800, "r", 0, ALICE),
        "payment.refund_started",
        "order_refunded",
    ),
    (CardRefunded("a", PAID, PAID.refund(400, AT), CARD_BACK, ALICE), "payment.refunded", "order_refunded"),
    (CardRefunded("a", PAID, PAID.refund(400, AT), CARD_BACK, None), "payment.refunded", None),
    (PaymentFailed("a", PLACED, CARD, "declined"), "payment.failed", None),
    (RefundFailed("a", PAID, CARD_BACK, "declined"), "payment.refund_failed", None),
    (ApproverAdded("a", ADA), "approver.added", None),
    (ApproverRemoved("a", ADA.name), "approver.removed", None),
    (ApprovalRequested("a", ASKED), "approval.requested", None),
    (ApprovalDecided("a", ASKED, ASKED.decide(True, "person:ada", AT)), "approval.approved", None),
    (ApprovalDecided("a", ASKED, ASKED.decide(False, "person:ada", AT)), "approval.denied", None),
    (TokenCreated("a", CI_TOKEN), "token.created", None),
    (TokenRevoked("a", replace(CI_TOKEN, revoked_at=AT)), "token.revoked", None),
]


def test_every_event_type_has_exactly_one_handler_and_an_example() -> None:
    assert set(HANDLERS) == set(get_args(Event))
    assert {type(event) for event, _, _ in EXAMPLES} == set(get_args(Event))


def test_an_approver_entry_never_carries_the_passphrase_hash() -> None:
    entry, _ = effects_of(ApproverAdded("a", ADA), Stamp(SequentialIds(), AT))
    assert (entry.entity_type, entry.entity_id, entry.after) == ("approver", "ada", {"name": "ada"})
    assert ADA.passphrase_hash not in repr(entry)


def test_a_token_entry_names_the_token_and_its_scopes_never_its_hash() -> None:
    stamp = Stamp(SequentialIds(), AT)
    created, _ = effects_of(TokenCreated("a", CI_TOKEN), stamp)
    revoked, _ = effects_of(TokenRevoked("a", replace(CI_TOKEN, revoked_at=AT)), stamp)
    assert (created.entity_type, created.entity_id, created.before) == ("token", "tok_1", None)
    assert created.after == {"name": "ci", "scopes": "read orders", "active": True}
    assert (revoked.before, revoked.after) == (
        {"name": "ci", "scopes": "read orders", "active": True},
        {"name": "ci", "scopes": "read orders", "active": False},
    )
    assert CI_TOKEN.token_hash not in repr(created) + repr(revoked)


def test_a_second_handler_for_one_event_type_is_refused() -> None:
    with pytest.raises(TypeError, match="already has a handler"):
        handles(OrderPlaced)(lambda event, stamp: effects_of(event, stamp))


@pytest.mark.parametrize(("event", "action", "mail"), EXAMPLES, ids=lambda x: type(x).__name__)
def test_each_event_makes_one_audit_entry_and_only_its_own_e_mail(event: Event, action: str, mail: str | None) -> None:
    entry, message = effects_of(event, Stamp(SequentialIds(), AT))
    assert (entry.action, entry.actor, entry.occurred_at) == (action, "a", AT)
    assert (message.kind if message else None) == mail
    if isinstance(event, ORDER_EVENTS):  # filed under the order, with its status: the history replays to it
        assert (entry.entity_type, entry.entity_id) == ("order", event.order.id)
        assert entry.after is not None
        assert entry.after["status"] == event.order.status


def test_no_service_writes_an_audit_entry_or_an_e_mail_by_hand() -> None:
    """Only the unit of work adds what the handlers make; a use case raises an event instead."""
    offenders: list[str] = []
    for path in sorted(SERVICES.rglob("*.py")):
        if path.name == "unit_of_work.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("add", "record", "record_update")
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr in ("audit", "outbox", "_audit")
            ):
                offenders.append(f"{path.relative_to(SERVICES)}:{node.lineno}")
    assert offenders == []


@pytest.mark.anyio
async def test_events_are_written_with_the_commit_and_dropped_without_it() -> None:
    db = FakeDatabase()
    uow = with_events(FakeUnitOfWorkFactory(db), FakeClock(AT), SequentialIds())
    async with uow(write=True) as work:
        work.raise_event(ProductCreated("a", MUG))
    assert (db.audit, db.outbox) == ([], [])
    async with uow(write=True) as work:
        work.raise_event(CustomerRegistered("a", ALICE))
        work.raise_event(ProductCreated("a", MUG))
        await work.commit()
    assert [e.action for e in db.audit] == ["customer.registered", "product.created"]
    assert [m.kind for m in db.outbox] == ["welcome"]
