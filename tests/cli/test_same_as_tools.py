"""--json prints what the MCP tools return as structuredContent, for the same records."""

from __future__ import annotations

import anyio

from tests.cli.conftest import Cli
from tests.e2e.support import JsonObject, as_object, open_shop, string
from tests.engines import ShopDatabase


def test_json_output_is_the_tools_structured_content(cli: Cli) -> None:
    ada = cli.customer()
    mug = cli.product("MUG-1")
    order_id = cli.paid_order(ada)
    from_cli = {
        "customers_get": cli.json("customers", "get", ada),
        "catalog_get": cli.json("catalog", "get", mug),
        "orders_get": cli.json("orders", "get", order_id),
        "payments_list": cli.json("payments", "list", "--order", order_id),
        "audit_log_list": cli.json("audit", "list", "--entity-id", order_id),
    }
    arguments: dict[str, JsonObject] = {
        "customers_get": {"customer_id": ada},
        "catalog_get": {"product_id": mug},
        "orders_get": {"order_id": order_id},
        "payments_list": {"order_id": order_id},
        "audit_log_list": {"entity_id": order_id},
    }

    async def from_tools(db: ShopDatabase) -> dict[str, JsonObject]:
        async with open_shop(db, "auto") as shop:
            return {tool: (await shop.ok(tool, args)).data for tool, args in arguments.items()}

    tools = anyio.run(from_tools, cli.db)
    # An order's next actions name this door's commands instead of tools; everything else is the same.
    assert as_object(from_cli["orders_get"]).pop("next_actions") == ["shopkeeper orders ship",
        "shopkeeper orders cancel", "shopkeeper payments refund"]  # fmt: skip
    assert string(tools["orders_get"], "status") == "paid"
    tools["orders_get"].pop("next_actions")
    assert from_cli == tools
