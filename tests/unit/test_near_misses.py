"""Services answer a lookup that found nothing with the closest products or customers ("did you mean")."""

from __future__ import annotations

import pytest

from mcp_server.models.catalog import ProductQuery
from mcp_server.models.customers import CustomerQuery
from mcp_server.models.orders import OrderCreate, OrderLineRequest
from mcp_server.models.suggestions import SearchPage
from mcp_server.services.orders import BadLines
from mcp_server.services.results import NotFound, Success
from tests.unit.commerce import ACTOR, Shop, add_customer, add_product, make_shop, order_request

pytestmark = pytest.mark.anyio


@pytest.fixture
async def shop() -> Shop:
    shop = make_shop()
    for sku in ("MUG-BLUE-01", "MUG-BLACK-01", "TEA-GREEN-01", "LAMP-01"):
        await add_product(shop, sku, stock=5)
    await add_product(shop, "MUG-BLUE-02", stock=5, active=False)
    return shop


def keys(result: object) -> list[str]:
    assert isinstance(result, NotFound | BadLines), result
    return [s.candidate.key for s in result.suggestions]


async def test_an_unknown_sku_comes_back_with_the_closest_skus(shop: Shop) -> None:
    result = await shop.catalog.get(product_id=None, sku="mug-bleu-01")

    assert isinstance(result, NotFound)
    assert keys(result)[0] == "MUG-BLUE-01"
    assert len(keys(result)) <= 3
    best = result.suggestions[0]
    assert (best.candidate.id, best.candidate.name, best.typed) == (
        shop.db.products[best.candidate.id].id,
        "Product MUG-BLUE-01",
        "mug-bleu-01",
    )


async def test_a_typo_in_the_first_letter_is_found_too(shop: Shop) -> None:
    assert keys(await shop.catalog.get(product_id=None, sku="NUG-BLUE-01"))[0] == "MUG-BLUE-01"


async def test_skus_starting_with_another_letter_are_looked_at_only_when_none_with_the_same_is_close(
    shop: Shop,
) -> None:
    await add_product(shop, "XUG-BLUE-01")

    assert keys(await shop.catalog.get(product_id=None, sku="MUG-BLUE-1")) == [
        "MUG-BLUE-01",
        "MUG-BLUE-02",
        "MUG-BLACK-01",
    ], "XUG-BLUE-01 is closer than MUG-BLACK-01, but starts with another letter"
    assert keys(await shop.catalog.get(product_id=None, sku="ZUG-BLUE-01"))[:2] == ["MUG-BLUE-01", "XUG-BLUE-01"]


async def test_a_sku_like_nothing_comes_back_without_suggestions(shop: Shop) -> None:
    assert keys(await shop.catalog.get(product_id=None, sku="ZEBRA-99")) == []


async def test_an_order_line_with_an_unknown_sku_names_the_product_it_may_mean(shop: Shop) -> None:
    ada = await add_customer(shop)
    request = order_request(ada, [("TEA-GREEN-01", 1), ("MUG-BLEU-01", 2)])

    result = await shop.orders.place(request, actor=ACTOR)

    assert isinstance(result, BadLines)
    assert keys(result)[0] == "MUG-BLUE-01"
    assert {s.line for s in result.suggestions} == {2}
    assert [p.line for p in result.problems] == [2]
    assert "MUG-BLUE-02" not in keys(result), "an inactive product cannot be ordered: not suggested"
    assert shop.db.orders == {}
    assert all(p.stock == 5 for p in shop.db.products.values()), "nothing reserved"


async def test_several_mistyped_lines_each_get_their_own_suggestions(shop: Shop) -> None:
    ada = await add_customer(shop)

    result = await shop.orders.place(order_request(ada, [("MUG-BLEU-01", 1), ("LAMP-1", 1)]), actor=ACTOR)

    assert isinstance(result, BadLines)
    first = {s.line: s.candidate.key for s in reversed(result.suggestions)}  # best per line
    assert first == {1: "MUG-BLUE-01", 2: "LAMP-01"}


async def test_a_dry_run_carries_the_same_suggestions(shop: Shop) -> None:
    ada = await add_customer(shop)

    quoted = await shop.orders.quote(order_request(ada, [("MUG-BLEU-01", 1)]))

    assert isinstance(quoted, Success)
    assert [s.candidate.key for s in quoted.value.suggestions][:1] == ["MUG-BLUE-01"]


async def test_a_line_by_product_id_or_short_of_stock_gets_no_suggestion(shop: Shop) -> None:
    ada = await add_customer(shop)
    request = OrderCreate(
        customer_id=ada,
        lines=[OrderLineRequest(sku="LAMP-01", quantity=50), OrderLineRequest(product_id="prd_missing", quantity=1)],
    )

    result = await shop.orders.place(request, actor=ACTOR)

    assert isinstance(result, BadLines)
    assert result.suggestions == ()


async def test_a_search_that_finds_nothing_suggests_the_closest_names(shop: Shop) -> None:
    result = await shop.catalog.search(ProductQuery(text="product mug-blu-01"))

    assert isinstance(result, Success)
    page = result.value
    assert isinstance(page, SearchPage)
    assert page.items == []
    assert [s.candidate.key for s in page.suggestions][:1] == ["MUG-BLUE-01"]


async def test_a_search_that_finds_something_or_filters_by_stock_suggests_nothing(shop: Shop) -> None:
    found = await shop.catalog.search(ProductQuery(text="mug"))
    low = await shop.catalog.search(ProductQuery(text="mug-blu-01", stock_below=2))

    assert isinstance(found, Success)
    assert isinstance(low, Success)
    assert found.value.items
    assert found.value.suggestions == ()
    assert low.value.items == []
    assert low.value.suggestions == (), "the stock filter, not the name, found nothing"


async def test_a_mistyped_e_mail_comes_back_with_the_closest_customers(shop: Shop) -> None:
    anna = await add_customer(shop, "anna@example.com", "Anna Schmidt")
    await add_customer(shop, "bob@example.com", "Bob Jones")

    result = await shop.customers.get(customer_id=None, email="anna@exmaple.com")

    assert isinstance(result, NotFound)
    assert [(s.candidate.id, s.candidate.key) for s in result.suggestions] == [(anna, "anna@example.com")]


async def test_a_customer_search_that_finds_nobody_suggests_close_names(shop: Shop) -> None:
    grace = await add_customer(shop, "grace@example.com", "Grace Hopper")

    missed = await shop.customers.list(CustomerQuery(text="grace hoper"))
    nobody = await shop.customers.list(CustomerQuery(text="zebediah"))

    assert isinstance(missed, Success)
    assert isinstance(nobody, Success)
    assert [s.candidate.id for s in missed.value.suggestions] == [grace]
    assert nobody.value.items == []
    assert nobody.value.suggestions == ()
