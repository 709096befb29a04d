"""Payment tools: record money received, list the ledger, refund with a person's approval."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver.resolve import Resolve
from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult
from pydantic import Field, ValidationError

from mcp_server.handlers.mcp import commerce_markdown as md
from mcp_server.handlers.mcp import confirm
from mcp_server.handlers.mcp.common import (
    ToolContext,
    actor,
    as_sent,
    error,
    failure,
    ok,
    run,
    sentence,
    tool,
    validated,
)
from mcp_server.handlers.mcp.context import ServiceRegistry
from mcp_server.handlers.mcp.orders import (
    REFUNDS_OUTLINE,
    ApprovalIdArg,
    FormatArg,
    KeyArg,
    OrderIdArg,
    order_failure,
    order_outline,
)
from mcp_server.handlers.views import cards
from mcp_server.handlers.views.money_back import refund_done, refund_read
from mcp_server.models.common import DEFAULT_LIMIT, Limit
from mcp_server.models.orders import EntityRef, OrderRead
from mcp_server.models.payments import (
    Amount,
    MoneyBackRead,
    PaymentCreate,
    PaymentMethod,
    PaymentPageRead,
    PaymentQuery,
    PaymentRead,
    RefundCreate,
)
from mcp_server.services.results import Rejected, Success
from mcp_server.utils.markdown import code_span, item
from mcp_server.utils.money import format_money

if TYPE_CHECKING:
    from mcp_server.services.approvals import Approval, NeedsApproval
    from mcp_server.services.payments import CardNotCharged, Recorded, RefundPlan

TOOL_RECORD, TOOL_LIST, TOOL_REFUND = "payments_record", "payments_list", "payments_refund"
UNCHANGED = "Nothing was changed."

AmountArg = Annotated[Amount, Field(description="Minor units: 1250 = 12.50 EUR")]


class RecordedRead(PaymentRead):
    replayed: bool  # true: the idempotency_key's first payment, nothing new recorded
    resumed: bool = Field(default=False, description="true: completed an earlier pending card payment instead")
    order: OrderRead


def recorded_result(recorded: Recorded, asked: PaymentCreate | None = None) -> CallToolResult:
    order, view = recorded.order, cards.charged(recorded)
    money = view.money
    match view.state:
        case "replayed":
            heading = (
                f"Payment `{view.payment_id}` of {money} (already recorded with this idempotency_key; nothing was "
                "changed now)"
            )
        case "resumed":
            heading = (
                f"Card payment `{view.payment_id}` of {money}, left pending by an earlier call, is now complete: the "
                "card was charged once. This call charged nothing else"
            )
        case "card":
            heading = f"Charged {money} to card {code_span(view.card)} for order `{view.order_id}`"
        case "manual":
            heading = f"Recorded {money} ({view.method}) for order `{view.order_id}`"
    text = md.order(order, heading=heading)
    if recorded.resumed and asked is not None and (asked.method, asked.amount) != ("card", None):
        text += (
            f"\n\nWhat this call asked for ({asked.method}"
            + (f", {format_money(asked.amount, order.currency)}" if asked.amount else "")
            + ") was not recorded: it only completed the earlier card payment."
        )
    if order.may("ship"):  # paid in full
        text += f"\n\nThe order is paid. Next: {md.ACTION_TOOLS['ship']} with order_id=`{order.id}`."
    elif order.outstanding_minor:
        text += f"\n\nStill to pay: {format_money(order.outstanding_minor, order.currency)}."
    structured = RecordedRead(
        **PaymentRead.from_record(recorded.payment).model_dump(),
        replayed=recorded.replayed,
        resumed=recorded.resumed,
        order=OrderRead.from_record(order, md.next_tools(order)),
    )
    return ok(text, structured)


def not_charged_result(result: CardNotCharged) -> CallToolResult:
    view = cards.not_charged(result)
    what = f"{'The earlier card payment' if view.resumed else 'Card payment'} {view.payment_id} of {view.money}"
    match view.state:
        case "needs_person":
            return error(
                f"{what} for order {view.order_id} is pending and cannot be settled by asking the gateway again: "
                f"{sentence(view.reason)} The order is not paid and must not be shipped.\n\n"
                "Next: tell the person; someone with access to the payment gateway's dashboard must check what "
                f"happened to this payment, then run `{view.settle}` (it asks them to confirm). Until then the order "
                "takes no other payment and cannot be cancelled."
            )
        case "pending":
            return error(
                f"{what} for order {view.order_id} is pending: {sentence(view.reason)} Whether the card was charged "
                "is not known yet; the order is not paid and must not be shipped.\n\n"
                f"Next: call {md.ACTION_TOOLS['pay']} for order_id='{view.order_id}' again in a minute (any "
                "arguments). It asks the gateway about this same payment, with the same idempotency key, so the card "
                "cannot be charged twice."
            )
        case "failed":
            then = " This call charged nothing." if view.resumed else ""
            return error(
                f"{sentence(view.reason)} {what} for order {view.order_id} is recorded as failed; nothing was charged."
                f"{then} Still to pay: {view.owed}.\n\n"
                f"Next: ask the customer for another card and call {md.ACTION_TOOLS['pay']} with its payment_method, "
                "or record the payment as cash, bank_transfer or other."
            )


def refund_preview(plan: RefundPlan) -> str:
    """The preview as Markdown: ids in code spans (copyable as they are), people's text quoted."""
    order = plan.order

    def money(minor: int) -> str:
        return format_money(minor, order.currency)

    who = (
        f"{code_span(plan.customer.name)} ({code_span(plan.customer.email)})"
        if plan.customer
        else f"`{order.customer_id}`"
    )
    stock = (
        f"{plan.restock_units} unit(s) go back into stock"
        if plan.restock and plan.restock_units
        else "nothing goes back into stock"
    )
    return "\n".join(
        [
            f"- **refund:** {money(plan.amount_minor)} to {who}",
            f"- **order:** `{order.id}` — total {money(order.total_minor)}, paid {money(order.paid_minor)}, "
            f"already refunded {money(plan.earlier_refunds)}",
            item("reason", plan.reason),
            f"- **stock:** {stock}",
        ]
    )


def refund_result(result: Success[RefundPlan] | NeedsApproval[RefundPlan]) -> CallToolResult:
    # Imported here: the services load with the database, in the background, after start-up.
    from mcp_server.services.approvals import NeedsApproval

    plan = result.value if isinstance(result, Success) else result.preview
    order = plan.order
    structured = refund_read(plan, done=isinstance(result, Success))
    if isinstance(result, NeedsApproval):
        return confirm.needs_person(
            result, structured, tool_name=TOOL_REFUND, shown=refund_preview(plan), nothing="nothing was refunded yet"
        )
    view = refund_done(plan)
    notes = md.card_refund_notes(list(plan.refunds), order.id)
    match view.state:
        case "unfinished":
            heading = f"Refund of {view.amount} on order `{view.order_id}`: not all of it is done — read on"
        case "replayed":
            heading = (
                f"Refund of {view.amount} on order `{view.order_id}` (already made with this idempotency_key; nothing "
                "was changed now)"
            )
        case "done":
            heading = f"Refunded {view.amount} on order `{view.order_id}`"
    stock = f"; {view.restocked_units} unit(s) went back into stock" if view.restocked_units else ""
    text = (
        f"## {heading}\n\n- **order status:** {view.order_status}\n- **refunded in total:** "
        f"{view.refunded} of {view.paid} paid{stock}\n\n" + md.payments_table(list(plan.refunds), orders=False)
    )
    if notes:
        text += "\n\n" + notes
    if view.state == "done":
        text += "\n\nThe customer will get an e-mail."
    return ok(text, structured)


async def ask_refund(
    ctx: ToolContext,
    order_id: str | None,
    payment_id: str | None,
    amount: int,
    reason: str,
    restock: bool,
    idempotency_key: str | None,
    approval_id: str | None,
) -> Any:
    if approval_id is not None or not confirm.can_ask(ctx):
        return confirm.not_asked("approval_id given or client cannot be asked")
    values = {"order_id": order_id, "payment_id": payment_id, "amount": amount, "reason": reason}
    try:
        request = RefundCreate.model_validate(as_sent(ctx, values | {"restock": restock}))
    except ValidationError:
        return confirm.not_asked("the tool body reports the problem")
    services = await confirm.reachable(ctx)
    if services is None:
        return confirm.not_asked("the tool body reports the problem")
    if idempotency_key is not None and await services.payments.was_refunded_with(request, idempotency_key) is True:
        return confirm.not_asked("a retry of a refund already made: the tool body replays it")
    preview = await services.payments.preview_refund(request)
    if not isinstance(preview, Success):
        return confirm.not_asked("the tool body reports the problem")
    return confirm.ask(preview.value.describe() + " Go ahead?")


# -- the use cases, each with its services handed in (a test calls them without a server) ------------


async def record(
    services: ServiceRegistry, request: PaymentCreate, *, actor: str, idempotency_key: str | None
) -> CallToolResult:
    from mcp_server.services.payments import CardNotCharged

    result = await services.payments.record(request, actor=actor, idempotency_key=idempotency_key)
    match result:
        case Success(value=recorded):
            return recorded_result(recorded, request)
        case CardNotCharged():
            return not_charged_result(result)
        case Rejected(field="amount"):
            return failure(result, next_step=f"record at most what is still to pay (orders_get shows it). {UNCHANGED}")
        case Rejected(field="method"):
            return failure(result, next_step=f"use method cash, bank_transfer or other. {UNCHANGED}")
        case _:
            return order_failure(result, tool_name=TOOL_RECORD)


async def list_page(services: ServiceRegistry, query: PaymentQuery, *, detailed: bool) -> CallToolResult:
    result = await services.payments.list(query)
    match result:
        case Success(value=page):
            parts = [f"of order {code_span(query.order_id)}"] if query.order_id else []
            parts += [f"from {query.date_from}"] if query.date_from else []
            parts += [f"to {query.date_to}"] if query.date_to else []
            filters = md.filters(parts)
            structured = PaymentPageRead(
                payments=[PaymentRead.from_record(p) for p in page.items], next_cursor=page.next_cursor
            )
            text = md.payment_page(page, filters=filters, detailed=detailed, by_order=query.order_id is not None)
            return ok(text, structured)
        case _:
            return order_failure(result, tool_name=TOOL_LIST)


async def refund(
    services: ServiceRegistry, request: RefundCreate, *, actor: str, approval: Approval, idempotency_key: str | None
) -> CallToolResult:
    from mcp_server.services.approvals import NeedsApproval

    result = await services.payments.refund(request, actor=actor, approval=approval, idempotency_key=idempotency_key)
    match result:
        case Success() | NeedsApproval():
            return refund_result(result)
        case Rejected(field="amount"):
            return failure(
                result, next_step=f"refund at most the amount shown (orders_get lists payments). {UNCHANGED}"
            )
        case Rejected(field="payment_id"):
            return failure(result, next_step=f"call payments_list with the order_id. {UNCHANGED}")
        case _:
            return order_failure(result, tool_name=TOOL_REFUND)


# -- the tools: arguments in, one use case through ``run`` ------------------------------------------


async def payments_record(
    ctx: ToolContext,
    order_id: OrderIdArg,
    method: Annotated[
        PaymentMethod, Field(description="card: charge payment_method now; others: money already received")
    ],
    amount: Annotated[
        Amount | None, Field(description="Minor units: 1250 = 12.50 EUR; default: all still to pay")
    ] = None,
    payment_method: Annotated[
        str | None, Field(max_length=120, description="For method=card: the customer's saved card (pm_…)")
    ] = None,
    reference: Annotated[
        str | None, Field(max_length=200, description="E.g. the bank transfer's reference, a receipt number")
    ] = None,
    idempotency_key: KeyArg = None,
) -> Annotated[CallToolResult, RecordedRead]:
    """Record money received for a placed order, or charge the customer's saved card through the payment gateway.

    At most what is still to pay. Paid in full, the order can be shipped (orders_mark_shipped). A card is never
    charged twice: if the gateway does not answer, the payment stays pending and the next payments_record for the
    order completes it. Pass an idempotency_key so a retry cannot record a payment twice.
    """
    values = {
        "order_id": order_id,
        "amount": amount,
        "method": method,
        "payment_method": payment_method,
        "reference": reference,
    }
    request = validated(PaymentCreate, as_sent(ctx, values), TOOL_RECORD)
    if isinstance(request, CallToolResult):
        return request
    who = actor(ctx)
    return await run(ctx, TOOL_RECORD, lambda s: record(s, request, actor=who, idempotency_key=idempotency_key))


async def payments_list(
    ctx: ToolContext,
    order_id: Annotated[EntityRef | None, Field(description="ord_…")] = None,
    date_from: Annotated[date | None, Field(description="First day, shop's time zone")] = None,
    date_to: Annotated[date | None, Field(description="Last day (inclusive)")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Field(max_length=512, description="Previous page's next_cursor; same filters")
    ] = None,
    response_format: FormatArg = "concise",
) -> Annotated[CallToolResult, PaymentPageRead]:
    """Payments received and refunds made, oldest first, by order or by day range."""
    values: dict[str, Any] = {"order_id": order_id, "date_from": date_from, "date_to": date_to}
    query = validated(PaymentQuery, as_sent(ctx, values | {"limit": limit, "cursor": cursor}), TOOL_LIST)
    if isinstance(query, CallToolResult):
        return query
    return await run(ctx, TOOL_LIST, lambda s: list_page(s, query, detailed=response_format == "detailed"))


async def payments_refund(
    ctx: ToolContext,
    amount: AmountArg,
    reason: Annotated[str, Field(max_length=500, description="Why, for the shop's records")],
    answer: Annotated[confirm.Answer, Resolve(ask_refund)],
    order_id: Annotated[EntityRef | None, Field(description="ord_… (newest payments first); or payment_id")] = None,
    payment_id: Annotated[EntityRef | None, Field(description="pay_…; or order_id")] = None,
    restock: Annotated[bool, Field(description="true: every unit not yet returned goes back into stock")] = False,
    idempotency_key: KeyArg = None,
    approval_id: ApprovalIdArg = None,
) -> Annotated[CallToolResult, MoneyBackRead]:
    """Give money back (at most paid minus refunded; a card through the payment gateway). The customer's e-mail is
    queued and sent later by a background worker.

    Needs a person's approval: a client that shows forms asks them there; otherwise the first call changes nothing
    and returns a preview and an approval request (apr_…) for them to approve outside this conversation; repeat the
    call with the same arguments and approval_id once they say they did. Refunded in full, the order is refunded.
    For a return of some items: restock=false, then catalog_adjust_stock (reason=restock) for them.
    """
    values = {"order_id": order_id, "payment_id": payment_id, "amount": amount, "reason": reason}
    request = validated(RefundCreate, as_sent(ctx, values | {"restock": restock}), TOOL_REFUND)
    if isinstance(request, CallToolResult):
        return request
    approval = confirm.approval_from(answer, approval_id)
    if isinstance(approval, str):
        return confirm.declined("the refund", approval)
    who = actor(ctx)
    result = await run(
        ctx,
        TOOL_REFUND,
        lambda s: refund(s, request, actor=who, approval=approval, idempotency_key=idempotency_key),
    )
    return await confirm.with_page_link(ctx, result)


def tools() -> list[Tool]:
    """This module's tools, for the server to serve."""
    return [
        tool(
            payments_record,
            title="Record a payment or charge a card",
            read_only=False,
            idempotent=False,
            open_world=True,
            outline=order_outline("order", "paid_minor", "outstanding_minor"),
        ),
        tool(payments_list, title="List payments and refunds", read_only=True, idempotent=True),
        tool(
            payments_refund,
            title="Refund a payment",
            read_only=False,
            idempotent=False,
            destructive=True,
            open_world=True,
            outline=REFUNDS_OUTLINE,
        ),
    ]
