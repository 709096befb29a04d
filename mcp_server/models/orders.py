"""Orders: what a customer bought, at which price, and where the order stands.

An order's status only moves along ``TRANSITIONS``, through ``Order``'s methods; every amount is in integer minor units
of the order's one currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from mcp_server.models.catalog import Sku
from mcp_server.models.common import DEFAULT_LIMIT, Cursor, Day, Limit, not_a_bool
from mcp_server.utils.money import format_money
from mcp_server.utils.text import clean_line

ORDER_ID_PREFIX = "ord"
MAX_LINES = 100
MAX_QUANTITY = 10_000

OrderStatus = Literal["placed", "paid", "shipped", "delivered", "cancelled", "refunded"]
ORDER_STATUSES: tuple[OrderStatus, ...] = ("placed", "paid", "shipped", "delivered", "cancelled", "refunded")

# The status machine: what can be done to an order in each status, and the status it leads to.
# The names are the domain's verbs; each door (MCP tools, CLI commands) maps them to its own
# commands. ``pay`` and ``refund`` lead on only once the money is in full (``Order.pay``/``refund``).
OrderAction = Literal["pay", "cancel", "ship", "deliver", "refund"]
TRANSITIONS: dict[OrderStatus, dict[OrderAction, OrderStatus]] = {
    "placed": {"pay": "paid", "cancel": "cancelled"},
    "paid": {"ship": "shipped", "cancel": "cancelled", "refund": "refunded"},
    "shipped": {"deliver": "delivered", "refund": "refunded"},
    "delivered": {"refund": "refunded"},
    "cancelled": {},
    "refunded": {},
}
ALLOWED_ACTIONS: dict[OrderStatus, tuple[OrderAction, ...]] = {
    status: tuple(moves) for status, moves in TRANSITIONS.items()
}


class IllegalMoveError(ValueError):
    """An order was asked to do what its status does not allow (services check ``Order.may`` first)."""


Line = Annotated[str, AfterValidator(clean_line)]
EntityRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), AfterValidator(clean_line)
]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY), BeforeValidator(not_a_bool)]
IdempotencyKey = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$"),
]
CountryCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$"),
]


def _short(max_length: int, *, min_length: int = 1) -> object:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


class OrderLineRequest(BaseModel):
    """One line as asked for: a product (by SKU or id, exactly one) and how many."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: Sku | None = None
    product_id: EntityRef | None = None
    quantity: Quantity


class ShippingAddress(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[Line, _short(200)]
    line1: Annotated[Line, _short(200)]
    line2: Annotated[Line, _short(200)] | None = None
    postal_code: Annotated[Line, _short(20)]
    city: Annotated[Line, _short(100)]
    country: Annotated[CountryCode, Field(description="ISO 3166 code, e.g. DE")]

    def record(self) -> Address:
        return Address(self.name, self.line1, self.line2, self.postal_code, self.city, self.country)


@dataclass(frozen=True, slots=True)
class Address:
    """Where an order ships to, as stored (checked once, on the way in, by ShippingAddress)."""

    name: str
    line1: str
    line2: str | None
    postal_code: str
    city: str
    country: str

    def one_line(self) -> str:
        parts = [self.name, self.line1, self.line2, f"{self.postal_code} {self.city}", self.country]
        return ", ".join(part for part in parts if part)


class OrderCreate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: EntityRef
    lines: Annotated[list[OrderLineRequest], Field(min_length=1, max_length=MAX_LINES)]
    shipping_address: ShippingAddress | None = None


class Shipment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    carrier: Annotated[Line, _short(100)]
    tracking_number: Annotated[Line, _short(100)]


class OrderCancel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: EntityRef
    reason: Reason | None = None


class OrderQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: OrderStatus | None = None
    customer_id: EntityRef | None = None
    placed_from: Day | None = None
    placed_to: Day | None = None
    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_no: int
    product_id: str
    sku: str
    name: str
    quantity: int
    unit_price_minor: int
    restocked: int = 0

    @property
    def total_minor(self) -> int:
        return self.quantity * self.unit_price_minor


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    customer_id: str
    status: OrderStatus
    currency: str
    total_minor: int
    paid_minor: int
    refunded_minor: int
    units: int
    lines: tuple[OrderLine, ...]
    shipping_address: Address | None
    carrier: str | None
    tracking_number: str | None
    placed_at: datetime
    updated_at: datetime
    line_count: int = 0

    @property
    def outstanding_minor(self) -> int:
        """What is still to be paid before the order counts as paid."""
        return max(self.total_minor - self.paid_minor, 0) if self.status == "placed" else 0

    @property
    def refundable_minor(self) -> int:
        return self.paid_minor - self.refunded_minor

    @property
    def allowed(self) -> tuple[OrderAction, ...]:
        if self.status == "cancelled" and self.paid_minor > self.refunded_minor:
            return ("refund",)  # a card refund of the cancellation is pending or was refused: money is owed
        return ALLOWED_ACTIONS[self.status]

    def may(self, action: OrderAction) -> bool:
        return action in self.allowed

    # -- the status machine: every status change of an order happens in these methods --------

    @classmethod
    def place(
        cls,
        *,
        order_id: str,
        customer_id: str,
        currency: str,
        lines: tuple[OrderLine, ...],
        shipping_address: Address | None,
        at: datetime,
    ) -> Order:
        """A new order; one that costs nothing is paid in full at once."""
        total = sum(line.total_minor for line in lines)
        return cls(
            id=order_id,
            customer_id=customer_id,
            status=TRANSITIONS["placed"]["pay"] if total == 0 else "placed",
            currency=currency,
            total_minor=total,
            paid_minor=0,
            refunded_minor=0,
            units=sum(line.quantity for line in lines),
            lines=lines,
            shipping_address=shipping_address,
            carrier=None,
            tracking_number=None,
            placed_at=at,
            updated_at=at,
            line_count=len(lines),
        )

    def pay(self, amount_minor: int, at: datetime) -> Order:
        """Count money received; paid in full, a placed order is paid. Money a card gateway took is
        counted whatever the status (services check ``may("pay")`` before taking a new payment)."""
        paid = self.paid_minor + amount_minor
        status = TRANSITIONS["placed"]["pay"] if self.status == "placed" and paid >= self.total_minor else self.status
        return replace(self, paid_minor=paid, status=status, updated_at=at)

    def refund(self, amount_minor: int, at: datetime) -> Order:
        """Count money given back; refunded in full, the order is refunded (a cancelled one stays
        cancelled). Like ``pay``, money the gateway gave back is counted whatever the status."""
        refunded = self.refunded_minor + amount_minor
        status = self.status
        if status in ("paid", "shipped", "delivered") and refunded >= self.paid_minor:
            status = TRANSITIONS[status]["refund"]
        return replace(self, refunded_minor=refunded, status=status, updated_at=at)

    def ship(self, carrier: str, tracking_number: str, at: datetime) -> Order:
        return replace(
            self,
            status=self._next("ship"),
            carrier=carrier,
            tracking_number=tracking_number,
            updated_at=at,
        )

    def deliver(self, at: datetime) -> Order:
        return replace(self, status=self._next("deliver"), updated_at=at)

    def cancel(self, returned_minor: int, at: datetime) -> Order:
        """Cancelled, with ``returned_minor`` given back at once (card refunds count once the gateway made them)."""
        return replace(
            self, status=self._next("cancel"), refunded_minor=self.refunded_minor + returned_minor, updated_at=at
        )

    def restocked(self) -> Order:
        """Every unit of every line counted as back in stock."""
        return replace(self, lines=tuple(replace(line, restocked=line.quantity) for line in self.lines))

    def _next(self, action: OrderAction) -> OrderStatus:
        moves = TRANSITIONS[self.status]
        if action not in moves:
            raise IllegalMoveError(f"order {self.id} is {self.status}: it cannot {action}")
        return moves[action]

    def audit_state(self) -> dict[str, str | int | None]:
        """What every audit entry about this order records after the change."""
        return {
            "status": self.status,
            "total_minor": self.total_minor,
            "paid_minor": self.paid_minor,
            "refunded_minor": self.refunded_minor,
            "currency": self.currency,
        }


@dataclass(frozen=True, slots=True)
class LineProblem:
    """Why one requested line cannot be ordered (``line`` counts from 1, as the caller sent them)."""

    line: int
    label: str
    problem: str

    def describe(self) -> str:
        return f"line {self.line} ({self.label}): {self.problem}" if self.line else self.problem


class OrderLineRead(BaseModel):
    line_no: int
    product_id: str
    sku: str
    name: str
    quantity: int
    unit_price_minor: int
    line_total_minor: int
    restocked: int  # units of this line a cancel or refund put back into stock

    @classmethod
    def from_record(cls, line: OrderLine) -> OrderLineRead:
        # Trusted values from a record: built without validation (the SDK checks the output once).
        return cls.model_construct(
            line_no=line.line_no,
            product_id=line.product_id,
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            unit_price_minor=line.unit_price_minor,
            line_total_minor=line.total_minor,
            restocked=line.restocked,
        )


class ShippingAddressRead(BaseModel):
    """Output only: plain fields, so answering does not re-run the input checks on every row."""

    name: str
    line1: str
    line2: str | None = None
    postal_code: str
    city: str
    country: str

    @classmethod
    def of(cls, a: Address) -> ShippingAddressRead:
        return cls.model_construct(
            name=a.name, line1=a.line1, line2=a.line2, postal_code=a.postal_code, city=a.city, country=a.country
        )


class OrderRead(BaseModel):
    id: str
    customer_id: str
    status: OrderStatus
    currency: str
    total_minor: int
    total: str  # for people, e.g. '25.00 EUR'
    paid_minor: int
    refunded_minor: int
    outstanding_minor: int  # still to pay before the order counts as paid
    units: int
    line_count: int
    lines: list[OrderLineRead]
    shipping_address: ShippingAddressRead | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    placed_at: datetime
    updated_at: datetime
    next_actions: list[str]  # tools that can move this order on from its status

    @classmethod
    def from_record(cls, order: Order, next_actions: list[str]) -> OrderRead:
        # Trusted values from a record: built without validation (the SDK checks the output once).
        return cls.model_construct(
            id=order.id,
            customer_id=order.customer_id,
            status=order.status,
            currency=order.currency,
            total_minor=order.total_minor,
            total=format_money(order.total_minor, order.currency),
            paid_minor=order.paid_minor,
            refunded_minor=order.refunded_minor,
            outstanding_minor=order.outstanding_minor,
            units=order.units,
            line_count=order.line_count or len(order.lines),
            lines=[OrderLineRead.from_record(line) for line in order.lines],
            shipping_address=ShippingAddressRead.of(order.shipping_address) if order.shipping_address else None,
            carrier=order.carrier,
            tracking_number=order.tracking_number,
            placed_at=order.placed_at,
            updated_at=order.updated_at,
            next_actions=next_actions,
        )


class OrderSummaryRead(BaseModel):
    """An order in a list: the money and the status; orders_get has lines, address and shipment."""

    id: str
    customer_id: str
    customer_name: str
    status: OrderStatus
    currency: str
    total_minor: int
    total: str
    paid_minor: int
    refunded_minor: int
    outstanding_minor: int
    units: int
    line_count: int
    placed_at: datetime
    next_actions: list[str]

    @staticmethod
    def json_of(order: Order, next_actions: list[str], customer_name: str) -> dict[str, object]:
        """This model's JSON for ``order``, built directly: a page of them is the hot path of
        orders_list, and building models only to dump them again costs ~15 µs a row."""
        return _summary_json(order, next_actions, customer_name)


def _summary_json(order: Order, next_actions: list[str], customer_name: str | None) -> dict[str, object]:
    """An order's JSON without lines; ``customer_name`` follows the customer's id when given."""
    named = {"customer_name": customer_name} if customer_name is not None else {}
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        **named,
        "status": order.status,
        "currency": order.currency,
        "total_minor": order.total_minor,
        "total": format_money(order.total_minor, order.currency),
        "paid_minor": order.paid_minor,
        "refunded_minor": order.refunded_minor,
        "outstanding_minor": order.outstanding_minor,
        "units": order.units,
        "line_count": order.line_count or len(order.lines),
        "placed_at": order.placed_at.isoformat().replace("+00:00", "Z"),
        "next_actions": next_actions,
    }


def order_json(order: Order, next_actions: list[str]) -> dict[str, object]:
    """OrderRead's JSON for ``order``, built directly (orders_get's hot path; see OrderSummaryRead.json_of)."""
    address = order.shipping_address
    return _summary_json(order, next_actions, None) | {
        "lines": [
            {
                "line_no": line.line_no,
                "product_id": line.product_id,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price_minor": line.unit_price_minor,
                "line_total_minor": line.total_minor,
                "restocked": line.restocked,
            }
            for line in order.lines
        ],
        "shipping_address": None
        if address is None
        else {
            "name": address.name,
            "line1": address.line1,
            "line2": address.line2,
            "postal_code": address.postal_code,
            "city": address.city,
            "country": address.country,
        },
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "updated_at": order.updated_at.isoformat().replace("+00:00", "Z"),
    }


class OrderPageRead(BaseModel):
    orders: list[OrderSummaryRead]
    next_cursor: str | None


class PlaceOrderRead(BaseModel):
    dry_run: bool
    replayed: bool  # true: the idempotency_key's first order, nothing new placed
    can_place: bool
    problems: list[str]
    customer_id: str
    currency: str | None
    total_minor: int
    lines: list[OrderLineRead]
    order: OrderRead | None  # null for a dry run

    @classmethod
    def dry_run_of(
        cls, customer_id: str, currency: str | None, total_minor: int, lines: Sequence[OrderLine], problems: list[str]
    ) -> PlaceOrderRead:
        """A priced order that was not placed (``dry_run``)."""
        return cls(
            dry_run=True,
            replayed=False,
            can_place=not problems,
            problems=problems,
            customer_id=customer_id,
            currency=currency,
            total_minor=total_minor,
            lines=[OrderLineRead.from_record(line) for line in lines],
            order=None,
        )

    @classmethod
    def placed(cls, order: Order, next_actions: list[str], *, replayed: bool) -> PlaceOrderRead:
        return cls(
            dry_run=False,
            replayed=replayed,
            can_place=True,
            problems=[],
            customer_id=order.customer_id,
            currency=order.currency,
            total_minor=order.total_minor,
            lines=[OrderLineRead.from_record(line) for line in order.lines],
            order=OrderRead.from_record(order, next_actions),
        )
