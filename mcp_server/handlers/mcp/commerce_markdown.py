"""Markdown for orders, payments and reports; every list is a bounded table with a hint for more.

Strangers' text (names, addresses, carriers, tracking numbers, references, reasons) is quoted
through utils.markdown: code spans inline and in tables, never prose.
"""

from __future__ import annotations

from mcp_server.handlers.views.actions import ActionNames, named, next_actions
from mcp_server.handlers.views.money_back import refunds_left
from mcp_server.handlers.views.tables import line_rows, payment_rows
from mcp_server.models.common import Page
from mcp_server.models.orders import Order, OrderLine
from mcp_server.models.payments import Payment
from mcp_server.models.reports import SalesSummary
from mcp_server.services.orders import OrderDetail
from mcp_server.utils.markdown import cell, code_span, inline, table
from mcp_server.utils.money import format_money
from mcp_server.utils.time import isoformat_utc

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
    headers = ["#", "SKU", "product", "qty", "unit price", "line total"] + (["in stock"] if stock else [])
    headers += ["back in stock"] if detailed else []
    rows: list[list[str]] = []
    for line in line_rows(lines, currency):
        row = [str(line.no), f"`{line.sku}`", cell(line.name, 80), f"{line.quantity:,}", line.unit_price, line.total]
        if stock is not None:
            row.append(f"{stock.get(line.no, 0):,}")
        if detailed:
            row.append(f"{line.restocked:,}")
        rows.append(row)
    return table(headers, rows)


def order(o: Order, *, heading: str | None = None, customer_name: str | None = None, detailed: bool = False) -> str:
    title = heading or f"Order {o.id}"
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
        text += "\n\n### Payments and refunds\n\n" + payments_table(detail.payments, detailed=detailed)
    return text


def order_page(page: Page[Order], *, filters: str, detailed: bool = False) -> str:
    if not page.items:
        return f"No orders{filters}."
    rows: list[list[str]] = []
    for o in page.items:
        row = [
            f"`{o.id}`",
            isoformat_utc(o.placed_at),
            o.status,
            f"`{o.customer_id}`",
            f"{o.units:,}",
            _money(o, o.total_minor),
            _money(o, o.outstanding_minor) if o.outstanding_minor else "—",
        ]
        if detailed:
            row += [
                _money(o, o.paid_minor),
                _money(o, o.refunded_minor),
                cell(o.shipping_address.one_line(), 120) if o.shipping_address else "—",
            ]
        rows.append(row)
    headers = ["id", "placed (UTC)", "status", "customer", "units", "total", "to pay"]
    headers += ["paid", "refunded", "ship to"] if detailed else []
    count = len(page.items)
    text = f"**{count} order{'' if count == 1 else 's'}{filters}, newest first**\n\n" + table(headers, rows)
    return text + more(page.next_cursor, "orders_list", filtered=bool(filters))


def payments_table(payments: list[Payment], *, detailed: bool = False) -> str:
    rows = [
        [
            f"`{p.id}`",
            isoformat_utc(p.at),
            p.kind,
            f"`{p.order_id}`",
            p.amount,
            p.method,
            p.status,
            cell(p.note, 80),
        ]
        + (
            [f"`{p.refund_of}`" if p.refund_of else "—", "yes" if p.restock else "no", p.refunded or "—"]
            if detailed
            else []
        )
        for p in payment_rows(payments)
    ]
    headers = ["id", "when (UTC)", "kind", "order", "amount", "method", "status", "reference / reason"]
    headers += ["refund of", "restock", "refunded from it"] if detailed else []
    return table(headers, rows)


def payment_page(page: Page[Payment], *, filters: str, detailed: bool = False) -> str:
    if not page.items:
        return f"No payments or refunds{filters}."
    count = len(page.items)
    text = f"**{count} payment{'' if count == 1 else 's'} and refunds{filters}, oldest first**\n\n"
    return (
        text
        + payments_table(page.items, detailed=detailed)
        + more(page.next_cursor, "payments_list", filtered=bool(filters))
    )


def filters(parts: list[str]) -> str:
    """' (status paid, from 2026-11-01)' for a list heading; '' without filters."""
    return (" (" + ", ".join(parts) + ")") if parts else ""


def more(next_cursor: str | None, tool: str, *, filtered: bool) -> str:
    if next_cursor is None:
        return "\n\nThat is the whole list."
    same = " with the same filters and" if filtered else " with"
    return f"\n\nMore results exist: call {tool} again{same} cursor=`{next_cursor}`."


def sales_summary(s: SalesSummary) -> str:
    span = f"{s.date_from.isoformat()} to {s.date_to.isoformat()} ({s.timezone})"
    parts = [f"## Sales {span}"]
    if s.group_by == "day":
        if not s.days:
            parts.append("No orders or refunds in this period.")
        else:
            rows = [
                [
                    d.day.isoformat(),
                    f"{d.orders:,}",
                    f"{d.units:,}",
                    format_money(d.revenue_minor, d.currency),
                    format_money(d.refunds_minor, d.currency),
                    format_money(d.revenue_minor - d.refunds_minor, d.currency),
                    f"{d.cancelled:,}",
                ]
                for d in s.days
            ]
            headers = ["day", "orders", "units", "revenue", "refunds", "net", "cancelled"]
            parts.append(table(headers, rows))
            totals: dict[str, list[int]] = {}
            for d in s.days:
                figures = totals.setdefault(d.currency, [0, 0, 0, 0])
                figures[0] += d.orders
                figures[1] += d.units
                figures[2] += d.revenue_minor
                figures[3] += d.refunds_minor
            parts.append(
                "\n".join(
                    f"**Total {currency}:** {o:,} orders, {u:,} units, revenue {format_money(r, currency)}, "
                    f"refunds {format_money(f, currency)}, net {format_money(r - f, currency)}"
                    for currency, (o, u, r, f) in sorted(totals.items())
                )
            )
    products = s.products if s.group_by == "product" else s.top
    label = "By product" if s.group_by == "product" else f"Top {len(products)} products by revenue"
    if products:
        rows = [
            [
                f"`{p.sku}`",
                cell(p.name, 60),
                f"{p.orders:,}",
                f"{p.units:,}",
                format_money(p.revenue_minor, p.currency),
            ]
            for p in products
        ]
        parts += [f"### {label}", table(["SKU", "product", "orders", "units", "revenue"], rows)]
    elif s.group_by == "product":
        parts.append("No products sold in this period.")
    parts.append(
        "Revenue counts orders placed in the period that are not cancelled; refunds count money returned in the "
        "period on orders that are not cancelled; net is revenue minus refunds. A cancelled order counts only under "
        "cancelled."
    )
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
