"""The unit of work: what is committed is there for the next one; anything else is as if never done."""

from __future__ import annotations

import pytest

from mcp_server.services.ports import UnitOfWorkFactory
from tests.contract.records import add, customer, entry, message, read, save

pytestmark = pytest.mark.anyio

ADA = customer(1)


async def test_commit_publishes_every_change_together(uow_factory: UnitOfWorkFactory) -> None:
    await save(uow_factory, ADA, entry(1, ADA.id), message(1))
    async with uow_factory(write=False) as work:
        assert await work.customers.get(ADA.id) == ADA
        assert [e.id for e in await work.audit.page_before(
            entity_type=None, entity_id=None, action=None, before_sequence=None, limit=10
        )] == [entry(1, ADA.id).id]  # fmt: skip
        assert await work.outbox.get(message(1).id) == message(1)


async def test_leaving_without_commit_discards_every_change(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory(write=True) as work:
        for record in (ADA, entry(1, ADA.id), message(1)):
            await add(work, record)
    async with uow_factory(write=False) as work:
        assert await work.customers.get(ADA.id) is None
        assert await work.audit.page_before(
            entity_type=None, entity_id=None, action=None, before_sequence=None, limit=10
        ) == []  # fmt: skip
        assert await work.outbox.get(message(1).id) is None


async def test_an_error_inside_rolls_back_and_is_raised(uow_factory: UnitOfWorkFactory) -> None:

    async def failing() -> None:
        async with uow_factory(write=True) as work:
            await work.customers.add(ADA)
            raise LookupError("gone wrong")

    with pytest.raises(LookupError, match="gone wrong"):
        await failing()
    assert await read(uow_factory, lambda w: w.customers.get(ADA.id)) is None


async def test_a_writer_reads_its_own_changes_before_it_commits(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory(write=True) as work:
        await work.customers.add(ADA)
        assert await work.customers.get(ADA.id) == ADA
        assert await work.customers.find_by_email(ADA.email) == ADA


async def test_a_reader_sees_committed_state_only(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory(write=True) as writing:
        await writing.customers.add(ADA)
        async with uow_factory(write=False) as reading:
            assert await reading.customers.get(ADA.id) is None, "not committed yet"
        await writing.commit()
    assert await read(uow_factory, lambda w: w.customers.get(ADA.id)) == ADA


async def test_later_units_build_on_earlier_commits(uow_factory: UnitOfWorkFactory) -> None:
    await save(uow_factory, ADA)
    await save(uow_factory, customer(2))
    async with uow_factory(write=False) as work:
        assert [c.id for c in await work.customers.page_after(text=None, after_id=None, limit=10)] == [
            ADA.id,
            customer(2).id,
        ]
