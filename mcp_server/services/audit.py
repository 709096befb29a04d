"""The audit trail: reading it, and the one helper every mutating use case writes through."""

from __future__ import annotations

from collections.abc import Mapping

from mcp_server.models.audit import AUDIT_ID_PREFIX, AuditEntry, AuditQuery, JsonScalar
from mcp_server.models.common import Page
from mcp_server.services.pagination import page_of, resume_after
from mcp_server.services.ports import Clock, IdFactory, UnitOfWork, UnitOfWorkFactory
from mcp_server.services.results import Rejected, Success, unavailable_when_busy
from mcp_server.utils.ids import canonical_id

_CURSOR_KIND = "audit"


class AuditRecorder:
    """Builds audit entries; used inside another use case's unit of work."""

    def __init__(self, clock: Clock, ids: IdFactory) -> None:
        self._clock = clock
        self._ids = ids

    async def record(
        self,
        uow: UnitOfWork,
        *,
        actor: str,
        action: str,
        entity_type: str,
        entity_id: str,
        before: Mapping[str, JsonScalar] | None,
        after: Mapping[str, JsonScalar] | None,
    ) -> AuditEntry:
        entry = AuditEntry(
            id=self._ids.new(AUDIT_ID_PREFIX),
            occurred_at=self._clock.now(),
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=dict(before) if before is not None else None,
            after=dict(after) if after is not None else None,
        )
        await uow.audit.add(entry)
        return entry

    async def record_update(
        self,
        uow: UnitOfWork,
        *,
        actor: str,
        action: str,
        entity_type: str,
        entity_id: str,
        before: Mapping[str, JsonScalar],
        after: Mapping[str, JsonScalar],
        changed: tuple[str, ...],
    ) -> AuditEntry:
        """An update's entry: only the changed fields, before and after."""
        return await self.record(
            uow,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )


class AuditService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    @unavailable_when_busy
    async def list(self, query: AuditQuery) -> Success[Page[AuditEntry]] | Rejected:
        entity_id = query.entity_id
        if entity_id is not None and "_" in entity_id:
            # Ids are case-insensitive (see utils.ids); look them up the way they are stored.
            entity_id = canonical_id(entity_id, entity_id.split("_", 1)[0].lower()) or entity_id
        filters = {"entity_type": query.entity_type, "entity_id": entity_id, "action": query.action}
        before = resume_after(query.cursor, _CURSOR_KIND, filters, int)
        if isinstance(before, Rejected):
            return before
        async with self._uow(write=False) as uow:
            rows = await uow.audit.page_before(
                entity_type=query.entity_type,
                entity_id=entity_id,
                action=query.action,
                before_sequence=before,
                limit=query.limit + 1,
            )
        return Success(page_of(rows, query.limit, _CURSOR_KIND, filters, key=lambda e: e.sequence))
