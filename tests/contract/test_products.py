"""ProductRepository: a SKU is unique in any letter case, stock changes only through adjust_stock and
never goes below zero, and pages filter by text, activity and stock in id order."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from mcp_server.models.errors import UniqueViolationError
from mcp_server.services.ports import UnitOfWorkFactory
from tests.contract.records import T0, at, product, read, save, written

pytestmark = pytest.mark.anyio


async def page(
    uow: UnitOfWorkFactory,
    text: str | None = None,
    *,
    active_only: bool = False,
    stock_below: int | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[str]:
    rows = await read(
        uow,
        lambda w: w.products.page_after(
            text=text, active_only=active_only, stock_below=stock_below, after_id=after, limit=limit
        ),
    )
    return [p.id for p in rows]


async def test_a_product_comes_back_as_stored_and_by_sku_in_any_case(uow_factory: UnitOfWorkFactory) -> None:
    mug = replace(product(1, "Mug-01", "Tasse à café"), description="Stoneware\n350 ml", active=False)
    await save(uow_factory, mug)
    async with uow_factory(write=False) as work:
        assert await work.products.get(mug.id) == mug
        for sku in ("Mug-01", "MUG-01", "mug-01"):
            assert await work.products.find_by_sku(sku) == mug
        assert await work.products.find_by_sku("MUG-02") is None
        assert await work.products.get("prd_missing") is None


async def test_a_sku_taken_in_any_letter_case_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    mug = product(1, "MUG-01")
    await save(uow_factory, mug)
    for sku in ("MUG-01", "mug-01", "Mug-01"):
        with pytest.raises(UniqueViolationError):
            await save(uow_factory, product(2, sku))
    assert await page(uow_factory) == [mug.id]


async def test_update_overwrites_everything_but_the_stock(uow_factory: UnitOfWorkFactory) -> None:
    mug = product(1, "MUG-01", stock=7)
    await save(uow_factory, mug)
    changed = replace(
        mug, name="Big mug", description="New", price_minor=1500, currency="USD", active=False, stock=999,
        updated_at=at(60),
    )  # fmt: skip
    await written(uow_factory, lambda w: w.products.update(changed))
    assert await read(uow_factory, lambda w: w.products.get(mug.id)) == replace(changed, stock=7)


async def test_adjust_stock_adds_and_never_goes_below_zero(uow_factory: UnitOfWorkFactory) -> None:
    mug = product(1, stock=3)
    await save(uow_factory, mug)
    assert await written(uow_factory, lambda w: w.products.adjust_stock(mug.id, 5, at(10))) == 8
    assert await written(uow_factory, lambda w: w.products.adjust_stock(mug.id, -8, at(20))) == 0
    stored = await read(uow_factory, lambda w: w.products.get(mug.id))
    assert stored == replace(mug, stock=0, updated_at=at(20))
    assert await written(uow_factory, lambda w: w.products.adjust_stock(mug.id, -1, at(30))) is None
    assert await read(uow_factory, lambda w: w.products.get(mug.id)) == stored, "refused: nothing changed"
    assert await written(uow_factory, lambda w: w.products.adjust_stock("prd_missing", 1, at(40))) is None


async def test_stock_adjustments_in_one_unit_add_up(uow_factory: UnitOfWorkFactory) -> None:
    mug = product(1, stock=2)
    await save(uow_factory, mug)
    async with uow_factory(write=True) as work:
        assert await work.products.adjust_stock(mug.id, -2, T0) == 0
        assert await work.products.adjust_stock(mug.id, -1, T0) is None
        assert await work.products.adjust_stock(mug.id, 4, T0 + timedelta(microseconds=1)) == 4
        await work.commit()
    stored = await read(uow_factory, lambda w: w.products.get(mug.id))
    assert stored is not None
    assert (stored.stock, stored.updated_at) == (4, T0 + timedelta(microseconds=1))


async def test_pages_filter_by_activity_and_stock_in_id_order(uow_factory: UnitOfWorkFactory) -> None:
    low = product(1, stock=2)
    gone = product(2, stock=0, active=False)
    full = product(3, stock=50)
    edge = product(4, stock=5)
    await save(uow_factory, full, gone, edge, low)
    assert await page(uow_factory) == [low.id, gone.id, full.id, edge.id]
    assert await page(uow_factory, active_only=True) == [low.id, full.id, edge.id]
    assert await page(uow_factory, stock_below=5) == [low.id, gone.id], "below, not at"
    assert await page(uow_factory, stock_below=5, active_only=True) == [low.id]
    assert await page(uow_factory, limit=2) == [low.id, gone.id]
    assert await page(uow_factory, after=gone.id, limit=1) == [full.id]
    assert await page(uow_factory, after=edge.id) == []


async def test_text_search_in_name_or_sku_in_any_letter_case(uow_factory: UnitOfWorkFactory) -> None:
    creme = product(1, "DES-01", "Crème brûlée")
    mug = product(2, "Mug-01", "Coffee mug")
    tea = product(3, "TEA_50%", "Green tea")
    await save(uow_factory, creme, mug, tea)
    assert await page(uow_factory, "CRÈME") == [creme.id]
    assert await page(uow_factory, "brûlÉe") == [creme.id]
    assert await page(uow_factory, "mug-0") == [mug.id], "the SKU in any case"
    assert await page(uow_factory, "-0") == [creme.id, mug.id]
    assert await page(uow_factory, "-0", after=creme.id) == [mug.id]
    assert await page(uow_factory, "_50%") == [tea.id], "wildcards match themselves"
    assert await page(uow_factory, "%") == [tea.id]
    assert await page(uow_factory, "tea", active_only=True, stock_below=11) == [tea.id]


async def test_a_product_name_is_found_as_written_whatever_python_folds(uow_factory: UnitOfWorkFactory) -> None:
    """Names are folded by Python on every engine (migration 0009); PostgreSQL's lower() folds 'İ' otherwise."""
    rug = product(1, "RUG-1", "İstanbul kilim")
    await save(uow_factory, rug)
    assert await page(uow_factory, "İstanbul") == [rug.id]
    assert await page(uow_factory, "İSTANBUL KILIM") == [rug.id]
