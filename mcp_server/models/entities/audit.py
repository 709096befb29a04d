from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mcp_server.models.audit import AuditEntry
from mcp_server.models.entities.base import Base, UTCDateTime, json_from_db, utc_from_db


class AuditEntryEntity(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "entity_type", "entity_id", "sequence"),
        Index("ix_audit_log_action", "action", "sequence"),
    )

    # A database-assigned sequence gives a total "newest first" order across processes.
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @staticmethod
    def values_from_record(entry: AuditEntry) -> dict[str, Any]:
        """Column values for an INSERT; the database assigns ``sequence``."""
        return {
            "id": entry.id,
            "occurred_at": entry.occurred_at,
            "actor": entry.actor,
            "action": entry.action,
            "entity_type": entry.entity_type,
            "entity_id": entry.entity_id,
            "before": entry.before,
            "after": entry.after,
        }

    @staticmethod
    def record_from_row(row: Sequence[Any]) -> AuditEntry:
        """A row selected with ``select(*AuditEntryEntity.__table__.c)``, in column order."""
        sequence, id_, occurred_at, actor, action, entity_type, entity_id, before, after = row
        return AuditEntry(
            id=id_,
            occurred_at=utc_from_db(occurred_at),
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=json_from_db(before),
            after=json_from_db(after),
            sequence=int(sequence),
        )
