"""Order tools: place (or price), get, list, cancel, mark shipped, mark delivered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver.resolve import Resolve
from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server.handlers.mcp import commerce_markdown as md
from mcp_server.handlers.mcp import confirm, near_misses
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
from mcp_server.handlers.mcp.schemas import Outline
from mcp_server.handlers.views import cards, shipping
from mcp_server.handlers.views.cancellation import cancel_view
from mcp_server.handlers.views.money_back import cancelled_read
from mcp_server.models.common import DEFAULT_LIMIT, Limit, ResponseFormat
from mcp_server.models.orders import (
    MAX_LINES,
    EntityRef,
    IdempotencyKey,
    LineProblem,
    OrderCancel,
    OrderCreate,
    OrderLineRequest,
    OrderPageRead,
    OrderQuery,
    OrderRead,
    OrderStatus,
    OrderSummaryRead,
    PlaceOrderRead,
    Shipment,
    ShippingAddress,
    order_json,
)
from mcp_server.models.payments import MoneyBackRead
from mcp_server.models.suggestions import Suggestion
from mcp_server.services.results import (
    Conflict,
    Failure,
    IllegalTransition,
    NotFound,
    Rejected,
    Success,
    Unavailable,
)
from mcp_server.utils.markdown import code_span, prose
from mcp_server.utils.money import format_money

if TYPE_CHECKING:
    from mcp_server.services.approvals import Approval, NeedsApproval
    from mcp_server.services.orders import Cancellation

TOOL_PLACE, TOOL_GET, TOOL_LIST = "orders_place", "orders_get", "orders_list"
TOOL_CANCEL, TOOL_SHIP, TOOL_DELIVER = "orders_cancel", "orders_mark_shipped", "orders_mark_delivered"
UNCHANGED = "Nothing was changed."
FIND_ORDER = "call orders_list (filter by customer_id or status) to find the order id."
NO_ADDRESS_TOOL = "orders_place takes one (shipping_address) only when the order is placed"

# Descriptions only where the name, type and limits leave a question (tools/list is in every turn's context).
OrderIdArg = Annotated[EntityRef, Field(description="ord_…")]
KeyArg = Annotated[
    IdempotencyKey | None,
    Field(description="E.g. a UUID; a retry with the same key and arguments returns the first result"),
]
FormatArg = ResponseFormat  # concise or detailed (every field): the enum says it
ApprovalIdArg = Annotated[
    str | None, Field(max_length=60, description="apr_… of this call's approval request, once a person approved it")
]


def order_outline(at: str, *changed: str) -> Outline:
    """The order in an answer, as its id, status, what the call changed and next_actions in the output
    schema: orders_get's schema has every field (the answer still carries them all)."""
    return Outline(at, ("id", "status", *changed, "next_actions"), see="orders_get")


REFUNDS_OUTLINE = Outline("refunds", ("id", "payment_id", "amount_minor", "status"), see="payments_list")
"""The refunds a cancel or refund made, in its output schema (payments_list's has every field)."""


def order_failure(result: Failure, *, tool_name: str) -> CallToolResult:
    """The next step for the failures every order tool shares."""
    # Imported here: the services load with the database, in the background, after start-up.
    from mcp_server.services.cancellation import PaymentStillPending

    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case IllegalTransition(allowed=allowed, order_id=order_id):
            return failure(
                result,
                next_step=f"the tools that apply to {order_id} now: {md.tools_for(allowed)}. {UNCHANGED}",
            )
        case NotFound(entity="customer"):
            return failure(result, next_step=f"call customers_list to find the customer id. {UNCHANGED}")
        case NotFound():
            return failure(result, next_step=f"{FIND_ORDER} {UNCHANGED}")
        case Rejected(field="order_id"):
            return failure(result, next_step=f"{FIND_ORDER} {UNCHANGED}")
        case PaymentStillPending():
            return failure(
                Rejected(cards.still_pending(result), field=result.field),
                next_step=f"wait, then call {tool_name} again; payments_list shows the payment's status.",
            )
        case Rejected(field="customer_id"):
            return failure(result, next_step=f"call customers_list to find the customer id. {UNCHANGED}")
        case Rejected(field="cursor"):
            return failure(result, next_step=f"call {tool_name} again without cursor to start from the top.")
        case Rejected(field="approval_id"):
            return failure(
                result,
                next_step="tell the person what this says; only they can approve, on the approval page or with "
                "`shopkeeper approvals approve apr_…` at the shop's terminal. Once they did, call "
                f"{tool_name} again with the same arguments and approval_id; a new request comes from calling it "
                f"without approval_id. {UNCHANGED}",
            )
        case Rejected():
            return failure(result, next_step=f"correct the arguments and call {tool_name} again. {UNCHANGED}")
        case Conflict():
            return failure(
                result,
                next_step="use a new idempotency_key for a different request, or repeat the first request's "
                f"exact arguments to get its result. {UNCHANGED}",
            )


def money_back(result: Success[Cancellation] | NeedsApproval[Cancellation], tool_name: str) -> CallToolResult:
    """A cancellation, done or waiting for a person's approval."""
    from mcp_server.services.approvals import NeedsApproval

    value = result.value if isinstance(result, Success) else result.preview
    view = cancel_view(value)
    shown = "\n".join(
        [
            f"- **order:** `{view.order_id}` of "
            + (
                f"{code_span(view.customer_name)} ({code_span(view.customer_email or '')})"
                if view.customer_name is not None
                else f"`{view.customer_id}`"
            ),
            f"- **back into stock:** {view.restocked_units} unit(s)",
            f"- **refunded to the customer:** {view.refunded}",
        ]
    )
    structured = cancelled_read(value, done=isinstance(result, Success))
    if isinstance(result, NeedsApproval):
        return confirm.needs_person(
            result, structured, tool_name=tool_name, shown=shown, nothing="nothing was changed yet"
        )
    text = f"## Cancelled order `{view.order_id}`\n\n{shown}"
    if view.refunds:
        text += "\n\n" + md.payments_table(list(view.refunds), orders=False)
        if notes := md.card_refund_notes(list(view.refunds), view.order_id):
            text += "\n\n" + notes
    return ok(text, structured)


async def ask_cancel(ctx: ToolContext, order_id: str, approval_id: str | None) -> Any:
    if approval_id is not None or not confirm.can_ask(ctx):
        return confirm.not_asked("approval_id given or client cannot be asked")
    services = await confirm.reachable(ctx)
    if services is None:
        return confirm.not_asked("database unavailable")
    preview = await services.orders.preview_cancel(order_id)
    if not isinstance(preview, Success) or preview.value.refund_minor == 0:
        return confirm.not_asked("nothing to confirm")
    return confirm.ask(cancel_view(preview.value).question())


def _problem(problem: LineProblem) -> str:
    """A list item naming a bad line; the SKU or id as the caller sent it, and ids, are code spans."""
    if not problem.line:
        return f"- {prose(problem.problem)}"
    return f"- line {problem.line} ({code_span(problem.label)}): {prose(problem.problem)}"


def _with_suggested_skus(
    request: OrderCreate, problems: Sequence[LineProblem], suggestions: Sequence[Suggestion]
) -> str:
    """The call that places the order with each mistyped SKU replaced by its closest match."""
    lines = code_span("lines=" + near_misses.corrected_lines(request.lines, suggestions))
    if {p.line for p in problems} - {s.line for s in suggestions}:
        return (
            "fix the other lines named above too (catalog_search shows SKUs, prices and stock; catalog_adjust_stock "
            f"restocks); with the closest SKUs the lines read {lines}, then call orders_place again."
        )
    same = " and the same shipping_address" if request.shipping_address else ""
    return (
        "if the first suggestion for each line is the product meant, call orders_place with "
        f"customer_id={code_span(request.customer_id)}, "
        f"{lines}{same}."
    )


# -- the use cases, each with its services handed in (a test calls them without a server) ------------


async def place(
    services: ServiceRegistry, request: OrderCreate, *, dry_run: bool, actor: str, idempotency_key: str | None
) -> CallToolResult:
    if dry_run:
        quoted = await services.orders.quote(request)
        if not isinstance(quoted, Success):
            return order_failure(quoted, tool_name=TOOL_PLACE)
        quote = quoted.value
        currency = quote.currency or "EUR"
        problems = [p.describe() for p in quote.problems]
        text = [
            f"## Dry run — nothing was placed or reserved\n\n- **customer:** {code_span(quote.customer.name)} "
            f"(`{quote.customer.id}`)\n- **total:** {format_money(quote.total_minor, currency)}",
            md.lines_table(quote.lines, currency, stock=quote.stock),
        ]
        if problems and quote.suggestions:
            text.append("**Cannot be placed as it is:**\n" + "\n".join(_problem(p) for p in quote.problems))
            text.append(near_misses.for_lines(quote.suggestions))
            text.append(f"Next: {_with_suggested_skus(request, quote.problems, quote.suggestions)}")
        elif problems:
            text.append("**Cannot be placed as it is:**\n" + "\n".join(_problem(p) for p in quote.problems))
            text.append("Next: fix these lines, then call orders_place without dry_run.")
        else:
            text.append("Next: call orders_place again with dry_run=false to place it.")
        structured = PlaceOrderRead.dry_run_of(
            quote.customer.id, quote.currency, quote.total_minor, quote.lines, problems
        )
        return ok("\n\n".join(text), structured)
    from mcp_server.services.orders import BadLines

    result = await services.orders.place(request, actor=actor, idempotency_key=idempotency_key)
    match result:
        case Success(value=placed):
            order = placed.order
            heading = (
                f"Order `{order.id}` (already placed with this idempotency_key; nothing was changed now)"
                if placed.replayed
                else f"Placed order `{order.id}`"
            )
            text = md.order(order, heading=heading)
            if order.may("pay"):
                text += (
                    f"\n\nNext: when the customer pays, call {md.ACTION_TOOLS['pay']} with order_id=`{order.id}` "
                    f"and amount={order.outstanding_minor}."
                )
            structured = PlaceOrderRead.placed(order, md.next_tools(order), replayed=placed.replayed)
            return ok(text, structured)
        case BadLines(suggestions=suggestions, problems=problems) if suggestions:
            return near_misses.failure_with(
                result,
                near_misses.for_lines(suggestions),
                next_step=f"{_with_suggested_skus(request, problems, suggestions)} {UNCHANGED}",
            )
        case Rejected(field="lines"):
            return failure(
                result,
                next_step="fix or remove those lines (catalog_search shows SKUs, prices and stock; "
                f"catalog_adjust_stock restocks) and call orders_place again. {UNCHANGED}",
            )
        case _:
            return order_failure(result, tool_name=TOOL_PLACE)


async def get(services: ServiceRegistry, order_id: str, *, detailed: bool) -> CallToolResult:
    result = await services.orders.get(order_id)
    if not isinstance(result, Success):
        return order_failure(result, tool_name=TOOL_GET)
    detail = result.value
    text = md.order_detail(detail, detailed=detailed)
    return ok(text, order_json(detail.order, md.next_tools(detail.order)))


async def list_page(services: ServiceRegistry, query: OrderQuery, *, detailed: bool) -> CallToolResult:
    result = await services.orders.list(query)
    match result:
        case Success(value=page):
            names = page.customer_names
            parts = [f"status {query.status}"] if query.status else []
            if query.customer_id:
                whose = md.customer_cell(page.items[0].customer_id, names) if page.items else None
                parts.append(f"of customer {whose or code_span(query.customer_id)}")
            parts += [f"placed from {query.placed_from}"] if query.placed_from else []
            parts += [f"placed to {query.placed_to}"] if query.placed_to else []
            filters = md.filters(parts)
            structured = {
                "orders": [OrderSummaryRead.json_of(o, md.next_tools(o), names[o.customer_id]) for o in page.items],
                "next_cursor": page.next_cursor,
            }
            text = md.order_page(
                page,
                filters=filters,
                names=names,
                detailed=detailed,
                by_status=query.status is not None,
                by_customer=query.customer_id is not None,
            )
            return ok(text, structured)
        case _:
            return order_failure(result, tool_name=TOOL_LIST)


async def cancel(
    services: ServiceRegistry,
    order_id: str,
    *,
    reason: str | None,
    actor: str,
    approval: Approval,
    may_give_money_back: bool = True,
) -> CallToolResult:
    result = await services.orders.cancel(
        order_id, reason=reason, actor=actor, approval=approval, may_give_money_back=may_give_money_back
    )
    from mcp_server.services.approvals import NeedsApproval

    if isinstance(result, Success | NeedsApproval):
        return money_back(result, TOOL_CANCEL)
    return order_failure(result, tool_name=TOOL_CANCEL)


async def mark_shipped(services: ServiceRegistry, order_id: str, shipment: Shipment, *, actor: str) -> CallToolResult:
    result = await services.orders.mark_shipped(order_id, shipment, actor=actor)
    if not isinstance(result, Success):
        return order_failure(result, tool_name=TOOL_SHIP)
    order = result.value
    text = md.order(order, heading=f"Shipped order `{order.id}`") + "\n\nThe customer will get an e-mail."
    if order.shipping_address is None:
        text = f"**Warning:** {shipping.no_address(code_span(order.id), how=NO_ADDRESS_TOOL)}\n\n{text}"
    return ok(text, OrderRead.from_record(order, md.next_tools(order)))


async def mark_delivered(services: ServiceRegistry, order_id: str, *, actor: str) -> CallToolResult:
    result = await services.orders.mark_delivered(order_id, actor=actor)
    if not isinstance(result, Success):
        return order_failure(result, tool_name=TOOL_DELIVER)
    order = result.value
    return ok(
        md.order(order, heading=f"Delivered order `{order.id}`"), OrderRead.from_record(order, md.next_tools(order))
    )


# -- the tools: arguments in, one use case through ``run`` ------------------------------------------


async def orders_place(
    ctx: ToolContext,
    customer_id: Annotated[EntityRef, Field(description="cus_…")],
    lines: Annotated[
        list[OrderLineRequest],
        Field(min_length=1, max_length=MAX_LINES, description="One per product: sku or product_id, and quantity"),
    ],
    shipping_address: ShippingAddress | None = None,
    idempotency_key: KeyArg = None,
    dry_run: bool = False,
) -> Annotated[CallToolResult, PlaceOrderRead]:
    """Place an order: reserves stock and fixes each line's price. The order e-mail is queued and sent later by a
    background worker.

    If any line is bad (unknown SKU, inactive product, short of stock, another currency) nothing is reserved and
    the error names every bad line. dry_run=true prices and checks it, placing and reserving nothing. Pass an
    idempotency_key so a retry cannot place it twice. Next: payments_record, then orders_mark_shipped.
    """
    values = {"customer_id": customer_id, "lines": lines, "shipping_address": shipping_address}
    request = validated(OrderCreate, as_sent(ctx, values), TOOL_PLACE)
    if isinstance(request, CallToolResult):
        return request
    who = actor(ctx)
    return await run(
        ctx, TOOL_PLACE, lambda s: place(s, request, dry_run=dry_run, actor=who, idempotency_key=idempotency_key)
    )


async def orders_get(
    ctx: ToolContext, order_id: OrderIdArg, response_format: FormatArg = "concise"
) -> Annotated[CallToolResult, OrderRead]:
    """One order with its lines, payments and refunds, and the tools that apply to it next."""
    return await run(ctx, TOOL_GET, lambda s: get(s, order_id, detailed=response_format == "detailed"))


async def orders_list(
    ctx: ToolContext,
    status: OrderStatus | None = None,
    customer_id: Annotated[EntityRef | None, Field(description="cus_…")] = None,
    placed_from: Annotated[date | None, Field(description="First day, shop's time zone")] = None,
    placed_to: Annotated[date | None, Field(description="Last day (inclusive)")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Field(max_length=512, description="Previous page's next_cursor; same filters")
    ] = None,
    response_format: FormatArg = "concise",
) -> Annotated[CallToolResult, OrderPageRead]:
    """Orders newest first, optionally by status, customer and days placed.

    status='paid': waiting to be shipped; status='placed': waiting for payment. Returns a page and a next_cursor.
    """
    values: dict[str, Any] = {"status": status, "customer_id": customer_id, "placed_from": placed_from}
    values |= {"placed_to": placed_to, "limit": limit, "cursor": cursor}
    query = validated(OrderQuery, as_sent(ctx, values), TOOL_LIST)
    if isinstance(query, CallToolResult):
        return query
    return await run(ctx, TOOL_LIST, lambda s: list_page(s, query, detailed=response_format == "detailed"))


async def orders_cancel(
    ctx: ToolContext,
    order_id: OrderIdArg,
    answer: Annotated[confirm.Answer, Resolve(ask_cancel)],
    reason: Annotated[str | None, Field(max_length=500, description="Why, for the audit log")] = None,
    approval_id: ApprovalIdArg = None,
) -> Annotated[CallToolResult, MoneyBackRead]:
    """Cancel a placed or paid order: lines go back into stock, anything paid is refunded (a card through the
    payment gateway). The customer's e-mail is queued and sent later by a background worker.

    Money going back needs a person's approval: a client that shows forms asks them there; otherwise the first
    call changes nothing and returns a preview and an approval request (apr_…) for them to approve outside this
    conversation; repeat the call with approval_id once they say they did. Shipped or delivered: payments_refund.
    """
    request = validated(OrderCancel, as_sent(ctx, {"order_id": order_id, "reason": reason}), TOOL_CANCEL)
    if isinstance(request, CallToolResult):
        return request
    approval = confirm.approval_from(answer, approval_id)
    if isinstance(approval, str):
        return confirm.declined(f"cancelling order {order_id}", approval)
    who = actor(ctx)
    refunds = ctx.request_context.lifespan_context.caller().may("refunds")  # money back needs it (access.py)
    result = await run(
        ctx,
        TOOL_CANCEL,
        lambda s: cancel(s, order_id, reason=request.reason, actor=who, approval=approval, may_give_money_back=refunds),
    )
    return await confirm.with_page_link(ctx, result)


async def orders_mark_shipped(
    ctx: ToolContext,
    order_id: OrderIdArg,
    carrier: Annotated[str, Field(max_length=100, description="e.g. DHL, UPS")],
    tracking_number: Annotated[str, Field(max_length=100)],
) -> Annotated[CallToolResult, OrderRead]:
    """Record that a paid order left the shop, with carrier and tracking number.

    The customer's e-mail is queued and sent later by a background worker.
    """
    shipment = validated(Shipment, as_sent(ctx, {"carrier": carrier, "tracking_number": tracking_number}), TOOL_SHIP)
    if isinstance(shipment, CallToolResult):
        return shipment
    who = actor(ctx)
    return await run(ctx, TOOL_SHIP, lambda s: mark_shipped(s, order_id, shipment, actor=who))


async def orders_mark_delivered(ctx: ToolContext, order_id: OrderIdArg) -> Annotated[CallToolResult, OrderRead]:
    """Record that a shipped order reached the customer."""
    who = actor(ctx)
    return await run(ctx, TOOL_DELIVER, lambda s: mark_delivered(s, order_id, actor=who))


def tools() -> list[Tool]:
    """This module's tools, for the server to serve."""
    return [
        tool(orders_place, title="Place an order", read_only=False, idempotent=False, outline=order_outline("order")),
        tool(orders_get, title="Get an order", read_only=True, idempotent=True),
        tool(orders_list, title="List orders", read_only=True, idempotent=True),
        tool(
            orders_cancel,
            title="Cancel an order",
            read_only=False,
            idempotent=False,
            destructive=True,
            open_world=True,
            outline=REFUNDS_OUTLINE,
        ),
        tool(
            orders_mark_shipped,
            title="Mark an order shipped",
            read_only=False,
            idempotent=False,
            outline=order_outline("", "carrier", "tracking_number"),
        ),
        tool(
            orders_mark_delivered,
            title="Mark an order delivered",
            read_only=False,
            idempotent=False,
            outline=order_outline(""),
        ),
    ]
