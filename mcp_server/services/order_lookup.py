"""Finding the order a use case names: its id checked, the order loaded, the action allowed."""

from __future__ import annotations

from mcp_server.models.orders import ORDER_ID_PREFIX, Order, OrderAction
from mcp_server.services.ports import UnitOfWork
from mcp_server.services.results import IllegalTransition, Malformed, NotFound, Rejected
from mcp_server.utils.ids import canonical_id


async def load_order(
    uow: UnitOfWork, order_id: str, action: OrderAction
) -> Order | NotFound | Rejected | IllegalTransition:
    """The order ``order_id`` names, if it may ``action`` in its status."""
    canonical = canonical_id(order_id, ORDER_ID_PREFIX)
    if canonical is None:
        return not_an_order_id(order_id)
    order = await uow.orders.get(canonical)
    if order is None:
        return NotFound("order", f"id {canonical}")
    if not order.may(action):
        return IllegalTransition(order.id, order.status, action, order.allowed)
    return order


def not_an_order_id(value: str) -> Malformed:
    return Malformed(
        f"'{value[:80]}' is not an order id (order ids are ord_ followed by 26 letters and digits)", field="order_id"
    )
