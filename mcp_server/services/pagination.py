"""Keyset pages: reading the cursor a caller sent back, and making the next one."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from mcp_server.models.common import Page
from mcp_server.services.results import Rejected
from mcp_server.utils.cursors import CursorError, decode_cursor, encode_cursor

T = TypeVar("T")
K = TypeVar("K", str, int)


def resume_after(
    cursor: str | None, kind: str, filters: Mapping[str, object], key_type: type[K]
) -> K | Rejected | None:
    """The sort key to continue after (None: from the start), or Rejected for a bad cursor."""
    if cursor is None:
        return None
    try:
        (key,) = decode_cursor(cursor, kind, filters, arity=1)
    except CursorError as exc:
        return Rejected(str(exc), field="cursor")
    if not isinstance(key, key_type):
        return Rejected("the cursor is not one this server issued", field="cursor")
    return key


def page_of(
    rows: Sequence[T], limit: int, kind: str, filters: Mapping[str, object], key: Callable[[T], str | int]
) -> Page[T]:
    """``rows`` fetched with ``limit + 1``: the page, and a cursor if there was one more row."""
    items = list(rows[:limit])
    more = len(rows) > limit and items
    return Page(items=items, next_cursor=encode_cursor(kind, filters, [key(items[-1])]) if more else None)
