"""The catalog: products with a price and a stock level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from mcp_server.models.common import DEFAULT_LIMIT, Cursor, Limit, PartialUpdate, not_a_bool
from mcp_server.utils.money import MAX_MINOR_UNITS, format_money, normalize_currency
from mcp_server.utils.text import clean_line, clean_text

PRODUCT_ID_PREFIX = "prd"
MAX_STOCK = 1_000_000_000

Sku = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"),
]
ProductName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(clean_line)
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000), AfterValidator(clean_text)]
PriceMinor = Annotated[int, Field(ge=0, le=MAX_MINOR_UNITS), BeforeValidator(not_a_bool)]
Currency = Annotated[str, StringConstraints(min_length=3, max_length=3), AfterValidator(normalize_currency)]
StockLevel = Annotated[int, Field(ge=0, le=MAX_STOCK), BeforeValidator(not_a_bool)]
StockDelta = Annotated[int, Field(ge=-MAX_STOCK, le=MAX_STOCK), BeforeValidator(not_a_bool)]
StockReason = Literal["restock", "damage", "correction"]
ProductId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ProductCreate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: Sku
    name: ProductName
    description: Description | None = None
    price_minor: PriceMinor
    currency: Currency
    stock: StockLevel = 0
    active: bool = True


class ProductUpdate(PartialUpdate):
    """Fields to change; only the fields given are applied (None clears the description)."""

    name: ProductName | None = None
    description: Description | None = None
    price_minor: PriceMinor | None = None
    currency: Currency | None = None
    active: bool | None = None


class StockAdjustment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    delta: StockDelta
    reason: StockReason
    note: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(clean_line)] | None
    ) = None


class ProductLookup(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: ProductId | None = None
    sku: Sku | None = None


class ProductQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    text: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(clean_line)
        ]
        | None
    ) = None
    include_inactive: bool = False
    stock_below: Annotated[int, Field(ge=1, le=MAX_STOCK), BeforeValidator(not_a_bool)] | None = None
    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    sku: str
    name: str
    description: str | None
    price_minor: int
    currency: str
    stock: int
    active: bool
    created_at: datetime
    updated_at: datetime

    def snapshot(self) -> dict[str, str | int | bool | None]:
        return {
            "sku": self.sku,
            "name": self.name,
            "description": self.description,
            "price_minor": self.price_minor,
            "currency": self.currency,
            "stock": self.stock,
            "active": self.active,
        }


class ProductRead(BaseModel):
    id: str
    sku: str
    name: str
    description: str | None = None
    price_minor: int
    currency: str
    price: str  # for people, e.g. '12.50 EUR'
    stock: int
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, product: Product) -> ProductRead:
        return cls(
            id=product.id,
            sku=product.sku,
            name=product.name,
            description=product.description,
            price_minor=product.price_minor,
            currency=product.currency,
            price=format_money(product.price_minor, product.currency),
            stock=product.stock,
            active=product.active,
            created_at=product.created_at,
            updated_at=product.updated_at,
        )


class ProductPageRead(BaseModel):
    products: list[ProductRead]
    next_cursor: str | None
