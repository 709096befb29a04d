from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mcp_server.models.entities.base import Base, UTCDateTime, json_from_db, utc_from_db
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
    claimed_by: Mapped[str | None] = mapped_column(String(40))

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
            "last_error": message.last_error,
            "created_at": message.created_at,
            "next_attempt_at": message.next_attempt_at,
            "sent_at": message.sent_at,
            "claimed_by": message.claimed_by,
        }

    @staticmethod
    def record_from_row(row: Sequence[Any]) -> OutboxMessage:
        """A row selected with ``select(*OutboxMessageEntity.__table__.c)``, in column order."""
        id_, kind, recipient, subject_id, payload, status, attempts, last_error, created, next_at, sent_at, claim = row
        data: dict[str, Any] = json_from_db(payload) or {}
        return OutboxMessage(
            id=id_,
            kind=kind,
            recipient=recipient,
            subject_id=subject_id,
            payload={str(key): str(value) for key, value in data.items()},
            status=status,
            attempts=int(attempts),
            created_at=utc_from_db(created),
            next_attempt_at=utc_from_db(next_at),
            last_error=last_error,
            sent_at=utc_from_db(sent_at) if sent_at is not None else None,
            claimed_by=claim,
        )
