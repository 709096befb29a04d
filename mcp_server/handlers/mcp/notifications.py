"""Notification tools: see what the outbox holds, and re-queue a message that failed."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult
from pydantic import Field

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
from mcp_server.models.common import DEFAULT_LIMIT, MAX_LIMIT, Limit
from mcp_server.models.outbox import (
    NotificationId,
    NotificationPageRead,
    NotificationQuery,
    NotificationRead,
    NotificationStatus,
    OutboxMessage,
)
from mcp_server.services.results import NotFound, Rejected, Success, Unavailable
from mcp_server.utils.markdown import cell, inline, table
from mcp_server.utils.time import isoformat_utc

TOOL_LIST, TOOL_RETRY = "notifications_list", "notifications_retry"


def _row(m: OutboxMessage) -> list[str]:
    when = isoformat_utc(m.sent_at) if m.sent_at else f"next try {isoformat_utc(m.next_attempt_at)}"
    return [
        f"`{m.id}`",
        m.kind,
        cell(m.recipient),
        m.status,
        str(m.attempts),
        when if m.status != "failed" else "—",
        cell(m.last_error, 120),
    ]


# -- the use cases, each with its services handed in (a test calls them without a server) ------------


async def list_page(services: ServiceRegistry, query: NotificationQuery) -> CallToolResult:
    result = await services.notifications.list(query)
    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Rejected():
            return failure(result, next_step=f"call {TOOL_LIST} again without cursor to start from the top.")
        case Success(value=page):
            what = f" ({query.status})" if query.status else ""
            if not page.items:
                text = f"No notifications{what}."
            else:
                headers = ["id", "kind", "to", "status", "attempts", "sent / next", "last error"]
                text = f"**{len(page.items)} notification(s){what}, oldest first**\n\n" + table(
                    headers, [_row(m) for m in page.items]
                )
                text += (
                    f"\n\nMore results exist: call {TOOL_LIST} again with the same filters and "
                    f"cursor=`{page.next_cursor}`."
                    if page.next_cursor
                    else "\n\nThat is the whole list."
                )
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
                f"## Re-queued {message.id}\n\n- **kind:** {message.kind}\n"
                f"- **to:** {inline(message.recipient)}\n"
                "- **status:** pending (attempts start again from 0)\n\n"
                "The worker sends it within seconds (or run `shopkeeper worker --once`)."
            )
            return ok(text, NotificationRead.from_record(message))


# -- the tools: arguments in, one use case through ``run`` ------------------------------------------


async def notifications_list(
    ctx: ToolContext,
    status: Annotated[
        NotificationStatus | None, Field(description="pending, sending, sent or failed; all when omitted")
    ] = None,
    limit: Annotated[Limit, Field(description=f"Page size, 1-{MAX_LIMIT}")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Field(max_length=512, description="next_cursor from the previous page, with the same filters")
    ] = None,
) -> Annotated[CallToolResult, NotificationPageRead]:
    """E-mails the shop queued (welcome, order placed, shipped, refunded, cancelled) and how delivery went.

    Oldest first. status='failed' lists the ones that gave up, with the reason; re-queue one
    with notifications_retry once the cause is fixed.
    """
    query = validated(NotificationQuery, as_sent(ctx, {"status": status, "limit": limit, "cursor": cursor}), TOOL_LIST)
    if isinstance(query, CallToolResult):
        return query
    return await run(ctx, TOOL_LIST, lambda s: list_page(s, query))


async def notifications_retry(
    ctx: ToolContext,
    notification_id: Annotated[NotificationId, Field(description="The failed notification's id (ntf_…)")],
) -> Annotated[CallToolResult, NotificationRead]:
    """Put a failed e-mail back in the queue with a fresh set of attempts; the worker sends it soon.

    Only failed notifications can be re-queued (notifications_list with status='failed' shows
    them and why they failed). Fix the cause first, e.g. the address with customers_update.
    """
    who = actor(ctx)
    return await run(ctx, TOOL_RETRY, lambda s: retry(s, notification_id, actor=who))


def tools() -> list[Tool]:
    """This module's tools, for the server to serve."""
    return [
        tool(notifications_list, title="List e-mail notifications", read_only=True, idempotent=True),
        tool(notifications_retry, title="Re-queue a failed e-mail", read_only=False, idempotent=False),
    ]
