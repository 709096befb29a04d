from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mcp_server.models.entities.base import Base, UTCDateTime
from mcp_server.models.outbox import OutboxMessage


class OutboxMessageEntity(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(254))
    subject_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @staticmethod
    def values_from_record(message: OutboxMessage) -> dict[str, Any]:
        """Column values for an INSERT."""
        return {
            "id": message.id,
            "kind": message.kind,
            "recipient": message.recipient,
            "subject_id": message.subject_id,
            "payload": dict(message.payload),
            "status": message.status,
            "attempts": message.attempts,
            "last_error": None,
            "created_at": message.created_at,
            "next_attempt_at": message.next_attempt_at,
            "sent_at": None,
        }
