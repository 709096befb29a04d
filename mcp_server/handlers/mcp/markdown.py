"""Renders service results as concise Markdown for an assistant to read.

Strangers' text (names, e-mails, notes, descriptions, actors, echoed filters) is quoted through
utils.markdown: code spans inline and in tables, ``untrusted`` fenced blocks when it spans lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mcp_server.models.audit import AuditEntry, JsonScalar
from mcp_server.models.catalog import Product
from mcp_server.models.common import Page
from mcp_server.models.customers import Customer
from mcp_server.models.outbox import OutboxMessage
from mcp_server.utils.markdown import EMPTY, SHARED_ROWS, cell, code_span, inline, item, shared_columns, table
from mcp_server.utils.money import format_money
from mcp_server.utils.time import isoformat_utc

LIST_NOTE_CHARS = 200
ACTOR_CHARS = 80
VALUE_CHARS = 100  # per value in an audit entry's change; 'detailed' shows three times as much
CHANGE_CHARS = 72  # an audit entry's change in a concise list: the parts that fit, then CUT
CUT = " …"
# Fields of audit entries whose values the shop's code chose from its own vocabulary (models' Literals).
SHOP_WORDS = frozenset({"status", "currency", "method", "kind", "use_case"})
_WORD = re.compile(r"[A-Za-z_]{1,40}")


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
        more_ = " Try a shorter filter or call customers_list without one." if filtered_by else ""
        return f"No customers{what}.{more_}"
    # A list finds customers: concise shows who they are; phone, registration and notes are 'detailed'.
    headers = ["id", "name", "email"] + (["phone", "registered (UTC)", "notes"] if detailed else [])
    registered = times([c.created_at for c in page.items])
    rows: list[list[str]] = []
    for c, when in zip(page.items, registered.cells, strict=True):
        row = [f"`{c.id}`", cell(c.name), cell(c.email)]
        if detailed:
            row += [cell(c.phone), when, cell(c.notes, LIST_NOTE_CHARS)]
        rows.append(row)
    count = len(page.items)
    notes = [registered.note] if detailed and registered.note else []
    text = heading(f"{count} customer{'' if count == 1 else 's'}{what}", notes) + table(headers, rows)
    return text + more(page.next_cursor, "customers_list", filtered=filtered_by is not None)


def audit_page(page: Page[AuditEntry], *, detailed: bool, filtered: bool) -> str:
    if not page.items:
        return "No audit entries match these filters."
    when = times([e.occurred_at for e in page.items])
    limit = VALUE_CHARS * 3 if detailed else VALUE_CHARS
    changes = [change(e, limit, cut=None if detailed else CHANGE_CHARS) for e in page.items]
    rows = [
        [
            moment,
            cell(e.actor, ACTOR_CHARS),
            e.action,  # one of the shop's own actions (models.audit.Action)
            f"`{e.entity_id}`",
            what.replace("|", "\\|"),
        ]
        for e, moment, what in zip(page.items, when.cells, changes, strict=True)
    ]
    headers, rows, notes = shared_columns(
        ["when (UTC)", "actor", "action", "entity", "change"], rows, {"actor": "all by {}"}
    )
    count = len(page.items)
    title = f"{count} audit entr{'y' if count == 1 else 'ies'}, newest first"
    text = heading(title, notes + ([when.note] if when.note else [])) + table(headers, rows)
    if any(what.endswith(CUT) for what in changes):
        text += "\n\n(…: cut short; response_format='detailed' shows every field.)"
    return text + more(page.next_cursor, "audit_log_list", filtered=filtered)


def notification_page(page: Page[OutboxMessage], *, status: str | None) -> str:
    what = f" ({status})" if status else ""
    if not page.items:
        return f"No notifications{what}."
    # When it was sent, or when the next try is due (a failed one has none).
    when = times([m.sent_at or m.next_attempt_at for m in page.items])
    rows = [
        [
            f"`{m.id}`",
            m.kind,
            cell(m.recipient),
            m.status,
            str(m.attempts),
            moment if m.status != "failed" else EMPTY,
            cell(m.last_error, 120),
        ]
        for m, moment in zip(page.items, when.cells, strict=True)
    ]
    headers = ["id", "kind", "to", "status", "attempts", "sent / next try (UTC)", "last error"]
    if not any(m.last_error for m in page.items):  # a column no row fills says nothing
        headers, rows = headers[:-1], [row[:-1] for row in rows]
    headers, rows, notes = shared_columns(
        headers, rows, {"kind": "all {}", "status": "all {}", "attempts": "{} attempts each"}
    )
    notes += [when.note] if when.note else []
    count = len(page.items)
    text = heading(f"{count} notification{'' if count == 1 else 's'}{what}, oldest first", notes)
    return text + table(headers, rows) + more(page.next_cursor, "notifications_list", filtered=True)


def change(e: AuditEntry, limit: int, *, cut: int | None = None) -> str:
    """AuditEntry.summary() in Markdown: field names as they are, each value quoted and cut to ``limit``;
    with ``cut``, only the parts that fit in about ``cut`` characters, then "…"."""
    if e.before is None and e.after is not None:
        head, sep = "created: ", ", "
        unset: tuple[JsonScalar, ...] = (None,) if cut is None else (None, 0, False, "")  # concise: what was set
        parts = [f"{k}={_value(v, limit, k)}" for k, v in e.after.items() if v not in unset]
        if not parts:
            return "created"
    elif e.after is None:
        return "deleted"
    else:
        head, sep = "", "; "
        before = e.before or {}
        parts = [
            f"{key}: {_value(before.get(key), limit, key)} → {_value(value, limit, key)}"
            if key in before
            else f"{key}={_value(value, limit, key)}"
            for key, value in e.after.items()
            if key not in before or before[key] != value
        ]
        if not parts:
            return "no field changed"
    if cut is not None:
        kept: list[str] = []
        for part in parts:
            if kept and len(head) + len(sep.join([*kept, part])) > cut:
                return head + sep.join(kept) + CUT
            kept.append(part)
    return head + sep.join(parts)


def _value(value: JsonScalar, limit: int, key: str = "") -> str:
    if value is None:
        return "(empty)"
    if key in SHOP_WORDS and isinstance(value, str) and _WORD.fullmatch(value):
        return value  # one of the shop's own words (a status, a currency), not someone's text
    return inline(value, limit) if isinstance(value, str) else str(value)


@dataclass(frozen=True, slots=True)
class Times:
    """A column of UTC moments: ``note`` names the day when every row shares it (the cells are then times)."""

    note: str | None
    cells: list[str]


def times(moments: Sequence[datetime]) -> Times:
    """Cells for a column of moments, in UTC to the minute (structuredContent has them exactly); the
    date is said once, above the table, when a page of SHARED_ROWS or more falls on one day."""
    utc = [m.astimezone(UTC) for m in moments]
    if len(utc) >= SHARED_ROWS and len({m.date() for m in utc}) == 1:
        return Times(f"all on {utc[0].date().isoformat()}", [m.strftime("%H:%M") for m in utc])
    return Times(None, [m.strftime("%Y-%m-%d %H:%M") for m in utc])


def one_currency(currencies: Iterable[str]) -> str | None:
    """The currency every amount of a table is in (said once, in the headers), or None when they differ."""
    found = set(currencies)
    return found.pop() if len(found) == 1 else None


def money(minor: int, currency: str, shown: str | None) -> str:
    """An amount for a table cell: without its currency when the header names it (``shown``)."""
    text = format_money(minor, currency)
    return text.removesuffix(f" {currency}") if currency == shown else text


def in_currency(header: str, shown: str | None) -> str:
    return f"{header} ({shown})" if shown else header


def heading(title: str, notes: Sequence[str] = ()) -> str:
    """A list's first line, with what every row shares, then a blank line."""
    return f"**{title}**" + (f" ({'; '.join(notes)})" if notes else "") + "\n\n"


def more(next_cursor: str | None, tool: str, *, filtered: bool) -> str:
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
    shown = one_currency(p.currency for p in page.items)
    headers = ["id", "SKU", "name", in_currency("price", shown), "stock"]
    headers += ["active", "description"] if detailed else []
    rows: list[list[str]] = []
    for p in page.items:
        row = [f"`{p.id}`", f"`{p.sku}`", cell(p.name), money(p.price_minor, p.currency, shown), f"{p.stock:,}"]
        if detailed:
            row += ["yes" if p.active else "no", cell(p.description, LIST_NOTE_CHARS)]
        rows.append(row)
    count = len(page.items)
    text = heading(f"{count} product{'' if count == 1 else 's'}{filters}") + table(headers, rows)
    return text + more(page.next_cursor, "catalog_search", filtered=bool(filters))
