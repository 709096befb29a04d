"""NotificationService and its templates against in-memory fakes and a scripted sender: end state, not calls."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import anyio
import pytest

from mcp_server.models.common import Page
from mcp_server.models.customers import CustomerCreate
from mcp_server.models.orders import Shipment
from mcp_server.models.outbox import (
    Delivered,
    Email,
    NotificationKind,
    NotificationQuery,
    NotificationStatus,
    OutboxMessage,
    PermanentFailure,
    SendOutcome,
    TemporaryFailure,
)
from mcp_server.services.approvals import PersonConfirmed
from mcp_server.services.customers import CustomerService
from mcp_server.services.notifications import (
    LEASE,
    MAX_REASON_LENGTH,
    SEND_TIMEOUT,
    DeliveryRound,
    NotificationService,
    backoff,
    render,
)
from mcp_server.services.results import NotFound, Rejected, Success
from tests.fakes import FakeClock, FakeDatabase, FakeUnitOfWorkFactory, SequentialIds
from tests.unit.commerce import ACTOR, add_customer, add_product, make_shop, pay, place, refund_now

pytestmark = pytest.mark.anyio


class ScriptedSender:
    """Answers each send with the next scripted outcome (Delivered once the script runs out) and
    remembers every e-mail it was asked to send, with its notification id."""

    def __init__(self, outcomes: list[SendOutcome] | None = None) -> None:
        self.outcomes = list(outcomes or [])
        self.sent: list[tuple[str, Email]] = []

    async def send(self, email: Email, *, message_id: str) -> SendOutcome:
        self.sent.append((message_id, email))
        if self.outcomes:
            return self.outcomes.pop(0)
        return Delivered(f"provider-{len(self.sent)}")

    def script(self, *outcomes: SendOutcome) -> None:
        self.outcomes = list(outcomes)

    @property
    def ids(self) -> list[str]:
        return [message_id for message_id, _ in self.sent]


class CrashingSender:
    """A worker that dies mid-send: the message was claimed, nothing was recorded."""

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, email: Email, *, message_id: str) -> SendOutcome:
        self.calls += 1
        raise RuntimeError("worker killed")


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ids() -> SequentialIds:
    return SequentialIds()


@pytest.fixture
def sender() -> ScriptedSender:
    return ScriptedSender()


@pytest.fixture
def customers(db: FakeDatabase, clock: FakeClock, ids: SequentialIds) -> CustomerService:
    return CustomerService(FakeUnitOfWorkFactory(db), clock, ids)


@pytest.fixture
def service(db: FakeDatabase, clock: FakeClock, ids: SequentialIds, sender: ScriptedSender) -> NotificationService:
    return NotificationService(FakeUnitOfWorkFactory(db), clock, ids, sender, shop_name="Teapot & Co")


async def register(
    customers: CustomerService, db: FakeDatabase, name: str = "Ada Lovelace", email: str = "ada@example.com"
) -> str:
    """Register a customer (which queues a welcome e-mail); the id of that e-mail."""
    result = await customers.register(CustomerCreate(name=name, email=email), actor=ACTOR)
    assert isinstance(result, Success)
    (welcome,) = [m for m in db.outbox if m.subject_id == result.value.id]
    assert (welcome.kind, welcome.status, welcome.attempts) == ("welcome", "pending", 0)
    return welcome.id


def row(db: FakeDatabase, message_id: str) -> OutboxMessage:
    (message,) = [m for m in db.outbox if m.id == message_id]
    return message


def message(
    message_id: str,
    at: datetime,
    *,
    kind: NotificationKind = "welcome",
    status: NotificationStatus = "pending",
    attempts: int = 0,
    payload: dict[str, str] | None = None,
    last_error: str | None = None,
) -> OutboxMessage:
    return OutboxMessage(
        id=message_id,
        kind=kind,
        recipient=f"{message_id}@example.com",
        subject_id="cus_" + "1" * 26,
        payload=payload if payload is not None else {"name": "Grace"},
        status=status,
        attempts=attempts,
        created_at=at,
        next_attempt_at=at,
        last_error=last_error,
    )


def ntf(n: int) -> str:
    return f"ntf_{n:026d}"


# --- render: one template per kind ----------------------------------------------------------------


async def test_render_puts_each_kinds_facts_in_subject_and_text():
    """The messages the real services queue (their payload keys), rendered with the shop's name."""
    shop = make_shop()
    customer = await add_customer(shop, email="ada@example.com", name="Ada Lovelace")
    await add_product(shop, "MUG-01", price_minor=1250, stock=10)
    shipped = await place(shop, customer, [("MUG-01", 2)])  # 25.00 EUR
    await pay(shop, shipped.id, 2500)
    assert isinstance(
        await shop.orders.mark_shipped(shipped.id, Shipment(carrier="DHL", tracking_number="JD0001"), actor=ACTOR),
        Success,
    )
    await refund_now(shop, shipped.id, 500)  # 5.00 EUR
    paid_then_cancelled = await place(shop, customer, [("MUG-01", 1)])  # 12.50 EUR
    await pay(shop, paid_then_cancelled.id, 1250)
    cancel = await shop.orders.cancel(paid_then_cancelled.id, reason=None, actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(cancel, Success)
    unpaid_cancelled = await place(shop, customer, [("MUG-01", 3)])
    assert isinstance(await shop.orders.cancel(unpaid_cancelled.id, reason=None, actor=ACTOR, approval=None), Success)

    mails = [(m.kind, m.subject_id, render(m, "Teapot & Co")) for m in shop.db.outbox]
    assert [(kind, subject_id) for kind, subject_id, _ in mails] == [
        ("welcome", customer),
        ("order_placed", shipped.id),
        ("order_shipped", shipped.id),
        ("order_refunded", shipped.id),
        ("order_placed", paid_then_cancelled.id),
        ("order_cancelled", paid_then_cancelled.id),
        ("order_placed", unpaid_cancelled.id),
        ("order_cancelled", unpaid_cancelled.id),
    ]
    assert all(email.to == "ada@example.com" for _, _, email in mails)
    assert all(email.text.startswith("Hello Ada Lovelace,\n") for _, _, email in mails)
    assert all(email.text.endswith("Kind regards,\nTeapot & Co\n") for _, _, email in mails)
    welcome, placed, shipping, refunded, _, cancelled_refunded, _, cancelled_unpaid = (e for _, _, e in mails)

    assert welcome.subject == "Welcome to Teapot & Co"
    assert "thank you for registering with Teapot & Co" in welcome.text

    assert placed.subject == f"Your order {shipped.id}"
    assert f"we received your order {shipped.id} of 25.00 EUR." in placed.text

    assert shipping.subject == f"Your order {shipped.id} is on its way"
    assert "has shipped with DHL" in shipping.text
    assert "the tracking number is JD0001." in shipping.text

    assert refunded.subject == f"A refund for your order {shipped.id}"
    assert f"we refunded 5.00 EUR for your order {shipped.id}." in refunded.text

    assert cancelled_refunded.subject == f"Your order {paid_then_cancelled.id} was cancelled"
    assert f"we cancelled your order {paid_then_cancelled.id} and refunded 12.50 EUR." in cancelled_refunded.text

    assert cancelled_unpaid.subject == f"Your order {unpaid_cancelled.id} was cancelled"
    assert f"we cancelled your order {unpaid_cancelled.id}." in cancelled_unpaid.text
    assert "refunded" not in cancelled_unpaid.text


def test_render_defaults_when_the_payload_lacks_a_fact():
    at = FakeClock().now()
    email = render(message(ntf(1), at, kind="order_shipped", payload={"order_id": "ord_X"}))
    assert email.subject == "Your order ord_X is on its way"
    assert email.text.startswith("Hello there,\n")
    assert "has shipped with our carrier; the tracking number is -." in email.text
    assert email.text.endswith("Kind regards,\nthe shop\n")


def test_backoff_doubles_from_thirty_seconds_up_to_six_hours():
    assert [backoff(n) for n in (1, 2, 3, 4, 5)] == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
    assert backoff(0) == timedelta(seconds=30)
    assert backoff(10) == timedelta(seconds=30 * 2**9)  # 4 h 16 min
    assert backoff(11) == timedelta(hours=6)  # 30 s * 2**10 = 8 h 32 min, capped
    assert backoff(12) == timedelta(hours=6)


def test_backoff_stays_capped_for_any_number_of_attempts():
    # 30 s * 2**42 no longer fits a timedelta: the exponent is capped before multiplying
    assert backoff(43) == timedelta(hours=6)
    assert backoff(400) == timedelta(hours=6)
    assert backoff(10**9) == timedelta(hours=6)


async def test_a_message_failing_for_the_43rd_time_is_retried_in_six_hours(db: FakeDatabase, clock: FakeClock):
    """With max_attempts above 42 the backoff once overflowed and the round raised, leaving the message sending."""
    sender = ScriptedSender()
    sender.script(TemporaryFailure("the e-mail provider answered 503"), TemporaryFailure("answered 503"))
    service = NotificationService(FakeUnitOfWorkFactory(db), clock, SequentialIds(), sender, max_attempts=100)
    db.outbox.append(message(ntf(1), clock.now(), attempts=42))

    assert await service.deliver_due() == DeliveryRound(retrying=1)
    waiting = row(db, ntf(1))
    assert (waiting.status, waiting.attempts, waiting.claimed_by) == ("pending", 43, None)
    assert waiting.next_attempt_at == clock.now() + timedelta(hours=6)

    clock.current = waiting.next_attempt_at
    assert await service.deliver_due() == DeliveryRound(retrying=1)
    assert (row(db, ntf(1)).attempts, row(db, ntf(1)).next_attempt_at) == (44, clock.now() + timedelta(hours=6))


# --- deliver_due -----------------------------------------------------------------------------------


async def test_deliver_due_sends_due_messages_and_marks_them_sent(
    service: NotificationService, customers: CustomerService, db: FakeDatabase, clock: FakeClock, sender: ScriptedSender
):
    ada = await register(customers, db, "Ada Lovelace", "ada@example.com")
    grace = await register(customers, db, "Grace Hopper", "grace@example.com")
    later = ntf(900)
    db.outbox.append(replace(message(later, clock.now()), next_attempt_at=clock.now() + timedelta(minutes=5)))
    clock.advance(1)

    outcome = await service.deliver_due()

    assert outcome == DeliveryRound(sent=2, retrying=0, failed=0)
    assert sender.ids == [ada, grace]
    assert [email for _, email in sender.sent] == [
        Email("ada@example.com", "Welcome to Teapot & Co", render(row(db, ada), "Teapot & Co").text),
        Email("grace@example.com", "Welcome to Teapot & Co", render(row(db, grace), "Teapot & Co").text),
    ]
    for sent_id in (ada, grace):
        sent = row(db, sent_id)
        assert (sent.status, sent.attempts, sent.sent_at, sent.last_error) == ("sent", 1, clock.now(), None)
    waiting = row(db, later)
    assert (waiting.status, waiting.attempts, waiting.sent_at) == ("pending", 0, None)

    assert await service.deliver_due() == DeliveryRound()  # sent ones are not sent again; the later one waits
    assert sender.ids == [ada, grace]

    clock.advance(5 * 60)
    assert await service.deliver_due() == DeliveryRound(sent=1)
    assert sender.ids == [ada, grace, later]
    assert row(db, later).status == "sent"


async def test_deliver_due_takes_at_most_limit_messages_oldest_due_first(
    service: NotificationService, db: FakeDatabase, clock: FakeClock, sender: ScriptedSender
):
    start = clock.now()
    db.outbox.extend(message(ntf(n), start - timedelta(seconds=n)) for n in range(1, 6))

    assert await service.deliver_due(limit=2) == DeliveryRound(sent=2)
    assert sender.ids == [ntf(5), ntf(4)]
    assert await service.deliver_due(limit=10) == DeliveryRound(sent=3)
    assert sender.ids == [ntf(5), ntf(4), ntf(3), ntf(2), ntf(1)]


async def test_a_temporary_failure_is_retried_with_backoff(
    service: NotificationService, customers: CustomerService, db: FakeDatabase, clock: FakeClock, sender: ScriptedSender
):
    welcome = await register(customers, db)
    sender.script(TemporaryFailure("the e-mail provider answered 503"), TemporaryFailure("timeout"))

    assert await service.deliver_due() == DeliveryRound(retrying=1)
    first = row(db, welcome)
    assert (first.status, first.attempts, first.last_error, first.sent_at) == (
        "pending",
        1,
        "the e-mail provider answered 503",
        None,
    )
    assert first.next_attempt_at == clock.now() + timedelta(seconds=30)

    clock.advance(29)
    assert await service.deliver_due() == DeliveryRound()  # not due yet
    assert len(sender.sent) == 1

    clock.advance(1)
    assert await service.deliver_due() == DeliveryRound(retrying=1)
    second = row(db, welcome)
    assert (second.status, second.attempts, second.last_error) == ("pending", 2, "timeout")
    assert second.next_attempt_at == clock.now() + timedelta(seconds=60)

    clock.advance(60)
    assert await service.deliver_due() == DeliveryRound(sent=1)
    done = row(db, welcome)
    assert (done.status, done.attempts, done.sent_at, done.last_error) == ("sent", 3, clock.now(), None)
    assert len(sender.sent) == 3


async def test_after_max_attempts_temporary_failures_it_is_parked_as_failed(
    service: NotificationService, customers: CustomerService, db: FakeDatabase, clock: FakeClock, sender: ScriptedSender
):
    welcome = await register(customers, db)
    sender.script(*(TemporaryFailure(f"the e-mail provider answered 50{n}") for n in range(1, 9)))
    delays: list[timedelta] = []

    for attempt in range(1, 5):
        assert await service.deliver_due() == DeliveryRound(retrying=1)
        pending = row(db, welcome)
        assert (pending.status, pending.attempts) == ("pending", attempt)
        delays.append(pending.next_attempt_at - clock.now())
        clock.current = pending.next_attempt_at

    assert delays == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert await service.deliver_due() == DeliveryRound(failed=1)
    parked = row(db, welcome)
    assert (parked.status, parked.attempts, parked.last_error, parked.sent_at) == (
        "failed",
        5,
        "the e-mail provider answered 505",
        None,
    )

    clock.advance(7 * 24 * 3600)
    assert await service.deliver_due() == DeliveryRound()  # failed ones are never picked up again
    assert len(sender.sent) == 5


async def test_max_attempts_is_configurable(db: FakeDatabase, clock: FakeClock, ids: SequentialIds):
    sender = ScriptedSender([TemporaryFailure("busy"), TemporaryFailure("still busy")])
    service = NotificationService(FakeUnitOfWorkFactory(db), clock, ids, sender, max_attempts=2)
    db.outbox.append(message(ntf(1), clock.now()))

    assert await service.deliver_due() == DeliveryRound(retrying=1)
    clock.advance(30)
    assert await service.deliver_due() == DeliveryRound(failed=1)
    assert (row(db, ntf(1)).status, row(db, ntf(1)).attempts, row(db, ntf(1)).last_error) == ("failed", 2, "still busy")


async def test_a_permanent_failure_is_parked_at_once(
    service: NotificationService, customers: CustomerService, db: FakeDatabase, clock: FakeClock, sender: ScriptedSender
):
    bad = await register(customers, db, "Bad Address", "bad@example.com")
    good = await register(customers, db, "Good Address", "good@example.com")
    reason = "the e-mail provider answered 422: Invalid 'To' address"
    sender.script(PermanentFailure(reason))

    assert await service.deliver_due() == DeliveryRound(sent=1, failed=1)

    parked = row(db, bad)
    assert (parked.status, parked.attempts, parked.last_error, parked.sent_at) == ("failed", 1, reason, None)
    assert row(db, good).status == "sent"
    clock.advance(3600)
    assert await service.deliver_due() == DeliveryRound()
    assert sender.ids == [bad, good]


async def test_a_message_left_sending_by_a_crashed_worker_is_claimed_again_after_its_lease(
    db: FakeDatabase, clock: FakeClock, ids: SequentialIds, customers: CustomerService, sender: ScriptedSender
):
    welcome = await register(customers, db)
    crashing = NotificationService(FakeUnitOfWorkFactory(db), clock, ids, CrashingSender())
    with pytest.raises(RuntimeError, match="worker killed"):
        await crashing.deliver_due()
    claimed_at = clock.now()
    stuck = row(db, welcome)
    assert (stuck.status, stuck.attempts, stuck.next_attempt_at) == ("sending", 0, claimed_at + LEASE)
    assert timedelta(minutes=2) == LEASE

    healthy = NotificationService(FakeUnitOfWorkFactory(db), clock, ids, sender)
    assert await healthy.deliver_due() == DeliveryRound()
    clock.advance(119)
    assert await healthy.deliver_due() == DeliveryRound()  # still leased to the crashed worker
    assert sender.sent == []

    clock.advance(1)
    assert await healthy.deliver_due() == DeliveryRound(sent=1)
    assert sender.ids == [welcome]
    done = row(db, welcome)
    assert (done.status, done.attempts, done.sent_at) == ("sent", 1, claimed_at + LEASE)


class SlowSender(ScriptedSender):
    """Each send takes ``seconds`` of (fake) time, as with a slow provider that still answers within the
    HTTP client's timeout; after the ``after``-th send has gone out, ``meanwhile`` delivers what it finds due."""

    def __init__(self, clock: FakeClock, seconds: float, *, after: int, meanwhile: NotificationService) -> None:
        super().__init__()
        self._clock = clock
        self._seconds = seconds
        self._after = after
        self._meanwhile = meanwhile

    async def send(self, email: Email, *, message_id: str) -> SendOutcome:
        outcome = await super().send(email, message_id=message_id)
        self._clock.advance(self._seconds)
        if len(self.sent) == self._after:
            await self._meanwhile.deliver_due()
        return outcome


async def test_a_live_worker_slower_than_its_lease_does_not_share_its_batch(
    db: FakeDatabase, clock: FakeClock, ids: SequentialIds
):
    db.outbox.extend(message(ntf(n), clock.now()) for n in range(1, 21))
    other = ScriptedSender()
    second = NotificationService(FakeUnitOfWorkFactory(db), clock, ids, other)
    # 9 s per message: the 14th send ends 126 s after the claim, past the 2-minute lease
    slow = SlowSender(clock, seconds=9, after=14, meanwhile=second)
    first = NotificationService(FakeUnitOfWorkFactory(db), clock, ids, slow)

    outcome = await first.deliver_due()  # the default batch of 20

    sent = slow.ids + other.ids
    assert sorted({i for i in sent if sent.count(i) > 1}) == []  # nothing sent twice
    assert sorted(sent) == [ntf(n) for n in range(1, 21)]
    assert {(m.status, m.attempts, m.claimed_by) for m in db.outbox} == {("sent", 1, None)}
    # the first kept the 14 it renewed before sending; the second took the 6 whose lease had run out
    assert slow.ids == [ntf(n) for n in range(1, 15)]
    assert other.ids == [ntf(n) for n in range(15, 21)]
    assert outcome == DeliveryRound(sent=14, lost=6)
    assert DeliveryRound(sent=14, lost=6).handled == 14  # the worker loop counts only what this worker did


class WatchingSender(ScriptedSender):
    """Each send takes ``seconds`` of (fake) time; remembers the message's row as the send began."""

    def __init__(self, db: FakeDatabase, clock: FakeClock, seconds: float) -> None:
        super().__init__()
        self._db = db
        self._clock = clock
        self._seconds = seconds
        self.seen: list[tuple[OutboxMessage, datetime]] = []

    async def send(self, email: Email, *, message_id: str) -> SendOutcome:
        self.seen.append((row(self._db, message_id), self._clock.now()))
        self._clock.advance(self._seconds)
        return await super().send(email, message_id=message_id)


async def test_the_lease_is_renewed_right_before_each_send(db: FakeDatabase, clock: FakeClock, ids: SequentialIds):
    """Alone, a worker slower than its lease still sends its whole batch: each message is leased anew as it goes out."""
    db.outbox.extend(message(ntf(n), clock.now()) for n in range(1, 21))
    slow = WatchingSender(db, clock, seconds=9)
    service = NotificationService(FakeUnitOfWorkFactory(db), clock, ids, slow)

    assert await service.deliver_due() == DeliveryRound(sent=20)  # 180 s in all

    assert len(slow.seen) == 20
    claims = {seen.claimed_by for seen, _ in slow.seen}
    assert len(claims) == 1
    assert None not in claims
    for seen, began in slow.seen:
        assert (seen.status, seen.next_attempt_at) == ("sending", began + LEASE)
    assert {(m.status, m.attempts, m.claimed_by) for m in db.outbox} == {("sent", 1, None)}


class OvertakenSender(ScriptedSender):
    """One send that takes longer than the lease (in fake time; SEND_TIMEOUT rules it out in real time):
    meanwhile ``other`` claims the message again and sends it; then this send answers ``outcome``."""

    def __init__(self, clock: FakeClock, other: NotificationService, outcome: SendOutcome) -> None:
        super().__init__([outcome])
        self._clock = clock
        self._other = other
        self.other_round: object = None

    async def send(self, email: Email, *, message_id: str) -> SendOutcome:
        self._clock.current += LEASE + timedelta(seconds=1)
        self.other_round = await self._other.deliver_due()
        return await super().send(email, message_id=message_id)


@pytest.mark.parametrize(
    "late_outcome",
    [TemporaryFailure("the e-mail provider answered 503"), PermanentFailure("answered 422"), Delivered("late")],
)
async def test_a_worker_that_lost_its_claim_does_not_overwrite_the_new_holders_outcome(
    db: FakeDatabase, clock: FakeClock, ids: SequentialIds, late_outcome: SendOutcome
):
    db.outbox.append(message(ntf(1), clock.now()))
    other = ScriptedSender()
    second = NotificationService(FakeUnitOfWorkFactory(db), clock, ids, other)
    late = OvertakenSender(clock, second, late_outcome)
    first = NotificationService(FakeUnitOfWorkFactory(db), clock, ids, late)

    assert await first.deliver_due() == DeliveryRound(lost=1)

    assert late.other_round == DeliveryRound(sent=1)
    done = row(db, ntf(1))
    assert (done.status, done.attempts, done.last_error, done.sent_at, done.claimed_by) == (
        "sent",
        1,
        None,
        clock.now(),
        None,
    )
    clock.advance(24 * 3600)
    assert await second.deliver_due() == DeliveryRound()  # and it is not sent a third time
    assert other.ids == [ntf(1)]


class HangingSender:
    """A send that never answers (a provider trickling its answer byte by byte, a stuck disk)."""

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, email: Email, *, message_id: str) -> SendOutcome:
        self.calls += 1
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


async def test_a_send_that_does_not_finish_is_given_up_as_a_temporary_failure(db: FakeDatabase, clock: FakeClock):
    hanging = HangingSender()
    service = NotificationService(
        FakeUnitOfWorkFactory(db), clock, SequentialIds(), hanging, send_timeout=timedelta(milliseconds=50)
    )
    db.outbox.extend([message(ntf(1), clock.now()), message(ntf(2), clock.now())])

    with anyio.fail_after(30):  # only so that a regression fails instead of hanging the run
        assert await service.deliver_due() == DeliveryRound(retrying=2)

    assert hanging.calls == 2
    for message_id in (ntf(1), ntf(2)):
        waiting = row(db, message_id)
        assert (waiting.status, waiting.attempts, waiting.claimed_by) == ("pending", 1, None)
        assert waiting.last_error == "sending took longer than 0.05 s and was given up"
        assert waiting.next_attempt_at == clock.now() + timedelta(seconds=30)


def test_one_send_fits_comfortably_in_the_lease(db: FakeDatabase, clock: FakeClock, sender: ScriptedSender):
    assert SEND_TIMEOUT * 4 <= LEASE
    assert timedelta(seconds=20) <= SEND_TIMEOUT  # above the HTTP client's timeouts (connect 5 s, read 10 s)
    uow = FakeUnitOfWorkFactory(db)
    for too_long in (LEASE / 2 + timedelta(seconds=1), LEASE, timedelta(0)):
        with pytest.raises(ValueError, match="send_timeout"):
            NotificationService(uow, clock, SequentialIds(), sender, send_timeout=too_long)


async def test_a_failure_reason_is_stored_on_one_line_and_bounded(
    service: NotificationService, db: FakeDatabase, clock: FakeClock, sender: ScriptedSender
):
    db.outbox.extend([message(ntf(1), clock.now()), message(ntf(2), clock.now())])
    sender.script(
        PermanentFailure("the e-mail provider answered 422: " + "very long\n\tline " * 500),
        TemporaryFailure("short\r\nand split"),
    )

    assert await service.deliver_due() == DeliveryRound(retrying=1, failed=1)

    long_reason = row(db, ntf(1)).last_error
    assert long_reason is not None
    assert len(long_reason) == MAX_REASON_LENGTH
    assert long_reason.startswith("the e-mail provider answered 422: very long line very long line")
    assert long_reason.endswith("…")
    assert row(db, ntf(2)).last_error == "short and split"


# --- retry -----------------------------------------------------------------------------------------


async def test_retry_requeues_a_failed_message_with_one_audit_entry(
    service: NotificationService, db: FakeDatabase, clock: FakeClock, sender: ScriptedSender
):
    failed_at = clock.now()
    db.outbox.append(message(ntf(1), failed_at, status="failed", attempts=5, last_error="answered 503"))
    clock.advance(3600)

    result = await service.retry(ntf(1), actor="claude-ai")

    assert isinstance(result, Success)
    queued = row(db, ntf(1))
    assert result.value == queued
    assert (queued.status, queued.attempts, queued.next_attempt_at) == ("pending", 0, clock.now())
    assert [(e.action, e.entity_type, e.entity_id, e.actor, e.occurred_at) for e in db.audit] == [
        ("notification.requeued", "notification", ntf(1), "claude-ai", clock.now())
    ]
    assert db.audit[0].before == {"status": "failed", "attempts": 5, "last_error": "answered 503"}
    assert db.audit[0].after == {"status": "pending", "attempts": 0}

    assert await service.deliver_due() == DeliveryRound(sent=1)
    assert sender.ids == [ntf(1)]
    assert (row(db, ntf(1)).status, row(db, ntf(1)).attempts) == ("sent", 1)


async def test_a_requeued_message_gets_a_fresh_set_of_attempts(
    service: NotificationService, db: FakeDatabase, clock: FakeClock, sender: ScriptedSender
):
    db.outbox.append(message(ntf(1), clock.now(), status="failed", attempts=5, last_error="answered 503"))
    assert isinstance(await service.retry(ntf(1), actor="t"), Success)
    sender.script(TemporaryFailure("answered 503"))

    assert await service.deliver_due() == DeliveryRound(retrying=1)  # attempt 1 of 5, not 6 of 5
    assert (row(db, ntf(1)).status, row(db, ntf(1)).attempts) == ("pending", 1)


async def test_retry_accepts_the_id_in_any_letter_case(
    service: NotificationService, db: FakeDatabase, clock: FakeClock
):
    db.outbox.append(message(ntf(1), clock.now(), status="failed", attempts=1))
    result = await service.retry(" " + ntf(1).upper() + " ", actor="t")
    assert isinstance(result, Success)
    assert result.value.id == ntf(1)


@pytest.mark.parametrize("status", ["pending", "sending", "sent"])
async def test_retry_refuses_messages_that_have_not_failed(
    service: NotificationService, db: FakeDatabase, clock: FakeClock, status: NotificationStatus
):
    db.outbox.append(message(ntf(1), clock.now(), status=status, attempts=1))
    before = list(db.outbox)
    commits = db.commits

    result = await service.retry(ntf(1), actor="t")

    assert isinstance(result, Rejected)
    assert result.field == "notification_id"
    assert f"is {status}" in result.message
    assert (db.outbox, db.audit, db.commits) == (before, [], commits)


async def test_retry_unknown_and_malformed_ids(service: NotificationService, db: FakeDatabase):
    unknown = await service.retry(ntf(404), actor="t")
    assert unknown == NotFound("notification", f"id {ntf(404)}")

    for malformed in ("cus_" + "1" * 26, "ntf_short", "", "ntf_" + "U" * 26):
        result = await service.retry(malformed, actor="t")
        assert isinstance(result, Rejected), malformed
        assert result.field == "notification_id"
        assert "is not a notification id" in result.message
    assert db.audit == []


# --- list ------------------------------------------------------------------------------------------


async def test_list_pages_with_a_cursor_and_filters_by_status(service: NotificationService, db: FakeDatabase):
    at = FakeClock().now()
    statuses: list[NotificationStatus] = ["sent", "failed", "pending", "failed", "sent", "failed", "failed"]
    db.outbox.extend(message(ntf(n), at, status=s) for n, s in enumerate(statuses, start=1))

    everything: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        result = await service.list(NotificationQuery(limit=3, cursor=cursor))
        assert isinstance(result, Success)
        page: Page[OutboxMessage] = result.value
        everything += [m.id for m in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert everything == [ntf(n) for n in range(1, 8)]
    assert pages == 3

    first = await service.list(NotificationQuery(status="failed", limit=2))
    assert isinstance(first, Success)
    assert [m.id for m in first.value.items] == [ntf(2), ntf(4)]
    assert first.value.next_cursor is not None
    second = await service.list(NotificationQuery(status="failed", limit=2, cursor=first.value.next_cursor))
    assert isinstance(second, Success)
    assert [m.id for m in second.value.items] == [ntf(6), ntf(7)]
    assert second.value.next_cursor is None

    other_filter = await service.list(NotificationQuery(status="sent", limit=2, cursor=first.value.next_cursor))
    assert isinstance(other_filter, Rejected)
    assert other_filter.field == "cursor"
    garbage = await service.list(NotificationQuery(cursor="not-a-cursor"))
    assert isinstance(garbage, Rejected)
    assert garbage.field == "cursor"


async def test_list_of_an_empty_outbox(service: NotificationService):
    result = await service.list(NotificationQuery(status="failed"))
    assert isinstance(result, Success)
    assert (result.value.items, result.value.next_cursor) == ([], None)
