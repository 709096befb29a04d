"""The audit trail: one entry for every change, written with the change."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from mcp_server.models.common import DEFAULT_LIMIT, Cursor, Limit

AUDIT_ID_PREFIX = "aud"

EntityType = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[a-z_]+$")]
Action = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=80, pattern=r"^[a-z_]+\.[a-z_]+$")
]
# Any id or name an entry is about (approvers and tokens have names); never control characters, which
# PostgreSQL's text refuses (a NUL) and no entity's id holds.
EntityId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
]

JsonScalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A recorded change: who did what to which entity, and what it looked like before and after."""

    id: str
    occurred_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, JsonScalar] | None
    after: dict[str, JsonScalar] | None
    sequence: int = field(default=0)

    def summary(self) -> str:
        """``field: old → new`` for each changed field; ``created`` / ``deleted`` otherwise."""
        if self.before is None and self.after is not None:
            return "created: " + ", ".join(f"{k}={_show(v)}" for k, v in self.after.items() if v is not None)
        if self.after is None:
            return "deleted"
        before = self.before or {}
        changed = [
            f"{key}: {_show(before.get(key))} → {_show(value)}" if key in before else f"{key}={_show(value)}"
            for key, value in self.after.items()
            if key not in before or before[key] != value
        ]
        return "; ".join(changed) if changed else "no field changed"


def _show(value: JsonScalar) -> str:
    return "(empty)" if value is None else str(value)


class AuditQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    entity_type: EntityType | None = None
    entity_id: EntityId | None = None
    action: Action | None = None
    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None


class AuditEntryRead(BaseModel):
    id: str
    occurred_at: datetime
    actor: str
    action: str  # entity.verb, e.g. customer.registered
    entity_type: str
    entity_id: str
    summary: str
    before: dict[str, JsonScalar] | None = None
    after: dict[str, JsonScalar] | None = None

    @classmethod
    def from_record(cls, entry: AuditEntry, *, detailed: bool) -> AuditEntryRead:
        return cls(
            id=entry.id,
            occurred_at=entry.occurred_at,
            actor=entry.actor,
            action=entry.action,
            entity_type=entry.entity_type,
            entity_id=entry.entity_id,
            summary=entry.summary(),
            before=entry.before if detailed else None,
            after=entry.after if detailed else None,
        )


class AuditPageRead(BaseModel):
    entries: list[AuditEntryRead]
    next_cursor: str | None
