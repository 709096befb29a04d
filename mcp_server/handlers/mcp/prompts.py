"""Prompts: ready-made instructions that walk an assistant through a common job with the tools."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from mcp_server.handlers.mcp.context import AppContext
from mcp_server.models.catalog import MAX_STOCK


def register(server: MCPServer[AppContext]) -> None:
    @server.prompt(
        name="stock_review",
        title="Review low stock",
        description="Find products running low and propose restocks, without changing anything unasked.",
    )
    def stock_review(
        threshold: Annotated[int, Field(ge=1, le=MAX_STOCK, description="Count a product as low below this")] = 5,
    ) -> str:
        return (
            f"Review the shop's stock. Call catalog_search with stock_below={threshold} (and a cursor until "
            "next_cursor is null) to list every active product with fewer than "
            f"{threshold} units. Show them as a table: SKU, name, units in stock, price. For each one, "
            "look at audit_log_list with entity_id=<product id> and action=product.stock_adjusted to see "
            "how it was restocked or written off before. Then propose a restock quantity per product "
            "and ask me to confirm. Only after I confirm, call catalog_adjust_stock with reason='restock' "
            "once per product, and report the new levels. Do not retry a failed adjustment without "
            "checking the audit log first: adjustments are not idempotent."
        )

    @server.prompt(
        name="customer_lookup",
        title="Find or register a customer",
        description="Look a person up before registering them, so nobody is registered twice.",
    )
    def customer_lookup(
        who: Annotated[str, Field(min_length=1, max_length=200, description="A name or e-mail address")],
    ) -> str:
        return (
            f"I need the customer record for: {who}\n\n"
            "If that is an e-mail address, call customers_get with email=… first. Otherwise call "
            "customers_list with query=<part of the name>. If exactly one customer matches, show it. If "
            "several match, show them and ask me which. If none match, ask me for the missing details "
            "(name and e-mail are required; phone and notes are optional) and register them with "
            "customers_register. Never register someone whose e-mail is already on file."
        )
