"""Text for people (aligned columns, ``label: value`` blocks) and JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel

from mcp_server.utils.markdown import truncate
from mcp_server.utils.time import isoformat_utc

CELL_CHARS = 60
NONE = "-"


def to_json(data: BaseModel | Mapping[str, object]) -> str:
    """The read model as the MCP tools return it (``model_dump(mode="json")``), indented."""
    plain = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return json.dumps(plain, indent=2, ensure_ascii=False)


def cell(value: object, limit: int = CELL_CHARS) -> str:
    """One table cell: on one line, shortened, ``-`` for nothing."""
    if value is None or value == "":
        return NONE
    if isinstance(value, datetime):
        return isoformat_utc(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return truncate(" ".join(str(value).split()), limit)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain columns aligned with spaces, a header row and a rule under it."""
    cells = [[cell(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(value.ljust(width) for value, width in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * width for width in widths]), *(line(row) for row in cells)])


def fields(pairs: Sequence[tuple[str, object]]) -> str:
    """``label: value`` lines with the values aligned; long text is kept whole."""
    width = max((len(label) for label, _ in pairs), default=0) + 1
    return "\n".join(
        f"{label + ':':<{width}} {cell(value, limit=10_000) if not isinstance(value, str) else value or NONE}"
        for label, value in pairs
    )


def page(
    noun: str, headers: Sequence[str], rows: Sequence[Sequence[object]], next_cursor: str | None, filters: str = ""
) -> str:
    """A list: its table, then how to get the next page (or that this was the last)."""
    if not rows:
        return f"No {noun}{filters}." + ("" if next_cursor is None else f"\nNext page: --cursor {next_cursor}")
    text = table(headers, rows)
    if next_cursor is not None:
        text += f"\n\n{len(rows)} {noun} shown. Next page: --cursor {next_cursor} (with the same filters)"
    return text


def section(title: str, body: str) -> str:
    """A titled part after a block: a blank line, the title, the body."""
    return f"\n\n{title}\n{body}"
