"""CustomerService against in-memory fakes: assert end state, never calls."""

from __future__ import annotations

import pytest

from mcp_server.models.customers import Customer, CustomerCreate, CustomerQuery, CustomerUpdate
from mcp_server.models.errors import UniqueViolationError
from mcp_server.services.customers import CustomerService
from mcp_server.services.results import Conflict, NotFound, Rejected, Success
from tests.fakes import (
    FakeClock,
    FakeCustomerRepository,
    FakeDatabase,
    FakeUnitOfWork,
    FakeUnitOfWorkFactory,
    SequentialIds,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(db: FakeDatabase, clock: FakeClock) -> CustomerService:
    return CustomerService(FakeUnitOfWorkFactory(db), clock, SequentialIds())


async def register(service: CustomerService, name: str = "Ada Lovelace", email: str = "ada@example.com") -> str:
    result = await service.register(CustomerCreate(name=name, email=email), actor="tester")
    assert isinstance(result, Success)
    return result.value.id


async def test_register_stores_customer_audit_entry_and_welcome_email(service: CustomerService, db: FakeDatabase):
    result = await service.register(
        CustomerCreate(name="  Ada Lovelace ", email=" Ada@Example.COM ", phone="+44 20 7946 0000"), actor="claude-ai"
    )

    assert isinstance(result, Success)
    customer = db.customers[result.value.id]
    assert customer.id.startswith("cus_")
    assert (customer.name, customer.email, customer.phone) == ("Ada Lovelace", "ada@example.com", "+44 20 7946 0000")
    assert [(e.action, e.entity_id, e.actor) for e in db.audit] == [("customer.registered", customer.id, "claude-ai")]
    assert db.audit[0].before is None
    assert db.audit[0].after == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 7946 0000",
        "notes": None,
    }
    assert [(m.kind, m.recipient, m.subject_id, m.status) for m in db.outbox] == [
        ("welcome", "ada@example.com", customer.id, "pending")
    ]


async def test_duplicate_email_in_other_case_is_a_conflict_that_changes_nothing(
    service: CustomerService, db: FakeDatabase
):
    first = await register(service)
    commits = db.commits

    result = await service.register(CustomerCreate(name="Someone Else", email="ADA@example.com"), actor="tester")

    assert isinstance(result, Conflict)
    assert result.existing_id == first
    assert first in result.message
    assert list(db.customers) == [first]
    assert len(db.audit) == 1
    assert len(db.outbox) == 1
    assert db.commits == commits


async def test_get_by_id_and_by_email_in_any_case(service: CustomerService):
    customer_id = await register(service)

    by_id = await service.get(customer_id=customer_id, email=None)
    by_email = await service.get(customer_id=None, email="ADA@EXAMPLE.COM")

    assert isinstance(by_id, Success)
    assert isinstance(by_email, Success)
    assert by_id.value == by_email.value


@pytest.mark.parametrize(
    ("customer_id", "email", "expected"),
    [
        ("cus_00000000000000000000000099", None, NotFound),
        (None, "nobody@example.com", NotFound),
        (None, None, Rejected),
        ("cus_00000000000000000000000001", "ada@example.com", Rejected),
        ("ord_00000000000000000000000001", None, Rejected),
        ("not-an-id", None, Rejected),
    ],
)
async def test_get_failures(
    service: CustomerService, customer_id: str | None, email: str | None, expected: type[NotFound | Rejected]
):
    await register(service)
    assert isinstance(await service.get(customer_id=customer_id, email=email), expected)


async def test_list_pages_through_everyone_once_in_registration_order(service: CustomerService):
    ids = [await register(service, f"Customer {i}", f"c{i}@example.com") for i in range(7)]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        result = await service.list(CustomerQuery(limit=3, cursor=cursor))
        assert isinstance(result, Success)
        seen += [c.id for c in result.value.items]
        pages += 1
        cursor = result.value.next_cursor
        if cursor is None:
            break

    assert seen == ids
    assert pages == 3


async def test_list_filters_by_name_or_email_fragment(service: CustomerService):
    await register(service, "Ada Lovelace", "ada@example.com")
    grace = await register(service, "Grace Hopper", "grace@navy.mil")
    await register(service, "Alan Turing", "alan@example.com")

    by_name = await service.list(CustomerQuery(text="HOPP"))
    by_email = await service.list(CustomerQuery(text="navy"))

    assert isinstance(by_name, Success)
    assert isinstance(by_email, Success)
    assert [c.id for c in by_name.value.items] == [grace]
    assert [c.id for c in by_email.value.items] == [grace]


async def test_cursor_from_one_filter_is_refused_under_another(service: CustomerService):
    for i in range(3):
        await register(service, f"Ann {i}", f"ann{i}@example.com")
    first = await service.list(CustomerQuery(text="ann", limit=1))
    assert isinstance(first, Success)
    assert first.value.next_cursor is not None

    reused = await service.list(CustomerQuery(text="bob", limit=1, cursor=first.value.next_cursor))
    garbage = await service.list(CustomerQuery(cursor="definitely-not-a-cursor"))

    assert isinstance(reused, Rejected)
    assert reused.field == "cursor"
    assert isinstance(garbage, Rejected)


async def test_update_changes_only_given_fields_and_audits_before_and_after(
    service: CustomerService, db: FakeDatabase, clock: FakeClock
):
    customer_id = await service.register(
        CustomerCreate(name="Ada", email="ada@example.com", phone="123 456", notes="likes tea"), actor="t"
    )
    assert isinstance(customer_id, Success)
    cid = customer_id.value.id
    clock.advance(60)

    result = await service.update(cid, CustomerUpdate.model_validate({"name": "Ada King", "phone": None}), actor="bob")

    assert isinstance(result, Success)
    assert result.value.changed == ("name", "phone")
    stored = db.customers[cid]
    assert (stored.name, stored.phone, stored.notes) == ("Ada King", None, "likes tea")
    assert stored.updated_at > stored.created_at
    last = db.audit[-1]
    assert (last.action, last.actor, last.entity_id) == ("customer.updated", "bob", cid)
    assert last.before == {"name": "Ada", "phone": "123 456"}
    assert last.after == {"name": "Ada King", "phone": None}
    assert len(db.audit) == 2


async def test_update_with_same_values_writes_nothing(service: CustomerService, db: FakeDatabase):
    cid = await register(service)
    commits = db.commits

    result = await service.update(cid, CustomerUpdate(name="Ada Lovelace"), actor="t")

    assert isinstance(result, Success)
    assert result.value.changed == ()
    assert db.commits == commits
    assert len(db.audit) == 1


async def test_update_to_another_customers_email_is_a_conflict(service: CustomerService, db: FakeDatabase):
    ada = await register(service, "Ada", "ada@example.com")
    grace = await register(service, "Grace", "grace@example.com")

    result = await service.update(ada, CustomerUpdate(email="GRACE@example.com"), actor="t")

    assert isinstance(result, Conflict)
    assert result.existing_id == grace
    assert db.customers[ada].email == "ada@example.com"
    assert len(db.audit) == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, None), ({"name": None}, "name"), ({"email": None}, "email")],
)
async def test_update_rejects_empty_or_clearing_required_fields(
    service: CustomerService, db: FakeDatabase, payload: dict[str, None], field: str | None
):
    cid = await register(service)

    result = await service.update(cid, CustomerUpdate.model_validate(payload), actor="t")

    assert isinstance(result, Rejected)
    assert result.field == field
    assert len(db.audit) == 1


async def test_update_unknown_customer_is_not_found(service: CustomerService, db: FakeDatabase):
    result = await service.update("cus_00000000000000000000000042", CustomerUpdate(name="X"), actor="t")
    assert isinstance(result, NotFound)
    assert db.audit == []


async def test_get_and_update_accept_an_id_typed_in_lower_case(service: CustomerService, db: FakeDatabase):
    customer_id = await register(service)

    found = await service.get(customer_id=customer_id.lower(), email=None)
    changed = await service.update(customer_id.lower(), CustomerUpdate(phone="555 0100"), actor="t")

    assert isinstance(found, Success)
    assert found.value.id == customer_id
    assert isinstance(changed, Success)
    assert db.customers[customer_id].phone == "555 0100"


class RacedCustomers(FakeCustomerRepository):
    """Another writer registers the same address between our check and our insert."""

    def __init__(self, rows: dict[str, Customer], rival: Customer) -> None:
        super().__init__(rows)
        self._rival = rival

    async def add(self, customer: Customer) -> None:
        self._rows[self._rival.id] = self._rival
        raise UniqueViolationError("customer e-mail")


async def test_losing_a_race_for_an_email_is_a_conflict_naming_the_winner(db: FakeDatabase, clock: FakeClock):
    rival = Customer(
        id="cus_00000000000000000000000777",
        name="Rival",
        email="ada@example.com",
        phone=None,
        notes=None,
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    factory = FakeUnitOfWorkFactory(db)

    def raced_uow(*, write: bool) -> FakeUnitOfWork:
        uow = factory(write=write)
        uow.customers = RacedCustomers(uow.customers.rows, rival) if write else uow.customers
        return uow

    def publish_rival(*, write: bool) -> FakeUnitOfWork:
        db.customers[rival.id] = rival  # the rival's transaction has committed by the time we look again
        return factory(write=write)

    service = CustomerService(raced_uow, clock, SequentialIds())
    result = await service.register(CustomerCreate(name="Ada", email="ada@example.com"), actor="t")
    assert isinstance(result, Conflict)  # the re-read found nobody yet: still a conflict, without an id
    assert db.commits == 0
    assert db.audit == []
    assert db.outbox == []

    calls = iter([raced_uow, publish_rival])

    def first_raced_then_published(*, write: bool) -> FakeUnitOfWork:
        return next(calls)(write=write)

    service = CustomerService(first_raced_then_published, clock, SequentialIds())
    result = await service.register(CustomerCreate(name="Ada", email="ada@example.com"), actor="t")
    assert isinstance(result, Conflict)
    assert result.existing_id == rival.id
    assert db.audit == []
    assert db.outbox == []
