from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mcp_server.models.customers import Customer
from mcp_server.models.entities.base import Base, UTCDateTime, utc_from_db


class CustomerEntity(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The name as Python folds it to lower case: searches match it the same way on every engine (0009).
    name_key: Mapped[str | None] = mapped_column(String(200))
    # Stored normalized (trimmed, lower-case); the unique index is the last word on duplicates.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @staticmethod
    def values_from_record(customer: Customer) -> dict[str, Any]:
        """Column values for an INSERT or UPDATE."""
        return {
            "id": customer.id,
            "name": customer.name,
            "name_key": customer.name.lower(),
            "email": customer.email,
            "phone": customer.phone,
            "notes": customer.notes,
            "created_at": customer.created_at,
            "updated_at": customer.updated_at,
        }

    @staticmethod
    def record_from_row(row: Sequence[Any]) -> Customer:
        """A row selected with ``select(*CustomerEntity.__table__.c)``, in column order."""
        id_, name, _name_key, email, phone, notes, created_at, updated_at = row
        return Customer(
            id=id_,
            name=name,
            email=email,
            phone=phone,
            notes=notes,
            created_at=utc_from_db(created_at),
            updated_at=utc_from_db(updated_at),
        )
