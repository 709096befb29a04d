"""Renders service results as concise Markdown for an assistant to read."""

from __future__ import annotations

from mcp_server.models.audit import AuditEntry
from mcp_server.models.catalog import Product
from mcp_server.models.common import Page
from mcp_server.models.customers import Customer
from mcp_server.utils.markdown import escape, table, truncate
from mcp_server.utils.money import format_money
from mcp_server.utils.time import isoformat_utc

LIST_NOTE_CHARS = 200
SUMMARY_CHARS = 300


def customer(c: Customer, *, detailed: bool, heading: str = "{name}") -> str:
    """``heading`` may contain ``{name}``, which becomes the customer's name, escaped."""
    lines = [
        f"## {heading.replace('{name}', escape(c.name))}",
        f"- **id:** `{c.id}`",
        f"- **email:** {escape(c.email)}",
    ]
    lines.append(f"- **phone:** {escape(c.phone) if c.phone else '—'}")
    if detailed:
        lines.append(f"- **notes:** {escape(c.notes) if c.notes else '—'}")
        lines.append(f"- **registered:** {isoformat_utc(c.created_at)}")
        lines.append(f"- **last updated:** {isoformat_utc(c.updated_at)}")
    elif c.notes:
        lines.append(f"- **notes:** {escape(truncate(c.notes, LIST_NOTE_CHARS))}")
    return "\n".join(lines)


def customer_page(page: Page[Customer], *, detailed: bool, filtered_by: str | None) -> str:
    what = f" matching “{escape(filtered_by)}”" if filtered_by else ""
    if not page.items:
        more = " Try a shorter filter or call customers_list without one." if filtered_by else ""
        return f"No customers{what}.{more}"
    headers = ["id", "name", "email", "phone"] + (["registered", "notes"] if detailed else [])
    rows: list[list[str]] = []
    for c in page.items:
        row = [f"`{c.id}`", escape(c.name), escape(c.email), escape(c.phone) if c.phone else "—"]
        if detailed:
            row += [isoformat_utc(c.created_at), escape(truncate(c.notes or "", LIST_NOTE_CHARS)) or "—"]
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
            escape(e.actor),
            f"`{e.action}`",
            f"`{e.entity_id}`",
            escape(truncate(e.summary(), SUMMARY_CHARS if not detailed else SUMMARY_CHARS * 3)),
        ]
        for e in page.items
    ]
    text = f"**{len(page.items)} audit entr{'y' if len(page.items) == 1 else 'ies'}, newest first**\n\n"
    return text + table(headers, rows) + _more(page.next_cursor, "audit_log_list", filtered=filtered)


def _more(next_cursor: str | None, tool: str, *, filtered: bool) -> str:
    if next_cursor is None:
        return "\n\nThat is the whole list."
    same = " with the same filters and" if filtered else " with"
    return f"\n\nMore results exist: call {tool} again{same} cursor=`{next_cursor}`."


def product(p: Product, *, detailed: bool, heading: str = "{name}") -> str:
    """``heading`` may contain ``{name}``, which becomes the product's name, escaped."""
    lines = [
        f"## {heading.replace('{name}', escape(p.name))}",
        f"- **id:** `{p.id}`",
        f"- **SKU:** `{p.sku}`",  # the SKU pattern admits no backtick or pipe; copy it as shown
        f"- **price:** {format_money(p.price_minor, p.currency)}",
        f"- **in stock:** {p.stock:,}",
        f"- **active:** {'yes' if p.active else 'no (hidden from searches unless include_inactive=true)'}",
    ]
    if detailed:
        lines.append(f"- **description:** {escape(p.description) if p.description else '—'}")
        lines.append(f"- **created:** {isoformat_utc(p.created_at)}")
        lines.append(f"- **last updated:** {isoformat_utc(p.updated_at)}")
    return "\n".join(lines)


def product_page(page: Page[Product], *, detailed: bool, filters: str, include_inactive: bool) -> str:
    """``filters`` is already escaped Markdown, e.g. ' matching “mug”'."""
    if not page.items:
        also = "" if include_inactive else ", or include_inactive=true"
        return f"No products{filters}. Try fewer filters{also}."
    headers = ["id", "SKU", "name", "price", "stock"] + (["active", "description"] if detailed else [])
    rows: list[list[str]] = []
    for p in page.items:
        row = [
            f"`{p.id}`",
            f"`{p.sku}`",
            escape(p.name),
            format_money(p.price_minor, p.currency),
            f"{p.stock:,}",
        ]
        if detailed:
            row += ["yes" if p.active else "no", escape(truncate(p.description or "", LIST_NOTE_CHARS)) or "—"]
        rows.append(row)
    count = len(page.items)
    text = f"**{count} product{'' if count == 1 else 's'}{filters}**\n\n" + table(headers, rows)
    return text + _more(page.next_cursor, "catalog_search", filtered=bool(filters))
