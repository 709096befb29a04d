"""Catalog use cases: create and update products, adjust stock, look up, search."""

from __future__ import annotations

from dataclasses import dataclass, replace

from mcp_server.models.catalog import (
    MAX_STOCK,
    PRODUCT_ID_PREFIX,
    Product,
    ProductCreate,
    ProductQuery,
    ProductUpdate,
    StockAdjustment,
)
from mcp_server.models.errors import UniqueViolationError
from mcp_server.models.events import ProductCreated, ProductUpdated, StockAdjusted
from mcp_server.models.suggestions import SearchPage
from mcp_server.services.pagination import page_of, resume_after
from mcp_server.services.ports import Clock, IdFactory, UnitOfWorkFactory
from mcp_server.services.results import Conflict, Malformed, NotFound, Rejected, Success, unavailable_when_busy
from mcp_server.services.suggestions import near_products, near_skus
from mcp_server.services.unit_of_work import with_events
from mcp_server.services.updates import cannot_clear, changed_fields
from mcp_server.utils.ids import canonical_id

_CURSOR_KIND = "products"
_REQUIRED_FIELDS = ("name", "price_minor", "currency", "active")


@dataclass(frozen=True, slots=True)
class ProductChange:
    product: Product
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StockChange:
    product: Product
    before: int
    reason: str


class CatalogService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdFactory) -> None:
        self._uow = with_events(uow, clock, ids)
        self._clock = clock
        self._ids = ids

    @unavailable_when_busy
    async def create_product(self, data: ProductCreate, *, actor: str) -> Success[Product] | Conflict:
        try:
            async with self._uow(write=True) as uow:
                existing = await uow.products.find_by_sku(data.sku)
                if existing is not None:
                    return _sku_taken(existing)
                now = self._clock.now()
                product = Product(
                    id=self._ids.new(PRODUCT_ID_PREFIX),
                    sku=data.sku,
                    name=data.name,
                    description=data.description or None,
                    price_minor=data.price_minor,
                    currency=data.currency,
                    stock=data.stock,
                    active=data.active,
                    created_at=now,
                    updated_at=now,
                )
                await uow.products.add(product)
                uow.raise_event(ProductCreated(actor, product))
                await uow.commit()
        except UniqueViolationError:
            async with self._uow(write=False) as uow:
                holder = await uow.products.find_by_sku(data.sku)
            return _sku_taken(holder) if holder else Conflict(f"SKU {data.sku} is taken", entity="product")
        return Success(product)

    @unavailable_when_busy
    async def update_product(
        self, product_id: str, changes: ProductUpdate, *, actor: str
    ) -> Success[ProductChange] | NotFound | Rejected:
        given = changes.given()
        if not given:
            return Rejected("nothing to change: give at least one of name, description, price_minor, currency, active")
        if refused := cannot_clear(given, _REQUIRED_FIELDS):
            return refused
        if "currency" in given and "price_minor" not in given:
            return Rejected(
                "changing the currency needs the price in the new currency too: pass price_minor with currency",
                field="price_minor",
            )
        canonical = canonical_id(product_id, PRODUCT_ID_PREFIX)
        if canonical is None:
            return _not_a_product_id(product_id)
        if given.get("description") == "":
            given["description"] = None
        async with self._uow(write=True) as uow:
            current = await uow.products.get(canonical)
            if current is None:
                return NotFound("product", f"id {canonical}")
            proposed = replace(current, **given)  # pyright: ignore[reportArgumentType]
            changed = changed_fields(current.snapshot(), proposed.snapshot())
            if not changed:
                return Success(ProductChange(current, ()))
            updated = replace(proposed, updated_at=self._clock.now())
            await uow.products.update(updated)
            uow.raise_event(ProductUpdated(actor, current, updated, changed))
            await uow.commit()
        return Success(ProductChange(updated, changed))

    @unavailable_when_busy
    async def adjust_stock(
        self, product_id: str, adjustment: StockAdjustment, *, actor: str
    ) -> Success[StockChange] | NotFound | Rejected:
        """Restock, write off or correct stock; it never goes below zero, even under concurrent orders."""
        if adjustment.delta == 0:
            return Rejected("delta is 0: nothing to adjust", field="delta")
        canonical = canonical_id(product_id, PRODUCT_ID_PREFIX)
        if canonical is None:
            return _not_a_product_id(product_id)
        async with self._uow(write=True) as uow:
            current = await uow.products.get(canonical)
            if current is None:
                return NotFound("product", f"id {canonical}")
            if current.stock + adjustment.delta > MAX_STOCK:
                return Rejected(
                    f"stock cannot exceed {MAX_STOCK:,}: {current.sku} has {current.stock:,}, "
                    f"and the change is {adjustment.delta:+,d}",
                    field="delta",
                )
            now = self._clock.now()
            level = await uow.products.adjust_stock(canonical, adjustment.delta, now)
            if level is None:
                # What the refusal saw, not what the first read saw: on a database server another writer
                # may have moved the stock in between (SQLite's write lock rules that out).
                refused_at = await uow.products.get(canonical)
                have = refused_at.stock if refused_at is not None else current.stock
                return Rejected(
                    f"stock cannot go below zero: {current.sku} has {have} in stock, "
                    f"and the change is {adjustment.delta:+d}",
                    field="delta",
                )
            before = level - adjustment.delta  # the level this atomic change started from
            uow.raise_event(StockAdjusted(actor, canonical, before, level, adjustment.reason, adjustment.note or None))
            await uow.commit()
        return Success(StockChange(replace(current, stock=level, updated_at=now), before, adjustment.reason))

    @unavailable_when_busy
    async def get(self, *, product_id: str | None, sku: str | None) -> Success[Product] | NotFound | Rejected:
        if (product_id is None) == (sku is None):
            return Rejected("give exactly one of product_id or sku", field="product_id")
        async with self._uow(write=False) as uow:
            if product_id is not None:
                canonical = canonical_id(product_id, PRODUCT_ID_PREFIX)
                if canonical is None:
                    return _not_a_product_id(product_id)
                found, key = await uow.products.get(canonical), f"id {canonical}"
            else:
                assert sku is not None  # guaranteed by the exactly-one check above
                found, key = await uow.products.find_by_sku(sku), f"SKU '{sku}'"
                if found is None:
                    return NotFound("product", key, await near_skus(uow, sku, active_only=False))
        return Success(found) if found is not None else NotFound("product", key)

    @unavailable_when_busy
    async def search(self, query: ProductQuery) -> Success[SearchPage[Product]] | Rejected:
        """A page of products; a first page that finds nothing for ``text`` alone carries the near misses."""
        filters = {
            "text": query.text.lower() if query.text else None,
            "active_only": not query.include_inactive,
            "stock_below": query.stock_below,
        }
        after = resume_after(query.cursor, _CURSOR_KIND, filters, str)
        if isinstance(after, Rejected):
            return after
        async with self._uow(write=False) as uow:
            rows = await uow.products.page_after(
                text=filters["text"] if isinstance(filters["text"], str) else None,
                active_only=not query.include_inactive,
                stock_below=query.stock_below,
                after_id=after,
                limit=query.limit + 1,
            )
            text = query.text if not rows and after is None and query.stock_below is None else None
            near = await near_products(uow, text, active_only=not query.include_inactive) if text else ()
        page = page_of(rows, query.limit, _CURSOR_KIND, filters, key=lambda p: p.id)
        return Success(SearchPage(page.items, page.next_cursor, near))


def _not_a_product_id(value: str) -> Malformed:
    return Malformed(
        f"'{value[:80]}' is not a product id (product ids are prd_ followed by 26 letters and digits)",
        field="product_id",
    )


def _sku_taken(existing: Product) -> Conflict:
    return Conflict(
        f"A product with SKU {existing.sku} already exists: {existing.id}.",
        entity="product",
        existing_id=existing.id,
    )
