"""Both doors word a card payment only a person can settle exactly as before the views: the services
now return facts (``needs_person``, the row), and each door adds the command that settles it."""

from __future__ import annotations

import pytest
from mcp_types import TextContent

from mcp_server.handlers.cli.common import CommandError, Exit, check
from mcp_server.handlers.cli.payments import not_charged
from mcp_server.handlers.mcp.orders import order_failure
from mcp_server.handlers.mcp.payments import not_charged_result
from mcp_server.models.payments import Payment
from mcp_server.services.approvals import PersonConfirmed
from mcp_server.services.payments import CardNotCharged
from mcp_server.services.results import Rejected
from tests.fakes import FakeGateway
from tests.unit.commerce import ACTOR, add_customer, add_product, make_shop
from tests.unit.test_settle_by_hand import World, charge, stuck_payment

pytestmark = pytest.mark.anyio


@pytest.fixture
async def world() -> World:
    gateway = FakeGateway()
    shop = make_shop(gateway=gateway)
    customer = await add_customer(shop)
    await add_product(shop, "MUG-01", price_minor=1000, stock=10)
    return World(shop, gateway, customer)


def command(payment: Payment) -> str:
    return f'shopkeeper payments settle {payment.id} --note "…" --succeeded --gateway-reference pi_… | --failed'


def too_old(payment: Payment) -> str:
    """The whole reason a day-old pending payment needs a person, as both doors showed it."""
    return (
        f"card payment {payment.id} has been pending since {payment.created_at:%Y-%m-%d %H:%M} UTC, longer than "
        "the gateway remembers its idempotency key, so asking again could move the money twice; a person must "
        f"look it up in the gateway's dashboard (metadata payment_id={payment.id} or idempotency key "
        f"shopkeeper-{payment.id}), then run `{command(payment)}`"
    )


def text(result: object) -> str:
    content = getattr(result, "content", [])
    return "".join(c.text for c in content if isinstance(c, TextContent))


async def test_a_cancel_blocked_by_a_payment_for_a_person_reads_the_same_in_both_doors(world: World) -> None:
    order_id, payment = await stuck_payment(world)
    blocked = await world.shop.orders.cancel(order_id, reason=None, actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(blocked, Rejected)
    said = (
        f"card payment {payment.id} of order {order_id} is still pending at the payment gateway "
        f"({too_old(payment)}), so the order cannot be cancelled yet; nothing was changed: a person must settle it "
        f"first (shopkeeper payments settle {payment.id})"
    )

    tool = order_failure(blocked, tool_name="orders_cancel")
    with pytest.raises(CommandError) as cli:
        check(blocked)

    assert tool.is_error
    assert text(tool) == (
        f"{said[:1].upper()}{said[1:]}.\n\nNext: wait, then call orders_cancel again; payments_list shows the "
        "payment's status."
    )
    assert (cli.value.message, cli.value.code) == (said, Exit.REFUSED)


async def test_a_charge_only_a_person_can_settle_reads_the_same_in_both_doors(world: World) -> None:
    order_id, payment = await stuck_payment(world)
    again = await charge(world, order_id)
    assert isinstance(again, CardNotCharged)

    tool = not_charged_result(again)
    with pytest.raises(CommandError) as cli:
        not_charged(again)

    assert text(tool) == (
        f"The earlier card payment {payment.id} of 30.00 EUR for order {order_id} is pending and cannot be settled "
        f"by asking the gateway again: C{too_old(payment)[1:]}. The order is not paid and must not be shipped.\n\n"
        "Next: tell the person; someone with access to the payment gateway's dashboard must check what happened "
        f"to this payment, then run `{command(payment)}` (it asks them to confirm). Until then the order takes no "
        "other payment and cannot be cancelled."
    )
    assert cli.value.message == (
        f"the earlier card payment {payment.id} of 30.00 EUR for order {order_id} is pending and asking the gateway "
        f"again will not settle it: {too_old(payment)}"
    )
    assert cli.value.code == Exit.REFUSED
