"""Resources: shop://customers/{id} and shop://products/{sku} as Markdown pages."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from tests.e2e.support import Shop, string

pytestmark = pytest.mark.anyio


async def test_templates_are_listed(shop: Shop) -> None:
    templates = await shop.client.list_resource_templates()
    assert {t.uri_template for t in templates.resource_templates} == {
        "shop://customers/{customer_id}",
        "shop://products/{sku}",
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
    assert customer_text.startswith("## Ada Lovelace")
    assert f"`{customer_id}`" in customer_text
    assert "ada@engines.example" in customer_text
    assert product_text.startswith("## Blue mug")
    assert "12.50 EUR" in product_text


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("shop://customers/cus_00000000000000000000000000", "No customer with id"),
        ("shop://customers/nope", "is not a customer id"),
        ("shop://products/NOPE-1", "No product with SKU"),
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
    assert {p.name for p in listed.prompts} == {"stock_review", "customer_lookup"}

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
