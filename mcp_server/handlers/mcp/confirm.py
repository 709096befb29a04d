"""Asking a person before money moves.

When the client can show a form (MCP elicitation), a resolver asks the question before the
tool body runs; the SDK carries it on both protocol versions (a mid-call request on
2025-11-25, an input-required round trip on 2026-07-28). When it cannot, the resolver
answers "not asked", the service hands out a preview with a single-use token, and the
assistant repeats the call with the token after showing the preview to the person.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.elicitation import AcceptedElicitation, CancelledElicitation, DeclinedElicitation, ElicitationResult
from mcp.server.mcpserver.resolve import Elicit
from pydantic import BaseModel, Field

from mcp_server.handlers.mcp.common import ToolContext, error
from mcp_server.handlers.mcp.context import BackendUnavailableError, ServiceRegistry
from mcp_server.services.requests import Approval, PersonConfirmed, TokenConfirmation


class PersonAnswer(BaseModel):
    """The form a person sees."""

    confirm: Annotated[bool, Field(title="Go ahead?", description="Tick to confirm; leave unticked to stop")]


class NotAsked(BaseModel):
    """The resolver's answer when no question was put to anyone."""

    reason: str


def can_ask(ctx: ToolContext) -> bool:
    capabilities = ctx.client_capabilities
    return capabilities is not None and capabilities.elicitation is not None


def ask(question: str) -> Elicit[PersonAnswer]:
    return Elicit(question, PersonAnswer)


async def reachable(ctx: ToolContext) -> ServiceRegistry | None:
    """The services for a resolver's preview, or None: then the tool body reports the problem."""
    try:
        return await ctx.request_context.lifespan_context.services()
    except BackendUnavailableError:
        return None


def not_asked(reason: str) -> NotAsked:
    return NotAsked(reason=reason)


Answer = ElicitationResult[PersonAnswer]


def approval_from(answer: Any, token: str | None) -> Approval | str:
    """The approval to hand the service, or why the person said no (a message)."""
    if token is not None:
        return TokenConfirmation(token)
    if isinstance(answer, DeclinedElicitation | CancelledElicitation):
        return "declined" if isinstance(answer, DeclinedElicitation) else "cancelled"
    if isinstance(answer, AcceptedElicitation):
        data: object = answer.data  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if isinstance(data, PersonAnswer):
            return PersonConfirmed() if data.confirm else "declined"
    return None


def declined(what: str, how: str) -> Any:
    return error(
        f"The person {how} the confirmation: {what} did not happen. Nothing was changed.\n\n"
        "Next: do not retry unless the person asks for it again."
    )
