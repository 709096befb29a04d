"""Bookkeeping about requests rather than the shop: idempotency keys and used confirmations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
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


class ServerSecretEntity(Base):
    """Keys the server signs with (e.g. confirmation tokens), shared by every process on the database."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UsedConfirmationEntity(Base):
    """Confirmation tokens already redeemed: a token works once."""

    __tablename__ = "used_confirmations"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime())
