"""Customer tools: register, get, list, update."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server.handlers.mcp import markdown
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
from mcp_server.models.common import DEFAULT_LIMIT, MAX_LIMIT, Limit, ResponseFormat
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
from mcp_server.utils.markdown import truncate

TOOL_REGISTER, TOOL_GET, TOOL_LIST, TOOL_UPDATE = (
    "customers_register",
    "customers_get",
    "customers_list",
    "customers_update",
)

NameArg = Annotated[CustomerName, Field(description="Full name as the customer wants it written (1-200 characters)")]
EmailArg = Annotated[EmailAddress, Field(description="E-mail address; stored lower-case, unique across customers")]
PhoneArg = Annotated[Phone | None, Field(description="Phone number, digits with optional +, spaces, dashes, brackets")]
NotesArg = Annotated[Notes | None, Field(description="Free-text notes for the shop (up to 2000 characters)")]
CustomerIdArg = Annotated[CustomerId, Field(description="Customer id as returned by other tools, e.g. cus_01J…")]
FormatArg = Annotated[
    ResponseFormat, Field(description="'concise' (default) for the essentials, 'detailed' for every field")
]


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
    name: NameArg,
    email: EmailArg,
    phone: PhoneArg = None,
    notes: NotesArg = None,
) -> Annotated[CallToolResult, CustomerRead]:
    """Register a new customer and queue their welcome e-mail.

    Use when someone new buys or asks to be kept on file. E-mail addresses are unique in any
    letter case: if the address is already registered you get an error naming the existing
    customer's id (call customers_get with it instead of registering again).
    Returns the new customer with its id (cus_…), which orders and updates use.
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
    customer_id: Annotated[CustomerId | None, Field(description="Customer id (cus_…); give this or email")] = None,
    email: Annotated[
        EmailAddress | None, Field(description="E-mail address in any letter case; or customer_id")
    ] = None,
    response_format: FormatArg = "concise",
) -> Annotated[CallToolResult, CustomerRead]:
    """Look up one customer by id or by e-mail address (exactly one of the two).

    Use before updating a customer or when a person mentions someone by e-mail. If you only know
    part of a name or address, call customers_list with query=… instead.
    """
    lookup = validated(CustomerLookup, as_sent(ctx, {"customer_id": customer_id, "email": email}), TOOL_GET)
    if isinstance(lookup, CallToolResult):
        return lookup
    return await run(ctx, TOOL_GET, lambda s: get(s, lookup, detailed=response_format == "detailed"))


async def customers_list(
    ctx: ToolContext,
    query: Annotated[
        SearchText | None, Field(description="Only customers whose name or e-mail contains this text (any case)")
    ] = None,
    limit: Annotated[Limit, Field(description=f"Page size, 1-{MAX_LIMIT}")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Field(max_length=512, description="next_cursor from the previous page, with the same query")
    ] = None,
    response_format: FormatArg = "concise",
) -> Annotated[CallToolResult, CustomerPageRead]:
    """List customers in registration order, optionally filtered by part of a name or e-mail.

    Returns one page and a next_cursor; pass it back as cursor (with the same query) for the next
    page. Notes are shortened in lists; customers_get shows them whole and is cheaper for one
    known customer.
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
    name: Annotated[CustomerName | None, Field(description="New name")] = None,
    email: Annotated[EmailAddress | None, Field(description="New e-mail address (must not belong to another)")] = None,
    phone: Annotated[Phone | None, Field(description="New phone number; null clears it")] = None,
    notes: Annotated[Notes | None, Field(description="New notes (replaces the old ones); null clears them")] = None,
) -> Annotated[CallToolResult, CustomerRead]:
    """Change a customer's name, e-mail, phone or notes. Only the fields you pass change.

    Pass phone or notes as null to clear them. Overwrites the old values (the audit log keeps
    them: audit_log_list with entity_id=customer_id). Call customers_get first if unsure of the id.
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
        tool(customers_update, title="Update a customer", read_only=False, idempotent=True, destructive=True),
    ]


def _renamed(arguments: dict[str, Any]) -> dict[str, Any]:
    """customers_list calls its filter ``query``; CustomerQuery calls it ``text``."""
    return {("text" if name == "query" else name): value for name, value in arguments.items()}
