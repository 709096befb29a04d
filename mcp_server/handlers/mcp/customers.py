"""Customer tools: register, get, list, update."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server.handlers.mcp import markdown, near_misses
from mcp_server.handlers.mcp.common import (
    RETRY_LATER,
    ToolContext,
    actor,
    as_sent,
    changes_sent,
    failure,
    ok,
    run,
    tool,
    validated,
)
from mcp_server.handlers.mcp.context import ServiceRegistry
from mcp_server.models.common import DEFAULT_LIMIT, Limit, ResponseFormat
from mcp_server.models.customers import (
    CustomerCreate,
    CustomerId,
    CustomerLookup,
    CustomerName,
    CustomerPageRead,
    CustomerQuery,
    CustomerRead,
    CustomerUpdate,
    EmailAddress,
    Notes,
    Phone,
    SearchText,
)
from mcp_server.services.results import Conflict, NotFound, Rejected, Success, Unavailable
from mcp_server.utils.markdown import code_span, truncate

TOOL_REGISTER, TOOL_GET, TOOL_LIST, TOOL_UPDATE = (
    "customers_register",
    "customers_get",
    "customers_list",
    "customers_update",
)

# Descriptions only where the name, type and limits leave a question (tools/list is in every turn's context).
EmailArg = Annotated[EmailAddress, Field(description="Unique across customers, any letter case")]
CustomerIdArg = Annotated[CustomerId, Field(description="cus_…")]
FormatArg = ResponseFormat  # concise or detailed (every field): the enum says it


# -- the use cases, each with its services handed in (a test calls them without a server) ------------


async def register_customer(services: ServiceRegistry, data: CustomerCreate, *, actor: str) -> CallToolResult:
    result = await services.customers.register(data, actor=actor)
    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Success(value=customer):
            text = markdown.customer(customer, detailed=True, heading="Registered {name}")
            text += "\n\nA welcome e-mail is queued. Use this id with customers_update or customers_get."
            return ok(text, CustomerRead.from_record(customer))
        case Conflict(existing_id=existing):
            hint = f"call customers_get with customer_id='{existing}'" if existing else "call customers_get"
            return failure(result, next_step=f"{hint} to use the existing customer; nothing was written.")


async def get(services: ServiceRegistry, lookup: CustomerLookup, *, detailed: bool) -> CallToolResult:
    result = await services.customers.get(customer_id=lookup.customer_id, email=lookup.email)
    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Success(value=customer):
            return ok(markdown.customer(customer, detailed=detailed), CustomerRead.from_record(customer))
        case NotFound(suggestions=suggestions) if suggestions:
            return near_misses.failure_with(
                result,
                "Did you mean:\n" + near_misses.listed(suggestions, near_misses.customer_by_id),
                next_step="call customers_get with the customer_id meant; if none of these is them, call "
                f"customers_list with query=… to search by part of a name or e-mail. {_register_hint(lookup.email)}",
            )
        case NotFound():
            return failure(result, next_step="call customers_list with query=… to search by part of a name or e-mail.")
        case Rejected():
            return failure(
                result,
                next_step="pass exactly one of customer_id (ids start with cus_) or email; "
                "customers_list finds ids by name.",
            )


async def list_page(services: ServiceRegistry, request: CustomerQuery, *, detailed: bool) -> CallToolResult:
    result = await services.customers.list(request)
    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Success(value=page):
            text = markdown.customer_page(page, detailed=detailed, filtered_by=request.text)
            if page.suggestions:
                text += "\n\nDid you mean:\n" + near_misses.listed(page.suggestions, near_misses.customer_by_id)
            if not page.items and request.cursor is None:
                text += "\n\n" + _register_hint(request.text)
            items = [
                CustomerRead.from_record(c).model_copy(
                    update={"notes": truncate(c.notes, markdown.LIST_NOTE_CHARS) if c.notes else None}
                )
                for c in page.items
            ]
            return ok(text, CustomerPageRead(customers=items, next_cursor=page.next_cursor))
        case Rejected():
            return failure(result, next_step="call customers_list again without cursor to start from the top.")


async def update(services: ServiceRegistry, customer_id: str, changes: CustomerUpdate, *, actor: str) -> CallToolResult:
    result = await services.customers.update(customer_id, changes, actor=actor)
    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Success(value=change):
            customer = change.customer
            if change.changed:
                head = f"Updated {{name}}: changed {', '.join(change.changed)}"
            else:
                head = "Nothing changed for {name}: the values given are the current ones"
            text = markdown.customer(customer, detailed=True, heading=head)
            return ok(text, CustomerRead.from_record(customer))
        case NotFound():
            return failure(result, next_step="call customers_list or customers_get to find the right id.")
        case Conflict(existing_id=existing):
            return failure(
                result,
                next_step=f"that address belongs to {existing or 'another customer'}; "
                "choose another e-mail, or update that customer instead. Nothing was changed.",
            )
        case Rejected():
            return failure(result, next_step="pass customer_id and at least one field to change.")


# -- the tools: arguments in, one use case through ``run`` ------------------------------------------


async def customers_register(
    ctx: ToolContext,
    name: CustomerName,
    email: EmailArg,
    phone: Phone | None = None,
    notes: Notes | None = None,
) -> Annotated[CallToolResult, CustomerRead]:
    """Register a new customer; the welcome e-mail is queued and sent later by a background worker.

    E-mail addresses are unique in any letter case: for a taken one the error names its customer (call
    customers_get with that id instead of registering again).
    """
    data = validated(
        CustomerCreate, as_sent(ctx, {"name": name, "email": email, "phone": phone, "notes": notes}), TOOL_REGISTER
    )
    if isinstance(data, CallToolResult):
        return data
    who = actor(ctx)
    return await run(ctx, TOOL_REGISTER, lambda s: register_customer(s, data, actor=who))


async def customers_get(
    ctx: ToolContext,
    customer_id: Annotated[CustomerId | None, Field(description="cus_…; or email")] = None,
    email: Annotated[EmailAddress | None, Field(description="Any letter case; or customer_id")] = None,
    response_format: FormatArg = "concise",
) -> Annotated[CallToolResult, CustomerRead]:
    """Look up one customer by customer_id or email (exactly one).

    For part of a name or address, call customers_list with query.
    """
    lookup = validated(CustomerLookup, as_sent(ctx, {"customer_id": customer_id, "email": email}), TOOL_GET)
    if isinstance(lookup, CallToolResult):
        return lookup
    return await run(ctx, TOOL_GET, lambda s: get(s, lookup, detailed=response_format == "detailed"))


async def customers_list(
    ctx: ToolContext,
    query: Annotated[SearchText | None, Field(description="Part of a name or e-mail, any case")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Field(max_length=512, description="Previous page's next_cursor; same query")] = None,
    response_format: FormatArg = "concise",
) -> Annotated[CallToolResult, CustomerPageRead]:
    """List customers in registration order, optionally by part of a name or e-mail.

    Returns a page and a next_cursor (pass it back as cursor, same query). Notes are shortened here;
    customers_get shows them whole.
    """
    request = validated(
        CustomerQuery, _renamed(as_sent(ctx, {"query": query, "limit": limit, "cursor": cursor})), TOOL_LIST
    )
    if isinstance(request, CallToolResult):
        return request
    return await run(ctx, TOOL_LIST, lambda s: list_page(s, request, detailed=response_format == "detailed"))


async def customers_update(
    ctx: ToolContext,
    customer_id: CustomerIdArg,
    name: CustomerName | None = None,
    email: Annotated[EmailAddress | None, Field(description="Must not belong to another customer")] = None,
    phone: Annotated[Phone | None, Field(description="null clears it")] = None,
    notes: Annotated[Notes | None, Field(description="Replaces the old notes; null clears them")] = None,
) -> Annotated[CallToolResult, CustomerRead]:
    """Change a customer's name, email, phone or notes; only the fields you pass change (null clears phone or notes).

    The old values stay in audit_log_list (entity_id=customer_id). Unsure of the id? customers_get first.
    """
    chosen = changes_sent(ctx, {"name": name, "email": email, "phone": phone, "notes": notes})
    changes = validated(CustomerUpdate, chosen, TOOL_UPDATE)
    if isinstance(changes, CallToolResult):
        return changes
    who = actor(ctx)
    return await run(ctx, TOOL_UPDATE, lambda s: update(s, customer_id, changes, actor=who))


def tools() -> list[Tool]:
    """This module's tools, for the server to serve."""
    return [
        tool(customers_register, title="Register a customer", read_only=False, idempotent=False),
        tool(customers_get, title="Get a customer", read_only=True, idempotent=True),
        tool(customers_list, title="List customers", read_only=True, idempotent=True),
        tool(
            customers_update, title="Update a customer", read_only=False, idempotent=True, destructive=True, clears=True
        ),
    ]


def _register_hint(query: str | None) -> str:
    """How to register someone no search found, with what the search already knows filled in."""
    if query and "@" in query:
        known = f"name=<their full name> and email={code_span(query.strip())}"
    elif query and len(query.split()) > 1:
        known = f"name={code_span(query.strip())} (if that is their full name) and email=<their address>"
    else:
        known = "name and email (both needed)"
    return f"New customer? Call {TOOL_REGISTER} with {known}; phone and notes are optional."


def _renamed(arguments: dict[str, Any]) -> dict[str, Any]:
    """customers_list calls its filter ``query``; CustomerQuery calls it ``text``."""
    return {("text" if name == "query" else name): value for name, value in arguments.items()}
