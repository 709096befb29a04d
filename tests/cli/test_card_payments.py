"""Card payments from the command line, against localstripe (no proxy: the CLI runs its own event loop)."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.cli.conftest import Cli
from tests.e2e.support import as_list, as_object, string
from tests.integration.stripe_standin import SECRET, LocalStripe


def placed(cli: Cli) -> str:
    """A new order of two 12.50 EUR mugs (the customer and the product are made once)."""
    customers = as_list(cli.json("customers", "list")["customers"])
    customer = string(as_object(customers[0]), "id") if customers else cli.customer()
    if cli("catalog", "get", "--sku", "MUG-1").code == 3:
        cli.product("MUG-1", price_minor=1250)
    order = as_object(cli.json("orders", "place", "--customer", customer, "--line", "MUG-1=2")["order"])
    return string(order, "id")


def charged(localstripe: LocalStripe, order_id: str) -> list[int]:
    return [
        int(str(pi["amount"]))
        for pi in localstripe.list("payment_intents")
        if pi["status"] == "succeeded" and order_id in json.dumps(pi["metadata"])
    ]


def test_a_card_is_charged_from_the_command_line(make_cli: Callable[..., Cli], localstripe: LocalStripe) -> None:
    cli = make_cli(SHOPKEEPER_STRIPE_SECRET_KEY=SECRET, SHOPKEEPER_STRIPE_API_BASE=localstripe.url)
    order_id = placed(cli)

    out = cli.ok("payments", "record", "--order", order_id, "--method", "card", "--payment-method", "pm_card_visa")

    assert f"Charged 25.00 EUR to card pm_card_visa for order {order_id}" in out.out
    assert charged(localstripe, order_id) == [2500]
    declined_order = placed(cli)
    declined = cli.fail(
        4, "payments", "record", "--order", declined_order, "--method", "card",
        "--payment-method", "pm_card_chargeCustomerFail",
    )  # fmt: skip
    assert "card declined: card_declined" in declined
    assert "nothing was charged" in declined
    listed = cli.ok("payments", "list", "--order", declined_order).out
    assert "failed" in listed
    assert "card declined: card_declined" in listed  # the reason, not the card it tried


def test_an_unreachable_gateway_leaves_the_payment_pending_and_a_rerun_completes_it(
    make_cli: Callable[..., Cli], localstripe: LocalStripe, unreachable_url: str
) -> None:
    down = make_cli(SHOPKEEPER_STRIPE_SECRET_KEY=SECRET, SHOPKEEPER_STRIPE_API_BASE=unreachable_url)
    order_id = placed(down)
    card = ("payments", "record", "--order", order_id, "--method", "card", "--payment-method", "pm_card_visa")

    pending = down.fail(6, *card)

    assert "is pending" in pending
    assert "cannot charge twice" in pending
    assert SECRET not in pending
    up = make_cli(SHOPKEEPER_STRIPE_SECRET_KEY=SECRET, SHOPKEEPER_STRIPE_API_BASE=localstripe.url)
    resumed = up.json(*card)
    assert resumed["resumed"] is True
    assert charged(localstripe, order_id) == [2500]
    assert string(as_object(resumed["order"]), "status") == "paid"


def test_without_a_key_card_payments_are_refused_with_the_setting_to_use(cli: Cli) -> None:
    order_id = placed(cli)

    refused = cli.fail(
        4, "payments", "record", "--order", order_id, "--method", "card", "--payment-method", "pm_card_visa"
    )

    assert "SHOPKEEPER_STRIPE_SECRET_KEY" in refused
