"""Renders service results as concise Markdown for an assistant to read.

Strangers' text (names, e-mails, notes, descriptions, actors, echoed filters) is quoted through
utils.markdown: code spans inline and in tables, ``untrusted`` fenced blocks when it spans lines.
"""

from __future__ import annotations

from mcp_server.models.audit import AuditEntry, JsonScalar
from mcp_server.models.catalog import Product
from mcp_server.models.common import Page
from mcp_server.models.customers import Customer
from mcp_server.utils.markdown import cell, code_span, inline, item, table
from mcp_server.utils.money import format_money
from mcp_server.utils.time import isoformat_utc

LIST_NOTE_CHARS = 200
ACTOR_CHARS = 80
VALUE_CHARS = 100  # per value in an audit entry's change; 'detailed' shows three times as much


def customer(c: Customer, *, detailed: bool, heading: str = "{name}") -> str:
    """``heading`` may contain ``{name}``, which becomes the customer's name as a code span."""
    lines = [
        f"## {heading.replace('{name}', code_span(c.name))}",
        f"- **id:** `{c.id}`",
        item("email", c.email),
        item("phone", c.phone),
    ]
    if detailed:
        lines.append(item("notes", c.notes))
        lines.append(f"- **registered:** {isoformat_utc(c.created_at)}")
        lines.append(f"- **last updated:** {isoformat_utc(c.updated_at)}")
    elif c.notes:
        lines.append(f"- **notes:** {inline(c.notes, LIST_NOTE_CHARS)}")
    return "\n".join(lines)


def customer_page(page: Page[Customer], *, detailed: bool, filtered_by: str | None) -> str:
    what = f" matching {code_span(filtered_by)}" if filtered_by else ""
    if not page.items:
        more = " Try a shorter filter or call customers_list without one." if filtered_by else ""
        return f"No customers{what}.{more}"
    headers = ["id", "name", "email", "phone"] + (["registered", "notes"] if detailed else [])
    rows: list[list[str]] = []
    for c in page.items:
        row = [f"`{c.id}`", cell(c.name), cell(c.email), cell(c.phone)]
        if detailed:
            row += [isoformat_utc(c.created_at), cell(c.notes, LIST_NOTE_CHARS)]
        rows.append(row)
    count = len(page.items)
    text = f"**{count} customer{'' if count == 1 else 's'}{what}**\n\n" + table(headers, rows)
    return text + _more(page.next_cursor, "customers_list", filtered=filtered_by is not None)


def audit_page(page: Page[AuditEntry], *, detailed: bool, filtered: bool) -> str:
    if not page.items:
        return "No audit entries match these filters."
    headers = ["when", "actor", "action", "entity", "change"]
    rows = [
        [
            isoformat_utc(e.occurred_at),
            cell(e.actor, ACTOR_CHARS),
            f"`{e.action}`",
            f"`{e.entity_id}`",
            change(e, VALUE_CHARS * 3 if detailed else VALUE_CHARS).replace("|", "\\|"),
        ]
        for e in page.items
    ]
    text = f"**{len(page.items)} audit entr{'y' if len(page.items) == 1 else 'ies'}, newest first**\n\n"
    return text + table(headers, rows) + _more(page.next_cursor, "audit_log_list", filtered=filtered)


def change(e: AuditEntry, limit: int) -> str:
    """AuditEntry.summary() in Markdown: field names as they are, each value quoted and cut to ``limit``."""
    if e.before is None and e.after is not None:
        return "created: " + ", ".join(f"{k}={_value(v, limit)}" for k, v in e.after.items() if v is not None)
    if e.after is None:
        return "deleted"
    before = e.before or {}
    changed = [
        f"{key}: {_value(before.get(key), limit)} → {_value(value, limit)}"
        if key in before
        else f"{key}={_value(value, limit)}"
        for key, value in e.after.items()
        if key not in before or before[key] != value
    ]
    return "; ".join(changed) if changed else "no field changed"


def _value(value: JsonScalar, limit: int) -> str:
    if value is None:
        return "(empty)"
    return inline(value, limit) if isinstance(value, str) else str(value)


def _more(next_cursor: str | None, tool: str, *, filtered: bool) -> str:
    if next_cursor is None:
        return "\n\nThat is the whole list."
    same = " with the same filters and" if filtered else " with"
    return f"\n\nMore results exist: call {tool} again{same} cursor=`{next_cursor}`."


def product(p: Product, *, detailed: bool, heading: str = "{name}") -> str:
    """``heading`` may contain ``{name}``, which becomes the product's name as a code span."""
    lines = [
        f"## {heading.replace('{name}', code_span(p.name))}",
        f"- **id:** `{p.id}`",
        f"- **SKU:** `{p.sku}`",  # the SKU pattern admits no backtick or pipe; copy it as shown
        f"- **price:** {format_money(p.price_minor, p.currency)}",
        f"- **in stock:** {p.stock:,}",
        f"- **active:** {'yes' if p.active else 'no (hidden from searches unless include_inactive=true)'}",
    ]
    if detailed:
        lines.append(item("description", p.description))
        lines.append(f"- **created:** {isoformat_utc(p.created_at)}")
        lines.append(f"- **last updated:** {isoformat_utc(p.updated_at)}")
    return "\n".join(lines)


def product_page(page: Page[Product], *, detailed: bool, filters: str, include_inactive: bool) -> str:
    """``filters`` is already Markdown with strangers' text quoted, e.g. ' matching `mug`'."""
    if not page.items:
        also = "" if include_inactive else ", or include_inactive=true"
        return f"No products{filters}. Try fewer filters{also}."
    headers = ["id", "SKU", "name", "price", "stock"] + (["active", "description"] if detailed else [])
    rows: list[list[str]] = []
    for p in page.items:
        row = [
            f"`{p.id}`",
            f"`{p.sku}`",
            cell(p.name),
            format_money(p.price_minor, p.currency),
            f"{p.stock:,}",
        ]
        if detailed:
            row += ["yes" if p.active else "no", cell(p.description, LIST_NOTE_CHARS)]
        rows.append(row)
    count = len(page.items)
    text = f"**{count} product{'' if count == 1 else 's'}{filters}**\n\n" + table(headers, rows)
    return text + _more(page.next_cursor, "catalog_search", filtered=bool(filters))
