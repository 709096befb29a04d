"""Refusals: each is an isError result that says what to do next, leaks no internals and writes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.support import (
    TOOLS,
    Mode,
    Refusal,
    Shop,
    assert_refused_without_change,
    open_shop,
    optional_string,
    string,
)
from tests.engines import ShopDatabase

pytestmark = pytest.mark.anyio

UNKNOWN_ID = "cus_01HZZZZZZZZZZZZZZZZZZZZZZZ"  # well formed, never issued


@dataclass(frozen=True, slots=True)
class Seeded:
    """A shop with three customers and five audit entries, plus cursors it handed out."""

    shop: Shop
    ada: str
    grace: str
    customers_cursor: str  # from customers_list(query="example", limit=1)
    audit_cursor: str  # from audit_log_list(entity_type="customer", limit=1)

    def resolve(self, value: object) -> object:
        """Fill in the placeholders used in the case table below."""
        placeholders = {
            "<ada>": self.ada,
            "<grace>": self.grace,
            "<customers_cursor>": self.customers_cursor,
            "<audit_cursor>": self.audit_cursor,
        }
        return placeholders.get(value, value) if isinstance(value, str) else value


@pytest.fixture
async def seeded(shop: Shop) -> Seeded:
    ada = string(await shop.register("Ada Lovelace", "ada@engines.example", phone="020 7946 0018"), "id")
    grace = string(await shop.register("Grace Hopper", "grace@navy.example"), "id")
    await shop.register("Alan Turing", "alan@bletchley.example")
    await shop.ok("customers_update", {"customer_id": ada, "name": "Ada King"})
    await shop.ok("customers_update", {"customer_id": grace, "notes": "Prefers COBOL"})
    customers_page = await shop.ok("customers_list", {"query": "example", "limit": 1})
    audit_page = await shop.ok("audit_log_list", {"entity_type": "customer", "limit": 1})
    return Seeded(
        shop=shop,
        ada=ada,
        grace=grace,
        customers_cursor=optional_string(customers_page.data, "next_cursor") or "",
        audit_cursor=optional_string(audit_page.data, "next_cursor") or "",
    )


REFUSALS = {
    # customers_register
    "duplicate-email-in-another-case": Refusal(
        "customers_register",
        {"name": "Ada Again", "email": "ADA@Engines.Example"},
        ("ada@engines.example already exists", "<ada>", "customers_get", "nothing was written"),
    ),
    "empty-name": Refusal("customers_register", {"name": "", "email": "new@shop.example"}, ("name", "at least 1")),
    "blank-name": Refusal("customers_register", {"name": "   ", "email": "new@shop.example"}, ("name",)),
    "10000-character-name": Refusal(
        "customers_register", {"name": "x" * 10_000, "email": "new@shop.example"}, ("name", "at most 200")
    ),
    "malformed-email": Refusal(
        "customers_register", {"name": "New", "email": "new at shop"}, ("email", "not an e-mail address")
    ),
    "malformed-phone": Refusal(
        "customers_register", {"name": "New", "email": "new@shop.example", "phone": "call me"}, ("phone",)
    ),
    "zero-width-space-name": Refusal(
        "customers_register", {"name": "\u200b", "email": "new@shop.example"}, ("`name`", "invisible")
    ),
    "control-character-in-name": Refusal(
        "customers_register", {"name": "Ada\x07", "email": "new@shop.example"}, ("`name`", "U+0007")
    ),
    "phone-without-digits": Refusal(
        "customers_register", {"name": "New", "email": "new@shop.example", "phone": "..."}, ("`phone`", "digit")
    ),
    "limit-true": Refusal("customers_list", {"limit": True}, ("`limit`", "whole number")),
    "oversized-notes": Refusal(
        "customers_register",
        {"name": "New", "email": "new@shop.example", "notes": "n" * 2001},
        ("`notes`", "at most 2000"),
    ),
    "oversized-email": Refusal(
        "customers_register", {"name": "New", "email": "a" * 300 + "@shop.example"}, ("`email`",)
    ),
    "misspelt-argument": Refusal(
        "customers_register",
        {"name": "New", "email": "new@shop.example", "phnoe": "555 0100"},
        ("`phnoe` is not an argument", "`phone`", "Nothing was changed"),
    ),
    "phone-that-reads-null": Refusal(
        "customers_register", {"name": "New", "email": "new@shop.example", "phone": "null"}, ("`phone`",)
    ),
    "update-phone-to-the-text-null": Refusal(
        "customers_update", {"customer_id": "<ada>", "phone": "null"}, ("`phone`", "Nothing was changed")
    ),
    "get-id-that-reads-null": Refusal(
        "customers_get", {"customer_id": "null", "email": "ada@engines.example"}, ("exactly one",)
    ),
    # customers_get
    "get-unknown-id": Refusal(
        "customers_get", {"customer_id": UNKNOWN_ID}, (f"No customer with id {UNKNOWN_ID}", "customers_list")
    ),
    "get-unknown-email": Refusal(
        "customers_get", {"email": "nobody@shop.example"}, ("No customer with email nobody@shop.example",)
    ),
    "get-id-of-wrong-shape": Refusal(
        "customers_get", {"customer_id": "12345"}, ("'12345' is not a customer id", "cus_")
    ),
    "get-both-id-and-email": Refusal(
        "customers_get", {"customer_id": "<ada>", "email": "ada@engines.example"}, ("exactly one",)
    ),
    "get-neither-id-nor-email": Refusal("customers_get", {}, ("exactly one", "customer_id", "email")),
    # customers_list
    "list-limit-0": Refusal("customers_list", {"limit": 0}, ("limit", "greater than or equal to 1")),
    "list-limit-10000": Refusal("customers_list", {"limit": 10_000}, ("limit", "less than or equal to 100")),
    "list-garbage-cursor": Refusal(
        "customers_list", {"cursor": "not-a-cursor!"}, ("cursor", "customers_list again without cursor")
    ),
    "list-cursor-with-another-query": Refusal(
        "customers_list", {"query": "navy", "cursor": "<customers_cursor>", "limit": 1}, ("different filters",)
    ),
    "list-cursor-without-its-query": Refusal(
        "customers_list", {"cursor": "<customers_cursor>", "limit": 1}, ("different filters",)
    ),
    "list-with-audit-cursor": Refusal("customers_list", {"cursor": "<audit_cursor>"}, ("cursor",)),
    # audit_log_list
    "audit-limit-0": Refusal("audit_log_list", {"limit": 0}, ("limit",)),
    "audit-limit-10000": Refusal("audit_log_list", {"limit": 10_000}, ("limit",)),
    "audit-garbage-cursor": Refusal(
        "audit_log_list", {"cursor": "bm90IGEgY3Vyc29y"}, ("cursor", "audit_log_list again without cursor")
    ),
    "audit-cursor-with-other-filters": Refusal(
        "audit_log_list", {"entity_id": "<ada>", "cursor": "<audit_cursor>"}, ("different filters",)
    ),
    # customers_update
    "update-unknown-id": Refusal(
        "customers_update", {"customer_id": UNKNOWN_ID, "name": "Ghost"}, (f"No customer with id {UNKNOWN_ID}",)
    ),
    "update-id-of-wrong-shape": Refusal(
        "customers_update", {"customer_id": "ada", "name": "Ghost"}, ("'ada' is not a customer id",)
    ),
    "update-without-fields": Refusal(
        "customers_update", {"customer_id": "<ada>"}, ("Nothing to change", "at least one")
    ),
    "update-name-to-null": Refusal(
        "customers_update", {"customer_id": "<ada>", "name": None}, ("`name` cannot be cleared",)
    ),
    "update-to-empty-name": Refusal("customers_update", {"customer_id": "<ada>", "name": ""}, ("name",)),
    "update-to-malformed-email": Refusal(
        "customers_update", {"customer_id": "<ada>", "email": "ada@"}, ("email", "not an e-mail address")
    ),
    "update-to-another-customers-email": Refusal(
        "customers_update",
        {"customer_id": "<ada>", "name": "Ada Byron", "email": "GRACE@navy.example"},
        ("grace@navy.example already exists", "<grace>", "Nothing was changed"),
    ),
}


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
async def test_refusal_is_actionable_and_writes_nothing(seeded: Seeded, refusal: Refusal) -> None:
    await assert_refused_without_change(seeded.shop, refusal, seeded.resolve)


async def test_unusable_database_is_reported_without_internals(anyio_backend: str, tmp_path: Path, mode: Mode) -> None:
    """A SQLite file that cannot be (the next test is a database server that cannot be reached)."""
    del anyio_backend
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the database directory should be")

    async with open_shop(blocker / "shop.db", mode) as shop:
        tools = await shop.client.list_tools()
        message = await shop.fail("customers_list")
        again = await shop.fail("customers_register", {"name": "Ada", "email": "ada@engines.example"})

    assert {t.name for t in tools.tools} == TOOLS, "the tools are still listed, so the client can show the error"
    assert "database is not available" in message
    assert "person running Shopkeeper" in message
    assert again == message


async def test_an_unreachable_postgresql_server_is_reported_without_internals(
    anyio_backend: str, unreachable_url: str
) -> None:
    del anyio_backend
    url = f"postgresql+asyncpg://shop@{urlsplit(unreachable_url).netloc}/e2e_unreachable"

    async with open_shop(ShopDatabase("postgresql", url, name="e2e_unreachable"), "auto") as shop:
        tools = await shop.client.list_tools()
        message = await shop.fail("customers_list")
        again = await shop.fail("customers_register", {"name": "Ada", "email": "ada@engines.example"})

    assert {t.name for t in tools.tools} == TOOLS, "the tools are still listed, so the client can show the error"
    assert "database is not available" in message
    assert "person running Shopkeeper" in message
    assert again == message


async def test_an_unknown_tool_is_answered_with_the_tools_there_are(shop: Shop) -> None:
    text = await shop.fail("customers_delete", {"customer_id": UNKNOWN_ID})

    assert "no tool named 'customers_delete'" in text
    assert "Nothing was changed. Next: call one of " in text
    assert "customers_register" in text
