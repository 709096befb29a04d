"""SQLAlchemy ORM entities and their converters to domain records.

Only repositories and adapters import this package; services never do.
"""

from mcp_server.models.entities.audit import AuditEntryEntity
from mcp_server.models.entities.base import Base
from mcp_server.models.entities.catalog import ProductEntity
from mcp_server.models.entities.customers import CustomerEntity
from mcp_server.models.entities.orders import OrderEntity, OrderLineEntity
from mcp_server.models.entities.outbox import OutboxMessageEntity
from mcp_server.models.entities.payments import PaymentEntity
from mcp_server.models.entities.requests import (
    AccessTokenEntity,
    ApprovalRequestEntity,
    ApproverEntity,
    IdempotencyKeyEntity,
    WebhookEventEntity,
)

__all__ = [
    "AccessTokenEntity",
    "ApprovalRequestEntity",
    "ApproverEntity",
    "AuditEntryEntity",
    "Base",
    "CustomerEntity",
    "IdempotencyKeyEntity",
    "OrderEntity",
    "OrderLineEntity",
    "OutboxMessageEntity",
    "PaymentEntity",
    "ProductEntity",
    "WebhookEventEntity",
]
