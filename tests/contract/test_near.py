"""ProductRepository.near and CustomerRepository.near: the rows holding the most of the pieces come
first (each piece counted once, in any of the searched columns), ties in id order, never a row with none,
never more than the limit; products can leave out inactive ones."""

from __future__ import annotations

import pytest

from mcp_server.models.suggestions import Candidate
from mcp_server.services.ports import UnitOfWorkFactory
from mcp_server.utils.similarity import pieces
from tests.contract.records import customer, product, read, save

pytestmark = pytest.mark.anyio


async def near_products(
    uow: UnitOfWorkFactory, found: tuple[str, ...], *, names: bool = False, active_only: bool = False, limit: int = 10
) -> list[Candidate]:
    return await read(uow, lambda w: w.products.near(found, names=names, active_only=active_only, limit=limit))


async def test_products_sharing_more_pieces_of_the_sku_come_first(uow_factory: UnitOfWorkFactory) -> None:
    blue = product(1, "MUG-BLUE-01", "Blue mug")
    black = product(2, "MUG-BLACK-01", "Black mug")
    tea = product(3, "TEA-GREEN-01", "Green tea")
    lamp = product(4, "LAMP-9", "Desk lamp")
    await save(uow_factory, lamp, tea, black, blue)

    found = await near_products(uow_factory, pieces("mug-bleu-01"))

    assert [c.key for c in found] == ["MUG-BLUE-01", "MUG-BLACK-01", "TEA-GREEN-01"], "LAMP-9 shares no piece"
    assert found[0] == Candidate(blue.id, "MUG-BLUE-01", "Blue mug")


async def test_ties_come_in_id_order_and_the_limit_holds(uow_factory: UnitOfWorkFactory) -> None:
    await save(uow_factory, *(product(n, f"CUP-{n}") for n in (5, 3, 9, 1, 7)))

    found = await near_products(uow_factory, ("cup",), limit=3)

    assert [c.key for c in found] == ["CUP-1", "CUP-3", "CUP-5"]


async def test_names_count_only_when_asked_and_a_piece_counts_once(uow_factory: UnitOfWorkFactory) -> None:
    # "mug" in both the SKU and the name of the first still counts once: the second holds two pieces.
    await save(uow_factory, product(1, "MUG-1", "Mug mug"), product(2, "CUP-2", "Mug with a lid"))

    by_sku = await near_products(uow_factory, ("mug", "lid"))
    by_name = await near_products(uow_factory, ("mug", "lid"), names=True)

    assert [c.key for c in by_sku] == ["MUG-1"]
    assert [c.key for c in by_name] == ["CUP-2", "MUG-1"]


async def test_inactive_products_stay_out_when_only_active_ones_are_wanted(uow_factory: UnitOfWorkFactory) -> None:
    await save(uow_factory, product(1, "MUG-1", active=False), product(2, "MUG-2"))

    assert [c.key for c in await near_products(uow_factory, ("mug",), active_only=True)] == ["MUG-2"]
    assert [c.key for c in await near_products(uow_factory, ("mug",))] == ["MUG-1", "MUG-2"]


async def test_like_wildcards_in_a_piece_match_only_themselves(uow_factory: UnitOfWorkFactory) -> None:
    await save(uow_factory, product(1, "A_B-1"), product(2, "AXB-2"), product(3, "A%B-3"))

    assert [c.key for c in await near_products(uow_factory, ("a_b",))] == ["A_B-1"]
    assert [c.key for c in await near_products(uow_factory, ("a%b",))] == ["A%B-3"]


async def test_no_pieces_finds_nothing(uow_factory: UnitOfWorkFactory) -> None:
    await save(uow_factory, product(1, "MUG-1"))

    assert await near_products(uow_factory, ()) == []


async def test_customers_are_found_by_pieces_of_the_address_and_with_names_of_the_name(
    uow_factory: UnitOfWorkFactory,
) -> None:
    anna = customer(1, "Anna Schmidt", "anna@gmail.com")
    bob = customer(2, "Bob Jones", "bob@gmail.com")
    jo = customer(3, "Johanna Berg", "jb@example.org")
    await save(uow_factory, anna, bob, jo)

    by_address = await read(uow_factory, lambda w: w.customers.near(("an", "na", "@gmail.com"), names=False, limit=10))
    by_name = await read(uow_factory, lambda w: w.customers.near(("han", "nna"), names=True, limit=10))

    assert by_address == [
        Candidate(anna.id, "anna@gmail.com", "Anna Schmidt"),
        Candidate(bob.id, "bob@gmail.com", "Bob Jones"),
    ]
    assert [c.id for c in by_name] == [jo.id, anna.id]


async def test_first_keeps_only_rows_whose_key_starts_with_that_character(uow_factory: UnitOfWorkFactory) -> None:
    await save(uow_factory, product(1, "MUG-1"), product(2, "SMUG-2"), product(3, "mug-3"))
    await save(uow_factory, customer(1, "Mo", "mo@example.com"), customer(2, "Amo", "amo@example.com"))

    products = await read(
        uow_factory, lambda w: w.products.near(("mug",), names=False, active_only=False, limit=10, first="m")
    )
    customers = await read(uow_factory, lambda w: w.customers.near(("mo@",), names=False, limit=10, first="m"))

    assert [c.key for c in products] == ["MUG-1", "mug-3"], "the lower-case SKU starts with m"
    assert [c.key for c in customers] == ["mo@example.com"]
