"""Approval requests on each engine (a SQLite file, a PostgreSQL database): they expire, work once,
hold only for the state they were approved against, and two processes
(``tests/integration/approval_racer.py``), or two engines in this one, racing to redeem the same
approved request make one refund between them. Approvers' passphrases are kept as scrypt hashes.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mcp_server.adapters.database import create_engine, unit_of_work_factory
from mcp_server.clients.passphrases import ScryptPassphrases
from mcp_server.models.catalog import ProductCreate
from mcp_server.models.customers import CustomerCreate
from mcp_server.models.orders import OrderCreate, OrderLineRequest
from mcp_server.models.payments import PaymentCreate, RefundCreate
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory
from mcp_server.services.approvals import (
    APPROVAL_TTL,
    ApprovalDesk,
    ApprovalGiven,
    ApprovalService,
    NeedsApproval,
    PersonConfirmed,
)
from mcp_server.services.catalog import CatalogService
from mcp_server.services.customers import CustomerService
from mcp_server.services.orders import OrderService
from mcp_server.services.payments import PaymentService
from mcp_server.services.results import Rejected, Success
from mcp_server.services.unit_of_work import with_events
from mcp_server.utils.ids import IdGenerator
from tests.engines import ShopDatabase
from tests.fakes import FakeClock
from tests.integration import racers

pytestmark = pytest.mark.anyio

ACTOR = "test"
APPROVER, PASSPHRASE = "ada", "a long enough passphrase"
WRONG_PASSPHRASE = "not the passphrase"
FAST = ScryptPassphrases(n=2**10)  # the real hash, cheap enough for tests
PAID = 2000


@dataclass
class Stack:
    """The services one server process has on its own engine."""

    orders: OrderService
    payments: PaymentService
    approvals: ApprovalService


def stack(uow: SqlUnitOfWorkFactory, clock: FakeClock) -> Stack:
    ids = IdGenerator()
    desk = ApprovalDesk(clock, ids)
    zone = ZoneInfo("UTC")
    return Stack(
        orders=OrderService(uow, clock, ids, desk, zone),
        payments=PaymentService(uow, clock, ids, desk, zone),
        approvals=ApprovalService(with_events(uow, clock, ids), clock, FAST),
    )


@dataclass
class Shop:
    clock: FakeClock
    main: Stack
    order_id: str
    db: ShopDatabase

    def refund(self, amount: int) -> RefundCreate:
        return RefundCreate(order_id=self.order_id, amount=amount, reason="chipped")

    async def ask(self, amount: int) -> str:
        """An approval request for a refund of ``amount``, approved by the approver; its id."""
        asked = await self.main.payments.refund(self.refund(amount), actor=ACTOR, approval=None)
        assert isinstance(asked, NeedsApproval), asked
        assert asked.request is not None, asked
        decided = await self.main.approvals.decide(asked.request.id, approve=True, name=APPROVER, passphrase=PASSPHRASE)
        assert isinstance(decided, Success), decided
        return asked.request.id

    def rows(self, sql: str, **params: object) -> list[tuple[object, ...]]:
        """Read straight from the database, as another process would."""
        return self.db.query(sql, **params)

    def refunded(self) -> tuple[int, int]:
        """(the order's refunded_minor, the sum of its refund rows)."""
        (order,) = self.rows("SELECT refunded_minor FROM orders WHERE id = :id", id=self.order_id)
        (given,) = self.rows(
            "SELECT COALESCE(SUM(amount_minor), 0) FROM payments WHERE order_id = :id AND kind = 'refund'",
            id=self.order_id,
        )
        return int(str(order[0])), int(str(given[0]))

    def approval(self, approval_id: str) -> tuple[object, ...]:
        """(status, decided_by, used_at is set) of the stored approval request."""
        (row,) = self.rows("SELECT status, decided_by, used_at FROM approval_requests WHERE id = :id", id=approval_id)
        return (*row[:2], row[2] is not None)


def instant(stored: object) -> datetime:
    """A stored timestamp as a UTC datetime: SQLite keeps naive UTC text, PostgreSQL a timestamptz."""
    if isinstance(stored, datetime):
        return stored.astimezone(UTC)
    return datetime.fromisoformat(str(stored)).replace(tzinfo=UTC)


@pytest.fixture
async def shop(uow: SqlUnitOfWorkFactory, shop_db: ShopDatabase) -> Shop:
    """A paid order of 20.00 and one approver, on the migrated database; a clock the test moves (it starts
    at the real time, so a racer process on the system clock finds the requests made here still fresh)."""
    clock, ids = FakeClock(datetime.now(UTC)), IdGenerator()
    main = stack(uow, clock)
    customer = await CustomerService(uow, clock, ids).register(
        CustomerCreate(name="Ada", email="ada@example.com"), actor=ACTOR
    )
    assert isinstance(customer, Success)
    product = ProductCreate(sku="MUG-01", name="Mug", price_minor=PAID // 2, currency="EUR", stock=10)
    assert isinstance(await CatalogService(uow, clock, ids).create_product(product, actor=ACTOR), Success)
    placed = await main.orders.place(
        OrderCreate(customer_id=customer.value.id, lines=[OrderLineRequest(sku="MUG-01", quantity=2)]), actor=ACTOR
    )
    assert isinstance(placed, Success)
    order_id = placed.value.order.id
    paid = await main.payments.record(PaymentCreate(order_id=order_id, method="cash"), actor=ACTOR)
    assert isinstance(paid, Success)
    assert isinstance(await main.approvals.add_approver(APPROVER, PASSPHRASE, actor=ACTOR), Success)
    return Shop(clock, main, order_id, shop_db)


@pytest.fixture
async def second_engine(database_url: str) -> AsyncGenerator[AsyncEngine]:
    """Another process's engine on the same database."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


# --- expiry ----------------------------------------------------------------------------------------


async def test_an_approved_request_past_its_expiry_is_refused(shop: Shop) -> None:
    asked_at = shop.clock.now()
    approval_id = await shop.ask(500)
    ((expires,),) = shop.rows("SELECT expires_at FROM approval_requests WHERE id = :id", id=approval_id)
    assert instant(expires).replace(microsecond=0) == (asked_at + APPROVAL_TTL).replace(microsecond=0), expires

    shop.clock.advance(APPROVAL_TTL.total_seconds())  # exactly at expires_at
    late = await shop.main.payments.refund(shop.refund(500), actor=ACTOR, approval=ApprovalGiven(approval_id))

    assert isinstance(late, Rejected), late
    assert late.field == "approval_id"
    assert "expired" in late.message
    assert shop.refunded() == (0, 0), "nothing was given back"
    assert shop.approval(approval_id) == ("approved", f"person:{APPROVER}", False), "an expired approval is not used"


async def test_a_request_cannot_be_approved_once_it_has_expired(shop: Shop) -> None:
    asked = await shop.main.payments.refund(shop.refund(500), actor=ACTOR, approval=None)
    assert isinstance(asked, NeedsApproval)
    assert asked.request is not None
    shop.clock.advance((APPROVAL_TTL + timedelta(seconds=1)).total_seconds())

    decided = await shop.main.approvals.decide(asked.request.id, approve=True, name=APPROVER, passphrase=PASSPHRASE)

    assert isinstance(decided, Rejected), decided
    assert "expired" in decided.message
    assert shop.approval(asked.request.id) == ("pending", None, False)


async def test_an_approval_redeemed_just_before_expiry_goes_through(shop: Shop) -> None:
    approval_id = await shop.ask(500)
    shop.clock.advance(APPROVAL_TTL.total_seconds() - 1)

    done = await shop.main.payments.refund(shop.refund(500), actor=ACTOR, approval=ApprovalGiven(approval_id))

    assert isinstance(done, Success), done
    assert shop.refunded() == (500, 500)


# --- one-time use ----------------------------------------------------------------------------------


async def test_an_approval_works_once(shop: Shop) -> None:
    approval_id = await shop.ask(500)

    first = await shop.main.payments.refund(shop.refund(500), actor=ACTOR, approval=ApprovalGiven(approval_id))
    second = await shop.main.payments.refund(shop.refund(500), actor=ACTOR, approval=ApprovalGiven(approval_id))

    assert isinstance(first, Success), first
    assert isinstance(second, Rejected), second
    assert second.field == "approval_id"
    assert "already used" in second.message
    assert shop.refunded() == (500, 500), "one refund, not two"
    assert shop.approval(approval_id) == ("used", f"person:{APPROVER}", True)
    actors = shop.rows("SELECT actor FROM audit_log WHERE action = 'payment.refunded'")
    assert actors == [(f"{ACTOR} (approved by person:{APPROVER} in {approval_id})",)]


async def test_an_unknown_approval_id_is_refused(shop: Shop) -> None:
    refused = await shop.main.payments.refund(shop.refund(500), actor=ACTOR, approval=ApprovalGiven("apr_garbage"))

    assert isinstance(refused, Rejected), refused
    assert refused.field == "approval_id"
    assert shop.refunded() == (0, 0)


# --- bound to the state it was approved against ------------------------------------------------------


async def test_an_approval_does_not_survive_a_change_to_the_order(shop: Shop) -> None:
    approval_id = await shop.ask(500)
    # Meanwhile a person at the terminal refunds part of the order.
    other = await shop.main.payments.refund(shop.refund(300), actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(other, Success), other

    stale = await shop.main.payments.refund(shop.refund(500), actor=ACTOR, approval=ApprovalGiven(approval_id))

    assert isinstance(stale, Rejected), stale
    assert stale.field == "approval_id"
    assert "changed" in stale.message
    assert shop.refunded() == (300, 300), "only the terminal's refund"
    assert shop.approval(approval_id) == ("approved", f"person:{APPROVER}", False)


async def test_an_approval_is_for_the_call_that_asked_for_it(shop: Shop) -> None:
    approval_id = await shop.ask(500)

    other = await shop.main.payments.refund(shop.refund(1500), actor=ACTOR, approval=ApprovalGiven(approval_id))

    assert isinstance(other, Rejected), other
    assert other.field == "approval_id"
    assert "different call" in other.message
    assert shop.refunded() == (0, 0)


# --- two engines racing for one approval -------------------------------------------------------------


ROUNDS = 5
AMOUNT = 100
RACE_TIMEOUT_S = 60.0  # start-up on a busy machine; not what is tested


async def test_two_processes_redeeming_one_approval_make_one_refund(shop: Shop, database_url: str) -> None:
    """Two real processes, each with its own engine on the database, redeem the same approved request at once."""
    approval_id = await shop.ask(AMOUNT)
    command = [
        sys.executable,
        "-m",
        "tests.integration.approval_racer",
        database_url,
        shop.order_id,
        str(AMOUNT),
        approval_id,
    ]
    with anyio.fail_after(RACE_TIMEOUT_S):
        reports = await racers.race([command, command])

    assert sorted(r["result"] for r in reports) == ["Rejected", "Success"], reports
    assert [r["field"] for r in reports if r["result"] == "Rejected"] == ["approval_id"], reports
    assert shop.refunded() == (AMOUNT, AMOUNT), "one refund between them"
    assert shop.approval(approval_id) == ("used", f"person:{APPROVER}", True)


async def test_two_engines_redeeming_one_approval_make_one_refund(shop: Shop, second_engine: AsyncEngine) -> None:
    """Each round, this process and another (its own engine on the database) redeem the same approval at once."""
    other = stack(unit_of_work_factory(second_engine), shop.clock)
    used: list[str] = []
    for _ in range(ROUNDS):
        approval_id = await shop.ask(AMOUNT)
        outcomes: list[object] = []

        async def redeem(side: Stack, approval_id: str = approval_id, outcomes: list[object] = outcomes) -> None:
            request = shop.refund(AMOUNT)
            outcomes.append(await side.payments.refund(request, actor=ACTOR, approval=ApprovalGiven(approval_id)))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(redeem, shop.main)
            tasks.start_soon(redeem, other)

        done = sum(isinstance(o, Success) for o in outcomes)
        refused = [o for o in outcomes if isinstance(o, Rejected)]
        assert (done, len(refused)) == (1, 1), outcomes
        assert refused[0].field == "approval_id", refused
        assert shop.approval(approval_id) == ("used", f"person:{APPROVER}", True)
        used.append(approval_id)

    assert shop.refunded() == (ROUNDS * AMOUNT, ROUNDS * AMOUNT), "one refund per approval"
    (refund_rows,) = shop.rows("SELECT COUNT(*) FROM payments WHERE kind = 'refund'")
    assert refund_rows == (ROUNDS,)
    actors = [str(a) for (a,) in shop.rows("SELECT actor FROM audit_log WHERE action = 'payment.refunded'")]
    assert sorted(actors) == sorted(f"{ACTOR} (approved by person:{APPROVER} in {a})" for a in used)


# --- approvers' passphrases --------------------------------------------------------------------------


async def test_the_stored_passphrase_is_a_scrypt_hash_that_verifies(shop: Shop) -> None:
    ((stored,),) = shop.rows("SELECT passphrase_hash FROM approvers WHERE name = :name", name=APPROVER)
    assert isinstance(stored, str)
    assert PASSPHRASE not in stored
    assert stored.startswith("scrypt$1024$8$1$"), stored
    assert await FAST.verify(PASSPHRASE, stored)
    assert await ScryptPassphrases().verify(PASSPHRASE, stored), "the cost is read from the stored hash"
    assert not await FAST.verify(WRONG_PASSPHRASE, stored)
    assert not await FAST.verify(PASSPHRASE.upper(), stored)

    again = await FAST.hash(PASSPHRASE)
    assert again != stored, "salted: the same passphrase hashes differently"
    assert await FAST.verify(PASSPHRASE, again)


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        PASSPHRASE,
        "scrypt$",
        "scrypt$1024$8$1$",
        "scrypt$x$8$1$AAAA$AAAA",
        "bcrypt$1024$8$1$AAAA$AAAA",
        "scrypt$1024$8$1$!!$@@",
        "scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==",
    ],
)
async def test_a_malformed_stored_hash_verifies_nothing(malformed: str) -> None:
    assert not await FAST.verify(PASSPHRASE, malformed)


@pytest.mark.parametrize(
    "malformed",
    [
        "scrypt$1024$8$1$abc$def",  # base64 without its padding
        "scrypt$1000$8$1$AAAA$AAAA",  # n not a power of two
        "scrypt$1024$0$1$AAAA$AAAA",  # r = 0
    ],
)
async def test_a_stored_hash_that_scrypt_cannot_use_verifies_nothing(malformed: str) -> None:
    assert not await FAST.verify(PASSPHRASE, malformed)


async def test_deciding_needs_the_approvers_passphrase(shop: Shop) -> None:
    asked = await shop.main.payments.refund(shop.refund(500), actor=ACTOR, approval=None)
    assert isinstance(asked, NeedsApproval)
    assert asked.request is not None

    wrong = await shop.main.approvals.decide(asked.request.id, approve=True, name=APPROVER, passphrase=WRONG_PASSPHRASE)
    nobody = await shop.main.approvals.decide(asked.request.id, approve=True, name="bob", passphrase=PASSPHRASE)

    assert isinstance(wrong, Rejected), wrong
    assert wrong.field == "passphrase"
    assert isinstance(nobody, Rejected), nobody
    assert nobody.field == "passphrase"
    assert shop.approval(asked.request.id) == ("pending", None, False)
