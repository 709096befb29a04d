"""The rows of an order's lines and of payments: which figure goes in which column, once.

Each door renders the cells its own way (Markdown quotes strangers' text, the terminal aligns).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from mcp_server.models.orders import OrderLine
from mcp_server.models.payments import Payment
from mcp_server.utils.money import format_money


@dataclass(frozen=True, slots=True)
class LineRow:
    no: int
    sku: str
    name: str
    quantity: int
    unit_price: str
    total: str
    restocked: int  # units of this line already back in stock
    unit_price_minor: int
    total_minor: int


def line_rows(lines: Iterable[OrderLine], currency: str) -> list[LineRow]:
    return [
        LineRow(
            line.line_no,
            line.sku,
            line.name,
            line.quantity,
            format_money(line.unit_price_minor, currency),
            format_money(line.total_minor, currency),
            line.restocked,
            line.unit_price_minor,
            line.total_minor,
        )
        for line in lines
    ]


@dataclass(frozen=True, slots=True)
class PaymentRow:
    id: str
    at: datetime
    kind: str
    order_id: str
    amount: str  # a refund as a negative amount
    method: str
    status: str
    note: str | None  # why it failed, else the reference (or the refund's reason)
    refund_of: str | None
    restock: bool
    refunded: str | None  # a payment's refunds so far; None for a refund
    signed_minor: int  # ``amount`` in minor units
    refunded_minor: int | None
    currency: str


def payment_rows(payments: Iterable[Payment]) -> list[PaymentRow]:
    return [
        PaymentRow(
            id=p.id,
            at=p.created_at,
            kind=p.kind,
            order_id=p.order_id,
            amount=format_money(p.amount_minor if p.kind == "payment" else -p.amount_minor, p.currency),
            method=p.method,
            status=p.status,
            note=p.reason if p.status == "failed" else p.reference or p.reason,
            refund_of=p.payment_id,
            restock=p.restock,
            refunded=format_money(p.refunded_minor, p.currency) if p.kind == "payment" else None,
            signed_minor=p.amount_minor if p.kind == "payment" else -p.amount_minor,
            refunded_minor=p.refunded_minor if p.kind == "payment" else None,
            currency=p.currency,
        )
        for p in payments
    ]
