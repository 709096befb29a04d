"""Asking a person before money moves back.

When the client declares form elicitation, a resolver asks the question before the tool body
runs; the SDK carries it on both protocol versions (a mid-call request on 2025-11-25, an
input-required round trip on 2026-07-28), and the client, not the assistant, shows it to the
person. When it cannot, the service makes an approval request (``apr_…``) that a person approves
with their approver passphrase, outside the conversation; the assistant then repeats the call
with ``approval_id``. Nothing the assistant can send approves anything by itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.elicitation import AcceptedElicitation, CancelledElicitation, DeclinedElicitation, ElicitationResult
from mcp.server.mcpserver.resolve import Elicit
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from mcp_server.handlers.mcp.common import ToolContext, error, ok
from mcp_server.handlers.mcp.context import BackendUnavailableError, ServiceRegistry
from mcp_server.models.payments import MoneyBackRead

if TYPE_CHECKING:
    from mcp_server.services.approvals import Approval, NeedsApproval

logger = logging.getLogger("mcp_server.tools")


class PersonAnswer(BaseModel):
    """The form a person sees."""

    confirm: Annotated[bool, Field(title="Go ahead?", description="Tick to confirm; leave unticked to stop")]


class NotAsked(BaseModel):
    """The resolver's answer when no question was put to anyone."""

    reason: str


def can_ask(ctx: ToolContext) -> bool:
    """True when the client declares form elicitation (a client with URL mode only cannot show the form)."""
    capabilities = ctx.client_capabilities
    return (
        capabilities is not None and capabilities.elicitation is not None and capabilities.elicitation.form is not None
    )


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


def approval_from(answer: Any, approval_id: str | None) -> Approval | str:
    """The approval to hand the service, or why the person said no (a message). Fails closed: an
    answer that is not a well-formed yes approves nothing."""
    # Imported here: the services load with the database, in the background, after start-up.
    from mcp_server.services.approvals import ApprovalGiven, PersonConfirmed

    if approval_id is not None:
        return ApprovalGiven(approval_id)
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


def needs_person(
    needed: NeedsApproval[Any], structured: MoneyBackRead, *, tool_name: str, shown: str, nothing: str
) -> Any:
    """The answer to a call a person must approve: the preview and the approval request to approve,
    or (when no approver is set up yet) the one command that sets one up."""
    request = needed.request
    if request is None:
        return error(
            f"A person must approve this, and no approver is set up yet: {nothing}.\n\n{shown}\n\n"
            "Next: ask the person to set one up at the shop's terminal with `shopkeeper approvers add NAME` (it asks "
            f"for a passphrase), then call {tool_name} again with the same arguments."
        )
    structured.approval_id = request.id
    structured.expires_at = request.expires_at
    text = (
        f"## Approval needed — {nothing}\n\n{shown}\n\n"
        f"A person must approve this; you cannot. Approval request `{request.id}`, open until "
        f"{request.expires_at:%H:%M} UTC.\n\n"
        f"Next: show this preview to the person and ask them to approve it: {AT_THE_TERMINAL}"
        f"`shopkeeper approvals approve {request.id}` {IT_ASKS} their approver name and passphrase). When they "
        f"say it is approved, call {tool_name} again with the same arguments and approval_id='{request.id}'."
    )
    return ok(text, structured)


AT_THE_TERMINAL = "at the shop's terminal with "
IT_ASKS = "(it asks for"


async def with_page_link(ctx: ToolContext, result: Any) -> Any:
    """``result`` with the approval page's link, when it made an approval request (the page starts now)."""
    if not isinstance(result, CallToolResult) or result.is_error or not result.structured_content:
        return result
    approval_id = result.structured_content.get("approval_id")
    link_of = ctx.request_context.lifespan_context.approval_link
    if not isinstance(approval_id, str) or result.structured_content.get("outcome") != "approval_required":
        return result
    link = await link_of(approval_id) if link_of is not None else None
    if link is None:
        return result
    await _offer_link(ctx, approval_id, link, str(result.structured_content.get("preview") or ""))
    structured = {**result.structured_content, "approval_url": link}
    texts = [
        TextContent(type="text", text=_with_link(c.text, link)) if isinstance(c, TextContent) else c
        for c in result.content
    ]
    return CallToolResult(content=texts, structured_content=structured)


def _with_link(text: str, link: str) -> str:
    """The answer's next step with the page first (an autolink, so no punctuation joins the URL)."""
    text = text.replace(AT_THE_TERMINAL, f"in a browser at <{link}>, or {AT_THE_TERMINAL}", 1)
    return text.replace(IT_ASKS, "(either way it asks for", 1)


async def _offer_link(ctx: ToolContext, approval_id: str, link: str, preview: str) -> None:
    """Where the client opens links itself (URL-mode elicitation, no form: on protocol 2025-11-25, a
    mid-call request), it offers the person the page; the page, not the client, takes the passphrase.
    Wherever it cannot, the answer's link is the way, so any failure here is only logged."""
    elicitation = ctx.client_capabilities.elicitation if ctx.client_capabilities is not None else None
    if elicitation is None or elicitation.url is None or elicitation.form is not None:
        return
    try:
        await ctx.elicit_url(f"Approve or deny on the shop's approval page: {preview}", link, approval_id)
    except Exception as exc:  # e.g. protocol 2026-07-28, which has no mid-call requests
        logger.debug("the approval page's link was not offered through the client (%s)", type(exc).__name__)
