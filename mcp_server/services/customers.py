"""Customer use cases: register, look up, list, update."""

from __future__ import annotations

from dataclasses import dataclass, replace

from mcp_server.models.customers import (
    CUSTOMER_ID_PREFIX,
    Customer,
    CustomerCreate,
    CustomerQuery,
    CustomerUpdate,
)
from mcp_server.models.errors import UniqueViolationError
from mcp_server.models.events import CustomerRegistered, CustomerUpdated
from mcp_server.models.suggestions import SearchPage
from mcp_server.services.pagination import page_of, resume_after
from mcp_server.services.ports import Clock, IdFactory, UnitOfWorkFactory
from mcp_server.services.results import Conflict, Malformed, NotFound, Rejected, Success, unavailable_when_busy
from mcp_server.services.suggestions import near_customers, near_emails
from mcp_server.services.unit_of_work import with_events
from mcp_server.services.updates import cannot_clear, changed_fields
from mcp_server.utils.ids import canonical_id

_CURSOR_KIND = "customers"
_REQUIRED_FIELDS = ("name", "email")


@dataclass(frozen=True, slots=True)
class CustomerChange:
    """The customer after an update, and which fields actually changed (empty: nothing to do)."""

    customer: Customer
    changed: tuple[str, ...]


class CustomerService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdFactory) -> None:
        self._uow = with_events(uow, clock, ids)
        self._clock = clock
        self._ids = ids

    @unavailable_when_busy
    async def register(self, data: CustomerCreate, *, actor: str) -> Success[Customer] | Conflict:
        """Create a customer, write its audit entry and queue a welcome e-mail, all in one transaction."""
        try:
            async with self._uow(write=True) as uow:
                existing = await uow.customers.find_by_email(data.email)
                if existing is not None:
                    return _email_taken(existing)
                # Id and time are taken under the write lock, so id order is commit order and a
                # keyset page never has a customer appear behind it.
                customer = self._new_customer(data)
                await uow.customers.add(customer)
                uow.raise_event(CustomerRegistered(actor, customer))
                await uow.commit()
        except UniqueViolationError:
            # Another writer took the address between our check and our write.
            return await self._conflict_for(data.email)
        return Success(customer)

    def _new_customer(self, data: CustomerCreate) -> Customer:
        now = self._clock.now()
        return Customer(
            id=self._ids.new(CUSTOMER_ID_PREFIX),
            name=data.name,
            email=data.email,
            phone=data.phone,
            notes=data.notes or None,
            created_at=now,
            updated_at=now,
        )

    @unavailable_when_busy
    async def get(self, *, customer_id: str | None, email: str | None) -> Success[Customer] | NotFound | Rejected:
        if (customer_id is None) == (email is None):
            return Rejected("give exactly one of customer_id or email", field="customer_id")
        if customer_id is not None:
            canonical = canonical_id(customer_id, CUSTOMER_ID_PREFIX)
            if canonical is None:
                return _not_a_customer_id(customer_id)
            customer_id = canonical
        async with self._uow(write=False) as uow:
            if customer_id is not None:
                found = await uow.customers.get(customer_id)
                key = f"id {customer_id}"
            else:
                assert email is not None  # guaranteed by the exactly-one check above
                found = await uow.customers.find_by_email(email)
                key = f"email {email}"
                if found is None:
                    return NotFound("customer", key, await near_emails(uow, email))
        if found is None:
            return NotFound("customer", key)
        return Success(found)

    @unavailable_when_busy
    async def list(self, query: CustomerQuery) -> Success[SearchPage[Customer]] | Rejected:
        """A page of customers; a first page that finds nobody for ``text`` carries the near misses."""
        filters = {"text": query.text.lower() if query.text else None}
        after = resume_after(query.cursor, _CURSOR_KIND, filters, str)
        if isinstance(after, Rejected):
            return after
        async with self._uow(write=False) as uow:
            rows = await uow.customers.page_after(text=filters["text"], after_id=after, limit=query.limit + 1)
            text = query.text if not rows and after is None else None
            near = await near_customers(uow, text) if text else ()
        page = page_of(rows, query.limit, _CURSOR_KIND, filters, key=lambda c: c.id)
        return Success(SearchPage(page.items, page.next_cursor, near))

    @unavailable_when_busy
    async def update(
        self, customer_id: str, changes: CustomerUpdate, *, actor: str
    ) -> Success[CustomerChange] | NotFound | Conflict | Rejected:
        given = changes.given()
        if not given:
            return Rejected("nothing to change: give at least one of name, email, phone, notes", field=None)
        if refused := cannot_clear(given, _REQUIRED_FIELDS):
            return refused
        canonical = canonical_id(customer_id, CUSTOMER_ID_PREFIX)
        if canonical is None:
            return _not_a_customer_id(customer_id)
        customer_id = canonical
        if "notes" in given and given["notes"] == "":
            given["notes"] = None
        try:
            async with self._uow(write=True) as uow:
                current = await uow.customers.get(customer_id)
                if current is None:
                    return NotFound("customer", f"id {customer_id}")
                proposed = replace(current, **given)  # pyright: ignore[reportArgumentType]
                changed = changed_fields(current.snapshot(), proposed.snapshot())
                if not changed:
                    return Success(CustomerChange(current, ()))
                if "email" in changed:
                    holder = await uow.customers.find_by_email(proposed.email)
                    if holder is not None and holder.id != current.id:
                        return _email_taken(holder)
                updated = replace(proposed, updated_at=self._clock.now())
                await uow.customers.update(updated)
                uow.raise_event(CustomerUpdated(actor, current, updated, changed))
                await uow.commit()
        except UniqueViolationError:
            return await self._conflict_for(changes.email or "")
        return Success(CustomerChange(updated, changed))

    async def _conflict_for(self, email: str) -> Conflict:
        async with self._uow(write=False) as uow:
            holder = await uow.customers.find_by_email(email)
        if holder is not None:
            return _email_taken(holder)
        return Conflict(f"another customer already uses {email}", entity="customer")


def _not_a_customer_id(value: str) -> Malformed:
    return Malformed(
        f"'{value[:80]}' is not a customer id (customer ids are cus_ followed by 26 letters and digits)",
        field="customer_id",
    )


def _email_taken(existing: Customer) -> Conflict:
    return Conflict(
        f"A customer with e-mail {existing.email} already exists: {existing.id}.",
        entity="customer",
        existing_id=existing.id,
    )
