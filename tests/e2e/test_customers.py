"""Customer tools through a real client: the Markdown an assistant reads and the structure a program reads."""

from __future__ import annotations

import anyio
import pytest
from mcp_types import CallToolResult

from tests.e2e.support import (
    JsonObject,
    Shop,
    as_object,
    objects,
    optional_string,
    piped,
    rows_added,
    string,
    text_of,
    timestamp,
)

pytestmark = pytest.mark.anyio


async def test_register_answers_with_the_new_customer(shop: Shop) -> None:
    reply = await shop.ok(
        "customers_register",
        {"name": "  Ada Lovelace ", "email": " Ada.Lovelace@Example.COM ", "phone": "+44 20 7946 0018"},
    )

    customer = reply.data
    customer_id = string(customer, "id")
    assert customer_id.startswith("cus_")
    assert string(customer, "name") == "Ada Lovelace"
    assert string(customer, "email") == "ada.lovelace@example.com", "stored lower-case and trimmed"
    assert optional_string(customer, "phone") == "+44 20 7946 0018"
    assert optional_string(customer, "notes") is None
    assert timestamp(customer, "created_at") == timestamp(customer, "updated_at")

    assert reply.text.startswith("## Registered `Ada Lovelace`")
    assert f"`{customer_id}`" in reply.text
    assert "- **email:** `ada.lovelace@example.com`" in reply.text
    assert "- **phone:** `+44 20 7946 0018`" in reply.text
    assert "customers_update or customers_get" in reply.text, "says what to do with the new id"


async def test_register_and_update_write_everything_in_one_go(shop: Shop) -> None:
    """A registration stores the customer, its audit entry and the queued welcome e-mail; an update
    stores the change and its audit entry (and queues nothing)."""
    empty = shop.db.tables()
    customer_id = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")
    registered = shop.db.tables()
    await shop.ok("customers_update", {"customer_id": customer_id, "name": "Ada King"})
    updated = shop.db.tables()

    assert sorted(rows_added(empty, registered).values()) == [1, 1, 1], rows_added(empty, registered)
    assert list(rows_added(registered, updated).values()) == [1], "only the audit entry is new"
    assert len(await shop.every_audit_entry()) == 2


async def test_get_by_id_and_by_email_in_another_letter_case(shop: Shop) -> None:
    registered = await shop.register("Grace Hopper", "grace@navy.example", notes="Prefers COBOL")
    customer_id = string(registered, "id")

    by_id = await shop.ok("customers_get", {"customer_id": customer_id})
    by_email = await shop.ok("customers_get", {"email": "GRACE@Navy.Example"})

    assert by_id.data == registered
    assert by_email.data == registered
    assert by_id.text == by_email.text
    assert by_id.text.startswith("## `Grace Hopper`")
    assert f"`{customer_id}`" in by_id.text
    assert "- **email:** `grace@navy.example`" in by_id.text
    assert "- **notes:** `Prefers COBOL`" in by_id.text


async def test_get_detailed_shows_every_field_and_concise_only_the_essentials(shop: Shop) -> None:
    customer_id = string(await shop.register("Grace Hopper", "grace@navy.example"), "id")

    concise = await shop.ok("customers_get", {"customer_id": customer_id})
    detailed = await shop.ok("customers_get", {"customer_id": customer_id, "response_format": "detailed"})

    assert "registered" not in concise.text
    for label in ("**id:**", "**email:**", "**phone:**", "**notes:**", "**registered:**", "**last updated:**"):
        assert label in detailed.text
    assert detailed.data == concise.data, "the structure is the same; only the Markdown is shorter"


async def test_list_filters_by_part_of_a_name_or_email_in_any_case(shop: Shop) -> None:
    ada = await shop.register("Ada Lovelace", "ada@engines.example")
    grace = await shop.register("Grace Hopper", "grace@navy.example")
    await shop.register("Alan Turing", "alan@bletchley.example")

    by_name = await shop.ok("customers_list", {"query": "HOPPER"})
    by_email = await shop.ok("customers_list", {"query": "Engines"})
    nobody = await shop.ok("customers_list", {"query": "nobody-like-this"})

    assert objects(by_name.data, "customers") == [grace]
    assert optional_string(by_name.data, "next_cursor") is None
    assert "**1 customer matching `HOPPER`**" in by_name.text
    assert f"|`{string(grace, 'id')}`|`Grace Hopper`|`grace@navy.example`|" in piped(by_name.text)
    assert "That is the whole list." in by_name.text
    assert "Ada" not in by_name.text

    assert objects(by_email.data, "customers") == [ada]

    assert objects(nobody.data, "customers") == []
    assert optional_string(nobody.data, "next_cursor") is None
    assert "No customers matching `nobody-like-this`" in nobody.text


@pytest.mark.parametrize("query", [None, "example"])
async def test_list_pages_through_everyone_without_gaps_or_duplicates(shop: Shop, query: str | None) -> None:
    matching = [string(await shop.register(f"Customer {n}", f"c{n}@shop.example"), "id") for n in range(7)]
    other = string(await shop.register("Someone Else", "other@elsewhere.test"), "id")
    expected = matching if query else [*matching, other]
    filters: JsonObject = {"query": query} if query else {}

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        arguments: JsonObject = {**filters, "limit": 3}
        if cursor is not None:
            arguments["cursor"] = cursor
        page = await shop.ok("customers_list", arguments)
        pages += 1
        seen += [string(c, "id") for c in objects(page.data, "customers")]
        cursor = optional_string(page.data, "next_cursor")
        if cursor is None:
            assert "That is the whole list." in page.text
            break
        assert f"cursor=`{cursor}`" in page.text, "the Markdown tells the assistant how to get the next page"
        assert pages < 10, "pagination does not end"

    assert seen == expected, "every customer once, in registration order"
    assert pages == -(-len(expected) // 3)


async def test_list_detailed_adds_registration_time_and_notes(shop: Shop) -> None:
    await shop.register("Ada Lovelace", "ada@engines.example", notes="Wants the analytical engine")

    concise = await shop.ok("customers_list")
    detailed = await shop.ok("customers_list", {"response_format": "detailed"})

    assert "|id|name|email|\n" in piped(concise.text), "a list finds customers; the phone is in 'detailed'"
    assert "Wants the analytical engine" not in concise.text
    assert "|id|name|email|phone|registered (UTC)|notes|" in piped(detailed.text)
    assert "Wants the analytical engine" in detailed.text
    assert optional_string(objects(detailed.data, "customers")[0], "notes") == "Wants the analytical engine"


async def test_update_changes_only_the_fields_given(shop: Shop) -> None:
    registered = await shop.register("Ada Lovelace", "ada@engines.example", phone="020 7946 0018", notes="VIP")
    customer_id = string(registered, "id")

    reply = await shop.ok("customers_update", {"customer_id": customer_id, "name": "Ada King", "phone": "+44 1"})

    updated = reply.data
    assert string(updated, "name") == "Ada King"
    assert optional_string(updated, "phone") == "+44 1"
    assert string(updated, "email") == "ada@engines.example"
    assert optional_string(updated, "notes") == "VIP"
    assert string(updated, "created_at") == string(registered, "created_at")
    assert timestamp(updated, "updated_at") > timestamp(registered, "updated_at")
    assert reply.text.startswith("## Updated `Ada King`: changed name, phone")
    assert (await shop.ok("customers_get", {"customer_id": customer_id})).data == updated


async def test_update_with_explicit_null_clears_the_phone(shop: Shop) -> None:
    customer_id = string(await shop.register("Ada Lovelace", "ada@engines.example", phone="020 7946 0018"), "id")

    reply = await shop.ok("customers_update", {"customer_id": customer_id, "phone": None})

    assert optional_string(reply.data, "phone") is None
    assert string(reply.data, "name") == "Ada Lovelace"
    assert "changed phone" in reply.text
    assert "- **phone:** —" in reply.text
    fetched = await shop.ok("customers_get", {"customer_id": customer_id})
    assert optional_string(fetched.data, "phone") is None


async def test_update_email_moves_the_lookup_to_the_new_address(shop: Shop) -> None:
    customer_id = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")

    reply = await shop.ok("customers_update", {"customer_id": customer_id, "email": "Ada@Difference.Example"})

    assert string(reply.data, "email") == "ada@difference.example"
    assert "changed email" in reply.text
    found = await shop.ok("customers_get", {"email": "ada@difference.example"})
    assert string(found.data, "id") == customer_id
    gone = await shop.fail("customers_get", {"email": "ada@engines.example"})
    assert "No customer with email ada@engines.example" in gone


async def test_repeating_an_update_changes_nothing_and_records_nothing(shop: Shop) -> None:
    """customers_update says it is idempotent: the same call twice has the effect of one."""
    customer_id = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")
    change: JsonObject = {"customer_id": customer_id, "name": "Ada King", "email": "ADA@engines.example"}

    first = await shop.ok("customers_update", change)
    before = await shop.state()
    second = await shop.ok("customers_update", change)

    assert "changed name" in first.text
    assert "email" not in first.text.splitlines()[0], "the same address in another case is not a change"
    assert second.text.startswith("## Nothing changed for `Ada King`")
    assert second.data == first.data
    assert await shop.state() == before


async def test_concurrent_registrations_of_one_address_create_one_customer(shop: Shop) -> None:
    results: list[CallToolResult] = []

    async def register(n: int) -> None:
        email = "Same@Example.com" if n % 2 else "same@EXAMPLE.com"
        results.append(await shop.call("customers_register", {"name": f"Twin {n}", "email": email}))

    async with anyio.create_task_group() as tasks:
        for n in range(6):
            tasks.start_soon(register, n)

    winners = [r for r in results if not r.is_error]
    assert len(winners) == 1
    winner_id = string(as_object(winners[0].structured_content), "id")
    for loser in (r for r in results if r.is_error):
        assert winner_id in text_of(loser)
    assert [string(c, "id") for c in await shop.every_customer()] == [winner_id]
    assert len(await shop.every_audit_entry()) == 1


async def test_names_with_markdown_characters_render_as_themselves(shop: Shop) -> None:
    """A name is user text: every tool quotes it as a code span, headings included, so `*VIP*` is not emphasis
    and reads exactly as written (no backslashes)."""
    registered = await shop.ok("customers_register", {"name": "Ada *VIP* Lovelace", "email": "ada@engines.example"})
    customer_id = string(registered.data, "id")
    fetched = await shop.ok("customers_get", {"customer_id": customer_id})
    updated = await shop.ok("customers_update", {"customer_id": customer_id, "name": "Ada *VIP* King"})

    assert fetched.text.startswith("## `Ada *VIP* Lovelace`\n")
    assert registered.text.startswith("## Registered `Ada *VIP* Lovelace`\n")
    assert updated.text.startswith("## Updated `Ada *VIP* King`: changed name\n")


async def test_search_ignores_letter_case_beyond_ascii(shop: Shop) -> None:
    """query is documented as "any case", and names are not all ASCII (Élodie, Øystein, Ärzte…).

    SQLite's own lower() folds only A-Z, so a search built on it misses "ÉLODIE" even when
    the query is spelled exactly like the stored name.
    """
    elodie = await shop.register("ÉLODIE Durand", "elodie@example.fr")

    for query in ("élodie", "ÉLODIE", "Élodie Durand"):
        page = await shop.ok("customers_list", {"query": query})
        assert objects(page.data, "customers") == [elodie], f"query {query!r} should find ÉLODIE Durand"


async def test_text_that_looks_like_json_is_kept_as_text(shop: Shop) -> None:
    """The SDK JSON-decodes optional string arguments; notes reading `null` or `[...]` must stay text."""
    registered = await shop.ok("customers_register", {"name": "Jay Son", "email": "jay@shop.example", "notes": "null"})
    customer_id = string(registered.data, "id")
    assert registered.data["notes"] == "null"

    updated = await shop.ok("customers_update", {"customer_id": customer_id, "notes": "true"})
    found = await shop.ok("customers_list", {"query": "null"})

    assert updated.data["notes"] == "true"
    assert found.data["customers"] == [], "query 'null' searches for the text, it does not drop the filter"


async def test_notes_that_are_a_json_array_stay_text(shop: Shop) -> None:
    registered = await shop.ok(
        "customers_register", {"name": "Jay Son", "email": "jay@shop.example", "notes": '["fragile", "gift"]'}
    )
    assert registered.data["notes"] == '["fragile", "gift"]'
