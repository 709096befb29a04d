"""Bookkeeping about requests rather than the shop: idempotency keys, and the people who approve
money going back with the requests waiting for them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mcp_server.models.entities.base import Base, UTCDateTime


class IdempotencyKeyEntity(Base):
    """A key a caller sent with a money-moving or stock-moving call, and what that call made."""

    __tablename__ = "idempotency_keys"

    tool: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    result_ids: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApproverEntity(Base):
    """A person who may approve money going back: only a slow hash of their passphrase is kept."""

    __tablename__ = "approvers"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    passphrase_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApprovalRequestEntity(Base):
    """A call that needs a person, waiting for (or given) their decision; used at most once."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'denied', 'used')", name="status"),
        Index("ix_approval_requests_status", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    use_case: Mapped[str] = mapped_column(String(40))
    arguments_digest: Mapped[str] = mapped_column(String(64))
    state_digest: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10))
    decided_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AccessTokenEntity(Base):
    """A token for the HTTP door: its name, scopes and a hash of its secret (never the secret)."""

    __tablename__ = "access_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookEventEntity(Base):
    """A payment gateway event the webhook door has taken: each id once, replays ignored."""

    __tablename__ = "webhook_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(200))
