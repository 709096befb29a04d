"""reports_sales_summary with chart=true: the same text and data, then a PNG of revenue per day (issue 15).

In-process through the SDK client (``shop``), and once as a desktop app runs the server: a subprocess
on stdio whose home cannot be written, where the chart still comes and stdout still carries only
JSON-RPC, and matplotlib is loaded only once a chart is asked for.
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from mcp_types import ImageContent

from mcp_server.handlers.views import charts
from tests.e2e.raw_stdio import RawStdioServer
from tests.e2e.support import (
    JsonObject,
    Shop,
    as_list,
    as_object,
    integer,
    objects,
    string,
    text_of,
    timestamp,
    url_of,
)
from tests.png import pixels_of, png_size

REPORT = "reports_sales_summary"
CAPTION = "A chart is attached: revenue per day in EUR (PNG, 800x400)."


async def two_weeks_with_a_sale(shop: Shop) -> JsonObject:
    """An order of 2 x 12.50 EUR placed today (revenue counts placed orders); a report's arguments for the
    last 14 days."""
    customer = await shop.register("Ada Lovelace", "ada@example.com")
    await shop.add_product("MUG-1", "Blue Mug", price_minor=1250, stock=10)
    order = await shop.place(string(customer, "id"), ("MUG-1", 2))
    day = timestamp(order, "placed_at").date()  # the shop runs on UTC in these tests
    return {"date_from": (day - timedelta(days=13)).isoformat(), "date_to": day.isoformat()}


@pytest.mark.anyio
async def test_a_chart_follows_the_same_text_and_data(shop: Shop) -> None:
    arguments = await two_weeks_with_a_sale(shop)

    plain = await shop.call(REPORT, arguments)
    charted = await shop.call(REPORT, {**arguments, "chart": True})

    assert not charted.is_error, text_of(charted)
    assert [block.type for block in plain.content] == ["text"]
    assert [block.type for block in charted.content] == ["text", "image"]
    assert text_of(charted) == f"{text_of(plain)}\n\n{CAPTION}"
    assert charted.structured_content == plain.structured_content
    days = objects(as_object(plain.structured_content), "days")
    assert sum(integer(d, "revenue_minor") for d in days) == 2500
    image = charted.content[1]
    assert isinstance(image, ImageContent)
    assert image.mime_type == "image/png"
    png = base64.b64decode(image.data, validate=True)
    assert png_size(png) == (800, 400)
    assert pixels_of(png, charts.REVENUE_COLOUR) > 0, "the day's sale should show as a bar"


@pytest.mark.anyio
async def test_chart_false_is_the_report_as_it_was(shop: Shop) -> None:
    arguments = await two_weeks_with_a_sale(shop)

    plain = await shop.call(REPORT, arguments)
    unasked = await shop.call(REPORT, {**arguments, "chart": False})

    assert unasked.model_dump() == plain.model_dump()


@pytest.mark.anyio
async def test_a_chart_of_products_is_refused_with_what_to_do(shop: Shop) -> None:
    message = await shop.fail(
        REPORT, {"date_from": "2026-01-01", "date_to": "2026-01-31", "group_by": "product", "chart": True}
    )

    assert "`chart`" in message
    assert message.endswith(f"Next: call {REPORT} again with group_by='day', or without chart.")


def _call(request_id: str, tool: str, arguments: JsonObject) -> JsonObject:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }


def _loaded_matplotlib(server: RawStdioServer) -> bool:
    """Whether the server process has loaded matplotlib (its compiled modules show in the memory map)."""
    return "/matplotlib/" in Path(f"/proc/{server.pid}/maps").read_text()


@pytest.mark.slow
def test_over_stdio_with_a_home_that_cannot_be_written(tmp_path: Path) -> None:
    """As a desktop app starts it, but with a home no one can write (not even root: it is under a file)
    and no MPLCONFIGDIR: matplotlib falls back to a temporary folder, stdout stays JSON-RPC alone, and
    the server answers a ping while it draws."""
    env = {"PATH": "/usr/bin:/bin", "HOME": "/dev/null/home", "SHOPKEEPER_DATABASE_URL": url_of(tmp_path / "shop.db")}
    argv = [sys.executable, "-m", "mcp_server"]

    with RawStdioServer(argv, env=env, cwd=tmp_path, stderr_path=tmp_path / "stderr.log") as server:
        server.initialize()
        server.result("tools/list")
        customer = server.call_tool("customers_register", {"name": "Ada", "email": "ada@example.com"})
        mug: JsonObject = {"sku": "MUG-1", "name": "Mug", "price_minor": 1250, "currency": "EUR", "stock": 5}
        server.call_tool("catalog_create_product", mug)
        placed = server.call_tool(
            "orders_place",
            {
                "customer_id": string(as_object(customer.get("structuredContent")), "id"),
                "lines": [{"sku": "MUG-1", "quantity": 1}],
            },
        )
        order = as_object(as_object(placed.get("structuredContent")).get("order"))
        day = timestamp(order, "placed_at").date().isoformat()
        plain = server.call_tool(REPORT, {"date_from": day, "date_to": day})
        before_chart = _loaded_matplotlib(server)
        # The first chart loads matplotlib and builds its font cache (most of a second); a ping sent once
        # that has begun is answered first, as drawing runs in a worker thread, off the event loop.
        server.send(_call("chart", REPORT, {"date_from": day, "date_to": day, "chart": True}))
        server.wait_until(lambda: _loaded_matplotlib(server), "matplotlib loading for the chart")
        server.send({"jsonrpc": "2.0", "id": "ping", "method": "ping"})
        replies = server.replies_until("chart", "the chart")
        charted = as_object(replies[-1].get("result"))
        code = server.close()

    assert plain.get("isError") is False
    assert not before_chart, "starting, listing tools and a report without a chart must not load matplotlib"
    assert [reply.get("id") for reply in replies] == ["ping", "chart"], "the ping waited for the drawing"
    assert charted.get("isError") is False, server.stderr
    blocks = [as_object(block) for block in as_list(charted.get("content"))]
    assert [string(block, "type") for block in blocks] == ["text", "image"]
    assert string(blocks[1], "mimeType") == "image/png"
    assert png_size(base64.b64decode(string(blocks[1], "data"), validate=True)) == (800, 400)
    assert code == 0
    for line in server.lines:  # every byte of stdout is a JSON-RPC message
        assert as_object(json.loads(line)).get("jsonrpc") == "2.0", line
    assert "Traceback" not in server.stderr
