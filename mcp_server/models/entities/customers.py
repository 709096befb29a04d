from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mcp_server.models.customers import Customer
from mcp_server.models.entities.base import Base, UTCDateTime


class CustomerEntity(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Stored normalized (trimmed, lower-case); the unique index is the last word on duplicates.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @classmethod
    def from_record(cls, customer: Customer) -> CustomerEntity:
        return cls(
            id=customer.id,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            notes=customer.notes,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
        )

    def to_record(self) -> Customer:
        return Customer(
            id=self.id,
            name=self.name,
            email=self.email,
            phone=self.phone,
            notes=self.notes,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )
