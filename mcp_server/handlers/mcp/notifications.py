"""Notification tools: see what the outbox holds, and re-queue a message that failed."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server.handlers.mcp import markdown
from mcp_server.handlers.mcp.common import (
    RETRY_LATER,
    ToolContext,
    actor,
    as_sent,
    failure,
    ok,
    run,
    tool,
    validated,
)
from mcp_server.handlers.mcp.context import ServiceRegistry
from mcp_server.models.common import DEFAULT_LIMIT, Limit
from mcp_server.models.outbox import (
    NotificationId,
    NotificationPageRead,
    NotificationQuery,
    NotificationRead,
    NotificationStatus,
)
from mcp_server.services.results import NotFound, Rejected, Success, Unavailable
from mcp_server.utils.markdown import inline

TOOL_LIST, TOOL_RETRY = "notifications_list", "notifications_retry"


# -- the use cases, each with its services handed in (a test calls them without a server) ------------


async def list_page(services: ServiceRegistry, query: NotificationQuery) -> CallToolResult:
    result = await services.notifications.list(query)
    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Rejected():
            return failure(result, next_step=f"call {TOOL_LIST} again without cursor to start from the top.")
        case Success(value=page):
            text = markdown.notification_page(page, status=query.status)
            structured = NotificationPageRead(
                notifications=[NotificationRead.from_record(m) for m in page.items],
                next_cursor=page.next_cursor,
            )
            return ok(text, structured)


async def retry(services: ServiceRegistry, notification_id: str, *, actor: str) -> CallToolResult:
    result = await services.notifications.retry(notification_id, actor=actor)
    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case NotFound() | Rejected():
            return failure(
                result,
                next_step=f"call {TOOL_LIST} with status='failed' to see which can be re-queued. Nothing was changed.",
            )
        case Success(value=message):
            text = (
                f"## Re-queued `{message.id}`\n\n- **kind:** {message.kind}\n"
                f"- **to:** {inline(message.recipient)}\n"
                "- **status:** pending (attempts start again from 0)\n\n"
                "The worker sends it within seconds (or run `shopkeeper worker --once`)."
            )
            return ok(text, NotificationRead.from_record(message))


# -- the tools: arguments in, one use case through ``run`` ------------------------------------------


async def notifications_list(
    ctx: ToolContext,
    status: Annotated[NotificationStatus | None, Field(description="All when omitted")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Field(max_length=512, description="Previous page's next_cursor; same filters")
    ] = None,
) -> Annotated[CallToolResult, NotificationPageRead]:
    """E-mails the shop queued (welcome, order placed/shipped/refunded/cancelled) and how delivery went, oldest first.

    status='failed' lists the ones that gave up and why; notifications_retry re-queues one once the cause is fixed.
    """
    query = validated(NotificationQuery, as_sent(ctx, {"status": status, "limit": limit, "cursor": cursor}), TOOL_LIST)
    if isinstance(query, CallToolResult):
        return query
    return await run(ctx, TOOL_LIST, lambda s: list_page(s, query))


async def notifications_retry(
    ctx: ToolContext,
    notification_id: Annotated[NotificationId, Field(description="ntf_… of a failed e-mail")],
) -> Annotated[CallToolResult, NotificationRead]:
    """Put a failed e-mail back in the queue with fresh attempts; a background worker sends it later.

    Only failed ones can be re-queued (notifications_list with status='failed' shows them and why). Fix the cause
    first, e.g. the address with customers_update.
    """
    who = actor(ctx)
    return await run(ctx, TOOL_RETRY, lambda s: retry(s, notification_id, actor=who))


def tools() -> list[Tool]:
    """This module's tools, for the server to serve."""
    return [
        tool(notifications_list, title="List e-mail notifications", read_only=True, idempotent=True),
        tool(notifications_retry, title="Re-queue a failed e-mail", read_only=False, idempotent=False),
    ]
