"""Resources: a customer, a product or an order as a Markdown page an assistant (or a person) can attach."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from mcp_server.handlers.mcp import commerce_markdown, markdown
from mcp_server.handlers.mcp.common import ToolContext, sentence
from mcp_server.handlers.mcp.context import AppContext, BackendUnavailableError, ServiceRegistry
from mcp_server.services.results import Success


async def _services(ctx: ToolContext) -> ServiceRegistry:
    try:
        return await ctx.request_context.lifespan_context.services()
    except BackendUnavailableError as exc:
        raise ResourceError(f"The shop's database is not available: {exc.public_message}") from None


def register(server: MCPServer[AppContext]) -> None:
    @server.resource(
        "shop://customers/{customer_id}",
        name="customer",
        title="Customer",
        description="One customer (cus_…) as Markdown: contact details, notes, when registered.",
        mime_type="text/markdown",
    )
    async def customer_page(customer_id: str, ctx: ToolContext) -> str:
        result = await (await _services(ctx)).customers.get(customer_id=customer_id, email=None)
        if isinstance(result, Success):
            return markdown.customer(result.value, detailed=True)
        raise ResourceError(f"{sentence(result.message)} Call customers_list to find the customer's id.")

    @server.resource(
        "shop://products/{sku}",
        name="product",
        title="Product",
        description="One product by SKU as Markdown: price, stock, whether it is active, description.",
        mime_type="text/markdown",
    )
    async def product_page(sku: str, ctx: ToolContext) -> str:
        result = await (await _services(ctx)).catalog.get(product_id=None, sku=sku)
        if isinstance(result, Success):
            return markdown.product(result.value, detailed=True)
        raise ResourceError(f"{sentence(result.message)} Call catalog_search to find the SKU.")

    @server.resource(
        "shop://orders/{order_id}",
        name="order",
        title="Order",
        description="One order (ord_…) as Markdown: status, lines, totals, payments and refunds, what can happen next.",
        mime_type="text/markdown",
    )
    async def order_page(order_id: str, ctx: ToolContext) -> str:
        result = await (await _services(ctx)).orders.get(order_id)
        if isinstance(result, Success):
            detail = result.value
            text = commerce_markdown.order(
                detail.order, customer_name=detail.customer.name if detail.customer else None
            )
            if detail.payments:
                text += "\n\n### Payments and refunds\n\n" + commerce_markdown.payments_table(detail.payments)
            return text
        raise ResourceError(f"{sentence(result.message)} Call orders_list to find the order's id.")
