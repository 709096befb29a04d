"""The order's status machine: one table, and the methods that move an order along it."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mcp_server import services
from mcp_server.models.orders import (
    ALLOWED_ACTIONS,
    ORDER_STATUSES,
    TRANSITIONS,
    IllegalMoveError,
    Order,
    OrderAction,
    OrderLine,
    OrderStatus,
)

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SERVICES = Path(services.__file__).parent


def an_order(total: int = 1000, status: OrderStatus = "placed", paid: int = 0, refunded: int = 0) -> Order:
    line = OrderLine(1, "prd_1", "sku-1", "Thing", 2, total // 2)
    order = Order.place(
        order_id="ord_1", customer_id="cus_1", currency="EUR", lines=(line,), shipping_address=None, at=AT
    )
    return replace(order, status=status, paid_minor=paid, refunded_minor=refunded)


def test_the_allowed_actions_are_the_transition_table() -> None:
    assert set(TRANSITIONS) == set(ORDER_STATUSES)
    assert {status: tuple(moves) for status, moves in TRANSITIONS.items()} == ALLOWED_ACTIONS


def test_placing_a_free_order_makes_it_paid_at_once() -> None:
    line = OrderLine(1, "prd_1", "sku-1", "Free", 1, 0)
    free = Order.place(
        order_id="ord_2", customer_id="cus_1", currency="EUR", lines=(line,), shipping_address=None, at=AT
    )
    assert (free.status, free.total_minor, free.units, free.line_count) == ("paid", 0, 1, 1)


def test_paid_in_full_moves_placed_to_paid_and_part_payments_do_not() -> None:
    part = an_order().pay(400, LATER)
    assert (part.status, part.paid_minor, part.updated_at) == ("placed", 400, LATER)
    assert part.pay(600, LATER).status == "paid"


def test_refunded_in_full_moves_to_refunded_but_a_cancelled_order_stays_cancelled() -> None:
    shipped = an_order(status="shipped", paid=1000)
    assert shipped.refund(999, LATER).status == "shipped"
    assert shipped.refund(999, LATER).refund(1, LATER).status == "refunded"
    cancelled = an_order(status="cancelled", paid=1000)
    assert cancelled.refund(1000, LATER).status == "cancelled"


@pytest.mark.parametrize("status", ORDER_STATUSES)
def test_ship_deliver_and_cancel_only_where_the_table_allows(status: OrderStatus) -> None:
    order = an_order(
        status=status, paid=1000 if status != "placed" else 0, refunded=1000 if status == "refunded" else 0
    )
    moves: dict[OrderAction, Callable[[], Order]] = {
        "ship": lambda: order.ship("DHL", "T1", LATER),
        "deliver": lambda: order.deliver(LATER),
        "cancel": lambda: order.cancel(0, LATER),
    }
    for action, move in moves.items():
        if action in TRANSITIONS[status]:
            assert move().status == TRANSITIONS[status][action]
        else:
            with pytest.raises(IllegalMoveError):
                move()


def test_a_cancelled_order_that_still_owes_money_may_be_refunded() -> None:
    assert an_order(status="cancelled", paid=1000, refunded=400).may("refund")
    assert not an_order(status="cancelled", paid=1000, refunded=1000).may("refund")


def test_no_service_sets_an_orders_status_or_money_itself() -> None:
    """Every status change of an order happens in models/orders.py: services call Order's methods."""
    not_orders = {"payment", "refund", "row", "message"}  # records with a status of their own
    offenders: list[str] = []
    for path in sorted(SERVICES.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            if node.func.id == "Order":
                offenders.append(f"{path.relative_to(SERVICES)}:{node.lineno} builds an Order")
            sets = {k.arg or "**" for k in node.keywords} & {"status", "paid_minor", "refunded_minor"}
            target = node.args[0] if node.args else None
            if node.func.id == "replace" and sets and not (isinstance(target, ast.Name) and target.id in not_orders):
                offenders.append(f"{path.relative_to(SERVICES)}:{node.lineno} sets {sorted(sets)}")
    assert offenders == []
