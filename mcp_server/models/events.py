"""Domain events: what happened, in the domain's words, raised by the use case that made it happen.

Each change the shop makes raises exactly one event into its unit of work; at commit, one table
of handlers (``services.event_handlers``) turns each into its audit entry and, where the customer
is told, its e-mail, in the same transaction. An event carries what those two need, nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mcp_server.models.access import AccessToken
from mcp_server.models.approvals import ApprovalRequest, Approver
from mcp_server.models.audit import JsonScalar
from mcp_server.models.catalog import Product
from mcp_server.models.customers import Customer
from mcp_server.models.orders import Order
from mcp_server.models.outbox import OutboxMessage
from mcp_server.models.payments import Payment

Details = Mapping[str, JsonScalar]


@dataclass(frozen=True, slots=True)
class CustomerRegistered:
    actor: str
    customer: Customer


@dataclass(frozen=True, slots=True)
class CustomerUpdated:
    actor: str
    before: Customer
    after: Customer
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProductCreated:
    actor: str
    product: Product


@dataclass(frozen=True, slots=True)
class ProductUpdated:
    actor: str
    before: Product
    after: Product
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StockAdjusted:
    actor: str
    product_id: str
    before_stock: int
    after_stock: int
    reason: str
    note: str | None


@dataclass(frozen=True, slots=True)
class NotificationRequeued:
    """A failed e-mail put back in the queue (``message`` as it was before)."""

    actor: str
    message: OutboxMessage


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    actor: str
    order: Order
    customer: Customer


@dataclass(frozen=True, slots=True)
class OrderShipped:
    actor: str
    before: Order
    order: Order
    customer: Customer | None


@dataclass(frozen=True, slots=True)
class OrderDelivered:
    actor: str
    before: Order
    order: Order


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """Cancelled: stock back, and ``refunds`` made (card ones still pending at the gateway)."""

    actor: str
    before: Order
    order: Order
    restocked_units: int
    refunds: tuple[Payment, ...]
    reason: str | None
    customer: Customer | None


@dataclass(frozen=True, slots=True)
class PaymentStarted:
    """A card payment written pending, before the gateway is asked to charge it."""

    actor: str
    order: Order
    payment: Payment


@dataclass(frozen=True, slots=True)
class PaymentRecorded:
    """A payment that succeeded counted on its order (``details``: e.g. that a person settled it)."""

    actor: str
    before: Order
    order: Order
    payment: Payment
    details: Details = field(default_factory=dict[str, JsonScalar])


@dataclass(frozen=True, slots=True)
class PaymentRefunded:
    """A refund of ``amount_minor``, all of it given back at once."""

    actor: str
    before: Order
    order: Order
    refunds: tuple[Payment, ...]
    amount_minor: int
    reason: str
    restocked_units: int
    customer: Customer | None


@dataclass(frozen=True, slots=True)
class RefundStarted:
    """A refund of ``amount_minor`` whose card part is pending at the gateway."""

    actor: str
    before: Order
    order: Order
    refunds: tuple[Payment, ...]
    amount_minor: int
    reason: str
    restocked_units: int
    customer: Customer | None


@dataclass(frozen=True, slots=True)
class CardRefunded:
    """A pending card refund the gateway (or a person reading its dashboard) says was made."""

    actor: str
    before: Order
    order: Order
    refund: Payment
    customer: Customer | None
    details: Details = field(default_factory=dict[str, JsonScalar])


@dataclass(frozen=True, slots=True)
class PaymentFailed:
    """A pending card payment that did not go through (``note`` says why)."""

    actor: str
    order: Order
    payment: Payment
    note: str
    details: Details = field(default_factory=dict[str, JsonScalar])


@dataclass(frozen=True, slots=True)
class RefundFailed:
    """A pending card refund that was not made (``note`` says why); its money is free again."""

    actor: str
    order: Order
    refund: Payment
    note: str
    details: Details = field(default_factory=dict[str, JsonScalar])


@dataclass(frozen=True, slots=True)
class ApproverAdded:
    actor: str
    approver: Approver


@dataclass(frozen=True, slots=True)
class ApproverRemoved:
    actor: str
    name: str


@dataclass(frozen=True, slots=True)
class ApprovalRequested:
    """A call that needs a person was turned into an approval request (``actor`` asked)."""

    actor: str
    request: ApprovalRequest


@dataclass(frozen=True, slots=True)
class ApprovalDecided:
    """A person (``actor`` is ``person:NAME``) approved or denied a request (``after`` says which)."""

    actor: str
    before: ApprovalRequest
    after: ApprovalRequest


@dataclass(frozen=True, slots=True)
class TokenCreated:
    """An access token was issued (its secret is not here: it was shown once and is kept nowhere)."""

    actor: str
    token: AccessToken


@dataclass(frozen=True, slots=True)
class TokenRevoked:
    actor: str
    token: AccessToken  # as it is now, revoked


Event = (
    CustomerRegistered
    | CustomerUpdated
    | ProductCreated
    | ProductUpdated
    | StockAdjusted
    | NotificationRequeued
    | OrderPlaced
    | OrderShipped
    | OrderDelivered
    | OrderCancelled
    | PaymentStarted
    | PaymentRecorded
    | PaymentRefunded
    | RefundStarted
    | CardRefunded
    | PaymentFailed
    | RefundFailed
    | ApproverAdded
    | ApproverRemoved
    | ApprovalRequested
    | ApprovalDecided
    | TokenCreated
    | TokenRevoked
)
