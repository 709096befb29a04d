"""``shopkeeper payments settle``: a person settles a card payment or refund the gateway left pending.

The gateway is a port nobody listens on, so card payments stay pending the way they do when it
is down; the refund case charges through localstripe first.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mcp_server.handlers.cli.common import Exit
from tests.cli.conftest import Cli, Person
from tests.cli.test_card_payments import placed
from tests.e2e.support import as_object, objects, string
from tests.integration.stripe_standin import SECRET, LocalStripe


@pytest.fixture
def down(make_cli: Callable[..., Cli], unreachable_url: str) -> Cli:
    return make_cli(
        SHOPKEEPER_ACTOR="cli:ada", SHOPKEEPER_STRIPE_SECRET_KEY=SECRET, SHOPKEEPER_STRIPE_API_BASE=unreachable_url
    )


def pending_payment(cli: Cli) -> tuple[str, str]:
    """A new order whose card payment the gateway did not answer: (order id, payment id)."""
    order_id = placed(cli)
    cli.fail(
        Exit.UNAVAILABLE,
        "payments",
        "record",
        "--order",
        order_id,
        "--method",
        "card",
        "--payment-method",
        "pm_card_visa",
    )
    (payment,) = objects(cli.json("payments", "list", "--order", order_id), "payments")
    assert payment["status"] == "pending"
    return order_id, string(payment, "id")


def test_with_yes_a_pending_payment_is_settled_as_succeeded_and_the_order_is_paid(down: Cli) -> None:
    order_id, payment_id = pending_payment(down)

    done = down.json(
        "payments", "settle", payment_id, "--succeeded", "--gateway-reference", "pi_3Q0dashboard",
        "--note", "succeeded in the Stripe dashboard", "--yes",
    )  # fmt: skip

    assert done["outcome"] == "succeeded"
    payment = as_object(done["payment"])
    assert (payment["status"], payment["gateway_reference"]) == ("succeeded", "pi_3Q0dashboard")
    order = as_object(done["order"])
    assert order["status"] == "paid"
    assert "shopkeeper orders ship" in str(order["next_actions"])
    entries = objects(down.json("audit", "list", "--entity-id", order_id, "--detailed"), "entries")
    recorded = [e for e in entries if e["action"] == "payment.recorded"]
    assert len(recorded) == 1
    assert recorded[0]["actor"] == "cli:ada"
    assert as_object(recorded[0]["after"])["settled_by_hand"] == "succeeded in the Stripe dashboard"


def test_human_output_says_what_was_booked(down: Cli) -> None:
    order_id, payment_id = pending_payment(down)

    out = down.ok(
        "payments", "settle", payment_id, "--succeeded", "--gateway-reference", "pi_1", "--note", "ok", "--yes"
    ).out

    assert f"Card payment {payment_id} of 25.00 EUR (pi_1) settled by hand as succeeded" in out
    assert f"order:    {order_id}" in out
    assert "status:   paid" in out
    assert "next:     shopkeeper orders ship" in out


def test_without_a_terminal_and_without_yes_nothing_is_settled(down: Cli) -> None:
    _, payment_id = pending_payment(down)
    before = down.db.tables()

    outcome = down("payments", "settle", payment_id, "--failed", "--note", "not there")

    assert outcome.code == Exit.NOT_CONFIRMED
    assert outcome.out == ""
    preview, rerun = outcome.err.splitlines()
    assert preview.startswith(f"Settle card payment {payment_id} of 25.00 EUR")
    assert "by hand as failed" in preview
    assert "may still settle it by itself" in preview  # it was sent just now
    assert "--yes" in rerun
    assert down.db.tables() == before


@pytest.mark.parametrize(("answer", "status"), [("y", "failed"), ("n", "pending")])
def test_a_person_at_the_terminal_confirms(down: Cli, answer: str, status: str) -> None:
    order_id, payment_id = pending_payment(down)
    person = Person(answer)

    outcome = down("payments", "settle", payment_id, "--failed", "--note", "x", terminal=person.terminal())

    (question,) = person.questions
    assert question.startswith(f"Settle card payment {payment_id}")
    assert question.endswith("Proceed? [y/N] ")
    assert outcome.code == (Exit.OK if status == "failed" else Exit.NOT_CONFIRMED)
    (payment,) = objects(down.json("payments", "list", "--order", order_id), "payments")
    assert payment["status"] == status


def test_a_payment_settled_as_failed_leaves_the_order_payable_and_cancellable(down: Cli) -> None:
    paid_later, payment_id = pending_payment(down)
    blocked = down.fail(Exit.REFUSED, "orders", "cancel", paid_later, "--yes")
    assert "pending" in blocked

    out = down.ok("payments", "settle", payment_id, "--failed", "--note", "not in the dashboard", "--yes").out

    assert "settled by hand as failed" in out
    paid = down.json("payments", "record", "--order", paid_later, "--method", "cash")
    assert string(as_object(paid["order"]), "status") == "paid"
    # Another stuck order: once settled as failed it can be cancelled.
    cancelled_later, other = pending_payment(down)
    down.ok("payments", "settle", other, "--failed", "--note", "declined in the dashboard", "--yes")
    cancelled = down.json("orders", "cancel", cancelled_later, "--reason", "customer gave up")
    assert string(as_object(cancelled), "order_status") == "cancelled"


def test_refusals_have_their_exit_codes(down: Cli) -> None:
    order_id, payment_id = pending_payment(down)
    before = down.db.tables()

    needs_ref = down.fail(Exit.USAGE, "payments", "settle", payment_id, "--succeeded", "--note", "x", "--yes")
    assert needs_ref.startswith("shopkeeper: --gateway-reference: required with --succeeded")
    assert down.fail(Exit.USAGE, "payments", "settle", payment_id, "--note", "x")  # neither --succeeded nor --failed
    assert down.fail(Exit.USAGE, "payments", "settle", payment_id, "--failed", "--succeeded", "--note", "x")
    assert "--note" in down.fail(Exit.USAGE, "payments", "settle", payment_id, "--failed")
    bad_ref = down.fail(
        Exit.USAGE, "payments", "settle", payment_id, "--succeeded", "--gateway-reference", "ch_1", "--note", "x"
    )
    assert "--gateway-reference" in bad_ref
    wrong_kind = down.fail(
        Exit.REFUSED, "payments", "settle", payment_id, "--succeeded", "--gateway-reference", "re_1", "--note", "x",
        "--yes",
    )  # fmt: skip
    assert "pi_" in wrong_kind
    missing = "pay_" + "0" * 26
    assert missing in down.fail(Exit.NOT_FOUND, "payments", "settle", missing, "--failed", "--note", "x", "--yes")
    assert down.db.tables() == before

    down.ok("payments", "settle", payment_id, "--failed", "--note", "x", "--yes")
    again = down.fail(Exit.REFUSED, "payments", "settle", payment_id, "--failed", "--note", "x", "--yes")
    assert "is not pending any more: it failed" in again
    cash_order = placed(down)
    cash = down.json("payments", "record", "--order", cash_order, "--method", "cash")
    not_card = down.fail(Exit.REFUSED, "payments", "settle", string(cash, "id"), "--failed", "--note", "x", "--yes")
    assert "not a card one" in not_card
    assert order_id not in not_card


def test_a_pending_card_refund_settled_as_failed_can_be_refunded_again(
    make_cli: Callable[..., Cli], localstripe: LocalStripe, unreachable_url: str
) -> None:
    localstripe.reset()
    up = make_cli(SHOPKEEPER_STRIPE_SECRET_KEY=SECRET, SHOPKEEPER_STRIPE_API_BASE=localstripe.url)
    order_id = placed(up)
    up.ok("payments", "record", "--order", order_id, "--method", "card", "--payment-method", "pm_card_visa")
    down = make_cli(SHOPKEEPER_STRIPE_SECRET_KEY=SECRET, SHOPKEEPER_STRIPE_API_BASE=unreachable_url)
    pending = down("--json", "payments", "refund", "--order", order_id, "--amount", "2500", "--reason", "x", "--yes")
    assert pending.code == 6  # not done yet: the gateway has not answered
    refund = pending.data()
    assert refund["outcome"] == "pending"
    refund_id = string(objects(refund, "refunds")[0], "id")

    settled = down.json("payments", "settle", refund_id, "--failed", "--note", "no refund in the dashboard", "--yes")

    assert settled["outcome"] == "failed"
    assert string(as_object(settled["payment"]), "reason").startswith("x — not refunded: marked failed by hand")
    again = up.json("payments", "refund", "--order", order_id, "--amount", "2500", "--reason", "broken", "--yes")
    assert again["outcome"] == "done"
    assert string(as_object(again), "order_status") == "refunded"
