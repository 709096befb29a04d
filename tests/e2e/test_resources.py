"""Resources: shop://customers/{id}, shop://products/{sku} and shop://orders/{id} as Markdown pages."""

from __future__ import annotations

import re

import pytest
from mcp.shared.exceptions import MCPError

from tests.e2e.support import Shop, as_object, piped, string

pytestmark = pytest.mark.anyio


async def test_templates_are_listed(shop: Shop) -> None:
    templates = await shop.client.list_resource_templates()
    assert {t.uri_template for t in templates.resource_templates} == {
        "shop://customers/{customer_id}",
        "shop://products/{sku}",
        "shop://orders/{order_id}",
    }
    assert {t.mime_type for t in templates.resource_templates} == {"text/markdown"}


async def test_a_customer_and_a_product_read_as_markdown(shop: Shop) -> None:
    customer = await shop.ok("customers_register", {"name": "Ada Lovelace", "email": "ada@engines.example"})
    await shop.ok(
        "catalog_create_product", {"sku": "MUG-01", "name": "Blue mug", "price_minor": 1250, "currency": "EUR"}
    )
    customer_id = string(customer.data, "id")

    page = await shop.client.read_resource(f"shop://customers/{customer_id}")
    product = await shop.client.read_resource("shop://products/mug-01")

    customer_text = getattr(page.contents[0], "text", "")
    product_text = getattr(product.contents[0], "text", "")
    assert customer_text.startswith("## `Ada Lovelace`")
    assert f"`{customer_id}`" in customer_text
    assert "- **email:** `ada@engines.example`" in customer_text
    assert product_text.startswith("## `Blue mug`")
    assert "12.50 EUR" in product_text


async def test_an_order_reads_as_markdown_with_its_payments(shop: Shop) -> None:
    customer = await shop.register("Ada Lovelace", "ada@engines.example")
    await shop.add_product("MUG-01", "Blue mug", stock=5)
    placed = await shop.ok(
        "orders_place", {"customer_id": string(customer, "id"), "lines": [{"sku": "MUG-01", "quantity": 2}]}
    )
    order_id = string(as_object(placed.data["order"]), "id")
    await shop.ok("payments_record", {"order_id": order_id, "amount": 2500, "method": "cash"})

    page = await shop.client.read_resource(f"shop://orders/{order_id.lower()}")

    text = getattr(page.contents[0], "text", "")
    assert text.startswith(f"## Order `{order_id}`")
    assert "**status:** paid" in text
    assert "- **customer:** `Ada Lovelace`" in text
    assert "|`MUG-01`|`Blue mug`|2|12.50|25.00|" in piped(text)
    assert "### Payments and refunds" in text
    assert "orders_mark_shipped" in text


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("shop://customers/cus_00000000000000000000000000", "No customer with id"),
        ("shop://customers/nope", "is not a customer id"),
        ("shop://products/NOPE-1", "No product with SKU"),
        ("shop://orders/ord_00000000000000000000000000", "No order with id"),
        ("shop://orders/nope", "is not an order id"),
    ],
)
async def test_unknown_ones_are_errors_that_say_what_to_do(shop: Shop, uri: str, says: str) -> None:
    with pytest.raises(MCPError) as info:
        await shop.client.read_resource(uri)
    message = str(info.value)
    assert says in message
    assert "Call " in message
    assert "Traceback" not in message


async def test_prompts_walk_through_jobs_with_the_real_tool_names(shop: Shop) -> None:
    listed = await shop.client.list_prompts()
    assert {p.name for p in listed.prompts} == {"stock_review", "customer_lookup", "daily_review", "refund_request"}

    review = await shop.client.get_prompt("stock_review", {"threshold": "3"})
    lookup = await shop.client.get_prompt("customer_lookup", {"who": "ada@engines.example"})

    review_text = getattr(review.messages[0].content, "text", "")
    lookup_text = getattr(lookup.messages[0].content, "text", "")
    tools = {t.name for t in (await shop.client.list_tools()).tools}
    for name in ("catalog_search", "audit_log_list", "catalog_adjust_stock"):
        assert name in review_text
        assert name in tools
    assert "stock_below=3" in review_text
    assert "ada@engines.example" in lookup_text
    assert "customers_get" in lookup_text


async def test_every_prompt_names_only_tools_that_exist(shop: Shop) -> None:
    tools = {t.name for t in (await shop.client.list_tools()).tools}
    texts = [
        await shop.client.get_prompt("stock_review", {}),
        await shop.client.get_prompt("customer_lookup", {"who": "Ada"}),
        await shop.client.get_prompt("daily_review", {"low_stock_below": "4"}),
        await shop.client.get_prompt("refund_request", {"order_id": "ord_X", "details": "the mug broke"}),
    ]
    for prompt in texts:
        text = getattr(prompt.messages[0].content, "text", "")
        named = set(re.findall(r"\b(?:customers|catalog|orders|payments|reports|audit)_[a-z_]+", text))
        assert named, text
        assert named <= tools, f"unknown tools {named - tools} in: {text}"
