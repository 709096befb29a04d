"""Scopes on the MCP door: each tool needs one scope; a caller sees and calls only the tools its scopes allow.

One gate for every request (an SDK server middleware), so no tool can forget the check: ``tools/list``
shows only the allowed tools, ``tools/call`` of any other is refused before it runs, and resources and
prompts need ``read``. The caller (``AppContext.caller``) comes from the settings on stdio and from the
access token on HTTP. Cancelling an order that gives money back also needs ``refunds``: only the use case
knows that, so ``orders_cancel`` passes ``may_give_money_back`` and the service refuses.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult, ListToolsResult, TextContent

from mcp_server.handlers.mcp.context import AppContext
from mcp_server.models.access import Caller, Scope, scope_text

TOOL_SCOPES: dict[str, Scope] = {
    "customers_get": "read",
    "customers_list": "read",
    "catalog_get": "read",
    "catalog_search": "read",
    "orders_get": "read",
    "orders_list": "read",
    "payments_list": "read",
    "reports_sales_summary": "read",
    "notifications_list": "read",
    "audit_log_list": "read",
    "customers_register": "customers",
    "customers_update": "customers",
    "catalog_create_product": "catalog",
    "catalog_update_product": "catalog",
    "catalog_adjust_stock": "catalog",
    "orders_place": "orders",
    "orders_cancel": "orders",
    "orders_mark_shipped": "orders",
    "orders_mark_delivered": "orders",
    "payments_record": "payments",
    "payments_refund": "refunds",
    "notifications_retry": "admin",
}
"""The one scope each tool needs (issue 14's table). A test checks every tool is here, and that exactly the
read-only ones need ``read``."""

_READ_METHODS = frozenset(
    {"resources/list", "resources/read", "resources/templates/list", "prompts/list", "prompts/get"}
)


def allowed(caller: Caller, tool: str) -> bool:
    scope = TOOL_SCOPES.get(tool)
    return scope is None or caller.may(scope)  # an unknown tool gets the SDK's own "unknown tool" answer


def refusal(caller: Caller, tool: str) -> str:
    scope = TOOL_SCOPES[tool]
    has = scope_text(caller.scopes) or "none"
    return (
        f"`{tool}` needs the `{scope}` scope, and this connection has only: {has}. Nothing was changed. "
        "Next: use the tools this connection lists, or ask the person who runs Shopkeeper for a token "
        f"with `{scope}` (on a desktop, SHOPKEEPER_SCOPES)."
    )


class ScopeGate:
    """The SDK middleware that applies the caller's scopes to every request."""

    async def __call__(self, ctx: ServerRequestContext[AppContext, Any], call_next: CallNext) -> HandlerResult:
        method = ctx.method
        if method == "tools/call":
            caller = ctx.lifespan_context.caller()
            name = ctx.params.get("name") if isinstance(ctx.params, dict) else None
            if isinstance(name, str) and not allowed(caller, name):
                return CallToolResult(content=[TextContent(type="text", text=refusal(caller, name))], is_error=True)
            return await call_next(ctx)
        if method in _READ_METHODS and not ctx.lifespan_context.caller().may("read"):
            if method.endswith("/list"):
                return await _emptied(ctx, call_next)
            raise MCPError(code=INVALID_PARAMS, message="this needs the `read` scope, which this connection lacks")
        result = await call_next(ctx)
        if method == "tools/list":
            caller = ctx.lifespan_context.caller()
            if isinstance(result, ListToolsResult):
                return result.model_copy(update={"tools": [t for t in result.tools if allowed(caller, t.name)]})
            if isinstance(result, dict) and isinstance(result.get("tools"), list):  # the serialized result
                tools: list[Any] = result["tools"]
                return {**result, "tools": [t for t in tools if allowed(caller, str(t.get("name")))]}
        return result


_LISTED = ("resources", "resourceTemplates", "resource_templates", "prompts")


async def _emptied(ctx: ServerRequestContext[AppContext, Any], call_next: CallNext) -> HandlerResult:
    """A list of resources or prompts, with nothing in it (they all need ``read``)."""
    result = await call_next(ctx)
    if isinstance(result, dict):
        return {**result, **{key: [] for key in _LISTED if key in result}}
    if result is not None:
        return result.model_copy(update={key: [] for key in _LISTED if key in type(result).model_fields})
    return result
