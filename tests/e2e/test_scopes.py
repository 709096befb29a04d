"""Scopes on the MCP door: a caller sees and calls only the tools its scopes allow, and a refused call
changes nothing. On stdio the scopes come from SHOPKEEPER_SCOPES and SHOPKEEPER_READ_ONLY (a peer's
read-only mode once let refunds through: every write tool is tried here, with arguments that would work)."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager

import pytest
from mcp.shared.exceptions import MCPError

from mcp_server.handlers.mcp.access import TOOL_SCOPES
from tests.e2e.support import TOOLS, Mode, Shop, as_object, open_shop, string, text_of
from tests.engines import ShopDatabase

pytestmark = [pytest.mark.anyio, pytest.mark.approver]

READ_TOOLS = frozenset(name for name, scope in TOOL_SCOPES.items() if scope == "read")
WRITE_TOOLS = frozenset(TOOL_SCOPES) - READ_TOOLS


def restricted(shop_db: ShopDatabase, mode: Mode, **env: str) -> AbstractAsyncContextManager[Shop]:
    """The same shop, served with other settings (the scopes)."""
    return open_shop(shop_db, mode, env=env)


async def seeded(shop_db: ShopDatabase, mode: Mode) -> dict[str, str]:
    """A shop with a customer, a product, a paid order, an unpaid order and a failed e-mail; their ids."""
    async with open_shop(shop_db, mode) as shop:
        ada = string(await shop.register("Ada Lovelace", "ada@scopes.example"), "id")
        mug = string(await shop.add_product("MUG-1", "Blue Mug", 1250, "EUR", stock=10), "id")
        paid = string(await shop.place(ada, ("MUG-1", 2)), "id")
        await shop.ok("payments_record", {"order_id": paid, "amount": 2500, "method": "cash"})
        unpaid = string(await shop.place(ada, ("MUG-1", 1)), "id")
    notification = shop_db.scalar("SELECT id FROM outbox ORDER BY id LIMIT 1")
    shop_db.execute("UPDATE outbox SET status = 'failed', attempts = 5 WHERE id = :id", id=notification)
    return {"customer": ada, "product": mug, "paid": paid, "unpaid": unpaid, "notification": str(notification)}


def write_calls(ids: Mapping[str, str]) -> dict[str, dict[str, object]]:
    """For every write tool, arguments that would succeed with every scope."""
    return {
        "customers_register": {"name": "Grace Hopper", "email": "grace@scopes.example"},
        "customers_update": {"customer_id": ids["customer"], "phone": "+1 555 0100"},
        "catalog_create_product": {"sku": "TEA-1", "name": "Tea", "price_minor": 300, "currency": "EUR"},
        "catalog_update_product": {"product_id": ids["product"], "name": "Red Mug"},
        "catalog_adjust_stock": {"product_id": ids["product"], "delta": -1, "reason": "damage"},
        "orders_place": {"customer_id": ids["customer"], "lines": [{"sku": "MUG-1", "quantity": 1}]},
        "orders_cancel": {"order_id": ids["unpaid"]},
        "orders_mark_shipped": {"order_id": ids["paid"], "carrier": "DHL", "tracking_number": "JD1"},
        "orders_mark_delivered": {"order_id": ids["paid"]},
        "payments_record": {"order_id": ids["unpaid"], "amount": 1250, "method": "cash"},
        "payments_refund": {"order_id": ids["paid"], "amount": 500, "reason": "chipped"},
        "notifications_retry": {"notification_id": ids["notification"]},
    }


def test_every_tool_needs_one_scope_and_only_read_only_tools_need_read() -> None:
    assert set(TOOL_SCOPES) == set(TOOLS)
    assert set(write_calls({"customer": "", "product": "", "paid": "", "unpaid": "", "notification": ""})) == set(
        WRITE_TOOLS
    )


@pytest.mark.parametrize(
    "env",
    [
        {"SHOPKEEPER_READ_ONLY": "true"},
        {"SHOPKEEPER_SCOPES": "read"},
        {"SHOPKEEPER_READ_ONLY": "1", "SHOPKEEPER_SCOPES": "all"},
    ],
    ids=["read-only", "scopes-read", "read-only-wins"],
)
async def test_a_read_only_shop_lists_and_runs_no_write_tool(
    shop_db: ShopDatabase, mode: Mode, env: dict[str, str]
) -> None:
    ids = await seeded(shop_db, mode)
    async with restricted(shop_db, mode, **env) as shop:
        listed = {tool.name for tool in (await shop.client.list_tools()).tools}
        assert listed == READ_TOOLS
        for name in ("customers_list", "catalog_search", "orders_list", "payments_list", "audit_log_list"):
            assert not (await shop.call(name, {})).is_error, f"{name} is a read: it works on a read-only shop"
        before = await shop.state()
        rows = shop_db.tables()
        for name, arguments in sorted(write_calls(ids).items()):
            result = await shop.call(name, arguments)
            message = text_of(result)
            assert result.is_error, f"{name} ran on a read-only shop: {message}"
            assert f"`{name}` needs the `{TOOL_SCOPES[name]}` scope" in message
            assert "Nothing was changed" in message
        assert shop_db.tables() == rows, "no refused call wrote anything"
        assert await shop.state() == before
        templates = await shop.client.list_resource_templates()
        assert templates.resource_templates, "read covers the resources"
        page = await shop.client.read_resource(f"shop://customers/{ids['customer']}")
        assert page.contents


async def test_scopes_add_up_and_a_write_scope_does_not_imply_read(shop_db: ShopDatabase, mode: Mode) -> None:
    ids = await seeded(shop_db, mode)
    async with restricted(shop_db, mode, SHOPKEEPER_SCOPES="customers") as shop:
        listed = {tool.name for tool in (await shop.client.list_tools()).tools}
        assert listed == {"customers_register", "customers_update"}
        refused = await shop.call("customers_get", {"customer_id": ids["customer"]})
        assert refused.is_error
        assert "needs the `read` scope" in text_of(refused)
        assert (await shop.client.list_resource_templates()).resource_templates == []
        assert (await shop.client.list_prompts()).prompts == []
        with pytest.raises(MCPError, match="needs the `read` scope"):
            await shop.client.read_resource(f"shop://customers/{ids['customer']}")
        registered = await shop.call("customers_register", {"name": "Grace Hopper", "email": "grace@scopes.example"})
        assert not registered.is_error, text_of(registered)
    async with restricted(shop_db, mode, SHOPKEEPER_SCOPES="read, catalog") as shop:
        listed = {tool.name for tool in (await shop.client.list_tools()).tools}
        assert listed == READ_TOOLS | {"catalog_create_product", "catalog_update_product", "catalog_adjust_stock"}


async def test_cancelling_with_money_back_also_needs_refunds(shop_db: ShopDatabase, mode: Mode) -> None:
    ids = await seeded(shop_db, mode)
    async with restricted(shop_db, mode, SHOPKEEPER_SCOPES="read,orders,payments") as shop:
        assert "payments_refund" not in {tool.name for tool in (await shop.client.list_tools()).tools}
        before = shop_db.tables()
        refused = await shop.call("orders_cancel", {"order_id": ids["paid"]})
        assert refused.is_error
        assert "needs the refunds scope" in text_of(refused)
        assert "25.00 EUR" in text_of(refused)
        assert shop_db.tables() == before, "no approval request, no cancellation"
        cancelled = await shop.call("orders_cancel", {"order_id": ids["unpaid"]})
        assert not cancelled.is_error, text_of(cancelled)
        assert string(as_object(cancelled.structured_content), "order_status") == "cancelled"
