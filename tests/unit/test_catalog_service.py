"""CatalogService against in-memory fakes: end state, never calls."""

from __future__ import annotations

import pytest

from mcp_server.models.catalog import ProductCreate, ProductQuery, ProductUpdate, StockAdjustment
from mcp_server.services.catalog import CatalogService
from mcp_server.services.results import Conflict, NotFound, Rejected, Success
from tests.fakes import FakeClock, FakeDatabase, FakeUnitOfWorkFactory, SequentialIds

pytestmark = pytest.mark.anyio


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def catalog(db: FakeDatabase) -> CatalogService:
    return CatalogService(FakeUnitOfWorkFactory(db), FakeClock(), SequentialIds())


async def create(catalog: CatalogService, sku: str = "MUG-01", stock: int = 10, **extra: object) -> str:
    data = ProductCreate.model_validate(
        {"sku": sku, "name": f"Product {sku}", "price_minor": 1250, "currency": "eur", "stock": stock, **extra}
    )
    result = await catalog.create_product(data, actor="t")
    assert isinstance(result, Success)
    return result.value.id


async def test_create_stores_product_and_one_audit_entry(catalog: CatalogService, db: FakeDatabase):
    product_id = await create(catalog)
    product = db.products[product_id]
    assert (product.sku, product.currency, product.price_minor, product.stock, product.active) == (
        "MUG-01",
        "EUR",
        1250,
        10,
        True,
    )
    assert [(e.action, e.entity_id) for e in db.audit] == [("product.created", product_id)]


async def test_sku_is_unique_in_any_letter_case(catalog: CatalogService, db: FakeDatabase):
    first = await create(catalog, "MUG-01")
    result = await catalog.create_product(
        ProductCreate(sku="mug-01", name="Other", price_minor=1, currency="EUR"), actor="t"
    )
    assert isinstance(result, Conflict)
    assert result.existing_id == first
    assert list(db.products) == [first]
    assert len(db.audit) == 1


async def test_adjust_stock_moves_stock_and_audits_before_after_and_reason(catalog: CatalogService, db: FakeDatabase):
    product_id = await create(catalog, stock=3)

    result = await catalog.adjust_stock(
        product_id, StockAdjustment(delta=-2, reason="damage", note="dropped"), actor="t"
    )

    assert isinstance(result, Success)
    assert (result.value.before, result.value.product.stock) == (3, 1)
    assert db.products[product_id].stock == 1
    entry = db.audit[-1]
    assert entry.action == "product.stock_adjusted"
    assert (entry.before, entry.after) == ({"stock": 3}, {"stock": 1, "reason": "damage", "note": "dropped"})
    assert entry.summary() == "stock: 3 → 1; reason=damage; note=dropped"


@pytest.mark.parametrize("delta", [-4, 0])
async def test_adjust_stock_refuses_below_zero_and_zero_changes_nothing(
    catalog: CatalogService, db: FakeDatabase, delta: int
):
    product_id = await create(catalog, stock=3)
    result = await catalog.adjust_stock(product_id, StockAdjustment(delta=delta, reason="correction"), actor="t")
    assert isinstance(result, Rejected)
    assert db.products[product_id].stock == 3
    assert len(db.audit) == 1


async def test_update_changes_given_fields_but_never_stock(catalog: CatalogService, db: FakeDatabase):
    product_id = await create(catalog, stock=7, description="old")
    result = await catalog.update_product(
        product_id, ProductUpdate.model_validate({"price_minor": 1500, "description": None, "active": False}), actor="t"
    )
    assert isinstance(result, Success)
    assert result.value.changed == ("description", "price_minor", "active")
    stored = db.products[product_id]
    assert (stored.price_minor, stored.description, stored.active, stored.stock) == (1500, None, False, 7)
    assert db.audit[-1].before == {"description": "old", "price_minor": 1250, "active": True}


@pytest.mark.parametrize(("payload", "field"), [({}, None), ({"name": None}, "name"), ({"currency": None}, "currency")])
async def test_update_refuses_empty_or_clearing_required(
    catalog: CatalogService, db: FakeDatabase, payload: dict[str, None], field: str | None
):
    product_id = await create(catalog)
    result = await catalog.update_product(product_id, ProductUpdate.model_validate(payload), actor="t")
    assert isinstance(result, Rejected)
    assert result.field == field
    assert len(db.audit) == 1


async def test_get_by_id_or_sku_and_the_failures(catalog: CatalogService):
    product_id = await create(catalog)
    by_id = await catalog.get(product_id=product_id.lower(), sku=None)
    by_sku = await catalog.get(product_id=None, sku="mug-01")
    assert isinstance(by_id, Success)
    assert isinstance(by_sku, Success)
    assert by_id.value == by_sku.value
    assert isinstance(await catalog.get(product_id=None, sku="NOPE"), NotFound)
    assert isinstance(await catalog.get(product_id=None, sku=None), Rejected)
    assert isinstance(await catalog.get(product_id="cus_00000000000000000000000001", sku=None), Rejected)


async def test_search_filters_and_pages(catalog: CatalogService):
    ids = [await create(catalog, f"SKU-{n}", stock=n) for n in range(6)]
    hidden = await create(catalog, "OLD-1", stock=0, active=False)

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await catalog.search(ProductQuery(limit=4, cursor=cursor))
        assert isinstance(page, Success)
        seen += [p.id for p in page.value.items]
        cursor = page.value.next_cursor
        if cursor is None:
            break
    low = await catalog.search(ProductQuery(stock_below=2, include_inactive=True))
    by_text = await catalog.search(ProductQuery(text="sku-5"))

    assert seen == ids
    assert isinstance(low, Success)
    assert {p.id for p in low.value.items} == {ids[0], ids[1], hidden}
    assert isinstance(by_text, Success)
    assert [p.id for p in by_text.value.items] == [ids[5]]
