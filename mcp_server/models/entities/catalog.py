from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mcp_server.models.catalog import Product
from mcp_server.models.entities.base import Base, UTCDateTime, utc_from_db


class ProductEntity(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
        Index("ix_products_stock", "stock"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    # The SKU folded to lower case: unique, so "AB-1" and "ab-1" cannot both exist.
    sku_key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The name as Python folds it to lower case, for searches (migration 0009).
    name_key: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    stock: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @staticmethod
    def values_from_record(product: Product) -> dict[str, Any]:
        return {
            "id": product.id,
            "sku": product.sku,
            "sku_key": product.sku.lower(),
            "name": product.name,
            "name_key": product.name.lower(),
            "description": product.description,
            "price_minor": product.price_minor,
            "currency": product.currency,
            "stock": product.stock,
            "active": product.active,
            "created_at": product.created_at,
            "updated_at": product.updated_at,
        }

    @staticmethod
    def record_from_row(row: Sequence[Any]) -> Product:
        """A row selected with ``select(*ProductEntity.__table__.c)``, in column order."""
        id_, sku, _sku_key, name, _name_key, description, price_minor, currency, stock, active = row[:10]
        created_at, updated_at = row[10:]
        return Product(
            id=id_,
            sku=sku,
            name=name,
            description=description,
            price_minor=int(price_minor),
            currency=currency,
            stock=int(stock),
            active=bool(active),
            created_at=utc_from_db(created_at),
            updated_at=utc_from_db(updated_at),
        )
