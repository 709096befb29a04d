"""``shopkeeper reports sales``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import get_args

from mcp_server.handlers.cli import output
from mcp_server.handlers.cli.common import Call, Exit, Subcommands, check, command, fail, group, validated
from mcp_server.handlers.views import charts
from mcp_server.models.reports import (
    MAX_DAILY_ROWS_DAYS,
    MAX_REPORT_DAYS,
    GroupBy,
    SalesQuery,
    SalesSummary,
    SalesSummaryRead,
)
from mcp_server.utils.money import format_money


def summary_text(s: SalesSummary) -> str:
    parts = [f"Sales {s.date_from.isoformat()} to {s.date_to.isoformat()} ({s.timezone})"]
    if s.group_by == "day":
        rows = [
            [
                d.day.isoformat(),
                d.orders,
                d.units,
                format_money(d.revenue_minor, d.currency),
                format_money(d.refunds_minor, d.currency),
                format_money(d.revenue_minor - d.refunds_minor, d.currency),
                d.cancelled,
            ]
            for d in s.days
        ]
        headers = ["day", "orders", "units", "revenue", "refunds", "net", "cancelled"]
        parts.append(output.table(headers, rows) if rows else "No orders or refunds in this period.")
    products = s.products if s.group_by == "product" else s.top
    if products:
        label = "By product" if s.group_by == "product" else f"Top {len(products)} products by revenue"
        rows = [[p.sku, p.name, p.orders, p.units, format_money(p.revenue_minor, p.currency)] for p in products]
        parts.append(f"{label}\n" + output.table(["sku", "product", "orders", "units", "revenue"], rows))
    elif s.group_by == "product":
        parts.append("No products sold in this period.")
    parts.append(
        "Revenue counts orders placed in the period that are not cancelled; refunds count money returned in the "
        "period on orders that are not cancelled; net is revenue minus refunds. A cancelled order counts only under "
        "cancelled."
    )
    return "\n\n".join(parts)


def chart_path(given: str, group_by: str) -> Path:
    """Where --chart writes, checked before anything is asked of the shop."""
    path = Path(given)
    if group_by != "day":
        fail("--chart shows revenue per day: leave out --by product. Nothing was written.", Exit.USAGE)
    if path.is_dir():
        fail(f"--chart: {given} is a folder; give a file name, e.g. sales.png. Nothing was written.", Exit.USAGE)
    if not path.parent.is_dir():
        fail(f"--chart: there is no folder {path.parent}; create it first. Nothing was written.", Exit.USAGE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """``data`` as a file only its user can read (0600, as the shop's other files), put in place whole."""
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")  # mkstemp: 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


async def sales(args: argparse.Namespace, call: Call) -> int:
    values = {"date_from": args.date_from, "date_to": args.date_to, "group_by": args.by, "top": args.top}
    query = validated(SalesQuery, values, {"date_from": "--from", "date_to": "--to", "group_by": "--by"})
    path = chart_path(args.chart, query.group_by) if args.chart is not None else None
    summary = check(await call.services.reports.sales_summary(query))
    if path is None:
        return call.show(SalesSummaryRead.from_record(summary), lambda: summary_text(summary))
    drawn = charts.draw(summary)
    try:
        write_private(path, drawn.png)
    except OSError as exc:
        fail(f"--chart: could not write {path}: {exc.strerror or exc}. Nothing was written.", Exit.ERROR)
    where = f"Chart written to {path.absolute()}: {drawn.caption}."
    if call.json:  # stdout is the JSON document alone
        print(f"shopkeeper: {where}", file=sys.stderr)
    return call.show(SalesSummaryRead.from_record(summary), lambda: f"{summary_text(summary)}\n\n{where}")


def register(groups: Subcommands) -> None:
    commands = group(groups, "reports", summary="sales figures", description="Reports over the shop's orders.")
    sales_ = command(
        commands,
        "sales",
        sales,
        aliases=("sales-summary",),
        summary="revenue, orders, units and refunds per day or per product",
        description="Revenue, orders, units and refunds per day or per product over a date range, with the top "
        "products. Days are calendar days in the shop's time zone (SHOPKEEPER_TIMEZONE). "
        f"At most {MAX_DAILY_ROWS_DAYS} days by day, {MAX_REPORT_DAYS} by product.",
    )
    sales_.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD", help="first day")
    sales_.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD", help="last day (inclusive)")
    sales_.add_argument("--by", choices=get_args(GroupBy), help="one row per day (default) or per product")
    sales_.add_argument("--top", type=int, help="how many top products to show, 1-100 (default 5)")
    sales_.add_argument(
        "--chart",
        metavar="FILE.png",
        help=f"also draw revenue per day into FILE.png ({charts.WIDTH_PX}x{charts.HEIGHT_PX}, readable by you only)",
    )
