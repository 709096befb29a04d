"""The neutral views both doors render: one wording per result, next actions as use-case ids."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import get_args

import pytest

from mcp_server.handlers.cli.common import ACTION_COMMANDS
from mcp_server.handlers.mcp.commerce_markdown import ACTION_TOOLS
from mcp_server.handlers.views import cards
from mcp_server.handlers.views.actions import named, next_actions
from mcp_server.handlers.views.cancellation import cancel_view
from mcp_server.handlers.views.money_back import NotRefunded, cancelled_read, money_back_read, refunds_left
from mcp_server.handlers.views.tables import LineRow, line_rows, payment_rows
from mcp_server.models.customers import Customer
from mcp_server.models.orders import Order, OrderAction, OrderLine
from mcp_server.models.payments import Payment
from mcp_server.services.cancellation import Cancellation, PaymentStillPending
from mcp_server.services.card_booking import Settled
from mcp_server.services.payments import CardNotCharged, Recorded

AT = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ORDER = Order(
    id="ord_1",
    customer_id="cus_1",
    status="placed",
    currency="EUR",
    total_minor=2500,
    paid_minor=0,
    refunded_minor=0,
    units=2,
    lines=(),
    shipping_address=None,
    carrier=None,
    tracking_number=None,
    placed_at=AT,
    updated_at=AT,
)
ADA = Customer("cus_1", "Ada", "ada@example.com", None, None, AT, AT)
CARD = Payment("pay_1", "payment", "ord_1", 2500, "EUR", "card", "pending", AT, reference="pm_card_visa")


# -- next actions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("names", [ACTION_TOOLS, ACTION_COMMANDS], ids=["tools", "commands"])
def test_every_door_names_every_action_of_the_order(names: dict[OrderAction, str]) -> None:
    assert set(names) == set(get_args(OrderAction))


def test_next_actions_are_what_the_order_allows_named_in_its_order() -> None:
    assert next_actions(ORDER) == ORDER.allowed == ("pay", "cancel")
    assert named(next_actions(ORDER), ACTION_TOOLS) == ["payments_record", "orders_cancel"]
    assert named(next_actions(ORDER), ACTION_COMMANDS) == ["payments record", "orders cancel"]


def test_an_id_a_door_has_no_name_for_is_left_out() -> None:
    assert named(("ship", "settle_by_hand"), ACTION_TOOLS) == ["orders_mark_shipped"]


# -- the cancel preview ----------------------------------------------------------------------------


def test_a_cancel_preview_with_money_going_back_names_the_customer_stock_and_refund() -> None:
    view = cancel_view(Cancellation(replace(ORDER, status="paid", paid_minor=2500), ADA, 2500, 2))

    assert view.describe() == (
        "Cancel order ord_1 of Ada <ada@example.com>: 2 unit(s) go back into stock and 25.00 EUR is refunded."
    )
    assert view.question() == (
        "Cancel order ord_1 of Ada <ada@example.com>? 2 unit(s) go back into stock and 25.00 EUR is refunded to "
        "the customer."
    )
    assert view.refunded == "25.00 EUR"


def test_a_cancel_preview_of_an_unpaid_order_of_a_deleted_customer_names_the_id() -> None:
    view = cancel_view(Cancellation(ORDER, None, 0, 2))

    assert view.describe() == (
        "Cancel order ord_1 of cus_1: 2 unit(s) go back into stock; nothing was paid, so nothing is refunded."
    )
    assert view.refunded == "nothing (nothing was paid)"


# -- card outcomes ---------------------------------------------------------------------------------


def test_a_card_payment_only_a_person_can_settle_names_the_command_once() -> None:
    view = cards.not_charged(CardNotCharged(CARD, ORDER, "look it up", needs_person=True))

    command = 'shopkeeper payments settle pay_1 --note "…" --succeeded --gateway-reference pi_… | --failed'
    assert view.state == "needs_person"
    assert view.settle == command
    assert view.reason == f"look it up, then run `{command}`"
    assert (view.money, view.owed) == ("25.00 EUR", "25.00 EUR")


def test_a_card_payment_still_pending_or_failed_carries_the_reason_as_it_is() -> None:
    pending = cards.not_charged(CardNotCharged(CARD, ORDER, "no answer"))
    failed = cards.not_charged(CardNotCharged(replace(CARD, status="failed"), ORDER, "card declined", resumed=True))

    assert (pending.state, pending.reason, pending.settle) == ("pending", "no answer", None)
    assert (failed.state, failed.reason, failed.settle, failed.resumed) == ("failed", "card declined", None, True)


def test_a_refund_left_for_a_person_is_settled_with_the_refunds_gateway_id() -> None:
    refund = replace(CARD, id="ref_1", kind="refund", payment_id="pay_1")

    assert "--gateway-reference re_…" in cards.stuck(Settled(refund, ORDER, "why", needs_person=True))
    assert cards.stuck(Settled(refund, ORDER, "why")) == "why"


@pytest.mark.parametrize(
    ("recorded", "state"),
    [
        (Recorded(replace(CARD, status="succeeded"), ORDER, replayed=True), "replayed"),
        (Recorded(replace(CARD, status="succeeded"), ORDER, resumed=True), "resumed"),
        (Recorded(replace(CARD, status="succeeded"), ORDER), "card"),
        (Recorded(replace(CARD, method="cash", reference=None, status="succeeded"), ORDER), "manual"),
    ],
)
def test_a_recorded_payment_says_which_of_the_four_it_was(recorded: Recorded, state: str) -> None:
    view = cards.charged(recorded)

    assert view.state == state
    assert view.money == "25.00 EUR"
    assert view.card == (recorded.payment.reference or "")


def test_an_order_blocked_by_a_payment_only_a_person_can_settle_says_how_twice() -> None:
    blocked = PaymentStillPending.of(Settled(CARD, ORDER, "look it up", needs_person=True))

    assert "payments settle" not in blocked.message  # the service's words name no door
    text = cards.still_pending(blocked)
    assert text.startswith("card payment pay_1 of order ord_1 is still pending at the payment gateway (look it up, ")
    assert text.endswith("nothing was changed: a person must settle it first (shopkeeper payments settle pay_1)")


def test_an_order_blocked_by_a_payment_the_gateway_has_not_answered_says_try_again() -> None:
    blocked = PaymentStillPending.of(Settled(CARD, ORDER))

    assert cards.still_pending(blocked) == (
        "card payment pay_1 of order ord_1 is still pending at the payment gateway (no answer yet), so the order "
        "cannot be cancelled yet; nothing was changed: try again in a minute"
    )


# -- table rows ------------------------------------------------------------------------------------


def test_a_refund_row_shows_a_negative_amount_and_its_reason_a_payment_its_reference() -> None:
    paid = replace(CARD, status="succeeded", refunded_minor=500)
    refund = Payment("ref_1", "refund", "ord_1", 500, "EUR", "card", "succeeded", AT, "pay_1", None, "broke", True)

    payment_row, refund_row = payment_rows([paid, refund])

    assert (payment_row.amount, payment_row.note, payment_row.refunded) == ("25.00 EUR", "pm_card_visa", "5.00 EUR")
    assert (refund_row.amount, refund_row.note, refund_row.refunded) == ("-5.00 EUR", "broke", None)
    assert (refund_row.refund_of, refund_row.restock) == ("pay_1", True)


def test_a_failed_row_shows_why_it_failed_instead_of_its_reference() -> None:
    (row,) = payment_rows([replace(CARD, status="failed", reason="card declined")])

    assert row.note == "card declined"


def test_a_line_row_carries_its_prices_as_money() -> None:
    line = OrderLine(1, "prd_1", "MUG-01", "Mug", 2, 1250)

    assert line_rows([line], "EUR") == [LineRow(1, "MUG-01", "Mug", 2, "12.50 EUR", "25.00 EUR", 0, 1250, 2500)]


# -- money going back ------------------------------------------------------------------------------

REFUND = Payment("ref_1", "refund", "ord_1", 500, "EUR", "card", "pending", AT, "pay_1")


def test_refunds_left_names_the_pending_money_and_each_refused_refund() -> None:
    refused = replace(REFUND, id="ref_2", status="failed", reason="expired card")
    done = replace(REFUND, id="ref_3", status="succeeded")

    left = refunds_left([REFUND, refused, done])

    assert left
    assert (left.pending, left.pending_ids) == ("5.00 EUR", ("ref_1",))
    assert left.refused == (NotRefunded("5.00 EUR", "ref_2", "expired card"),)
    assert not refunds_left([done])


@pytest.mark.parametrize(
    ("done", "replayed", "refunds", "outcome"),
    [
        (False, False, (), "approval_required"),
        (True, False, (), "done"),
        (True, True, (), "replayed"),
        (True, True, (REFUND,), "pending"),
        (True, False, (replace(REFUND, status="failed"),), "refused"),
    ],
)
def test_the_money_back_outcome_says_first_what_the_gateway_has_not_done(
    done: bool, replayed: bool, refunds: tuple[Payment, ...], outcome: str
) -> None:
    read = money_back_read(
        done=done, replayed=replayed, order=ORDER, amount_minor=500, restocked_units=0, refunds=refunds, preview="p"
    )

    assert read.outcome == outcome
    assert read.approval_id is None  # a door that made an approval request adds its id


def test_a_cancel_read_carries_the_one_preview_sentence_both_doors_show() -> None:
    cancellation = Cancellation(replace(ORDER, status="paid", paid_minor=2500), ADA, 2500, 2)

    read = cancelled_read(cancellation, done=False)

    assert read.preview == cancel_view(cancellation).describe()
    assert (read.outcome, read.amount_minor, read.restocked_units) == ("approval_required", 2500, 2)
