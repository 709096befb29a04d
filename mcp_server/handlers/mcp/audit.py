"""The audit log tool."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server.handlers.mcp import markdown
from mcp_server.handlers.mcp.common import RETRY_LATER, ToolContext, as_sent, failure, ok, run, tool, validated
from mcp_server.handlers.mcp.context import ServiceRegistry
from mcp_server.models.audit import Action, AuditEntryRead, AuditPageRead, AuditQuery, EntityId, EntityType
from mcp_server.models.common import DEFAULT_LIMIT, Limit, ResponseFormat
from mcp_server.services.results import Rejected, Success, Unavailable
from mcp_server.utils.markdown import truncate

VALUE_CHARS = 200


# -- the use case, with its services handed in (a test calls it without a server) ------------------


async def list_page(
    services: ServiceRegistry, request: AuditQuery, *, detailed: bool, filtered: bool
) -> CallToolResult:
    """``filtered``: the call named an entity type, entity or action (the next-page hint keeps them)."""
    result = await services.audit.list(request)
    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Success(value=page):
            entries = [_shorten(AuditEntryRead.from_record(e, detailed=detailed)) for e in page.items]
            text = markdown.audit_page(page, detailed=detailed, filtered=filtered)
            return ok(text, AuditPageRead(entries=entries, next_cursor=page.next_cursor))
        case Rejected():
            return failure(result, next_step="call audit_log_list again without cursor to start from the top.")


# -- the tool: arguments in, the use case through ``run`` -------------------------------------------


async def audit_log_list(
    ctx: ToolContext,
    entity_type: Annotated[EntityType | None, Field(description="e.g. customer, order")] = None,
    entity_id: Annotated[EntityId | None, Field(description="e.g. cus_…, ord_…")] = None,
    action: Annotated[Action | None, Field(description="e.g. customer.updated")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Field(max_length=512, description="Previous page's next_cursor; same filters")
    ] = None,
    response_format: Annotated[ResponseFormat, Field(description="detailed: with before/after values")] = "concise",
) -> Annotated[CallToolResult, AuditPageRead]:
    """Who changed what and when, newest first: every change any tool made.

    Use it to check whether a call took effect before retrying, or to review activity; entity_id gives one
    record's history.
    """
    sent = as_sent(
        ctx,
        {"entity_type": entity_type, "entity_id": entity_id, "action": action, "limit": limit, "cursor": cursor},
    )
    request = validated(AuditQuery, sent, "audit_log_list")
    if isinstance(request, CallToolResult):
        return request
    detailed = response_format == "detailed"
    filtered = any(v is not None for v in (entity_type, entity_id, action))
    return await run(ctx, "audit_log_list", lambda s: list_page(s, request, detailed=detailed, filtered=filtered))


def tools() -> list[Tool]:
    """This module's tools, for the server to serve."""
    return [
        tool(audit_log_list, title="Read the audit log", read_only=True, idempotent=True),
    ]


def _shorten(entry: AuditEntryRead) -> AuditEntryRead:
    """Keep a page small: long values (notes) are cut; the full value is on the entity itself."""

    def cut(
        values: dict[str, str | int | float | bool | None] | None,
    ) -> dict[str, str | int | float | bool | None] | None:
        if values is None:
            return None
        return {k: truncate(v, VALUE_CHARS) if isinstance(v, str) else v for k, v in values.items()}

    return entry.model_copy(
        update={"summary": truncate(entry.summary, 900), "before": cut(entry.before), "after": cut(entry.after)}
    )
