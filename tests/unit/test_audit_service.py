from __future__ import annotations

import pytest

from mcp_server.models.audit import AuditQuery
from mcp_server.models.customers import CustomerCreate, CustomerUpdate
from mcp_server.services.audit import AuditService
from mcp_server.services.customers import CustomerService
from mcp_server.services.results import Rejected, Success
from mcp_server.utils.ids import IdGenerator
from tests.fakes import FakeClock, FakeDatabase, FakeUnitOfWorkFactory, SequentialIds

pytestmark = pytest.mark.anyio


async def seeded() -> tuple[AuditService, list[str]]:
    uow = FakeUnitOfWorkFactory(FakeDatabase())
    customers = CustomerService(uow, FakeClock(), SequentialIds())
    ids: list[str] = []
    for i in range(3):
        result = await customers.register(CustomerCreate(name=f"C{i}", email=f"c{i}@example.com"), actor="a")
        assert isinstance(result, Success)
        ids.append(result.value.id)
    await customers.update(ids[0], CustomerUpdate(name="C0 renamed"), actor="b")
    return AuditService(uow), ids


async def test_newest_first_with_filters():
    audit, ids = await seeded()

    everything = await audit.list(AuditQuery())
    for_first = await audit.list(AuditQuery(entity_id=ids[0]))
    updates = await audit.list(AuditQuery(action="customer.updated"))

    assert isinstance(everything, Success)
    assert [e.action for e in everything.value.items] == ["customer.updated"] + ["customer.registered"] * 3
    assert [e.entity_id for e in everything.value.items] == [ids[0], ids[2], ids[1], ids[0]]
    assert isinstance(for_first, Success)
    assert [e.action for e in for_first.value.items] == ["customer.updated", "customer.registered"]
    assert isinstance(updates, Success)
    assert [e.actor for e in updates.value.items] == ["b"]


async def test_pages_join_up_and_cursor_is_bound_to_filters():
    audit, _ = await seeded()
    first = await audit.list(AuditQuery(limit=3))
    assert isinstance(first, Success)
    assert first.value.next_cursor is not None

    second = await audit.list(AuditQuery(limit=3, cursor=first.value.next_cursor))
    wrong = await audit.list(AuditQuery(limit=3, cursor=first.value.next_cursor, entity_type="customer"))

    assert isinstance(second, Success)
    assert len(first.value.items) + len(second.value.items) == 4
    assert second.value.next_cursor is None
    assert isinstance(wrong, Rejected)


async def test_summary_reads_as_before_and_after():
    audit, ids = await seeded()
    result = await audit.list(AuditQuery(entity_id=ids[0], action="customer.updated"))
    assert isinstance(result, Success)
    assert result.value.items[0].summary() == "name: C0 → C0 renamed"


async def test_entity_id_filter_accepts_an_id_in_any_letter_case():
    uow = FakeUnitOfWorkFactory(FakeDatabase())
    customers = CustomerService(uow, FakeClock(), IdGenerator())
    created = await customers.register(CustomerCreate(name="Ada", email="ada@example.com"), actor="a")
    assert isinstance(created, Success)

    result = await AuditService(uow).list(AuditQuery(entity_id=created.value.id.lower()))

    assert isinstance(result, Success)
    assert [e.entity_id for e in result.value.items] == [created.value.id]
