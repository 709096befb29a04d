"""The order and payment tools' use cases called straight, with services handed in: no server, no client."""

from __future__ import annotations

import pytest

from mcp_server.handlers.mcp import orders, payments
from mcp_server.models.orders import Shipment
from mcp_server.models.payments import PaymentCreate
from mcp_server.services.approvals import PersonConfirmed
from mcp_server.services.results import Success
from tests.unit.commerce import ACTOR, Shop, add_customer, add_product, make_shop, order_request, pay, place
from tests.unit.tool_support import services_of, text

pytestmark = pytest.mark.anyio


@pytest.fixture
async def shop() -> Shop:
    shop = make_shop()
    await add_product(shop, "MUG-01", price_minor=1250, stock=5)
    return shop


async def test_a_dry_run_prices_the_order_and_places_nothing(shop: Shop) -> None:
    customer = await add_customer(shop)

    result = await orders.place(
        services_of(shop), order_request(customer, [("MUG-01", 2)]), dry_run=True, actor=ACTOR, idempotency_key=None
    )

    assert not result.is_error
    assert text(result).startswith("## Dry run — nothing was placed or reserved")
    assert result.structured_content is not None
    assert result.structured_content["total_minor"] == 2500
    assert shop.db.orders == {}


async def test_cancelling_a_paid_order_asks_a_person_first_and_changes_nothing(shop: Shop) -> None:
    order = await place(shop, await add_customer(shop), [("MUG-01", 2)])
    await pay(shop, order.id, 2500)
    assert isinstance(await shop.approvals.add_approver("ada", "a long passphrase", actor=ACTOR), Success)

    result = await orders.cancel(services_of(shop), order.id, reason=None, actor=ACTOR, approval=None)

    assert text(result).startswith("## Approval needed — nothing was changed yet")
    assert result.structured_content is not None
    assert result.structured_content["outcome"] == "approval_required"
    (approval_id,) = shop.db.approvals
    assert result.structured_content["approval_id"] == approval_id
    assert f"`shopkeeper approvals approve {approval_id}`" in text(result)
    assert result.structured_content["preview"] == (
        f"Cancel order {order.id} of Ada Lovelace <ada@example.com>: 2 unit(s) go back into stock and 25.00 EUR "
        "is refunded."
    )
    assert shop.db.orders[order.id].status == "paid"


async def test_cancelling_a_paid_order_with_no_approver_says_how_to_set_one_up(shop: Shop) -> None:
    order = await place(shop, await add_customer(shop), [("MUG-01", 2)])
    await pay(shop, order.id, 2500)

    result = await orders.cancel(services_of(shop), order.id, reason=None, actor=ACTOR, approval=None)

    assert result.is_error
    assert "no approver is set up yet" in text(result)
    assert "`shopkeeper approvers add NAME`" in text(result)
    assert shop.db.approvals == {}
    assert shop.db.orders[order.id].status == "paid"


async def test_a_confirmed_cancel_and_an_illegal_ship_answer_in_tool_words(shop: Shop) -> None:
    order = await place(shop, await add_customer(shop), [("MUG-01", 2)])
    await pay(shop, order.id, 2500)

    done = await orders.cancel(
        services_of(shop), order.id, reason="changed mind", actor=ACTOR, approval=PersonConfirmed()
    )
    ship = await orders.mark_shipped(
        services_of(shop), order.id, Shipment(carrier="DHL", tracking_number="1"), actor=ACTOR
    )

    assert text(done).startswith(f"## Cancelled order `{order.id}`")
    assert ship.is_error
    assert text(ship).endswith(
        f"Next: the tools that apply to {order.id} now: none (the status is final). Nothing was changed."
    )


async def test_recording_the_whole_amount_says_the_order_is_paid_and_to_ship_it(shop: Shop) -> None:
    order = await place(shop, await add_customer(shop), [("MUG-01", 2)])

    result = await payments.record(
        services_of(shop), PaymentCreate(order_id=order.id, method="cash"), actor=ACTOR, idempotency_key=None
    )

    assert text(result).startswith(f"## Recorded 25.00 EUR (cash) for order `{order.id}`")
    assert text(result).endswith(f"The order is paid. Next: orders_mark_shipped with order_id=`{order.id}`.")
