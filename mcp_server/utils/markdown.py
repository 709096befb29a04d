"""Markdown helpers: text from strangers shown as quoted data (code spans, fenced blocks), small tables.

Anyone but the shop's code (customers, clients, the assistant) may have written a name, a note or an
address, and such text may read like instructions. It is never shown as prose: inline values become
code spans, multi-line values fenced blocks tagged ``untrusted``; inside both, Markdown shows every
character literally, so nothing is escaped twice. Two things no Markdown can show: a line break in a
code span (it reads as a space) and a NUL (it reads as U+FFFD); a lone CR reads as a line break.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

EMPTY = "—"
UNTRUSTED = "untrusted"

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def escape(text: str) -> str:
    """Escape Markdown in the shop's own prose (e.g. a message naming a SKU), on one line."""
    flat = " ".join(text.split())
    return _SPECIAL.sub(r"\\\1", flat)


# In a sentence the shop wrote: a value it quotes ('MUG-01'), and words with an underscore (ids such
# as prd_01…, argument names such as product_id).
_QUOTED_OR_NAME = re.compile(r"(?<![A-Za-z0-9])'([^'\n]+)'(?![A-Za-z0-9])|\b[A-Za-z0-9]*_[A-Za-z0-9_]*")


def prose(text: str) -> str:
    """A sentence the shop wrote that names values: what it quotes ('…'), ids and argument names become
    code spans (copyable as they are, and a stranger's value reads as data), the rest is escaped."""
    flat = " ".join(text.split())
    parts: list[str] = []
    at = 0
    for found in _QUOTED_OR_NAME.finditer(flat):
        parts.append(_SPECIAL.sub(r"\\\1", flat[at : found.start()]))
        parts.append(code_span(found.group(1) if found.group(1) is not None else found.group()))
        at = found.end()
    parts.append(_SPECIAL.sub(r"\\\1", flat[at:]))
    return "".join(parts)


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def one_line(value: str) -> str:
    """``value`` with each line break (CR LF, CR or LF) as one space, as a code span shows it."""
    return _LINE_BREAK.sub(" ", value)


def is_multiline(value: str) -> bool:
    return _LINE_BREAK.search(value) is not None


def _longest_run(text: str, char: str) -> int:
    return max((len(run) for run in re.findall(re.escape(char) + "+", text)), default=0)


def code_span(value: str) -> str:
    """``value`` as an inline code span that shows it exactly (line breaks as spaces; '' as EMPTY).

    The backtick run around it is longer than any run inside, and one space pads each side when
    the value begins or ends with a backtick, or begins and ends with a space (CommonMark strips one).
    """
    text = one_line(value).replace("\0", "\ufffd")
    if not text:
        return EMPTY
    ticks = "`" * (_longest_run(text, "`") + 1)
    pad = text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " " and text.strip(" ") != "")
    space = " " if pad else ""
    return f"{ticks}{space}{text}{space}{ticks}"


def fenced(value: str, tag: str = UNTRUSTED) -> str:
    """``value`` as a fenced code block tagged ``tag``, whose fence no line of the value can close.

    The fence uses backticks or tildes, whichever the value has the shorter runs of, one longer
    than the longest run. The block's content is the value with its line breaks as LF, plus a final LF.
    """
    text = _LINE_BREAK.sub("\n", value).replace("\0", "\ufffd")
    backticks, tildes = _longest_run(text, "`"), _longest_run(text, "~")
    char, run = ("`", backticks) if backticks <= tildes else ("~", tildes)
    fence = char * max(3, run + 1)
    return f"{fence}{tag}\n{text}\n{fence}"


def indented(block: str, prefix: str = "  ") -> str:
    """Every line of ``block`` behind ``prefix``: a fenced block nested in a list item."""
    return "\n".join(prefix + line for line in block.split("\n"))


def inline(value: str | None, limit: int | None = None) -> str:
    """A stranger's value inside a line: a code span on one line, cut to ``limit`` characters (an
    ellipsis after the span says so); EMPTY when there is none."""
    if not value:
        return EMPTY
    text = one_line(value)
    cut = limit is not None and len(text) > limit
    if cut and limit is not None:
        text = text[: max(limit - 1, 1)]
    return code_span(text) + ("…" if cut else "")


def cell(value: str | None, limit: int | None = None) -> str:
    """``inline`` for a table cell: ``|`` becomes ``\\|``, so GFM keeps the row's columns (the code
    span still shows ``|``)."""
    return inline(value, limit).replace("|", "\\|")


def item(label: str, value: str | None) -> str:
    """A list item ``- **label:** value``: a code span, or a fenced block under it when multi-line."""
    if value and is_multiline(value):
        return f"- **{label}:**\n\n{indented(fenced(value))}"
    return f"- **{label}:** {inline(value)}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table without padding or outer pipes (``a|b``: GFM makes both optional,
    and they only cost tokens); cells are the shop's own words or made by ``cell``. A row whose first
    cell is empty keeps its leading pipe, so the cells stay in their columns."""
    if len(headers) == 1:  # without pipes one column would be a setext heading
        return "\n".join(f"|{line}|" for line in (headers[0], "-", *(row[0] for row in rows)))
    lines = ["|".join(headers), "|".join("-" for _ in headers)]
    lines.extend(("|" if row and not row[0] else "") + "|".join(row) for row in rows)
    return "\n".join(lines)


SHARED_ROWS = 3
"""A page of at least this many rows says a value every row shares once, above the table."""


def shared_columns(
    headers: Sequence[str], rows: Sequence[Sequence[str]], wording: Mapping[str, str]
) -> tuple[list[str], list[list[str]], list[str]]:
    """``headers`` and ``rows`` without the columns named in ``wording`` whose cell is the same on every
    row (of a page of SHARED_ROWS or more), and a note for each, ``wording[header]`` with ``{}`` as the cell."""
    same = [
        i
        for i, header in enumerate(headers)
        if header in wording and len(rows) >= SHARED_ROWS and len({row[i] for row in rows}) == 1
    ]
    kept = [i for i in range(len(headers)) if i not in same]
    notes = [wording[headers[i]].format(rows[0][i]) for i in same]
    return [headers[i] for i in kept], [[row[i] for i in kept] for row in rows], notes


_FENCE_LINE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<rest>.*)$")


def close_open_fence(text: str) -> str:
    """``text`` with a fenced block it leaves open (cut short mid-block) closed, so nothing after it reads as data."""
    open_fence: tuple[str, str] | None = None  # (indent, fence)
    for line in text.split("\n"):
        found = _FENCE_LINE.match(line)
        if found is None:
            continue
        fence, rest = found.group("fence"), found.group("rest")
        if open_fence is None:
            if not (fence[0] == "`" and "`" in rest):  # a backtick fence's info string has no backtick
                open_fence = (found.group("indent"), fence)
        elif fence[0] == open_fence[1][0] and len(fence) >= len(open_fence[1]) and not rest.strip():
            open_fence = None
    if open_fence is None:
        return text
    indent, fence = open_fence
    return f"{text}\n{indent}{fence}"
