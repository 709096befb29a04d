"""Report tools: the sales summary."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server.handlers.mcp import commerce_markdown as md
from mcp_server.handlers.mcp.common import RETRY_LATER, ToolContext, failure, ok, run, tool, validated
from mcp_server.handlers.mcp.context import ServiceRegistry
from mcp_server.models.reports import MAX_DAILY_ROWS_DAYS, MAX_REPORT_DAYS, GroupBy, SalesQuery, SalesSummaryRead
from mcp_server.services.results import Rejected, Success, Unavailable

TOOL_SALES = "reports_sales_summary"


# -- the use case, with its services handed in (a test calls it without a server) ------------------


async def sales_summary(services: ServiceRegistry, query: SalesQuery) -> CallToolResult:
    result = await services.reports.sales_summary(query)
    match result:
        case Success(value=summary):
            return ok(md.sales_summary(summary), SalesSummaryRead.from_record(summary))
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Rejected():
            return failure(result, next_step=f"correct the dates and call {TOOL_SALES} again.")


# -- the tool: arguments in, the use case through ``run`` -------------------------------------------


async def reports_sales_summary(
    ctx: ToolContext,
    date_from: Annotated[date, Field(description="First day, YYYY-MM-DD, in the shop's time zone")],
    date_to: Annotated[
        date,
        Field(
            description=f"Last day (inclusive); at most {MAX_DAILY_ROWS_DAYS} days by day, {MAX_REPORT_DAYS} by product"
        ),
    ],
    group_by: Annotated[GroupBy, Field(description="'day' (default) or 'product'")] = "day",
    top: Annotated[int, Field(ge=1, le=100, description="How many top products to show (default 5)")] = 5,
) -> Annotated[CallToolResult, SalesSummaryRead]:
    """Revenue, orders, units and refunds per day or per product over a date range, with top products.

    Days are calendar days in the shop's time zone (SHOPKEEPER_TIMEZONE). Revenue counts
    orders placed in the range that were not cancelled; refunds count money returned in the range
    (card refunds once the gateway has made them) on orders that were not cancelled; net is revenue
    minus refunds. A cancelled order, with its payments and refunds, counts only under cancelled.
    """
    values = {"date_from": date_from, "date_to": date_to, "group_by": group_by, "top": top}
    query = validated(SalesQuery, values, TOOL_SALES)
    if isinstance(query, CallToolResult):
        return query
    return await run(ctx, TOOL_SALES, lambda s: sales_summary(s, query))


def tools() -> list[Tool]:
    """This module's tools, for the server to serve."""
    return [
        tool(reports_sales_summary, title="Sales summary", read_only=True, idempotent=True),
    ]
