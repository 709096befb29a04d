"""Near misses ("did you mean …") in Markdown: each with the call that uses it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from mcp_types import CallToolResult

from mcp_server.handlers.mcp.common import failure
from mcp_server.models.orders import OrderLineRequest
from mcp_server.models.suggestions import Suggestion
from mcp_server.services.results import Failure
from mcp_server.utils.markdown import code_span


def listed(suggestions: Sequence[Suggestion], call: Callable[[Suggestion], str] | None = None) -> str:
    """One item per suggestion: key, name and id as code spans, then the call that uses it."""
    items: list[str] = []
    for s in suggestions:
        c = s.candidate
        use = f": call {call(s)}" if call is not None else ""
        items.append(f"- {code_span(c.key)} — {code_span(c.name)} ({code_span(c.id)}){use}")
    return "\n".join(items)


def failure_with(result: Failure, suggestions: str, *, next_step: str) -> CallToolResult:
    """``common.failure`` with a "Did you mean" block between what went wrong and what to call next."""
    return failure(result, next_step=next_step, between=suggestions)


def product_by_sku(s: Suggestion) -> str:
    return f"catalog_get with sku={code_span(s.candidate.key)}"


def customer_by_id(s: Suggestion) -> str:
    return f"customers_get with customer_id={code_span(s.candidate.id)}"


def for_lines(suggestions: Sequence[Suggestion]) -> str:
    """The suggestions for an order's lines, grouped by line."""
    blocks: list[str] = []
    for line in sorted({s.line for s in suggestions}):
        mine = [s for s in suggestions if s.line == line]
        blocks.append(f"Did you mean, for line {line} ({code_span(mine[0].typed)}):\n{listed(mine)}")
    return "\n\n".join(blocks)


def corrected_lines(lines: Sequence[OrderLineRequest], suggestions: Sequence[Suggestion]) -> str:
    """The order's ``lines`` argument with each mistyped SKU replaced by its best suggestion, as JSON."""
    best: dict[int, str] = {}
    for s in suggestions:  # best first within a line
        best.setdefault(s.line, s.candidate.key)
    fixed: list[dict[str, object]] = []
    for number, line in enumerate(lines, start=1):
        item: dict[str, object] = {"product_id": line.product_id} if line.product_id else {"sku": line.sku}
        if number in best:
            item = {"sku": best[number]}
        fixed.append(item | {"quantity": line.quantity})
    return json.dumps(fixed, ensure_ascii=False, separators=(", ", ": "))
