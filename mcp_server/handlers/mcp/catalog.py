"""Catalog tools: create and update products, adjust stock, get one, search."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server.handlers.mcp import markdown, near_misses
from mcp_server.handlers.mcp.common import (
    RETRY_LATER,
    ToolContext,
    actor,
    as_sent,
    changes_sent,
    failure,
    ok,
    run,
    tool,
    validated,
)
from mcp_server.handlers.mcp.context import ServiceRegistry
from mcp_server.models.catalog import (
    Currency,
    Description,
    PriceMinor,
    ProductCreate,
    ProductId,
    ProductLookup,
    ProductName,
    ProductPageRead,
    ProductQuery,
    ProductRead,
    ProductUpdate,
    Sku,
    StockAdjustment,
    StockDelta,
    StockLevel,
    StockReason,
)
from mcp_server.models.common import DEFAULT_LIMIT, Limit, ResponseFormat
from mcp_server.services.results import Conflict, NotFound, Rejected, Success, Unavailable
from mcp_server.utils.markdown import code_span, truncate

TOOL_CREATE, TOOL_UPDATE, TOOL_ADJUST = "catalog_create_product", "catalog_update_product", "catalog_adjust_stock"
TOOL_GET, TOOL_SEARCH = "catalog_get", "catalog_search"
FIND_IT = "call catalog_search (text=part of the name or SKU) to find the product."
UNCHANGED = "Nothing was changed."

# Descriptions only where the name, type and limits leave a question (tools/list is in every turn's context).
SkuArg = Annotated[Sku, Field(description="Unique in any letter case, e.g. MUG-BLUE-01")]
ProductIdArg = Annotated[ProductId, Field(description="prd_…")]
PriceArg = Annotated[PriceMinor, Field(description="Minor units: 1250 = 12.50 EUR, 500 = 500 JPY")]
CurrencyArg = Annotated[Currency, Field(description="ISO 4217, e.g. EUR")]
FormatArg = ResponseFormat  # concise or detailed (every field): the enum says it


# -- the use cases, each with its services handed in (a test calls them without a server) ------------


async def create_product(services: ServiceRegistry, data: ProductCreate, *, actor: str) -> CallToolResult:
    result = await services.catalog.create_product(data, actor=actor)
    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Success(value=product):
            text = markdown.product(product, detailed=True, heading="Added {name}")
            return ok(text, ProductRead.from_record(product))
        case Conflict(existing_id=existing):
            return failure(
                result,
                next_step=f"call catalog_update_product with product_id='{existing}' to change it, or pick "
                f"another SKU. {UNCHANGED}",
            )


async def update_product(
    services: ServiceRegistry, product_id: str, changes: ProductUpdate, *, actor: str
) -> CallToolResult:
    result = await services.catalog.update_product(product_id, changes, actor=actor)
    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Success(value=change):
            head = (
                f"Updated {{name}}: changed {', '.join(change.changed)}"
                if change.changed
                else "Nothing changed for {name}: the values given are the current ones"
            )
            return ok(
                markdown.product(change.product, detailed=True, heading=head),
                ProductRead.from_record(change.product),
            )
        case NotFound():
            return failure(result, next_step=FIND_IT)
        case Rejected(field="product_id"):
            return failure(result, next_step=f"{FIND_IT} {UNCHANGED}")
        case Rejected():
            return failure(result, next_step=f"correct the arguments and call {TOOL_UPDATE} again. {UNCHANGED}")


async def adjust_stock(
    services: ServiceRegistry, product_id: str, adjustment: StockAdjustment, *, actor: str
) -> CallToolResult:
    result = await services.catalog.adjust_stock(product_id, adjustment, actor=actor)
    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Success(value=change):
            product = change.product
            head = f"Stock of {{name}}: {change.before:,} → {product.stock:,} ({change.reason})"
            return ok(markdown.product(product, detailed=False, heading=head), ProductRead.from_record(product))
        case NotFound():
            return failure(result, next_step=FIND_IT)
        case Rejected(field="delta"):
            return failure(result, next_step=f"choose another delta (catalog_get shows the stock). {UNCHANGED}")
        case Rejected():
            return failure(result, next_step=f"{FIND_IT} {UNCHANGED}")


async def get(services: ServiceRegistry, lookup: ProductLookup, *, detailed: bool) -> CallToolResult:
    result = await services.catalog.get(product_id=lookup.product_id, sku=lookup.sku)
    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Success(value=product):
            return ok(markdown.product(product, detailed=detailed), ProductRead.from_record(product))
        case NotFound(suggestions=suggestions) if suggestions:
            return near_misses.failure_with(
                result,
                "Did you mean:\n" + near_misses.listed(suggestions, near_misses.product_by_sku),
                next_step=f"call {TOOL_GET} with the SKU meant; if none of these is it, {FIND_IT}",
            )
        case NotFound():
            return failure(result, next_step=FIND_IT)
        case Rejected(field="product_id") if lookup.product_id is not None and lookup.sku is None:
            return failure(result, next_step=FIND_IT)
        case Rejected():
            return failure(result, next_step="pass exactly one of product_id (prd_…) or sku.")


async def search(services: ServiceRegistry, request: ProductQuery, *, detailed: bool) -> CallToolResult:
    result = await services.catalog.search(request)
    match result:
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Success(value=page):
            parts = [f"matching {code_span(request.text)}"] if request.text else []
            parts += [f"with fewer than {request.stock_below} in stock"] if request.stock_below else []
            parts += ["including inactive"] if request.include_inactive else []
            filters = (" " + ", ".join(parts)) if parts else ""
            text_out = markdown.product_page(
                page, detailed=detailed, filters=filters, include_inactive=request.include_inactive
            )
            if page.suggestions:
                text_out += "\n\nDid you mean:\n" + near_misses.listed(page.suggestions, near_misses.product_by_sku)
            items = [
                ProductRead.from_record(p).model_copy(
                    update={"description": truncate(p.description, markdown.LIST_NOTE_CHARS) if p.description else None}
                )
                for p in page.items
            ]
            return ok(text_out, ProductPageRead(products=items, next_cursor=page.next_cursor))
        case Rejected():
            return failure(result, next_step="call catalog_search again without cursor to start from the top.")


# -- the tools: arguments in, one use case through ``run`` ------------------------------------------


async def catalog_create_product(
    ctx: ToolContext,
    sku: SkuArg,
    name: ProductName,
    price_minor: PriceArg,
    currency: CurrencyArg,
    description: Description | None = None,
    stock: StockLevel = 0,
    active: Annotated[bool, Field(description="false hides it from catalog_search")] = True,
) -> Annotated[CallToolResult, ProductRead]:
    """Add a product with its price and starting stock.

    SKUs are unique in any letter case: for a taken one the error names that product (change it with
    catalog_update_product). Later stock changes: catalog_adjust_stock.
    """
    values = {"sku": sku, "name": name, "description": description, "price_minor": price_minor}
    values |= {"currency": currency, "stock": stock, "active": active}
    data = validated(ProductCreate, as_sent(ctx, values), TOOL_CREATE)
    if isinstance(data, CallToolResult):
        return data
    who = actor(ctx)
    return await run(ctx, TOOL_CREATE, lambda s: create_product(s, data, actor=who))


async def catalog_update_product(
    ctx: ToolContext,
    product_id: ProductIdArg,
    name: ProductName | None = None,
    description: Annotated[Description | None, Field(description="null clears it")] = None,
    price_minor: Annotated[PriceMinor | None, Field(description="Minor units")] = None,
    currency: Annotated[Currency | None, Field(description="ISO 4217; give price_minor in it too")] = None,
    active: Annotated[bool | None, Field(description="false retires it; true brings it back")] = None,
) -> Annotated[CallToolResult, ProductRead]:
    """Change a product's name, description, price, currency or active flag; only the fields you pass change.

    Stock changes only through catalog_adjust_stock. The old values stay in audit_log_list.
    """
    chosen = changes_sent(
        ctx,
        {"name": name, "description": description, "price_minor": price_minor, "currency": currency}
        | {"active": active},
    )
    changes = validated(ProductUpdate, chosen, TOOL_UPDATE)
    if isinstance(changes, CallToolResult):
        return changes
    who = actor(ctx)
    return await run(ctx, TOOL_UPDATE, lambda s: update_product(s, product_id, changes, actor=who))


async def catalog_adjust_stock(
    ctx: ToolContext,
    product_id: ProductIdArg,
    delta: Annotated[StockDelta, Field(description="Units to add (>0) or remove (<0)")],
    reason: Annotated[StockReason, Field(description="restock (goods in), damage (written off), correction (a count)")],
    note: Annotated[str | None, Field(max_length=500, description="For the audit log")] = None,
) -> Annotated[CallToolResult, ProductRead]:
    """Add or remove stock with a reason; stock never goes below zero.

    Not idempotent: after an error, check audit_log_list (action product.stock_adjusted) before retrying.
    """
    adjustment = validated(StockAdjustment, as_sent(ctx, {"delta": delta, "reason": reason, "note": note}), TOOL_ADJUST)
    if isinstance(adjustment, CallToolResult):
        return adjustment
    who = actor(ctx)
    return await run(ctx, TOOL_ADJUST, lambda s: adjust_stock(s, product_id, adjustment, actor=who))


async def catalog_get(
    ctx: ToolContext,
    product_id: Annotated[ProductId | None, Field(description="prd_…; or sku")] = None,
    sku: Annotated[Sku | None, Field(description="Any letter case; or product_id")] = None,
    response_format: FormatArg = "concise",
) -> Annotated[CallToolResult, ProductRead]:
    """Look up one product by product_id or sku (exactly one): price, stock, active.

    For part of a name, call catalog_search.
    """
    lookup = validated(ProductLookup, as_sent(ctx, {"product_id": product_id, "sku": sku}), TOOL_GET)
    if isinstance(lookup, CallToolResult):
        return lookup
    return await run(ctx, TOOL_GET, lambda s: get(s, lookup, detailed=response_format == "detailed"))


async def catalog_search(
    ctx: ToolContext,
    text: Annotated[str | None, Field(max_length=200, description="Part of a name or SKU, any case")] = None,
    include_inactive: Annotated[bool, Field(description="Also list retired products")] = False,
    stock_below: Annotated[int | None, Field(ge=1, description="Only products with less stock than this")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Field(max_length=512, description="Previous page's next_cursor; same filters")
    ] = None,
    response_format: FormatArg = "concise",
) -> Annotated[CallToolResult, ProductPageRead]:
    """Find products by part of the name or SKU; active ones only unless include_inactive=true.

    stock_below=5 finds low stock. Returns a page and a next_cursor; for one known product catalog_get is cheaper.
    """
    values: dict[str, Any] = {"text": text, "include_inactive": include_inactive, "stock_below": stock_below}
    request = validated(ProductQuery, as_sent(ctx, values | {"limit": limit, "cursor": cursor}), TOOL_SEARCH)
    if isinstance(request, CallToolResult):
        return request
    return await run(ctx, TOOL_SEARCH, lambda s: search(s, request, detailed=response_format == "detailed"))


def tools() -> list[Tool]:
    """This module's tools, for the server to serve."""
    return [
        tool(catalog_create_product, title="Add a product to the catalog", read_only=False, idempotent=False),
        tool(
            catalog_update_product,
            title="Update a product",
            read_only=False,
            idempotent=True,
            destructive=True,
            clears=True,
        ),
        tool(catalog_adjust_stock, title="Adjust stock", read_only=False, idempotent=False),
        tool(catalog_get, title="Get a product", read_only=True, idempotent=True),
        tool(catalog_search, title="Search the catalog", read_only=True, idempotent=True),
    ]
