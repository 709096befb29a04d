"""RequestLog: what an idempotency key was first used for, the approvers, and approval requests whose
decision or use is stored only if nobody moved them first."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mcp_server.models.approvals import Approver, StoredStatus
from mcp_server.models.requests import StoredRequest
from mcp_server.services.ports import UnitOfWorkFactory
from tests.contract.records import T0, approval, at, read, save, written

pytestmark = pytest.mark.anyio

OTHER_HASH = "hash$other"
PLACED = StoredRequest("h" * 64, ("ord_00000000000000000000000001",), T0)


async def test_a_remembered_request_is_found_by_tool_and_key(uow_factory: UnitOfWorkFactory) -> None:
    refunded = StoredRequest("r" * 64, ("ref_1", "pay_1"), at(1))
    nothing = StoredRequest("n" * 64, (), at(2))
    async with uow_factory(write=True) as work:
        await work.requests.remember("orders_place", "k-1", PLACED)
        await work.requests.remember("payments_refund", "k-1", refunded)
        await work.requests.remember("orders_place", "key:with/odd~chars", nothing)
        await work.commit()
    async with uow_factory(write=False) as work:
        assert await work.requests.find("orders_place", "k-1") == PLACED
        assert await work.requests.find("payments_refund", "k-1") == refunded, "keys are per tool"
        assert await work.requests.find("orders_place", "key:with/odd~chars") == nothing
        assert await work.requests.find("orders_place", "K-1") is None, "keys match exactly"
        assert await work.requests.find("orders_cancel", "k-1") is None
    async with uow_factory(write=True) as work:  # a writer finds them too (on a server, under a lock on the key)
        assert await work.requests.find("orders_place", "k-1") == PLACED
        assert await work.requests.find("orders_place", "k-2") is None


async def test_approvers_are_filed_once_by_name(uow_factory: UnitOfWorkFactory) -> None:
    grace, alan = Approver("grace", "hash$grace", T0), Approver("alan", "hash$alan", at(1))
    assert await written(uow_factory, lambda w: w.requests.add_approver(grace)) is True
    assert await written(uow_factory, lambda w: w.requests.add_approver(alan)) is True
    assert (
        await written(uow_factory, lambda w: w.requests.add_approver(replace(grace, passphrase_hash=OTHER_HASH)))
        is False
    )
    async with uow_factory(write=False) as work:
        assert await work.requests.approver("grace") == grace, "the first one filed stays"
        assert await work.requests.approver("nobody") is None
        assert await work.requests.approvers() == [alan, grace], "by name"
    assert await written(uow_factory, lambda w: w.requests.remove_approver("grace")) is True
    assert await written(uow_factory, lambda w: w.requests.remove_approver("grace")) is False
    assert await read(uow_factory, lambda w: w.requests.approvers()) == [alan]


async def test_an_approval_request_comes_back_as_filed(uow_factory: UnitOfWorkFactory) -> None:
    asked = approval(1)
    await save(uow_factory, asked)
    assert await read(uow_factory, lambda w: w.requests.approval(asked.id)) == asked
    assert await read(uow_factory, lambda w: w.requests.approval("apr_missing")) is None


async def test_approvals_newest_first_by_stored_status(uow_factory: UnitOfWorkFactory) -> None:
    first, second, third = approval(1, created=at(0)), approval(2, created=at(10)), approval(3, created=at(10))
    older = approval(4, created=at(-10))
    await save(uow_factory, first, second, third, older)
    await written(
        uow_factory, lambda w: w.requests.move_approval(second.decide(False, "person:grace", at(20)), "pending")
    )

    async def listed(status: StoredStatus | None, limit: int = 10) -> list[str]:
        rows = await read(uow_factory, lambda w: w.requests.approvals(status=status, limit=limit))
        return [r.id for r in rows]

    assert await listed(None) == [third.id, second.id, first.id, older.id], "created_at, then id, newest first"
    assert await listed("pending") == [third.id, first.id, older.id]
    assert await listed("denied") == [second.id]
    assert await listed("approved") == []
    assert await listed(None, limit=2) == [third.id, second.id]
    async with uow_factory(write=True) as work:  # a writer reads the same (on a server, taking turns)
        pending = await work.requests.approvals(status="pending", limit=10)
    assert [r.id for r in pending] == [third.id, first.id, older.id]


async def test_move_approval_stores_the_move_only_from_the_expected_status(uow_factory: UnitOfWorkFactory) -> None:
    asked = approval(1)
    await save(uow_factory, asked)
    approved = asked.decide(True, "person:grace", at(60))
    denied = asked.decide(False, "person:alan", at(61))
    assert await written(uow_factory, lambda w: w.requests.move_approval(approved, "pending")) is True
    assert await written(uow_factory, lambda w: w.requests.move_approval(denied, "pending")) is False, "moved first"
    assert await read(uow_factory, lambda w: w.requests.approval(asked.id)) == approved
    used = approved.use(at(120))
    assert await written(uow_factory, lambda w: w.requests.move_approval(used, "approved")) is True
    assert await written(uow_factory, lambda w: w.requests.move_approval(used, "approved")) is False, "used once"
    assert await read(uow_factory, lambda w: w.requests.approval(asked.id)) == used
    missing = approval(9).decide(True, "person:grace", at(60))
    assert await written(uow_factory, lambda w: w.requests.move_approval(missing, "pending")) is False


async def test_move_approval_stores_the_decision_and_use_only(uow_factory: UnitOfWorkFactory) -> None:
    asked = approval(1)
    await save(uow_factory, asked)
    decided = asked.decide(True, "person:grace", at(60))
    rewritten = replace(decided, summary="Refund everything", state_digest="x" * 64, expires_at=at(days=30))
    assert await written(uow_factory, lambda w: w.requests.move_approval(rewritten, "pending")) is True
    assert await read(uow_factory, lambda w: w.requests.approval(asked.id)) == decided
