"""A cancellation, previewed or done: written once, shown by each door."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcp_server.models.payments import Payment, refunds_in_words
from mcp_server.utils.money import format_money

if TYPE_CHECKING:
    from mcp_server.services.cancellation import Cancellation


@dataclass(frozen=True, slots=True)
class CancelView:
    """Who the order is for, what goes back to stock and what goes back to the customer."""

    order_id: str
    customer_id: str
    customer_name: str | None
    customer_email: str | None
    restocked_units: int
    refund_minor: int
    refund: str  # refund_minor as money
    refunded: str  # what was (or will be) refunded, in words, card refunds' state included
    refunds: tuple[Payment, ...]

    @property
    def who(self) -> str:
        """The customer as plain text: ``name <email>``, or their id when the record is gone."""
        return f"{self.customer_name} <{self.customer_email}>" if self.customer_name is not None else self.customer_id

    def describe(self) -> str:
        """One sentence a person can say yes or no to (also the structured ``preview``)."""
        return f"Cancel order {self.order_id} of {self.who}: {self.restocked_units} unit(s) go back into stock" + (
            f" and {self.refund} is refunded." if self.refund_minor else "; nothing was paid, so nothing is refunded."
        )

    def question(self) -> str:
        """The question a client that can ask the person shows (only when money goes back)."""
        return (
            f"Cancel order {self.order_id} of {self.who}? {self.restocked_units} unit(s) go back into stock and "
            f"{self.refund} is refunded to the customer."
        )


def cancel_view(c: Cancellation) -> CancelView:
    order, customer = c.order, c.customer
    return CancelView(
        order_id=order.id,
        customer_id=order.customer_id,
        customer_name=customer.name if customer else None,
        customer_email=customer.email if customer else None,
        restocked_units=c.restocked_units,
        refund_minor=c.refund_minor,
        refund=format_money(c.refund_minor, order.currency),
        refunded=refunds_in_words(c.refunds, c.refund_minor, order.currency),
        refunds=c.refunds,
    )
