"""Reading the audit trail (entries are written by ``services.event_handlers``, one per change)."""

from __future__ import annotations

from mcp_server.models.audit import AuditEntry, AuditQuery
from mcp_server.models.common import Page
from mcp_server.services.pagination import page_of, resume_after
from mcp_server.services.ports import UnitOfWorkFactory
from mcp_server.services.results import Rejected, Success, unavailable_when_busy
from mcp_server.utils.ids import canonical_id

_CURSOR_KIND = "audit"


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
