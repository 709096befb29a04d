"""Next actions as use-case ids (the Order's verbs), named by each door through its own table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mcp_server.models.orders import Order, OrderAction

ActionNames = Mapping[OrderAction, str]  # one per door: use case -> tool name or command


def next_actions(order: Order) -> tuple[OrderAction, ...]:
    """What the Order's state machine allows next, as use-case ids."""
    return order.allowed


def named(actions: Iterable[str], names: ActionNames) -> list[str]:
    """Each action this door has a name for, by that name, in order (unknown ids are left out)."""
    return [names[action] for action in actions if action in names]  # pyright: ignore[reportArgumentType]
