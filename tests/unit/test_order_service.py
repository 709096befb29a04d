"""OrderService (and the sales report) against in-memory fakes: end state, never calls."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mcp_server.models.catalog import ProductUpdate, StockAdjustment
from mcp_server.models.orders import Shipment
from mcp_server.models.reports import SalesQuery
from mcp_server.services.approvals import ApprovalGiven, NeedsApproval, PersonConfirmed
from mcp_server.services.results import Conflict, IllegalTransition, NotFound, Rejected, Success
from tests.fakes import FakeDatabase
from tests.unit.commerce import (
    ACTOR,
    Shop,
    add_customer,
    add_product,
    make_shop,
    order_request,
    pay,
    place,
    refund_now,
)

pytestmark = pytest.mark.anyio

SHIPMENT = Shipment(carrier="DHL", tracking_number="JD0001")


@dataclass
class World:
    shop: Shop
    customer: str
    products: dict[str, str]  # SKU → product id

    @property
    def db(self) -> FakeDatabase:
        return self.shop.db


@pytest.fixture
async def world() -> World:
    shop = make_shop()
    customer = await add_customer(shop)
    products = {
        "MUG-01": await add_product(shop, "MUG-01", price_minor=1250, stock=10),
        "TEE-01": await add_product(shop, "TEE-01", price_minor=2000, stock=5),
        "OLD-1": await add_product(shop, "OLD-1", stock=5, active=False),
        "CAP-US": await add_product(shop, "CAP-US", price_minor=900, stock=5, currency="USD"),
        "BIG-1": await add_product(shop, "BIG-1", price_minor=2**62, stock=5),
        "FREE-1": await add_product(shop, "FREE-1", price_minor=0, stock=5),
    }
    return World(shop, customer, products)


async def paid_order(world: World, lines: list[tuple[str, int]] | None = None) -> str:
    order = await place(world.shop, world.customer, lines or [("MUG-01", 2)])
    await pay(world.shop, order.id, order.total_minor)
    return order.id


# -- placing ---------------------------------------------------------------------------------


async def test_place_reserves_stock_snapshots_prices_and_records_everything_in_one_commit(world: World):
    db = world.db
    commits, audits, mails = db.commits, len(db.audit), len(db.outbox)

    result = await world.shop.orders.place(order_request(world.customer, [("MUG-01", 3), ("tee-01", 2)]), actor="clerk")

    assert isinstance(result, Success)
    assert result.value.replayed is False
    order = db.orders[result.value.order.id]
    assert order == result.value.order
    assert (order.status, order.currency, order.total_minor, order.paid_minor, order.units) == (
        "placed",
        "EUR",
        3 * 1250 + 2 * 2000,
        0,
        5,
    )
    assert [(line.line_no, line.sku, line.quantity, line.unit_price_minor) for line in order.lines] == [
        (1, "MUG-01", 3, 1250),
        (2, "TEE-01", 2, 2000),
    ]
    assert db.products[world.products["MUG-01"]].stock == 7
    assert db.products[world.products["TEE-01"]].stock == 3
    assert db.commits == commits + 1
    assert len(db.audit) == audits + 1
    entry = db.audit[-1]
    assert (entry.action, entry.entity_type, entry.entity_id, entry.actor) == (
        "order.placed",
        "order",
        order.id,
        "clerk",
    )
    assert entry.after is not None
    assert (entry.after["status"], entry.after["total_minor"], entry.after["units"]) == ("placed", 7750, 5)
    assert len(db.outbox) == mails + 1
    mail = db.outbox[-1]
    assert (mail.kind, mail.recipient, mail.subject_id) == ("order_placed", "ada@example.com", order.id)

    # The line keeps the price it was sold at when the catalog price changes later.
    changed = await world.shop.catalog.update_product(
        world.products["MUG-01"], ProductUpdate.model_validate({"price_minor": 9999}), actor=ACTOR
    )
    assert isinstance(changed, Success)
    assert db.orders[order.id].lines[0].unit_price_minor == 1250
    assert db.orders[order.id].total_minor == 7750


async def test_place_by_product_id_and_a_free_order_is_paid_at_once(world: World):
    order = await place(world.shop, world.customer, [(world.products["FREE-1"].lower(), 2)])
    assert (order.status, order.total_minor, order.lines[0].sku) == ("paid", 0, "FREE-1")
    assert world.db.products[world.products["FREE-1"]].stock == 3


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param([("MUG-01", 1), ("NOPE-9", 1)], ["line 2 (NOPE-9): no product with SKU 'NOPE-9'"], id="unknown"),
        pytest.param([("OLD-1", 1)], ["line 1 (OLD-1): the product is inactive"], id="inactive"),
        pytest.param(
            [("MUG-01", 11)], ["line 1 (MUG-01): insufficient stock: 10 in stock, 11 requested"], id="insufficient"
        ),
        pytest.param(
            [("MUG-01", 1), ("CAP-US", 1)],
            ["line 2 (CAP-US): is priced in USD, but the order is in EUR"],
            id="mixed-currency",
        ),
        pytest.param(
            [("MUG-01", 1), ("TEE-01", 1), ("mug-01", 2)],
            ["line 3 (MUG-01): repeats line 1"],
            id="duplicate",
        ),
        pytest.param([("BIG-1", 2)], ["the order total is larger than this shop can record"], id="overflow"),
        pytest.param(
            [("NOPE-9", 1), ("OLD-1", 1), ("MUG-01", 1), ("TEE-01", 6), ("CAP-US", 1), ("MUG-01", 1)],
            [
                "line 1 (NOPE-9): no product",
                "line 2 (OLD-1): the product is inactive",
                "line 4 (TEE-01): insufficient stock: 5 in stock, 6 requested",
                "line 5 (CAP-US): is priced in USD",
                "line 6 (MUG-01): repeats line 3",
            ],
            id="every-bad-line-named",
        ),
    ],
)
async def test_a_bad_line_rejects_the_whole_order_and_changes_nothing(
    world: World, lines: list[tuple[str, int]], expected: list[str]
):
    before = copy.deepcopy(world.db)

    result = await world.shop.orders.place(order_request(world.customer, lines), actor=ACTOR)

    assert isinstance(result, Rejected)
    assert result.field == "lines"
    count = len(expected)
    assert result.message.startswith(f"{count} line{'s' if count != 1 else ''} cannot be ordered: ")
    for text in expected:
        assert text in result.message
    # Only the bad lines are named: as many "line N (" as expected problems about lines.
    assert len(re.findall(r"line \d+ \(", result.message)) == sum(t.startswith("line ") for t in expected)
    assert world.db == before


async def test_unknown_or_malformed_customer_is_refused(world: World):
    before = copy.deepcopy(world.db)
    missing = await world.shop.orders.place(order_request("cus_" + "9" * 26, [("MUG-01", 1)]), actor=ACTOR)
    malformed = await world.shop.orders.place(order_request("ord_123", [("MUG-01", 1)]), actor=ACTOR)
    assert isinstance(missing, NotFound)
    assert isinstance(malformed, Rejected)
    assert malformed.field == "customer_id"
    assert world.db == before


async def test_quote_is_a_dry_run_that_writes_nothing(world: World):
    before = copy.deepcopy(world.db)

    good = await world.shop.orders.quote(order_request(world.customer, [("MUG-01", 4), ("TEE-01", 1)]))
    bad = await world.shop.orders.quote(order_request(world.customer, [("MUG-01", 40)]))

    assert isinstance(good, Success)
    assert (good.value.total_minor, good.value.currency, good.value.problems) == (4 * 1250 + 2000, "EUR", ())
    assert good.value.stock == {1: 10, 2: 5}
    assert isinstance(bad, Success)
    assert [p.describe() for p in bad.value.problems] == [
        "line 1 (MUG-01): insufficient stock: 10 in stock, 40 requested"
    ]
    assert world.db == before


# -- idempotency -------------------------------------------------------------------------------


async def test_same_key_and_arguments_replays_the_first_order_and_changes_nothing(world: World):
    request = order_request(world.customer, [("MUG-01", 2)])
    first = await world.shop.orders.place(request, actor=ACTOR, idempotency_key="k-1")
    assert isinstance(first, Success)
    before = copy.deepcopy(world.db)

    again = await world.shop.orders.place(
        order_request(world.customer, [("MUG-01", 2)]), actor=ACTOR, idempotency_key="k-1"
    )

    assert isinstance(again, Success)
    assert again.value.replayed is True
    assert again.value.order == first.value.order
    assert world.db == before
    assert world.db.products[world.products["MUG-01"]].stock == 8
    assert len(world.db.orders) == 1


async def test_ids_and_skus_in_another_letter_case_are_the_same_call(world: World):
    first = await world.shop.orders.place(
        order_request(world.customer, [("MUG-01", 2)]), actor=ACTOR, idempotency_key="k-case"
    )
    assert isinstance(first, Success)
    before = copy.deepcopy(world.db)

    again = await world.shop.orders.place(
        order_request(world.customer.upper(), [("mug-01", 2)]), actor=ACTOR, idempotency_key="k-case"
    )

    assert isinstance(again, Success), again
    assert again.value.replayed is True
    assert world.db == before


async def test_same_key_with_other_arguments_is_a_conflict(world: World):
    first = await world.shop.orders.place(
        order_request(world.customer, [("MUG-01", 2)]), actor=ACTOR, idempotency_key="k-1"
    )
    assert isinstance(first, Success)
    before = copy.deepcopy(world.db)

    other = await world.shop.orders.place(
        order_request(world.customer, [("MUG-01", 3)]), actor=ACTOR, idempotency_key="k-1"
    )

    assert isinstance(other, Conflict)
    assert other.entity == "idempotency_key"
    assert other.existing_id == first.value.order.id
    assert world.db == before


async def test_a_failed_call_stores_no_key_so_it_can_be_retried(world: World):
    request = order_request(world.customer, [("TEE-01", 7)])
    refused = await world.shop.orders.place(request, actor=ACTOR, idempotency_key="k-2")
    assert isinstance(refused, Rejected)
    assert world.db.idempotency == {}
    restocked = await world.shop.catalog.adjust_stock(
        world.products["TEE-01"], StockAdjustment(delta=5, reason="restock"), actor=ACTOR
    )
    assert isinstance(restocked, Success)

    retried = await world.shop.orders.place(request, actor=ACTOR, idempotency_key="k-2")

    assert isinstance(retried, Success)
    assert retried.value.replayed is False
    assert world.db.products[world.products["TEE-01"]].stock == 3


# -- the state machine -------------------------------------------------------------------------


async def test_illegal_transitions_name_the_status_and_what_is_allowed(world: World):
    order = await place(world.shop, world.customer, [("MUG-01", 1)])
    before = copy.deepcopy(world.db)

    ship = await world.shop.orders.mark_shipped(order.id, SHIPMENT, actor=ACTOR)
    deliver = await world.shop.orders.mark_delivered(order.id, actor=ACTOR)

    assert ship == IllegalTransition(order.id, "placed", "ship", ("pay", "cancel"))
    assert isinstance(ship, IllegalTransition)
    assert ship.message == f"order {order.id} is placed, so it cannot ship. Allowed now: pay, cancel"
    assert isinstance(deliver, IllegalTransition)
    assert (deliver.status, deliver.action, deliver.allowed) == ("placed", "deliver", ("pay", "cancel"))
    assert world.db == before

    cancelled = await world.shop.orders.cancel(order.id, reason=None, actor=ACTOR, approval=None)
    assert isinstance(cancelled, Success)
    again = await world.shop.orders.cancel(order.id, reason=None, actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(again, IllegalTransition)
    assert again.allowed == ()
    assert "is cancelled" in again.message
    assert "final" in again.message


async def test_unknown_and_malformed_order_ids(world: World):
    assert isinstance(await world.shop.orders.mark_delivered("ord_" + "9" * 26, actor=ACTOR), NotFound)
    malformed = await world.shop.orders.mark_shipped("cus_" + "1" * 26, SHIPMENT, actor=ACTOR)
    assert isinstance(malformed, Rejected)
    assert malformed.field == "order_id"
    assert isinstance(await world.shop.orders.get("nope"), Rejected)


async def test_ship_then_deliver(world: World):
    order_id = await paid_order(world)
    db = world.db
    audits, mails = len(db.audit), len(db.outbox)

    shipped = await world.shop.orders.mark_shipped(order_id.lower(), SHIPMENT, actor=ACTOR)

    assert isinstance(shipped, Success)
    stored = db.orders[order_id]
    assert (stored.status, stored.carrier, stored.tracking_number) == ("shipped", "DHL", "JD0001")
    assert [(e.action, e.after) for e in db.audit[audits:]] == [
        ("order.shipped", {"status": "shipped", "carrier": "DHL", "tracking_number": "JD0001"})
    ]
    assert [(m.kind, m.payload.get("tracking_number")) for m in db.outbox[mails:]] == [("order_shipped", "JD0001")]
    assert isinstance(await world.shop.orders.mark_shipped(order_id, SHIPMENT, actor=ACTOR), IllegalTransition)

    delivered = await world.shop.orders.mark_delivered(order_id, actor=ACTOR)

    assert isinstance(delivered, Success)
    assert db.orders[order_id].status == "delivered"
    assert db.audit[-1].action == "order.delivered"
    assert len(db.audit) == audits + 2
    detail = await world.shop.orders.get(order_id)
    assert isinstance(detail, Success)
    assert detail.value.order.status == "delivered"
    assert [p.kind for p in detail.value.payments] == ["payment"]


# -- cancelling ----------------------------------------------------------------------------------


async def test_cancel_without_money_needs_no_approval_and_restocks(world: World):
    order = await place(world.shop, world.customer, [("MUG-01", 3), ("TEE-01", 1)])
    db = world.db
    commits, audits = db.commits, len(db.audit)

    result = await world.shop.orders.cancel(order.id, reason="changed mind", actor=ACTOR, approval=None)

    assert isinstance(result, Success)
    assert (result.value.refund_minor, result.value.restocked_units, result.value.refunds) == (0, 4, ())
    stored = db.orders[order.id]
    assert stored.status == "cancelled"
    assert [line.restocked for line in stored.lines] == [3, 1]
    assert db.products[world.products["MUG-01"]].stock == 10
    assert db.products[world.products["TEE-01"]].stock == 5
    assert db.commits == commits + 1
    assert len(db.audit) == audits + 1
    assert db.audit[-1].action == "order.cancelled"
    assert db.audit[-1].after is not None
    assert db.audit[-1].after["reason"] == "changed mind"
    assert db.outbox[-1].kind == "order_cancelled"
    assert db.payments == []


APPROVER, PASSPHRASE = "ada", "a long passphrase"


async def approve(world: World, approval_id: str) -> None:
    decided = await world.shop.approvals.decide(approval_id, approve=True, name=APPROVER, passphrase=PASSPHRASE)
    assert isinstance(decided, Success), decided


async def test_cancel_with_money_asks_for_approval_then_cancels_restocks_and_refunds(world: World):
    order = await place(world.shop, world.customer, [("MUG-01", 2)])
    payment_id = await pay(world.shop, order.id, 1000)  # partly paid: still "placed"
    assert isinstance(await world.shop.approvals.add_approver(APPROVER, PASSPHRASE, actor=ACTOR), Success)
    db = world.db
    before = copy.deepcopy(db)

    asked = await world.shop.orders.cancel(order.id, reason=None, actor=ACTOR, approval=None)

    assert isinstance(asked, NeedsApproval)
    assert asked.request is not None
    assert asked.request.id.startswith("apr_")
    assert asked.request.expires_at == world.shop.clock.now() + timedelta(minutes=10)
    assert (asked.preview.refund_minor, asked.preview.restocked_units) == (1000, 2)
    assert (db.orders, db.payments, db.products) == (before.orders, before.payments, before.products)
    assert list(db.approvals) == [asked.request.id]

    await approve(world, asked.request.id)
    before = copy.deepcopy(db)
    done = await world.shop.orders.cancel(order.id, reason=None, actor=ACTOR, approval=ApprovalGiven(asked.request.id))

    assert isinstance(done, Success)
    stored = db.orders[order.id]
    assert (stored.status, stored.paid_minor, stored.refunded_minor) == ("cancelled", 1000, 1000)
    assert db.products[world.products["MUG-01"]].stock == 10
    refund = db.payments[-1]
    assert (refund.kind, refund.amount_minor, refund.payment_id, refund.restock) == ("refund", 1000, payment_id, True)
    assert next(p for p in db.payments if p.id == payment_id).refunded_minor == 1000
    assert [r.id for r in done.value.refunds] == [refund.id]
    assert db.commits == before.commits + 1
    assert len(db.audit) == len(before.audit) + 1
    assert db.approvals[asked.request.id].status == "used"
    assert db.outbox[-1].payload["refund"].startswith("10.00")


async def test_a_caller_without_refunds_cannot_cancel_an_order_that_gives_money_back(world: World):
    paid = await place(world.shop, world.customer, [("MUG-01", 2)])
    await pay(world.shop, paid.id, 1000)
    unpaid = await place(world.shop, world.customer, [("MUG-01", 1)])
    before = copy.deepcopy(world.db)

    refused = await world.shop.orders.cancel(
        paid.id, reason=None, actor=ACTOR, approval=None, may_give_money_back=False
    )

    assert isinstance(refused, Rejected)
    assert "10.00" in refused.message
    assert "refunds scope" in refused.message
    assert world.db == before, "no approval request, no cancellation"
    done = await world.shop.orders.cancel(unpaid.id, reason=None, actor=ACTOR, approval=None, may_give_money_back=False)
    assert isinstance(done, Success), "nothing to give back: the orders scope is enough"


async def test_a_cancel_approval_no_longer_fits_once_the_order_changed(world: World):
    order = await place(world.shop, world.customer, [("MUG-01", 2)])
    await pay(world.shop, order.id, 1000)
    assert isinstance(await world.shop.approvals.add_approver(APPROVER, PASSPHRASE, actor=ACTOR), Success)
    asked = await world.shop.orders.cancel(order.id, reason=None, actor=ACTOR, approval=None)
    assert isinstance(asked, NeedsApproval)
    assert asked.request is not None
    await approve(world, asked.request.id)
    await pay(world.shop, order.id, 500)
    before = copy.deepcopy(world.db)

    late = await world.shop.orders.cancel(order.id, reason=None, actor=ACTOR, approval=ApprovalGiven(asked.request.id))

    assert isinstance(late, Rejected)
    assert late.field == "approval_id"
    assert "changed" in late.message
    assert world.db == before


async def test_cancel_a_paid_order_after_a_partial_refund_returns_the_rest(world: World):
    order_id = await paid_order(world, [("MUG-01", 2)])
    await refund_now(world.shop, order_id, 500, restock=False)

    result = await world.shop.orders.cancel(order_id, reason=None, actor=ACTOR, approval=PersonConfirmed())

    assert isinstance(result, Success)
    assert result.value.refund_minor == 2000
    stored = world.db.orders[order_id]
    assert (stored.status, stored.paid_minor, stored.refunded_minor) == ("cancelled", 2500, 2500)
    assert world.db.products[world.products["MUG-01"]].stock == 10


# -- reports -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "day"), [("Europe/Berlin", date(2026, 11, 27)), ("UTC", date(2026, 11, 26))])
async def test_sales_summary_counts_days_in_the_shop_time_zone(zone: str, day: date):
    shop = make_shop(ZoneInfo(zone), start=datetime(2026, 11, 26, 23, 30, tzinfo=UTC))
    customer = await add_customer(shop)
    await add_product(shop, "MUG-01", price_minor=1250, stock=10)
    await place(shop, customer, [("MUG-01", 2)])

    result = await shop.reports.sales_summary(SalesQuery(date_from=date(2026, 11, 25), date_to=date(2026, 11, 28)))

    assert isinstance(result, Success)
    summary = result.value
    assert summary.timezone == zone
    assert [(d.day, d.orders, d.units, d.revenue_minor) for d in summary.days] == [(day, 1, 2, 2500)]
    assert [(p.sku, p.units) for p in summary.top] == [("MUG-01", 2)]


async def test_sales_summary_refuses_reversed_and_too_long_ranges():
    shop = make_shop()
    reversed_range = await shop.reports.sales_summary(SalesQuery(date_from=date(2026, 2, 1), date_to=date(2026, 1, 1)))
    too_long = await shop.reports.sales_summary(SalesQuery(date_from=date(2024, 1, 1), date_to=date(2026, 1, 1)))
    assert isinstance(reversed_range, Rejected)
    assert isinstance(too_long, Rejected)
    assert too_long.field == "date_to"
