"""Customers: input schemas, the domain record and the output schema."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from mcp_server.models.common import DEFAULT_LIMIT, Cursor, Limit, PartialUpdate
from mcp_server.utils.emails import MAX_EMAIL_LENGTH, normalize_email
from mcp_server.utils.text import clean_line, clean_text, has_digit

CUSTOMER_ID_PREFIX = "cus"

CustomerName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(clean_line)
]
EmailAddress = Annotated[
    str,
    StringConstraints(min_length=3, max_length=MAX_EMAIL_LENGTH + 16),
    AfterValidator(normalize_email),
]
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=40, pattern=r"^\+?[0-9 ()./-]{3,40}$"),
    AfterValidator(has_digit),
]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(clean_text)]
CustomerId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
SearchText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(clean_line)
]


class CustomerCreate(BaseModel):
    """What it takes to register a customer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: CustomerName
    email: EmailAddress
    phone: Phone | None = None
    notes: Notes | None = None


class CustomerUpdate(PartialUpdate):
    """Fields to change. Only fields that were given are applied; None clears phone or notes."""

    name: CustomerName | None = None
    email: EmailAddress | None = None
    phone: Phone | None = None
    notes: Notes | None = None


class CustomerLookup(BaseModel):
    """One customer by id or by e-mail (the service checks that exactly one is given)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: CustomerId | None = None
    email: EmailAddress | None = None


class CustomerQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    text: SearchText | None = None
    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer as the business sees it."""

    id: str
    name: str
    email: str
    phone: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime

    def snapshot(self) -> dict[str, str | None]:
        """The fields an audit entry records."""
        return {"name": self.name, "email": self.email, "phone": self.phone, "notes": self.notes}


class CustomerRead(BaseModel):
    """A customer as tools and programs read it."""

    id: str
    name: str
    email: str
    phone: str | None = None
    notes: str | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, customer: Customer) -> CustomerRead:
        return cls(
            id=customer.id,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            notes=customer.notes,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
        )


class CustomerPageRead(BaseModel):
    customers: list[CustomerRead]
    next_cursor: str | None
