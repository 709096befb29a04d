"""``shopkeeper orders place|get|list|cancel|ship|deliver``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from mcp_server.handlers.cli import output
from mcp_server.handlers.cli.common import (
    Call,
    Exit,
    Subcommands,
    check,
    command,
    fail,
    group,
    idempotency_key,
    idempotency_option,
    money_back_exit,
    next_commands,
    paging,
    validated,
    yes_option,
)
from mcp_server.handlers.cli.confirm import with_confirmation
from mcp_server.handlers.views import shipping
from mcp_server.handlers.views.cancellation import cancel_view
from mcp_server.handlers.views.money_back import cancelled_read, refunds_left
from mcp_server.handlers.views.tables import line_rows, payment_rows
from mcp_server.models.orders import (
    ORDER_STATUSES,
    Order,
    OrderCancel,
    OrderCreate,
    OrderLine,
    OrderQuery,
    OrderRead,
    OrderSummaryRead,
    PlaceOrderRead,
    Shipment,
    order_json,
)
from mcp_server.models.payments import Payment
from mcp_server.services.approvals import Approval
from mcp_server.services.orders import Cancellation, OrderDetail, Quote
from mcp_server.utils.money import format_money

ADDRESS_FIELDS = ("name", "line1", "line2", "postal_code", "city", "country")
NO_ADDRESS_OPTIONS = "'orders place' takes one (--ship-name, --ship-line1 …) only when the order is placed"
PLACE_OPTIONS = {"customer_id": "--customer", "lines": "--line"} | {
    f"shipping_address.{name}": f"--ship-{name.replace('_', '-')}" for name in ADDRESS_FIELDS
}


# -- text for people ----------------------------------------------------------------------------


def lines_table(lines: Sequence[OrderLine], currency: str, stock: dict[int, int] | None = None) -> str:
    headers = ["#", "sku", "product", "qty", "unit price", "line total"] + (["in stock"] if stock else [])
    rows = [
        [line.no, line.sku, line.name, line.quantity, line.unit_price, line.total]
        + ([stock.get(line.no, 0)] if stock else [])
        for line in line_rows(lines, currency)
    ]
    return output.table(headers, rows)


def payments_table(payments: Sequence[Payment]) -> str:
    rows = [[p.id, p.at, p.kind, p.order_id, p.amount, p.method, p.status, p.note] for p in payment_rows(payments)]
    return output.table(["id", "when (UTC)", "kind", "order", "amount", "method", "status", "reference / reason"], rows)


def order_text(o: Order, *, heading: str | None = None, customer: str | None = None) -> str:
    def money(minor: int) -> str:
        return format_money(minor, o.currency)

    pairs: list[tuple[str, object]] = [
        ("order", o.id),
        ("status", o.status),
        ("customer", f"{customer} ({o.customer_id})" if customer else o.customer_id),
        ("placed", o.placed_at),
        ("total", f"{money(o.total_minor)} ({o.units:,} unit{'s' if o.units != 1 else ''})"),
        (
            "paid",
            money(o.paid_minor) + (f" (still to pay {money(o.outstanding_minor)})" if o.outstanding_minor else ""),
        ),
    ]
    pairs += [("refunded", money(o.refunded_minor))] if o.refunded_minor else []
    pairs += [("ship to", o.shipping_address.one_line())] if o.shipping_address else []
    pairs += [("shipped with", f"{o.carrier}, tracking {o.tracking_number}")] if o.carrier else []
    pairs.append(("next", ", ".join(next_commands(o)) or "nothing (final status)"))
    text = (f"{heading}\n\n" if heading else "") + output.fields(pairs)
    return text + (output.section("Lines", lines_table(o.lines, o.currency)) if o.lines else "")


def detail_text(detail: OrderDetail) -> str:
    text = order_text(detail.order, customer=detail.customer.name if detail.customer else None)
    if detail.payments:
        text += output.section("Payments and refunds", payments_table(detail.payments))
    return text


def quote_text(quote: Quote) -> str:
    currency = quote.currency or "EUR"
    text = (
        f"Dry run: nothing was placed or reserved.\n\ncustomer: {quote.customer.name} ({quote.customer.id})\n"
        f"total:    {format_money(quote.total_minor, currency)}\n\n{lines_table(quote.lines, currency, quote.stock)}"
    )
    if quote.problems:
        text += "\n\nCannot be placed as it is:\n" + "\n".join(f"  {p.describe()}" for p in quote.problems)
        near = [
            f"  line {s.line} ({s.typed}): {s.candidate.key} ({' '.join(s.candidate.name.split())}, {s.candidate.id})"
            for s in quote.suggestions
        ]
        return text + ("\n\nDid you mean:\n" + "\n".join(near) if near else "")
    return text + "\n\nIt can be placed: run the same command without --dry-run."


def card_refund_notes(refunds: Sequence[Payment], order_id: str) -> str:
    """Plain-text warnings about card refunds the gateway has not made (empty when all are done)."""
    left = refunds_left(refunds)
    notes: list[str] = []
    if left.pending is not None:
        notes.append(
            f"PENDING at the payment gateway: {left.pending} ({', '.join(left.pending_ids)}). It is not known yet "
            "whether the card was refunded; the money stays reserved and cannot be refunded twice. The worker "
            "(in the MCP server, or 'shopkeeper worker') asks the gateway again within a few minutes, and so does "
            f"the next confirmed refund of order {order_id}; 'shopkeeper payments list --order {order_id}' shows it."
        )
    notes += [
        f"NOT REFUNDED: {r.money} ({r.id}): {r.reason or 'refused by the gateway'}. "
        "That money was not returned and can be refunded again once the cause is fixed."
        for r in left.refused
    ]
    return "\n".join(notes)


def cancel_preview(value: Cancellation) -> str:
    return cancel_view(value).describe()


# -- commands -----------------------------------------------------------------------------------


def _lines(args: argparse.Namespace) -> list[dict[str, str]]:
    """``--line SKU=QTY`` and ``--product ID=QTY`` as the order's lines (quantities checked by the model)."""
    lines: list[dict[str, str]] = []
    by_sku: list[str] = args.line or []
    by_id: list[str] = args.product or []
    for key, flag, values in (("sku", "--line", by_sku), ("product_id", "--product", by_id)):
        for value in values:
            what, sep, quantity = str(value).rpartition("=")
            if not sep or not what.strip():
                fail(
                    f"{flag}: expected {'SKU' if key == 'sku' else 'ID'}=QUANTITY, e.g. MUG-01=2; got '{value}'",
                    Exit.USAGE,
                )
            lines.append({key: what, "quantity": quantity})
    return lines


async def place(args: argparse.Namespace, call: Call) -> int:
    address = {name: getattr(args, f"ship_{name}") for name in ADDRESS_FIELDS}
    address = {name: value for name, value in address.items() if value is not None}
    values: dict[str, Any] = {"customer_id": args.customer, "lines": _lines(args), "shipping_address": address or None}
    request = validated(OrderCreate, values, PLACE_OPTIONS)
    if args.dry_run:
        quote = check(await call.services.orders.quote(request))
        problems = [p.describe() for p in quote.problems]
        structured = PlaceOrderRead.dry_run_of(
            quote.customer.id, quote.currency, quote.total_minor, quote.lines, problems
        )
        return call.show(structured, lambda: quote_text(quote))
    placed = check(await call.services.orders.place(request, actor=call.actor, idempotency_key=idempotency_key(args)))
    order = placed.order
    structured = PlaceOrderRead.placed(order, next_commands(order), replayed=placed.replayed)
    heading = (
        f"Order {order.id} was already placed with this idempotency key; nothing was changed now."
        if placed.replayed
        else f"Placed order {order.id}."
    )
    return call.show(structured, lambda: order_text(order, heading=heading))


async def get(args: argparse.Namespace, call: Call) -> int:
    detail = check(await call.services.orders.get(args.order_id))
    return call.show(order_json(detail.order, next_commands(detail.order)), lambda: detail_text(detail))


async def list_(args: argparse.Namespace, call: Call) -> int:
    values = {"status": args.status, "customer_id": args.customer, "placed_from": args.date_from}
    values |= {"placed_to": args.date_to, "limit": args.limit, "cursor": args.cursor}
    query = validated(OrderQuery, values, {"customer_id": "--customer", "placed_from": "--from", "placed_to": "--to"})
    found = check(await call.services.orders.list(query))
    rows = [
        [
            o.id,
            o.placed_at,
            o.status,
            o.customer_id,
            o.units,
            format_money(o.total_minor, o.currency),
            format_money(o.outstanding_minor, o.currency) if o.outstanding_minor else None,
        ]
        for o in found.items
    ]
    structured = {
        "orders": [
            OrderSummaryRead.json_of(o, next_commands(o), found.customer_names[o.customer_id]) for o in found.items
        ],
        "next_cursor": found.next_cursor,
    }
    headers = ["id", "placed (UTC)", "status", "customer", "units", "total", "to pay"]
    return call.show(structured, lambda: output.page("orders", headers, rows, found.next_cursor))


async def cancel(args: argparse.Namespace, call: Call) -> int:
    request = validated(OrderCancel, {"order_id": args.order_id, "reason": args.reason}, {"order_id": "ID"})

    async def attempt(approval: Approval):  # the service's own union of results
        return await call.services.orders.cancel(
            request.order_id, reason=request.reason, actor=call.actor, approval=approval
        )

    done = check(await with_confirmation(call, attempt, cancel_preview, yes=args.yes))
    view = cancel_view(done)
    structured = cancelled_read(done, done=True)
    text = f"Cancelled order {view.order_id}: {view.restocked_units} unit(s) back into stock; refunded {view.refunded}."
    if notes := card_refund_notes(view.refunds, view.order_id):
        text += "\n" + notes
    call.show(
        structured, lambda: text + (output.section("Refunds", payments_table(view.refunds)) if view.refunds else "")
    )
    return money_back_exit(view.refunds)


async def ship(args: argparse.Namespace, call: Call) -> int:
    shipment = validated(Shipment, {"carrier": args.carrier, "tracking_number": args.tracking_number})
    order = check(await call.services.orders.mark_shipped(args.order_id, shipment, actor=call.actor))
    heading = f"Shipped order {order.id}; the customer will get an e-mail."
    if order.shipping_address is None:  # --json says so with "shipping_address": null
        heading = f"WARNING: {shipping.no_address(order.id, how=NO_ADDRESS_OPTIONS)}\n\n{heading}"
    return call.show(OrderRead.from_record(order, next_commands(order)), lambda: order_text(order, heading=heading))


async def deliver(args: argparse.Namespace, call: Call) -> int:
    order = check(await call.services.orders.mark_delivered(args.order_id, actor=call.actor))
    return call.show(
        OrderRead.from_record(order, next_commands(order)),
        lambda: order_text(order, heading=f"Delivered order {order.id}."),
    )


def register(groups: Subcommands) -> None:
    commands = group(
        groups,
        "orders",
        summary="place, look up, list, cancel, ship and deliver orders",
        description="Orders move placed -> paid -> shipped -> delivered; placed or paid orders can be cancelled.",
    )
    place_ = command(
        commands,
        "place",
        place,
        summary="place an order (reserves stock)",
        description="Place an order for a customer: reserves stock and snapshots each line's price. If any line "
        "is bad (unknown SKU, inactive, not enough stock, another currency) nothing is reserved and the error "
        "names every bad line (exit 4). --dry-run prices it without placing it.",
    )
    place_.add_argument("--customer", required=True, metavar="ID", help="customer id (cus_...)")
    place_.add_argument("--line", action="append", metavar="SKU=QTY", help="a product by SKU and how many; repeat")
    place_.add_argument("--product", action="append", metavar="ID=QTY", help="a product by id and how many; repeat")
    for name in ADDRESS_FIELDS:
        flag = f"--ship-{name.replace('_', '-')}"
        place_.add_argument(flag, dest=f"ship_{name}", help=f"shipping address: {name.replace('_', ' ')}")
    place_.add_argument("--dry-run", action="store_true", help="price it and check stock; place nothing")
    idempotency_option(place_, "a repeat with the same key and lines returns the first order")

    get_ = command(commands, "get", get, summary="show one order", description="One order with lines and payments.")
    get_.add_argument("order_id", metavar="ID", help="order id (ord_...)")

    list_parser = command(
        commands,
        "list",
        list_,
        summary="list orders, newest first",
        description="Orders newest first, optionally by status, customer and the days they were placed (in the "
        "shop's time zone). '--status paid' lists what waits to be shipped.",
    )
    list_parser.add_argument("--status", choices=ORDER_STATUSES, help="only orders in this status")
    list_parser.add_argument("--customer", metavar="ID", help="only this customer's orders")
    list_parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="placed on or after this day")
    list_parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="placed on or before this day")
    paging(list_parser)

    cancel_ = command(
        commands,
        "cancel",
        cancel,
        summary="cancel a placed or paid order (restocks; refunds what was paid)",
        description="Cancel a placed or paid order: every line goes back into stock and anything paid is "
        "refunded. When money goes back you are shown what will happen and asked to confirm; scripts pass "
        "--yes. Without a terminal and without --yes nothing changes (exit 5).",
    )
    cancel_.add_argument("order_id", metavar="ID", help="order id (ord_...)")
    cancel_.add_argument("--reason", help="why, for the audit log")
    yes_option(cancel_)

    ship_ = command(
        commands,
        "ship",
        ship,
        aliases=("mark-shipped",),
        summary="record that a paid order left the shop",
        description="Mark a paid order shipped with its carrier and tracking number; e-mails the customer.",
    )
    ship_.add_argument("order_id", metavar="ID", help="order id (ord_...)")
    ship_.add_argument("--carrier", required=True, help="e.g. DHL, UPS, Royal Mail")
    ship_.add_argument("--tracking-number", required=True, help="the carrier's tracking number")

    deliver_ = command(
        commands,
        "deliver",
        deliver,
        aliases=("mark-delivered",),
        summary="record that a shipped order arrived",
        description="Mark a shipped order delivered.",
    )
    deliver_.add_argument("order_id", metavar="ID", help="order id (ord_...)")
