"""Markdown for orders, payments and reports; every list is a bounded table with a hint for more.

Strangers' text (names, addresses, carriers, tracking numbers, references, reasons) is quoted
through utils.markdown: code spans inline and in tables, never prose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mcp_server.handlers.mcp.markdown import heading, in_currency, money, more, one_currency, times
from mcp_server.handlers.views.actions import ActionNames, named, next_actions
from mcp_server.handlers.views.money_back import refunds_left
from mcp_server.handlers.views.tables import line_rows, payment_rows
from mcp_server.models.common import Page
from mcp_server.models.orders import Order, OrderLine
from mcp_server.models.payments import Payment
from mcp_server.models.reports import SalesSummary
from mcp_server.utils.markdown import EMPTY, cell, code_span, inline, shared_columns, table
from mcp_server.utils.money import format_money
from mcp_server.utils.time import isoformat_utc

if TYPE_CHECKING:
    from mcp_server.services.orders import OrderDetail

# The use cases (the Order's action verbs) as this door's tools.
ACTION_TOOLS: ActionNames = {
    "pay": "payments_record",
    "cancel": "orders_cancel",
    "ship": "orders_mark_shipped",
    "deliver": "orders_mark_delivered",
    "refund": "payments_refund",
}


def next_tools(order: Order) -> list[str]:
    return named(next_actions(order), ACTION_TOOLS)


def tools_for(actions: tuple[str, ...]) -> str:
    return ", ".join(named(actions, ACTION_TOOLS)) or "none (the status is final)"


def _money(order: Order, minor: int) -> str:
    return format_money(minor, order.currency)


def lines_table(
    lines: tuple[OrderLine, ...], currency: str, *, stock: dict[int, int] | None = None, detailed: bool = False
) -> str:
    """An order's lines, in order; the currency is said once, in the headers."""
    headers = ["SKU", "product", "qty", f"unit price ({currency})", f"total ({currency})"]
    headers += (["in stock"] if stock else []) + (["back in stock"] if detailed else [])
    rows: list[list[str]] = []
    for line in line_rows(lines, currency):
        row = [
            f"`{line.sku}`",
            cell(line.name, 80),
            f"{line.quantity:,}",
            money(line.unit_price_minor, currency, currency),
            money(line.total_minor, currency, currency),
        ]
        if stock is not None:
            row.append(f"{stock.get(line.no, 0):,}")
        if detailed:
            row.append(f"{line.restocked:,}")
        rows.append(row)
    return table(headers, rows)


def order(o: Order, *, heading: str | None = None, customer_name: str | None = None, detailed: bool = False) -> str:
    title = heading or f"Order `{o.id}`"
    who = f"{code_span(customer_name)} (`{o.customer_id}`)" if customer_name else f"`{o.customer_id}`"
    parts = [
        f"## {title}",
        f"- **status:** {o.status}",
        f"- **customer:** {who}",
        f"- **placed:** {isoformat_utc(o.placed_at)}",
        f"- **total:** {_money(o, o.total_minor)} ({o.units:,} unit{'s' if o.units != 1 else ''})",
        f"- **paid:** {_money(o, o.paid_minor)}"
        + (f" · **still to pay:** {_money(o, o.outstanding_minor)}" if o.outstanding_minor else ""),
    ]
    if o.refunded_minor:
        parts.append(f"- **refunded:** {_money(o, o.refunded_minor)}")
    if o.shipping_address is not None:
        parts.append(f"- **ship to:** {inline(o.shipping_address.one_line())}")
    if o.carrier:
        parts.append(f"- **shipped with:** {inline(o.carrier)}, tracking {inline(o.tracking_number)}")
    if detailed:
        parts.append(f"- **last changed:** {isoformat_utc(o.updated_at)}")
    parts.append(f"- **next:** {', '.join(next_tools(o)) or 'nothing (final status)'}")
    if o.lines:
        parts += ["", lines_table(o.lines, o.currency, detailed=detailed)]
    return "\n".join(parts)


def order_detail(detail: OrderDetail, *, detailed: bool = False) -> str:
    """An order with its customer's name, lines, payments and refunds."""
    name = detail.customer.name if detail.customer else None
    text = order(detail.order, customer_name=name, detailed=detailed)
    if detail.payments:
        text += "\n\n### Payments and refunds\n\n" + payments_table(detail.payments, detailed=detailed, orders=False)
    return text


def customer_cell(customer_id: str, names: Mapping[str, str]) -> str:
    """A customer in a list: the name (quoted), then the id."""
    name = names.get(customer_id)
    return f"{cell(name)} `{customer_id}`" if name else f"`{customer_id}`"


def order_page(
    page: Page[Order],
    *,
    filters: str,
    names: Mapping[str, str],
    detailed: bool = False,
    by_status: bool = False,
    by_customer: bool = False,
) -> str:
    """``by_status``, ``by_customer``: the list is filtered so (``filters`` says it), so no row repeats it."""
    if not page.items:
        return f"No orders{filters}."
    shown = one_currency(o.currency for o in page.items)
    placed = times([o.placed_at for o in page.items])
    rows: list[list[str]] = []
    for o, when in zip(page.items, placed.cells, strict=True):
        row = [
            f"`{o.id}`",
            when,
            o.status,
            customer_cell(o.customer_id, names),
            f"{o.units:,}",
            money(o.total_minor, o.currency, shown),
            money(o.outstanding_minor, o.currency, shown) if o.outstanding_minor else EMPTY,
        ]
        if detailed:
            row += [
                money(o.paid_minor, o.currency, shown),
                money(o.refunded_minor, o.currency, shown),
                cell(o.shipping_address.one_line(), 120) if o.shipping_address else EMPTY,
            ]
        rows.append(row)
    headers = ["id", "placed (UTC)", "status", "customer", "units", in_currency("total", shown)]
    headers += [in_currency("to pay", shown)]
    headers += [in_currency("paid", shown), in_currency("refunded", shown), "ship to"] if detailed else []
    dropped = {"status"} if by_status else set[str]()
    dropped |= {"customer"} if by_customer else set()
    owing = any(o.outstanding_minor for o in page.items)
    dropped |= set() if owing else {in_currency("to pay", shown)}  # a column no row fills: said once
    keep = [i for i, h in enumerate(headers) if h not in dropped]
    headers, rows, notes = shared_columns(
        [headers[i] for i in keep],
        [[row[i] for i in keep] for row in rows],
        {"status": "all {}", "customer": "all of {}"},
    )
    notes += [] if owing else ["nothing to pay"]
    count = len(page.items)
    title = f"{count} order{'' if count == 1 else 's'}{filters}, newest first"
    text = heading(title, notes + ([placed.note] if placed.note else [])) + table(headers, rows)
    return text + more(page.next_cursor, "orders_list", filtered=bool(filters))


def payments_table(payments: list[Payment], *, detailed: bool = False, orders: bool = True) -> str:
    """Payments and refunds (a refund's id starts ref_, its amount is negative); ``orders``: with an order
    column (a table of one order's payments leaves it out)."""
    notes, shown = _payments(payments, detailed=detailed, orders=orders)
    return ("(" + "; ".join(notes) + ")\n\n" if notes else "") + shown


def _payments(payments: list[Payment], *, detailed: bool, orders: bool) -> tuple[list[str], str]:
    """What every row shares, and the table."""
    shown = one_currency(p.currency for p in payments)
    listed = payment_rows(payments)
    when = times([p.at for p in listed])
    rows = [
        [f"`{p.id}`", moment]
        + ([f"`{p.order_id}`"] if orders else [])
        + [money(p.signed_minor, p.currency, shown), p.method, p.status, cell(p.note, 80)]
        + (
            [
                f"`{p.refund_of}`" if p.refund_of else EMPTY,
                "yes" if p.restock else "no",
                money(p.refunded_minor, p.currency, shown) if p.refunded_minor is not None else EMPTY,
            ]
            if detailed
            else []
        )
        for p, moment in zip(listed, when.cells, strict=True)
    ]
    headers = ["id", "when (UTC)"] + (["order"] if orders else []) + [in_currency("amount", shown)]
    headers += ["method", "status", "reference / reason"]
    headers += ["refund of", "restock", in_currency("refunded from it", shown)] if detailed else []
    headers, rows, notes = shared_columns(headers, rows, {"method": "all {}", "status": "all {}"})
    return notes + ([when.note] if when.note else []), table(headers, rows)


def payment_page(page: Page[Payment], *, filters: str, detailed: bool = False, by_order: bool = False) -> str:
    if not page.items:
        return f"No payments or refunds{filters}."
    count = len(page.items)
    notes, shown = _payments(page.items, detailed=detailed, orders=not by_order)
    text = heading(f"{count} payment{'' if count == 1 else 's'} and refunds{filters}, oldest first", notes)
    return text + shown + more(page.next_cursor, "payments_list", filtered=bool(filters))


def filters(parts: list[str]) -> str:
    """' (status paid, from 2026-11-01)' for a list heading; '' without filters."""
    return (" (" + ", ".join(parts) + ")") if parts else ""


def sales_summary(s: SalesSummary) -> str:
    span = f"{s.date_from.isoformat()} to {s.date_to.isoformat()} ({s.timezone})"
    parts = [f"## Sales {span}"]
    if s.group_by == "day":
        if not s.days:
            parts.append("No orders or refunds in this period.")
        else:
            shown = one_currency(d.currency for d in s.days)
            cancelled = any(d.cancelled for d in s.days)  # else a column of zeros: said once, below
            rows = [
                [
                    d.day.isoformat(),
                    f"{d.orders:,}",
                    f"{d.units:,}",
                    money(d.revenue_minor, d.currency, shown),
                    money(d.refunds_minor, d.currency, shown) if d.refunds_minor else EMPTY,
                    money(d.revenue_minor - d.refunds_minor, d.currency, shown),
                ]
                + ([f"{d.cancelled:,}"] if cancelled else [])
                for d in s.days
            ]
            headers = ["day", "orders", "units"] + [in_currency(h, shown) for h in ("revenue", "refunds", "net")]
            parts.append(table(headers + (["cancelled"] if cancelled else []), rows))
            totals: dict[str, list[int]] = {}
            for d in s.days:
                figures = totals.setdefault(d.currency, [0, 0, 0, 0])
                figures[0] += d.orders
                figures[1] += d.units
                figures[2] += d.revenue_minor
                figures[3] += d.refunds_minor
            parts.append(
                "\n".join(
                    f"**Total {currency}:** {o:,} order{'' if o == 1 else 's'}, {u:,} unit{'' if u == 1 else 's'}, "
                    f"revenue {format_money(r, currency)}, refunds {format_money(f, currency)}, "
                    f"net {format_money(r - f, currency)}"
                    for currency, (o, u, r, f) in sorted(totals.items())
                )
                + ("" if cancelled else "; no order cancelled")
            )
    products = s.products if s.group_by == "product" else s.top
    label = "By product" if s.group_by == "product" else f"Top {len(products)} products by revenue"
    if products:
        shown = one_currency(p.currency for p in products)
        rows = [
            [
                f"`{p.sku}`",
                cell(p.name, 60),
                f"{p.orders:,}",
                f"{p.units:,}",
                money(p.revenue_minor, p.currency, shown),
            ]
            for p in products
        ]
        parts += [f"### {label}", table(["SKU", "product", "orders", "units", in_currency("revenue", shown)], rows)]
    elif s.group_by == "product":
        parts.append("No products sold in this period.")
    if s.group_by == "day":
        parts.append("Net is revenue minus refunds; a cancelled order counts only as cancelled.")
    else:
        parts.append("Cancelled orders are left out.")
    return "\n\n".join(parts)


def card_refund_notes(refunds: list[Payment], order_id: str) -> str:
    """What the agent must know about card refunds the gateway has not made (empty when all are done)."""
    left = refunds_left(refunds)
    notes: list[str] = []
    if left.pending is not None:
        ids = ", ".join(f"`{id_}`" for id_ in left.pending_ids)
        notes.append(
            f"**Pending at the payment gateway:** {left.pending} ({ids}). The gateway did not answer, so it is not "
            "known yet whether the card was refunded; the money stays reserved and can never be refunded twice. The "
            "server's worker asks the gateway again, with the same key, within a few minutes (with "
            "SHOPKEEPER_WORKER=off, `shopkeeper worker` does), and so does the next confirmed "
            f"{ACTION_TOOLS['refund']} for order `{order_id}`; payments_list shows when it is done."
        )
    for refund in left.refused:
        notes.append(
            f"**Not refunded:** {refund.money} (`{refund.id}`): "
            f"{inline(refund.reason) if refund.reason else 'the payment gateway refused it'}. That money was not "
            "returned and can be refunded again once the cause is fixed."
        )
    return "\n\n".join(notes)
