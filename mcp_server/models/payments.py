"""Money in and out of an order: payments and refunds, in one ledger.

A payment row records money received (``kind="payment"``); a refund row records money
returned against one payment (``kind="refund"``, ``payment_id`` set). Manual payments and
refunds are ``succeeded`` when recorded. Card payments and card refunds go through a payment
gateway: their row is written ``pending`` before the gateway is called (the row's id is the
gateway's idempotency key), and becomes ``succeeded`` or ``failed`` when the gateway answers.
A card payment's ``reference`` is the saved payment method it charges (``pm_…``), its
``gateway_reference`` the gateway's id (``pi_…`` or ``re_…``), and ``reason`` why it failed.
While one request asks the gateway about a pending card row it holds the row's lease
(``claimed_by`` until ``lease_until``), so no other request sends the same one meanwhile.
A row that asking again left pending rests until ``next_attempt_at`` before the background settler
asks again (``attempts`` times so far), the same for every process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from mcp_server.models.common import DEFAULT_LIMIT, Cursor, Day, Limit, not_a_bool
from mcp_server.models.orders import EntityRef, Reason
from mcp_server.utils.money import MAX_MINOR_UNITS, format_money
from mcp_server.utils.text import clean_line

PAYMENT_ID_PREFIX = "pay"
REFUND_ID_PREFIX = "ref"
LEASE_ID_PREFIX = "lse"  # the token of one request's lease on a pending card row

PaymentKind = Literal["payment", "refund"]
PaymentMethod = Literal["cash", "bank_transfer", "other", "card"]
ManualMethod = Literal["cash", "bank_transfer", "other"]
PaymentStatus = Literal["pending", "succeeded", "failed"]

Amount = Annotated[int, Field(ge=1, le=MAX_MINOR_UNITS), BeforeValidator(not_a_bool)]
Reference = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(clean_line)
]
SavedPaymentMethod = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^pm_[A-Za-z0-9_]{1,100}$")]
"""A payment method saved at the gateway (``pm_card_visa``); the shop never sees card numbers."""


class PaymentCreate(BaseModel):
    """Money for an order: recorded by hand (cash, bank transfer, other) or charged to a saved card.

    ``amount`` defaults to what is still to pay on the order.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: EntityRef
    amount: Amount | None = None
    method: PaymentMethod
    payment_method: SavedPaymentMethod | None = Field(default=None, validate_default=True)
    reference: Reference | None = None

    @field_validator("payment_method")
    @classmethod
    def _only_for_cards(cls, value: str | None, info: ValidationInfo) -> str | None:
        method = info.data.get("method")
        if method == "card" and value is None:
            raise ValueError("a card payment needs payment_method, the customer's saved card at the gateway (pm_…)")
        if method not in (None, "card") and value is not None:
            raise ValueError("payment_method is only for method=card")
        return value

    @field_validator("reference")
    @classmethod
    def _only_for_manual(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("method") == "card" and value is not None:
            raise ValueError("reference is for manual payments; a card payment is identified by the gateway")
        return value


class RefundCreate(BaseModel):
    """A refund of an order (spread over its payments, newest first) or of one payment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: EntityRef | None = None
    payment_id: EntityRef | None = None
    amount: Amount
    reason: Reason
    restock: bool = False


GatewayReference = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^(pi|re|pyr)_[A-Za-z0-9_]{1,100}$")
]
"""The gateway's id of a payment intent (``pi_…``) or of a refund (``re_…``, ``pyr_…``)."""


class PaymentSettle(BaseModel):
    """A person's word on a card payment or card refund left pending (``pay_…`` or ``ref_…``), read
    in the payment gateway's dashboard: it ``succeeded`` (with the gateway's id) or ``failed``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    payment_id: EntityRef
    outcome: Literal["succeeded", "failed"]
    gateway_reference: GatewayReference | None = None
    note: Reason


class PaymentQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: EntityRef | None = None
    date_from: Day | None = None
    date_to: Day | None = None
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
    lease_until: datetime | None = None  # a pending card row: held by ``claimed_by`` until then
    claimed_by: str | None = None
    attempts: int = 0  # a pending card row: how often asking the gateway again left it pending
    next_attempt_at: datetime | None = None  # ... and when the background settler may ask again

    @property
    def refundable_minor(self) -> int:
        return self.amount_minor - self.refunded_minor if self.kind == "payment" and self.status == "succeeded" else 0


def refunds_in_words(refunds: Sequence[Payment], planned_minor: int, currency: str) -> str:
    """What went back to the customer, split when card refunds are not done: "12.50 EUR", or
    "0.00 EUR so far (12.50 EUR pending at the payment gateway)"."""
    if not planned_minor:
        return "nothing (nothing was paid)"
    pending = sum(r.amount_minor for r in refunds if r.status == "pending")
    refused = sum(r.amount_minor for r in refunds if r.status == "failed")
    if not refunds or not (pending or refused):
        return format_money(planned_minor, currency)
    made = sum(r.amount_minor for r in refunds if r.status == "succeeded")
    parts = [f"{format_money(pending, currency)} pending at the payment gateway"] if pending else []
    parts += [f"{format_money(refused, currency)} refused by the gateway and still owed"] if refused else []
    return f"{format_money(made, currency)} so far ({', '.join(parts)})"


def unfinished_refunds(refunds: Sequence[Payment]) -> Literal["pending", "refused"] | None:
    """``pending`` when a card refund awaits the gateway, ``refused`` when the gateway refused one."""
    if any(r.status == "pending" for r in refunds):
        return "pending"
    if any(r.status == "failed" for r in refunds):
        return "refused"
    return None


class PaymentRead(BaseModel):
    id: str  # pay_… for a payment, ref_… for a refund
    kind: PaymentKind
    order_id: str
    payment_id: str | None = Field(default=None, description="A refund's payment")
    amount_minor: int
    amount: str
    currency: str
    method: PaymentMethod
    status: PaymentStatus
    reference: str | None = None  # manual: the given reference; card: the pm_… charged
    reason: str | None = None  # a refund's reason, or why a card payment failed
    restock: bool = False
    refunded_minor: int = 0  # a payment's money refunded (or being refunded) so far
    gateway_reference: str | None = None  # the payment gateway's id (pi_…, re_…)
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
            gateway_reference=p.gateway_reference,
            created_at=p.created_at,
        )


class PaymentPageRead(BaseModel):
    payments: list[PaymentRead]
    next_cursor: str | None


class MoneyBackRead(BaseModel):
    """The outcome of a refund or cancel: done, or waiting for a person's approval."""

    outcome: Literal["done", "approval_required", "replayed", "pending", "refused"] = Field(
        description="approval_required: nothing done until a person approves approval_id; "
        "pending: a card refund awaits the gateway; refused: the gateway refused it"
    )
    order_id: str
    order_status: str
    amount_minor: int  # money that goes (or would go) back to the customer
    currency: str
    restocked_units: int
    refunds: list[PaymentRead]
    preview: str  # what happens, in words a person can approve
    approval_id: str | None = None  # the approval request; once approved, the same call repeats with it
    expires_at: datetime | None = None
    approval_url: str | None = None  # where the person approves it in a browser (with their passphrase)
