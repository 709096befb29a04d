"""Catalog tools through a real client: products with a SKU, a price in minor units, stock and an active flag."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import pytest
from mcp_types import CallToolResult

from tests.e2e.support import (
    JsonObject,
    Refusal,
    Shop,
    as_object,
    assert_refused_without_change,
    boolean,
    integer,
    objects,
    optional_string,
    piped,
    rows_added,
    string,
    text_of,
    timestamp,
)

pytestmark = pytest.mark.anyio

UNKNOWN_PRODUCT = "prd_01HZZZZZZZZZZZZZZZZZZZZZZZ"  # well formed, never issued
PRODUCT_FIELDS = {
    "id",
    "sku",
    "name",
    "description",
    "price_minor",
    "currency",
    "price",
    "stock",
    "active",
    "created_at",
    "updated_at",
}


def ids(products: list[JsonObject]) -> list[str]:
    return [string(p, "id") for p in products]


async def search(shop: Shop, **arguments: object) -> list[JsonObject]:
    """One page of catalog_search, checked to be the last one."""
    page = await shop.ok("catalog_search", arguments)
    assert optional_string(page.data, "next_cursor") is None, f"expected a single page for {arguments!r}"
    return objects(page.data, "products")


# --- create --------------------------------------------------------------------------------------


async def test_create_answers_with_the_new_product(shop: Shop) -> None:
    reply = await shop.ok(
        "catalog_create_product",
        {
            "sku": "Mug-Blue-01",
            "name": "  Blue Mug ",
            "price_minor": 1250,
            "currency": "eur",
            "description": "Holds 350 ml",
            "stock": 3,
        },
    )

    product = reply.data
    product_id = string(product, "id")
    assert set(product) == PRODUCT_FIELDS
    assert product_id.startswith("prd_")
    assert string(product, "sku") == "Mug-Blue-01", "the SKU is kept as typed"
    assert string(product, "name") == "Blue Mug"
    assert optional_string(product, "description") == "Holds 350 ml"
    assert integer(product, "price_minor") == 1250
    assert string(product, "currency") == "EUR", "currency codes are stored upper-case"
    assert string(product, "price") == "12.50 EUR"
    assert integer(product, "stock") == 3
    assert boolean(product, "active") is True
    assert timestamp(product, "created_at") == timestamp(product, "updated_at")

    lines = reply.text.splitlines()
    assert lines[0] == "## Added `Blue Mug`"
    for line in (
        f"- **id:** `{product_id}`",
        "- **SKU:** `Mug-Blue-01`",
        "- **price:** 12.50 EUR",
        "- **in stock:** 3",
        "- **active:** yes",
        "- **description:** `Holds 350 ml`",
    ):
        assert line in lines, f"{line!r} missing from:\n{reply.text}"


async def test_create_defaults_to_no_stock_active_and_no_description(shop: Shop) -> None:
    product = await shop.add_product("TEA-1", "Green Tea", 500, "JPY")

    assert integer(product, "stock") == 0
    assert boolean(product, "active") is True
    assert optional_string(product, "description") is None


@pytest.mark.parametrize(
    ("price_minor", "currency", "shown"),
    [
        (1250, "EUR", "12.50 EUR"),
        (123456789, "usd", "1,234,567.89 USD"),
        (500, "JPY", "500 JPY"),
        (1500, "jpy", "1,500 JPY"),
        (1234, "KWD", "1.234 KWD"),
    ],
)
async def test_price_is_shown_in_the_currencys_own_units(
    shop: Shop, price_minor: int, currency: str, shown: str
) -> None:
    created = await shop.ok(
        "catalog_create_product", {"sku": "P-1", "name": "Priced", "price_minor": price_minor, "currency": currency}
    )
    fetched = await shop.ok("catalog_get", {"sku": "p-1"})

    assert integer(created.data, "price_minor") == price_minor
    assert string(created.data, "currency") == currency.upper()
    assert string(created.data, "price") == shown
    assert f"- **price:** {shown}" in created.text
    assert f"- **price:** {shown}" in fetched.text
    assert fetched.data == created.data


async def test_create_writes_the_product_and_one_audit_entry(shop: Shop) -> None:
    empty = shop.db.tables()
    product = await shop.add_product("Mug-Blue-01", "Blue Mug", stock=3)

    assert rows_added(empty, shop.db.tables()) == {"products": 1, "audit_log": 1}, "no e-mail is queued"
    entries = await shop.every_audit_entry()
    assert [(string(e, "action"), string(e, "entity_id")) for e in entries] == [("product.created", product["id"])]
    assert await shop.every_product() == [product]


async def test_duplicate_sku_in_another_letter_case_names_the_existing_product(shop: Shop) -> None:
    existing = string(await shop.add_product("Mug-Blue-01", "Blue Mug"), "id")
    before = await shop.state()

    message = await shop.fail(
        "catalog_create_product", {"sku": "MUG-blue-01", "name": "Another Mug", "price_minor": 900, "currency": "EUR"}
    )

    assert "SKU Mug-Blue-01 already exists" in message
    assert existing in message
    assert f"call catalog_update_product with product_id='{existing}'" in message
    assert "Nothing was changed" in message
    assert await shop.state() == before


async def test_concurrent_creations_of_one_sku_create_one_product(shop: Shop) -> None:
    results: list[CallToolResult] = []

    async def create(n: int) -> None:
        sku = "mug-blue-01" if n % 2 else "MUG-BLUE-01"
        arguments = {"sku": sku, "name": f"Mug {n}", "price_minor": 100 + n, "currency": "EUR"}
        results.append(await shop.call("catalog_create_product", arguments))

    async with anyio.create_task_group() as tasks:
        for n in range(6):
            tasks.start_soon(create, n)

    winners = [r for r in results if not r.is_error]
    assert len(winners) == 1
    winner_id = string(as_object(winners[0].structured_content), "id")
    for loser in (r for r in results if r.is_error):
        assert winner_id in text_of(loser)
    assert ids(await shop.every_product()) == [winner_id]
    assert len(await shop.every_audit_entry()) == 1


# --- get -----------------------------------------------------------------------------------------


async def test_get_by_id_in_any_case_and_by_sku_in_another_case(shop: Shop) -> None:
    created = await shop.add_product("Mug-Blue-01", "Blue Mug", stock=3, description="Holds 350 ml")
    product_id = string(created, "id")

    by_id = await shop.ok("catalog_get", {"product_id": product_id})
    by_lower_case_id = await shop.ok("catalog_get", {"product_id": product_id.lower()})
    by_sku = await shop.ok("catalog_get", {"sku": "mug-BLUE-01"})

    for reply in (by_id, by_lower_case_id, by_sku):
        assert reply.data == created
        assert reply.text == by_id.text
    assert by_id.text.startswith("## `Blue Mug`\n")
    assert f"- **id:** `{product_id}`" in by_id.text
    assert "- **SKU:** `Mug-Blue-01`" in by_id.text
    assert "- **price:** 12.50 EUR" in by_id.text
    assert "- **in stock:** 3" in by_id.text


async def test_get_detailed_adds_description_and_times(shop: Shop) -> None:
    product_id = string(await shop.add_product("Mug-Blue-01", "Blue Mug", description="Holds 350 ml"), "id")

    concise = await shop.ok("catalog_get", {"product_id": product_id})
    detailed = await shop.ok("catalog_get", {"product_id": product_id, "response_format": "detailed"})

    for label in ("**description:**", "**created:**", "**last updated:**"):
        assert label not in concise.text
    for label in ("**id:**", "**SKU:**", "**price:**", "**in stock:**", "**active:**", "**description:**"):
        assert label in detailed.text
    assert "- **description:** `Holds 350 ml`" in detailed.text
    assert detailed.data == concise.data, "the structure is the same; only the Markdown is shorter"


# --- update --------------------------------------------------------------------------------------


async def test_update_changes_only_the_fields_given(shop: Shop) -> None:
    created = await shop.add_product("Mug-Blue-01", "Blue Mug", 1250, "EUR", stock=3, description="Holds 350 ml")
    product_id = string(created, "id")

    reply = await shop.ok(
        "catalog_update_product",
        {"product_id": product_id.lower(), "name": "Blue Mug XL", "price_minor": 1499, "active": False},
    )

    updated = reply.data
    assert string(updated, "id") == product_id
    assert string(updated, "name") == "Blue Mug XL"
    assert integer(updated, "price_minor") == 1499
    assert string(updated, "price") == "14.99 EUR"
    assert boolean(updated, "active") is False
    for unchanged in ("sku", "currency", "description", "stock", "created_at"):
        assert updated[unchanged] == created[unchanged], f"{unchanged} should not change"
    assert timestamp(updated, "updated_at") > timestamp(created, "updated_at")

    assert reply.text.startswith("## Updated `Blue Mug XL`: changed name, price_minor, active\n")
    assert "- **price:** 14.99 EUR" in reply.text
    assert "- **active:** no" in reply.text
    assert (await shop.ok("catalog_get", {"product_id": product_id})).data == updated

    (entry,) = await shop.every_audit_entry(entity_id=product_id, action="product.updated")
    assert as_object(entry.get("before")) == {"name": "Blue Mug", "price_minor": 1250, "active": True}
    assert as_object(entry.get("after")) == {"name": "Blue Mug XL", "price_minor": 1499, "active": False}


async def test_update_currency_is_stored_upper_case(shop: Shop) -> None:
    product_id = string(await shop.add_product("Mug-Blue-01", "Blue Mug", 1250, "EUR"), "id")

    reply = await shop.ok("catalog_update_product", {"product_id": product_id, "currency": "usd", "price_minor": 1399})

    assert string(reply.data, "currency") == "USD"
    assert string(reply.data, "price") == "13.99 USD"
    assert "changed price_minor, currency" in reply.text


async def test_changing_only_the_currency_is_refused(shop: Shop) -> None:
    """1250 EUR-cents would silently become 1,250 JPY: the price must come with the new currency."""
    product_id = string(await shop.add_product("Mug-Blue-01", "Blue Mug", 1250, "EUR"), "id")
    before = await shop.state()

    message = await shop.fail("catalog_update_product", {"product_id": product_id, "currency": "JPY"})

    assert "pass price_minor with currency" in message
    assert await shop.state() == before


async def test_update_with_explicit_null_clears_the_description(shop: Shop) -> None:
    product_id = string(await shop.add_product("Mug-Blue-01", "Blue Mug", description="Holds 350 ml"), "id")

    reply = await shop.ok("catalog_update_product", {"product_id": product_id, "description": None})

    assert optional_string(reply.data, "description") is None
    assert string(reply.data, "name") == "Blue Mug"
    assert reply.text.startswith("## Updated `Blue Mug`: changed description\n")
    assert "- **description:** —" in reply.text
    fetched = await shop.ok("catalog_get", {"product_id": product_id})
    assert optional_string(fetched.data, "description") is None


async def test_update_to_the_current_values_changes_nothing_and_records_nothing(shop: Shop) -> None:
    created = await shop.add_product("Mug-Blue-01", "Blue Mug", 1250, "EUR", description="Holds 350 ml")
    before = await shop.state()

    reply = await shop.ok(
        "catalog_update_product",
        {
            "product_id": string(created, "id"),
            "name": " Blue Mug ",
            "price_minor": 1250,
            "currency": "eur",
            "description": "Holds 350 ml",
            "active": True,
        },
    )

    assert reply.text.startswith("## Nothing changed for `Blue Mug`: the values given are the current ones")
    assert reply.data == created
    assert await shop.state() == before, "no audit entry, and updated_at is left alone"


async def test_repeating_an_update_changes_nothing_the_second_time(shop: Shop) -> None:
    """catalog_update_product says it is idempotent: the same call twice has the effect of one."""
    product_id = string(await shop.add_product("Mug-Blue-01", "Blue Mug"), "id")
    change: JsonObject = {"product_id": product_id, "price_minor": 1399, "description": "Now with a lid"}

    first = await shop.ok("catalog_update_product", change)
    before = await shop.state()
    second = await shop.ok("catalog_update_product", change)

    assert first.text.startswith("## Updated `Blue Mug`: changed description, price_minor")
    assert second.text.startswith("## Nothing changed for `Blue Mug`")
    assert second.data == first.data
    assert await shop.state() == before


# --- adjust stock --------------------------------------------------------------------------------


async def test_adjust_stock_shows_before_and_after_and_records_each_change(shop: Shop) -> None:
    product_id = string(await shop.add_product("Mug-Blue-01", "Blue Mug", stock=10), "id")
    steps: list[tuple[int, str, int, int]] = [
        (5, "restock", 10, 15),
        (-3, "damage", 15, 12),
        (-2, "correction", 12, 10),
    ]

    for delta, reason, was, now in steps:
        rows_before = shop.db.tables()
        arguments: JsonObject = {"product_id": product_id, "delta": delta, "reason": reason}
        if reason == "correction":
            arguments["note"] = "annual count"
        reply = await shop.ok("catalog_adjust_stock", arguments)

        assert reply.text.startswith(f"## Stock of `Blue Mug`: {was} → {now} ({reason})\n"), reply.text
        assert f"- **in stock:** {now}" in reply.text
        assert integer(reply.data, "stock") == now
        assert rows_added(rows_before, shop.db.tables()) == {"audit_log": 1}, f"one entry for {reason}"

    entries = await shop.every_audit_entry(entity_id=product_id, action="product.stock_adjusted")
    recorded = [(as_object(e.get("before")), as_object(e.get("after"))) for e in reversed(entries)]
    assert recorded == [
        ({"stock": 10}, {"stock": 15, "reason": "restock"}),
        ({"stock": 15}, {"stock": 12, "reason": "damage"}),
        ({"stock": 12}, {"stock": 10, "reason": "correction", "note": "annual count"}),
    ]
    assert integer((await shop.ok("catalog_get", {"product_id": product_id})).data, "stock") == 10


async def test_adjust_stock_formats_large_levels_with_separators(shop: Shop) -> None:
    product_id = string(await shop.add_product("BOLT-M4", "M4 bolt", 2, "EUR", stock=1500), "id")

    reply = await shop.ok("catalog_adjust_stock", {"product_id": product_id, "delta": 2500, "reason": "restock"})

    assert reply.text.startswith("## Stock of `M4 bolt`: 1,500 → 4,000 (restock)\n")
    assert integer(reply.data, "stock") == 4000


async def test_concurrent_removals_never_take_stock_below_zero(shop: Shop) -> None:
    product_id = string(await shop.add_product("Mug-Blue-01", "Blue Mug", stock=10), "id")
    results: list[CallToolResult] = []

    async def remove_one() -> None:
        arguments = {"product_id": product_id, "delta": -1, "reason": "damage"}
        results.append(await shop.call("catalog_adjust_stock", arguments))

    async with anyio.create_task_group() as tasks:
        for _ in range(20):
            tasks.start_soon(remove_one)

    succeeded = [r for r in results if not r.is_error]
    refused = [text_of(r) for r in results if r.is_error]
    assert len(succeeded) == 10
    assert len(refused) == 10
    for message in refused:
        assert "cannot go below zero" in message
        assert "Mug-Blue-01 has 0 in stock" in message
    headings = sorted(text_of(r).splitlines()[0] for r in succeeded)
    assert headings == sorted(f"## Stock of `Blue Mug`: {n} → {n - 1} (damage)" for n in range(1, 11)), (
        "each removal saw the stock the one before it left"
    )
    assert integer((await shop.ok("catalog_get", {"product_id": product_id})).data, "stock") == 0
    entries = await shop.every_audit_entry(entity_id=product_id, action="product.stock_adjusted")
    assert len(entries) == 10


# --- search --------------------------------------------------------------------------------------


async def test_search_finds_part_of_a_name_or_sku_in_any_case(shop: Shop) -> None:
    blue = await shop.add_product("MUG-BLUE-01", "Blue Mug")
    red = await shop.add_product("MUG-RED-01", "Red Mug")
    tea = await shop.add_product("TEA-CB-1", "Crème Brûlée Tea", 500, "JPY")
    jar = await shop.add_product("JAR-7", "CRÈME FRAÎCHE Jar")

    cases: dict[str, list[JsonObject]] = {
        "mug": [blue, red],
        "blue-0": [blue],
        "RED mug": [red],
        "tea-cb": [tea],
        "Crème": [tea, jar],
        "CRÈME": [tea, jar],
        "crème brûlée": [tea],
        "FRAÎCHE": [jar],
        "nothing-like-this": [],
    }
    for text, expected in cases.items():
        assert await search(shop, text=text) == expected, f"text={text!r}"

    page = await shop.ok("catalog_search", {"text": "Crème"})
    assert page.text.startswith("**2 products matching `Crème`**")
    assert "|id|SKU|name|price|stock|" in piped(page.text), "two currencies: each price names its own"
    assert f"|`{tea['id']}`|`TEA-CB-1`|`Crème Brûlée Tea`|500 JPY|0|" in piped(page.text)
    assert "That is the whole list." in page.text
    nothing = await shop.ok("catalog_search", {"text": "nothing-like-this"})
    assert nothing.text.startswith("No products matching `nothing-like-this`")


async def test_search_text_is_matched_literally(shop: Shop) -> None:
    """% and _ are SQL LIKE wildcards; in search text they are just characters."""
    percent = await shop.add_product("BAG-1", "100% Cotton Bag")
    await shop.add_product("BAG-2", "1000 Cotton Bags")
    snake = await shop.add_product("MUG-S", "Snake_Case Mug")
    await shop.add_product("MUG-X", "SnakeXCase Mug")

    assert await search(shop, text="100%") == [percent]
    assert await search(shop, text="%") == [percent]
    assert await search(shop, text="e_c") == [snake]


async def test_retired_products_are_hidden_unless_include_inactive(shop: Shop) -> None:
    blue = string(await shop.add_product("MUG-BLUE-01", "Blue Mug"), "id")
    red = string(await shop.add_product("MUG-RED-01", "Red Mug", active=False), "id")
    green = string(await shop.add_product("MUG-GREEN-01", "Green Mug"), "id")
    await shop.ok("catalog_update_product", {"product_id": green, "active": False})

    assert ids(await search(shop, text="mug")) == [blue]
    assert ids(await search(shop)) == [blue]
    assert ids(await search(shop, text="mug", include_inactive=True)) == [blue, red, green]

    everything = await shop.ok("catalog_search", {"include_inactive": True, "response_format": "detailed"})
    assert everything.text.startswith("**3 products including inactive**")
    assert "|id|SKU|name|price (EUR)|stock|active|description|" in piped(everything.text), "one currency: said once"
    assert f"|`{red}`|`MUG-RED-01`|`Red Mug`|12.50|0|no|—|" in piped(everything.text)

    retired = await shop.ok("catalog_get", {"product_id": red})
    assert boolean(retired.data, "active") is False, "catalog_get still finds a retired product"
    assert "- **active:** no" in retired.text

    await shop.ok("catalog_update_product", {"product_id": green, "active": True})
    assert ids(await search(shop, text="mug")) == [blue, green]


async def test_stock_below_lists_only_products_with_fewer_units(shop: Shop) -> None:
    empty = string(await shop.add_product("A-0", "Empty Mug", stock=0), "id")
    low = string(await shop.add_product("A-4", "Low Mug", stock=4), "id")
    await shop.add_product("A-5", "Edge Mug", stock=5)
    await shop.add_product("A-50", "Full Mug", stock=50)
    retired = string(await shop.add_product("A-1", "Retired Mug", stock=1, active=False), "id")

    page = await shop.ok("catalog_search", {"stock_below": 5})

    assert ids(objects(page.data, "products")) == [empty, low]
    assert page.text.startswith("**2 products with fewer than 5 in stock**")
    assert ids(await search(shop, stock_below=5, include_inactive=True)) == [empty, low, retired]
    assert ids(await search(shop, stock_below=5, text="LOW")) == [low]
    assert ids(await search(shop, stock_below=1)) == [empty]


@pytest.mark.parametrize(
    "filters",
    [{}, {"text": "mug"}, {"stock_below": 10}, {"text": "MUG", "stock_below": 10}],
    ids=["no-filter", "text", "stock_below", "text-and-stock_below"],
)
async def test_search_pages_through_every_match_without_gaps_or_duplicates(shop: Shop, filters: JsonObject) -> None:
    matching = [string(await shop.add_product(f"MUG-{n}", f"Mug {n}", stock=n), "id") for n in range(7)]
    teapot = string(await shop.add_product("POT-1", "Teapot", stock=20), "id")
    await shop.add_product("MUG-OLD", "Retired Mug", stock=1, active=False)
    expected = matching if filters else [*matching, teapot]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        arguments: JsonObject = {**filters, "limit": 2}
        if cursor is not None:
            arguments["cursor"] = cursor
        page = await shop.ok("catalog_search", arguments)
        pages += 1
        seen += ids(objects(page.data, "products"))
        cursor = optional_string(page.data, "next_cursor")
        if cursor is None:
            assert "That is the whole list." in page.text
            break
        assert f"cursor=`{cursor}`" in page.text, "the Markdown tells the assistant how to get the next page"
        if filters:
            assert "with the same filters" in page.text
        assert pages < 10, "pagination does not end"

    assert seen == expected, "every match once, in the order the products were added"
    assert pages == -(-len(expected) // 2)


# --- refusals ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seeded:
    """A shop with two products (Blue Mug with 3 in stock, Red Mug with none) and cursors it handed out."""

    shop: Shop
    mug: str
    search_cursor: str  # from catalog_search(text="mug", limit=1)
    audit_cursor: str  # from audit_log_list(limit=1)

    def resolve(self, value: object) -> object:
        placeholders = {"<mug>": self.mug, "<search_cursor>": self.search_cursor, "<audit_cursor>": self.audit_cursor}
        return placeholders.get(value, value) if isinstance(value, str) else value


@pytest.fixture
async def seeded(shop: Shop) -> Seeded:
    mug = string(await shop.add_product("Mug-Blue-01", "Blue Mug", 1250, "EUR", stock=3), "id")
    await shop.add_product("MUG-RED-01", "Red Mug", 1250, "EUR")
    search_page = await shop.ok("catalog_search", {"text": "mug", "limit": 1})
    audit_page = await shop.ok("audit_log_list", {"limit": 1})
    return Seeded(
        shop=shop,
        mug=mug,
        search_cursor=optional_string(search_page.data, "next_cursor") or "",
        audit_cursor=optional_string(audit_page.data, "next_cursor") or "",
    )


def new_product(**overrides: object) -> JsonObject:
    return {"sku": "NEW-1", "name": "New Mug", "price_minor": 1000, "currency": "EUR", **overrides}


REFUSALS = {
    # catalog_create_product
    "negative-price": Refusal(
        "catalog_create_product", new_product(price_minor=-1), ("`price_minor`", "greater than or equal to 0")
    ),
    "price-beyond-2**63-1": Refusal(
        "catalog_create_product", new_product(price_minor=2**63), ("`price_minor`", "less than or equal to")
    ),
    "price-as-a-fraction": Refusal("catalog_create_product", new_product(price_minor=12.5), ("`price_minor`",)),
    "unknown-currency": Refusal(
        "catalog_create_product", new_product(currency="XYZ"), ("`currency`", "'XYZ' is not a currency")
    ),
    "empty-sku": Refusal("catalog_create_product", new_product(sku=""), ("`sku`", "at least 1")),
    "sku-with-spaces": Refusal("catalog_create_product", new_product(sku="MUG BLUE 02"), ("`sku`",)),
    "10000-character-name": Refusal(
        "catalog_create_product", new_product(name="x" * 10_000), ("`name`", "at most 200")
    ),
    "blank-name": Refusal("catalog_create_product", new_product(name="   "), ("`name`",)),
    "stock-minus-1": Refusal(
        "catalog_create_product", new_product(stock=-1), ("`stock`", "greater than or equal to 0")
    ),
    "duplicate-sku-in-another-case": Refusal(
        "catalog_create_product",
        new_product(sku="mug-blue-01"),
        ("Mug-Blue-01 already exists", "<mug>", "catalog_update_product", "Nothing was changed"),
    ),
    # catalog_update_product
    "update-stock": Refusal(
        "catalog_update_product",
        {"product_id": "<mug>", "stock": 50},
        ("`stock` is not an argument", "Nothing was changed"),
    ),
    "update-stock-along-with-the-price": Refusal(
        "catalog_update_product",
        {"product_id": "<mug>", "price_minor": 999, "stock": 50},
        ("`stock` is not an argument",),
    ),
    "update-sku": Refusal(
        "catalog_update_product", {"product_id": "<mug>", "sku": "MUG-BLUE-02"}, ("`sku` is not an argument",)
    ),
    "update-without-fields": Refusal(
        "catalog_update_product", {"product_id": "<mug>"}, ("Nothing to change", "at least one")
    ),
    "update-name-to-null": Refusal(
        "catalog_update_product", {"product_id": "<mug>", "name": None}, ("`name` cannot be cleared",)
    ),
    "update-price-to-null": Refusal(
        "catalog_update_product", {"product_id": "<mug>", "price_minor": None}, ("cannot be cleared",)
    ),
    "update-negative-price": Refusal(
        "catalog_update_product", {"product_id": "<mug>", "price_minor": -5}, ("`price_minor`",)
    ),
    "update-unknown-currency": Refusal(
        "catalog_update_product", {"product_id": "<mug>", "currency": "XYZ"}, ("`currency`", "'XYZ'")
    ),
    "update-unknown-product": Refusal(
        "catalog_update_product",
        {"product_id": UNKNOWN_PRODUCT, "name": "Ghost"},
        (f"No product with id {UNKNOWN_PRODUCT}", "catalog_search"),
    ),
    "update-id-of-wrong-shape": Refusal(
        "catalog_update_product", {"product_id": "cus_01HZZZZZZZZZZZZZZZZZZZZZZZ", "name": "Ghost"}, ("prd_",)
    ),
    # catalog_adjust_stock
    "adjust-below-zero": Refusal(
        "catalog_adjust_stock",
        {"product_id": "<mug>", "delta": -4, "reason": "damage"},
        ("cannot go below zero", "Mug-Blue-01 has 3 in stock", "-4", "catalog_get"),
    ),
    "adjust-by-0": Refusal(
        "catalog_adjust_stock", {"product_id": "<mug>", "delta": 0, "reason": "correction"}, ("delta", "0")
    ),
    "adjust-by-1.5": Refusal(
        "catalog_adjust_stock", {"product_id": "<mug>", "delta": 1.5, "reason": "restock"}, ("`delta`", "integer")
    ),
    "adjust-by-true": Refusal(
        "catalog_adjust_stock", {"product_id": "<mug>", "delta": True, "reason": "restock"}, ("`delta`",)
    ),
    "adjust-for-theft": Refusal(
        "catalog_adjust_stock",
        {"product_id": "<mug>", "delta": -1, "reason": "theft"},
        ("`reason`", "'restock', 'damage' or 'correction'"),
    ),
    "adjust-without-reason": Refusal("catalog_adjust_stock", {"product_id": "<mug>", "delta": 1}, ("reason",)),
    "adjust-unknown-product": Refusal(
        "catalog_adjust_stock",
        {"product_id": UNKNOWN_PRODUCT, "delta": 1, "reason": "restock"},
        (f"No product with id {UNKNOWN_PRODUCT}",),
    ),
    # catalog_get
    "get-neither-id-nor-sku": Refusal("catalog_get", {}, ("exactly one", "product_id", "sku")),
    "get-both-id-and-sku": Refusal("catalog_get", {"product_id": "<mug>", "sku": "Mug-Blue-01"}, ("exactly one",)),
    "get-unknown-id": Refusal(
        "catalog_get", {"product_id": UNKNOWN_PRODUCT}, (f"No product with id {UNKNOWN_PRODUCT}", "catalog_search")
    ),
    "get-unknown-sku": Refusal("catalog_get", {"sku": "NO-SUCH-SKU"}, ("No product with SKU 'NO-SUCH-SKU'",)),
    "get-id-of-wrong-shape": Refusal("catalog_get", {"product_id": "12345"}, ("'12345' is not a product id",)),
    # catalog_search
    "search-limit-0": Refusal("catalog_search", {"limit": 0}, ("`limit`", "greater than or equal to 1")),
    "search-limit-101": Refusal("catalog_search", {"limit": 101}, ("`limit`", "less than or equal to 100")),
    "search-stock_below-0": Refusal("catalog_search", {"stock_below": 0}, ("`stock_below`",)),
    "search-garbage-cursor": Refusal(
        "catalog_search", {"cursor": "not-a-cursor!"}, ("cursor", "catalog_search again without cursor")
    ),
    "search-cursor-with-another-text": Refusal(
        "catalog_search", {"text": "red", "cursor": "<search_cursor>", "limit": 1}, ("different filters",)
    ),
    "search-cursor-without-its-text": Refusal(
        "catalog_search", {"cursor": "<search_cursor>", "limit": 1}, ("different filters",)
    ),
    "search-cursor-with-include_inactive": Refusal(
        "catalog_search",
        {"text": "mug", "include_inactive": True, "cursor": "<search_cursor>", "limit": 1},
        ("different filters",),
    ),
    "search-cursor-with-stock_below": Refusal(
        "catalog_search",
        {"text": "mug", "stock_below": 5, "cursor": "<search_cursor>", "limit": 1},
        ("different filters",),
    ),
    "search-with-an-audit-cursor": Refusal("catalog_search", {"cursor": "<audit_cursor>"}, ("another list",)),
}


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
async def test_refusal_is_actionable_and_writes_nothing(seeded: Seeded, refusal: Refusal) -> None:
    await assert_refused_without_change(seeded.shop, refusal, seeded.resolve)


# --- user text in the Markdown -------------------------------------------------------------------


async def test_names_with_markdown_characters_render_as_themselves(shop: Shop) -> None:
    created = await shop.ok(
        "catalog_create_product", new_product(sku="MUG-LTD", name="Mug *Limited*", description="Say [hi]")
    )
    product_id = string(created.data, "id")
    fetched = await shop.ok("catalog_get", {"product_id": product_id, "response_format": "detailed"})
    adjusted = await shop.ok("catalog_adjust_stock", {"product_id": product_id, "delta": 1, "reason": "restock"})
    listed = await shop.ok("catalog_search", {"text": "mug"})

    assert created.text.startswith("## Added `Mug *Limited*`\n")
    assert fetched.text.startswith("## `Mug *Limited*`\n")
    assert "- **description:** `Say [hi]`" in fetched.text
    assert adjusted.text.startswith("## Stock of `Mug *Limited*`: 0 → 1 (restock)")
    assert "|`Mug *Limited*`|" in piped(listed.text)
    assert string(created.data, "name") == "Mug *Limited*", "the structure keeps the name as typed"


async def test_skus_show_as_typed_in_code_spans(shop: Shop) -> None:
    """Markdown shows a code span's content literally (backslash escapes do not apply inside backticks).

    So a SKU with an underscore must appear as `MUG_BLUE_01`: an assistant that copies `MUG\\_BLUE\\_01`
    from the answer into catalog_get gets "String should match pattern".
    """
    product_id = string(await shop.add_product("MUG_BLUE_01", "Blue Mug"), "id")
    answers = {
        "catalog_get": await shop.ok("catalog_get", {"product_id": product_id}),
        "catalog_search": await shop.ok("catalog_search", {"text": "blue"}),
        "catalog_adjust_stock": await shop.ok(
            "catalog_adjust_stock", {"product_id": product_id, "delta": 1, "reason": "restock"}
        ),
    }

    wrong = {tool: reply.text for tool, reply in answers.items() if "`MUG_BLUE_01`" not in reply.text}
    assert not wrong, "\n\n".join(f"{tool} shows the SKU as:\n{text}" for tool, text in wrong.items())


async def test_search_echoes_its_text_quoted(shop: Shop) -> None:
    """The search text is user text too: `*Limited*` in the heading is a code span, never emphasis
    (customers_list quotes its query the same way)."""
    await shop.add_product("MUG-LTD", "Mug *Limited*")

    found = await shop.ok("catalog_search", {"text": "*Limited*"})
    nothing = await shop.ok("catalog_search", {"text": "**bold**"})

    assert found.text.startswith("**1 product matching `*Limited*`**"), found.text
    assert nothing.text.startswith("No products matching `**bold**`"), nothing.text


@pytest.mark.parametrize("text", ["null", "true", '["gift", "mug"]', '{"colour": "blue"}'])
async def test_text_that_looks_like_json_is_kept_as_text(shop: Shop, text: str) -> None:
    """The SDK JSON-decodes string arguments of optional fields before validating them.

    A description or search text that reads like JSON is still text: `null` must not clear the
    description, and `["gift", "mug"]` must not be refused as "not a valid string".
    """
    other = string(await shop.add_product("MUG-2", "Other Mug", description="Plain"), "id")
    calls: list[tuple[str, JsonObject]] = [
        ("catalog_create_product", new_product(description=text)),
        ("catalog_update_product", {"product_id": other, "description": text}),
        ("catalog_search", {"text": text}),
    ]

    problems: list[str] = []
    for tool, arguments in calls:
        result = await shop.call(tool, arguments)
        if result.is_error:
            problems.append(f"{tool} refused {text!r}: {text_of(result)}")
            continue
        data = as_object(result.structured_content)
        if tool == "catalog_search":
            if objects(data, "products"):
                problems.append(f"{tool} treated {text!r} as something other than text")
        elif data.get("description") != text:
            problems.append(f"{tool} stored description {data.get('description')!r} instead of {text!r}")

    assert not problems, "\n".join(problems)
