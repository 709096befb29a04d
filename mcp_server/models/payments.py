"""Money in and out of an order: payments and refunds, in one ledger.

A payment row records money received (``kind="payment"``); a refund row records money
returned against one payment (``kind="refund"``, ``payment_id`` set). Card payments
through a gateway (next issue) start ``pending`` and carry the gateway's reference; manual
ones are ``succeeded`` when recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from mcp_server.models.common import DEFAULT_LIMIT, Cursor, Limit, not_a_bool
from mcp_server.models.orders import EntityRef, Reason
from mcp_server.utils.money import MAX_MINOR_UNITS, format_money
from mcp_server.utils.text import clean_line

PAYMENT_ID_PREFIX = "pay"
REFUND_ID_PREFIX = "ref"

PaymentKind = Literal["payment", "refund"]
PaymentMethod = Literal["cash", "bank_transfer", "other", "card"]
ManualMethod = Literal["cash", "bank_transfer", "other"]
PaymentStatus = Literal["pending", "succeeded", "failed"]

Amount = Annotated[int, Field(ge=1, le=MAX_MINOR_UNITS), BeforeValidator(not_a_bool)]
Reference = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(clean_line)
]


class PaymentCreate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: EntityRef
    amount: Amount
    method: ManualMethod
    reference: Reference | None = None


class RefundCreate(BaseModel):
    """A refund of an order (spread over its payments, newest first) or of one payment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: EntityRef | None = None
    payment_id: EntityRef | None = None
    amount: Amount
    reason: Reason
    restock: bool = False


class PaymentQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: EntityRef | None = None
    date_from: date | None = None
    date_to: date | None = None
    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    kind: PaymentKind
    order_id: str
    amount_minor: int
    currency: str
    method: PaymentMethod
    status: PaymentStatus
    created_at: datetime
    payment_id: str | None = None  # a refund's payment
    reference: str | None = None
    reason: str | None = None
    restock: bool = False
    refunded_minor: int = 0  # a payment's refunds so far
    gateway_reference: str | None = None
    sequence: int = 0

    @property
    def refundable_minor(self) -> int:
        return self.amount_minor - self.refunded_minor if self.kind == "payment" and self.status == "succeeded" else 0


class PaymentRead(BaseModel):
    id: str = Field(description="pay_… for a payment, ref_… for a refund")
    kind: PaymentKind
    order_id: str
    payment_id: str | None = Field(default=None, description="For a refund: the payment it returns money from")
    amount_minor: int
    amount: str
    currency: str
    method: PaymentMethod
    status: PaymentStatus
    reference: str | None = None
    reason: str | None = None
    restock: bool = False
    refunded_minor: int = Field(default=0, description="For a payment: refunded from it so far")
    created_at: datetime

    @classmethod
    def from_record(cls, p: Payment) -> PaymentRead:
        return cls(
            id=p.id,
            kind=p.kind,
            order_id=p.order_id,
            payment_id=p.payment_id,
            amount_minor=p.amount_minor,
            amount=format_money(p.amount_minor, p.currency),
            currency=p.currency,
            method=p.method,
            status=p.status,
            reference=p.reference,
            reason=p.reason,
            restock=p.restock,
            refunded_minor=p.refunded_minor,
            created_at=p.created_at,
        )


class PaymentPageRead(BaseModel):
    payments: list[PaymentRead]
    next_cursor: str | None = Field(description="Pass as cursor to get the next page; null on the last page")


class MoneyBackRead(BaseModel):
    """The outcome of a refund or cancel: done, or waiting for a person's confirmation."""

    outcome: Literal["done", "confirmation_required", "replayed"]
    order_id: str
    order_status: str
    amount_minor: int = Field(description="Money that goes (or would go) back to the customer")
    currency: str
    restocked_units: int
    refunds: list[PaymentRead]
    preview: str = Field(description="What happens, in words a person can confirm")
    confirmation_token: str | None = Field(
        default=None, description="Repeat the same call with this to confirm (single use)"
    )
    expires_at: datetime | None = None
