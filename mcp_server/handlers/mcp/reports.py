"""Report tools: the sales summary."""

from __future__ import annotations

import base64
from datetime import date
from typing import Annotated

import anyio.to_thread
from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult, ImageContent
from pydantic import Field

from mcp_server.handlers.mcp import commerce_markdown as md
from mcp_server.handlers.mcp.common import RETRY_LATER, ToolContext, error, failure, ok, run, tool, validated
from mcp_server.handlers.mcp.context import ServiceRegistry
from mcp_server.handlers.views import charts
from mcp_server.models.reports import MAX_DAILY_ROWS_DAYS, MAX_REPORT_DAYS, GroupBy, SalesQuery, SalesSummaryRead
from mcp_server.services.results import Rejected, Success, Unavailable

TOOL_SALES = "reports_sales_summary"
CHART_NEEDS_DAYS = (
    f"Invalid arguments for {TOOL_SALES}:\n- `chart`: the chart shows revenue per day; it needs group_by='day'\n\n"
    f"Nothing was changed. Next: call {TOOL_SALES} again with group_by='day', or without chart."
)


# -- the use case, with its services handed in (a test calls it without a server) ------------------


async def sales_summary(services: ServiceRegistry, query: SalesQuery, *, chart: bool = False) -> CallToolResult:
    result = await services.reports.sales_summary(query)
    match result:
        case Success(value=summary):
            if not chart:
                return ok(md.sales_summary(summary), SalesSummaryRead.from_record(summary))
            # Drawing blocks for a tenth of a second (a second more the first time): off the event loop.
            drawn = await anyio.to_thread.run_sync(charts.draw, summary)
            text = f"{md.sales_summary(summary)}\n\nA chart is attached: {drawn.caption}."
            answer = ok(text, SalesSummaryRead.from_record(summary))
            image = base64.b64encode(drawn.png).decode("ascii")
            answer.content.append(ImageContent(type="image", data=image, mime_type=charts.MIME_TYPE))
            return answer
        case Unavailable():
            return failure(result, next_step=RETRY_LATER)
        case Rejected():
            return failure(result, next_step=f"correct the dates and call {TOOL_SALES} again.")


# -- the tool: arguments in, the use case through ``run`` -------------------------------------------


async def reports_sales_summary(
    ctx: ToolContext,
    date_from: Annotated[date, Field(description="First day, shop's time zone")],
    date_to: Annotated[
        date,
        Field(
            description=f"Last day (inclusive); at most {MAX_DAILY_ROWS_DAYS} days by day, {MAX_REPORT_DAYS} by product"
        ),
    ],
    group_by: GroupBy = "day",
    top: Annotated[int, Field(ge=1, le=100, description="How many top products")] = 5,
    chart: Annotated[bool, Field(description="Also return revenue per day as a PNG image (group_by='day')")] = False,
) -> Annotated[CallToolResult, SalesSummaryRead]:
    """Revenue, orders, units and refunds per day or per product over a date range, with top products;
    chart=true also returns revenue per day as a PNG image.

    Days are calendar days in the shop's time zone. Revenue: orders placed in the range, not cancelled; refunds:
    money returned in the range (card refunds once made) on orders not cancelled; net = revenue - refunds. A
    cancelled order (with its payments and refunds) counts only under cancelled.
    """
    values = {"date_from": date_from, "date_to": date_to, "group_by": group_by, "top": top}
    query = validated(SalesQuery, values, TOOL_SALES)
    if isinstance(query, CallToolResult):
        return query
    if chart and query.group_by != "day":
        return error(CHART_NEEDS_DAYS)
    return await run(ctx, TOOL_SALES, lambda s: sales_summary(s, query, chart=chart))


def tools() -> list[Tool]:
    """This module's tools, for the server to serve."""
    return [
        tool(reports_sales_summary, title="Sales summary", read_only=True, idempotent=True),
    ]
