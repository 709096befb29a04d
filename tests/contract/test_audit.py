"""AuditRepository: entries come back newest first, in the order they were added, filtered and paged
by sequence; what they record survives the JSON round trip."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mcp_server.models.audit import AuditEntry
from mcp_server.services.ports import UnitOfWorkFactory
from tests.contract.records import entry, read, save

pytestmark = pytest.mark.anyio


async def page(
    uow: UnitOfWorkFactory,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    return await read(
        uow,
        lambda w: w.audit.page_before(
            entity_type=entity_type, entity_id=entity_id, action=action, before_sequence=before, limit=limit
        ),
    )


def ids(entries: list[AuditEntry]) -> list[str]:
    return [e.id for e in entries]


async def test_an_entry_comes_back_as_recorded_with_a_sequence(uow_factory: UnitOfWorkFactory) -> None:
    recorded = replace(
        entry(1, "cus_1"),
        before={"name": "Ada", "phone": None},
        after={"name": "Élodie Ада", "phone": "+33 1", "stock": 7, "price": 12.5, "active": True},
    )
    await save(uow_factory, recorded)
    (got,) = await page(uow_factory)
    assert got.sequence > 0
    assert got == replace(recorded, sequence=got.sequence)


async def test_newest_first_with_sequences_in_the_order_added(uow_factory: UnitOfWorkFactory) -> None:
    await save(uow_factory, entry(1, "cus_1"), entry(2, "cus_2"))
    await save(uow_factory, entry(3, "cus_1"))
    got = await page(uow_factory)
    assert ids(got) == [entry(3, "").id, entry(2, "").id, entry(1, "").id]
    sequences = [e.sequence for e in got]
    assert sequences == sorted(sequences, reverse=True)
    assert len(set(sequences)) == 3


async def test_filters_and_paging_before_a_sequence(uow_factory: UnitOfWorkFactory) -> None:
    await save(
        uow_factory,
        entry(1, "cus_1"),
        entry(2, "prd_1", "product.created", entity_type="product"),
        entry(3, "cus_1", "customer.updated"),
        entry(4, "cus_2"),
        entry(5, "prd_1", "product.stock_adjusted", entity_type="product"),
        entry(6, "cus_1", "customer.updated"),
    )
    everything = await page(uow_factory)
    assert ids(everything) == [entry(n, "").id for n in (6, 5, 4, 3, 2, 1)]
    assert ids(await page(uow_factory, entity_type="product")) == [entry(5, "").id, entry(2, "").id]
    assert ids(await page(uow_factory, entity_type="customer", entity_id="cus_1")) == [
        entry(n, "").id for n in (6, 3, 1)
    ]
    assert ids(await page(uow_factory, action="customer.updated")) == [entry(6, "").id, entry(3, "").id]
    assert ids(await page(uow_factory, entity_id="cus_2", action="customer.updated")) == []

    # Walking back a page at a time, from each page's oldest entry, gives every entry once.
    walked: list[str] = []
    before: int | None = None
    while rows := await page(uow_factory, limit=4, before=before):
        walked += ids(rows)
        before = rows[-1].sequence
    assert walked == ids(everything)
    third = everything[2].sequence
    assert ids(await page(uow_factory, before=third)) == ids(everything[3:]), "strictly older"
    assert ids(await page(uow_factory, entity_id="cus_1", before=third, limit=1)) == [entry(3, "").id]
