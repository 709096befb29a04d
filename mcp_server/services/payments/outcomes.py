"""What the payment use cases answer: recorded, not charged, refund plans, settlements by hand, settle rounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mcp_server.models.customers import Customer
from mcp_server.models.orders import Order
from mcp_server.models.payments import Payment
from mcp_server.services.card_booking import Settled
from mcp_server.services.cards import KEY_LIFETIME
from mcp_server.utils.money import format_money


@dataclass(frozen=True, slots=True)
class Recorded:
    payment: Payment
    order: Order
    replayed: bool = False
    resumed: bool = False  # this call completed an earlier pending card payment instead of starting one


@dataclass(frozen=True, slots=True)
class CardNotCharged:
    """A card payment the gateway did not complete: failed (nothing charged) or still pending
    (unknown yet; resuming it later cannot charge twice). The order's paid amount is unchanged."""

    payment: Payment
    order: Order
    reason: str
    resumed: bool = False
    needs_person: bool = False  # pending, and asking the gateway again will not settle it

    @property
    def pending(self) -> bool:
        return self.payment.status == "pending"


@dataclass(frozen=True, slots=True)
class SettleRound:
    """What one background round of asking the gateway about pending card rows found."""

    succeeded: int = 0
    failed: int = 0
    pending: int = 0
    for_a_person: tuple[Settled, ...] = ()  # rows asking again will not settle: a person settles them by hand
    busy: int = 0  # left alone: another request was asking the gateway about them (not in ``pending``)

    @property
    def handled(self) -> int:
        return self.succeeded + self.failed


@dataclass(frozen=True, slots=True)
class RefundPlan:
    """A refund, previewed or done: which payments give back how much, and what goes back to stock."""

    order: Order
    customer: Customer | None
    amount_minor: int
    restock_units: int
    reason: str
    restock: bool
    refunds: tuple[Payment, ...] = ()
    replayed: bool = False
    refunded_before: int | None = None  # set once done: what had been refunded before this one

    @property
    def earlier_refunds(self) -> int:
        return self.order.refunded_minor if self.refunded_before is None else self.refunded_before

    def describe(self) -> str:
        """One sentence a person can say yes or no to."""
        who = f"{self.customer.name} <{self.customer.email}>" if self.customer else self.order.customer_id
        stock = (
            f"{self.restock_units} unit(s) go back into stock"
            if self.restock and self.restock_units
            else "nothing goes back into stock"
        )
        return (
            f"Refund {format_money(self.amount_minor, self.order.currency)} of order {self.order.id} "
            f"(total {format_money(self.order.total_minor, self.order.currency)}, "
            f"paid {format_money(self.order.paid_minor, self.order.currency)}, "
            f"already refunded {format_money(self.earlier_refunds, self.order.currency)}) "
            f"to {who}; reason: {self.reason}; {stock}."
        )


@dataclass(frozen=True, slots=True)
class HandSettlement:
    """A pending card payment or refund a person settles by hand: the preview, or (``done``) what was booked."""

    row: Payment  # pending in a preview; as settled once done
    order: Order
    outcome: Literal["succeeded", "failed"]
    gateway_reference: str | None
    note: str
    gateway_may_answer: bool = False  # young enough that the gateway could still settle it by itself
    done: bool = False

    def describe(self) -> str:
        """One sentence a person can say yes or no to."""
        row, order = self.row, self.order
        money = format_money(row.amount_minor, row.currency)
        what = "card payment" if row.kind == "payment" else "card refund"
        reference = f" (gateway reference {self.gateway_reference})" if self.gateway_reference else ""
        if row.kind == "payment" and self.outcome == "succeeded":
            effect = f"order {order.id} counts {money} more as paid"
        elif row.kind == "payment":
            effect = f"nothing is counted as paid, and order {order.id} can take another payment or be cancelled"
        elif self.outcome == "succeeded":
            mail = " and the customer gets an e-mail" if order.status != "cancelled" else ""
            effect = f"order {order.id} counts {money} more as refunded{mail}"
        else:
            effect = f"nothing is counted as refunded, and the {money} can be refunded again"
        warning = (
            f" It was sent to the gateway less than {int(KEY_LIFETIME.total_seconds() // 3600)} hours ago, so the "
            "gateway may still settle it by itself: be sure of what its dashboard shows."
            if self.gateway_may_answer
            else ""
        )
        return (
            f"Settle {what} {row.id} of {money} for order {order.id} (pending since "
            f"{row.created_at:%Y-%m-%d %H:%M} UTC) by hand as {self.outcome}{reference}: {effect}; "
            f"note: {self.note}.{warning}"
        )
