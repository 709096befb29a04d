"""E-mail delivery end to end: a real database on each engine (a SQLite file, a PostgreSQL database),
the real Postmark-shaped client over a real httpx.AsyncClient, and a stand-in provider on 127.0.0.1
that records every request and answers from a script. Nothing in httpx is mocked."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mcp_server.adapters.database import create_engine, ensure_schema, unit_of_work_factory
from mcp_server.adapters.service_factories import Backend, MailOptions
from mcp_server.clients.email_provider import PostmarkEmailSender
from mcp_server.handlers.consumers.outbox_worker import run_outbox_worker
from mcp_server.handlers.mcp.context import ServiceRegistry
from mcp_server.models.customers import CustomerCreate
from mcp_server.models.outbox import Email, SendOutcome
from mcp_server.services.customers import CustomerService
from mcp_server.services.notifications import LEASE, DeliveryRound, NotificationService
from mcp_server.services.ports import EmailSender
from mcp_server.services.results import Success
from mcp_server.utils.ids import IdGenerator
from mcp_server.utils.time import SystemClock
from tests.e2e.support import as_list, as_object, open_shop
from tests.engines import ShopDatabase
from tests.fakes import FakeClock
from tests.http_standin import serving

pytestmark = pytest.mark.anyio

TOKEN = "test-token-5f3a9c1e"
SHORT_READ = httpx.Timeout(10.0, read=0.25)  # the client gives up reading quickly; connecting and sending may take long
SENDER = "shop@example.com"
_TOKEN_HEADER = "x-postmark-server-token"
WORKER_A, WORKER_B = "token-of-worker-a", "token-of-worker-b"  # which worker sent a request


# --- the stand-in provider ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: dict[str, Any] | None = None  # None on a 200: {"MessageID": <a fresh one>, "ErrorCode": 0}; see _handler
    held: bool = False  # answered only once the test calls release() (or the test is over)


OK = Answer()
SERVER_ERROR = Answer(500, {"ErrorCode": 500, "Message": "Internal server error"})
TOO_MANY = Answer(429, {"ErrorCode": 429, "Message": "Rate limit exceeded"})
BAD_ADDRESS = Answer(422, {"ErrorCode": 300, "Message": "Invalid 'To' address"})
HELD = Answer(held=True)
HANG_S = 30.0  # only a hang takes this long


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]

    @property
    def shopkeeper_id(self) -> str:
        return str(self.body["Metadata"]["shopkeeper_id"])


@dataclass
class StandInProvider:
    """Answers POSTs from ``script`` in order (then 200s); remembers every request it received."""

    script: list[Answer] = field(default_factory=lambda: list[Answer]())
    requests: list[Request] = field(default_factory=lambda: list[Request]())
    delay_each: float = 0.0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closing: threading.Event = field(default_factory=threading.Event)
    _released: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    """Set once a held answer's request has arrived."""
    _issued: int = 0

    def answer_for(self, request: Request) -> tuple[Answer, str]:
        with self._lock:
            self.requests.append(request)
            answer = self.script.pop(0) if self.script else OK
            self._issued += 1
            return answer, f"pm-{self._issued:05d}"

    def wait(self, seconds: float) -> None:
        """Sleep that ends early when the test is over, so no thread outlives it for long."""
        self._closing.wait(seconds)

    def hold(self) -> None:
        """Keep this request's answer until ``release()``."""
        self.holding.set()
        self._released.wait()

    def release(self) -> None:
        self._released.set()

    def stop(self) -> None:
        self._closing.set()
        self._released.set()


def _handler(provider: StandInProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            body: dict[str, Any] = json.loads(raw) if raw else {}
            headers = {name.lower(): value for name, value in self.headers.items()}
            answer, message_id = provider.answer_for(Request("POST", self.path, headers, body))
            if answer.held:
                provider.hold()
            elif provider.delay_each:
                provider.wait(provider.delay_each)
            payload = answer.body if answer.body is not None else {"MessageID": message_id, "ErrorCode": 0}
            text = payload.get("Message")
            if isinstance(text, str):  # "{token}" in it echoes the token this request carried
                payload = {**payload, "Message": text.replace("{token}", headers.get(_TOKEN_HEADER, ""))}
            data = json.dumps(payload).encode()
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up waiting (the timeout test)
                pass

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


@pytest.fixture
def provider() -> Iterator[StandInProvider]:
    stand_in = StandInProvider()
    with serving(_handler(stand_in)) as url:
        stand_in.url = url
        yield stand_in
        stand_in.stop()


# --- service stacks on a real database ---------------------------------------------------------------


@dataclass
class Stack:
    engine: AsyncEngine
    customers: CustomerService
    notifications: NotificationService


@asynccontextmanager
async def stack(
    url: str,
    provider: StandInProvider,
    clock: FakeClock | SystemClock,
    *,
    token: str = TOKEN,
    http_timeout: httpx.Timeout | float = 5.0,
    max_attempts: int = 5,
    api_base: str | None = None,
    wrap: Callable[[EmailSender], EmailSender] | None = None,
) -> AsyncGenerator[Stack]:
    """One process's worth of services: its own engine, HTTP client and sender (``wrap`` may put the
    real sender inside a test double of the service's port)."""
    engine = create_engine(url)
    await ensure_schema(engine)
    uow = unit_of_work_factory(engine)
    ids = IdGenerator()
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(http_timeout), follow_redirects=False) as http:
            client = PostmarkEmailSender(http, base_url=api_base or provider.url, token=token, sender=SENDER)
            sender = wrap(client) if wrap else client
            yield Stack(
                engine,
                CustomerService(uow, clock, ids),
                NotificationService(uow, clock, ids, sender, max_attempts=max_attempts),
            )
    finally:
        await engine.dispose()


async def register(customers: CustomerService, name: str, email: str) -> str:
    result = await customers.register(CustomerCreate(name=name, email=email), actor="test")
    assert isinstance(result, Success)
    return result.value.id


@dataclass(frozen=True)
class Row:
    id: str
    kind: str
    recipient: str
    subject_id: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: object  # as the engine stores it: text on SQLite, a datetime on PostgreSQL
    sent_at: object | None


def outbox(db: ShopDatabase) -> list[Row]:
    """The outbox straight from the database, in id order."""
    columns = "id, kind, recipient, subject_id, status, attempts, last_error, next_attempt_at, sent_at"
    return [Row(*r) for r in db.query(f"SELECT {columns} FROM outbox ORDER BY id")]  # noqa: S608 - constant


def only_row(db: ShopDatabase) -> Row:
    (row,) = outbox(db)
    return row


def start_of_test() -> FakeClock:
    return FakeClock(datetime.now(UTC))


# --- delivery ----------------------------------------------------------------------------------------


async def test_a_welcome_email_goes_out_through_the_provider(
    provider: StandInProvider, database_url: str, shop_db: ShopDatabase, tmp_path: Path
):
    mail = MailOptions(directory=tmp_path / "mail", sender=SENDER, api_base=provider.url + "/", token=TOKEN)
    backend = await Backend.start(database_url, mail=mail)
    try:
        customer = await register(backend.services.customers, "Ada Lovelace", "ada@example.com")
        outcome = await backend.services.notifications.deliver_due()
    finally:
        await backend.close()

    assert outcome == DeliveryRound(sent=1)
    assert len(provider.requests) == 1
    request = provider.requests[0]
    row = only_row(shop_db)
    assert (request.method, request.path) == ("POST", "/email")
    assert request.headers["x-postmark-server-token"] == TOKEN
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.body["From"] == SENDER
    assert request.body["To"] == "ada@example.com"
    assert request.body["Subject"] == "Welcome to the shop"
    assert request.body["TextBody"].startswith("Hello Ada Lovelace,\n\nthank you for registering with the shop.")
    assert request.body["MessageStream"] == "outbound"
    assert request.body["Metadata"] == {"shopkeeper_id": row.id}
    assert (row.kind, row.subject_id, row.recipient) == ("welcome", customer, "ada@example.com")
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert row.sent_at is not None
    assert not (tmp_path / "mail").exists()  # a provider is configured: no files


async def test_a_5xx_is_retried_after_the_backoff_and_then_delivered(
    provider: StandInProvider, database_url: str, shop_db: ShopDatabase
):
    clock = start_of_test()
    provider.script = [SERVER_ERROR, OK]
    async with stack(database_url, provider, clock) as shop:
        await register(shop.customers, "Ada Lovelace", "ada@example.com")

        assert await shop.notifications.deliver_due() == DeliveryRound(retrying=1)
        waiting = only_row(shop_db)
        assert (waiting.status, waiting.attempts) == ("pending", 1)
        assert waiting.last_error == "the e-mail provider answered 500: Internal server error"

        clock.advance(29)
        assert await shop.notifications.deliver_due() == DeliveryRound()  # backoff: not before 30 s
        assert len(provider.requests) == 1

        clock.advance(1)
        assert await shop.notifications.deliver_due() == DeliveryRound(sent=1)

    done = only_row(shop_db)
    assert (done.status, done.attempts, done.last_error) == ("sent", 2, None)
    assert len(provider.requests) == 2
    assert [r.shopkeeper_id for r in provider.requests] == [done.id, done.id]


async def test_after_max_attempts_server_errors_the_message_is_parked(
    provider: StandInProvider, database_url: str, shop_db: ShopDatabase
):
    clock = start_of_test()
    provider.script = [SERVER_ERROR, SERVER_ERROR, SERVER_ERROR, OK]
    async with stack(database_url, provider, clock, max_attempts=3) as shop:
        await register(shop.customers, "Ada Lovelace", "ada@example.com")
        rounds: list[object] = []
        for _ in range(3):
            rounds.append(await shop.notifications.deliver_due())
            clock.advance(3600)
        assert rounds == [DeliveryRound(retrying=1), DeliveryRound(retrying=1), DeliveryRound(failed=1)]

        clock.advance(24 * 3600)
        assert await shop.notifications.deliver_due() == DeliveryRound()

    parked = only_row(shop_db)
    assert (parked.status, parked.attempts, parked.sent_at) == ("failed", 3, None)
    assert parked.last_error == "the e-mail provider answered 500: Internal server error"
    assert len(provider.requests) == 3  # no fourth try


async def test_a_422_is_parked_at_once(provider: StandInProvider, database_url: str, shop_db: ShopDatabase):
    clock = start_of_test()
    provider.script = [BAD_ADDRESS]
    async with stack(database_url, provider, clock) as shop:
        await register(shop.customers, "Ada Lovelace", "ada@example.com")
        assert await shop.notifications.deliver_due() == DeliveryRound(failed=1)
        clock.advance(24 * 3600)
        assert await shop.notifications.deliver_due() == DeliveryRound()

    parked = only_row(shop_db)
    assert (parked.status, parked.attempts, parked.sent_at) == ("failed", 1, None)
    assert parked.last_error == "the e-mail provider answered 422: Invalid 'To' address"
    assert len(provider.requests) == 1


async def test_429_and_an_unreachable_provider_are_temporary(
    provider: StandInProvider, database_url: str, shop_db: ShopDatabase, unreachable_url: str
):
    clock = start_of_test()
    provider.script = [TOO_MANY]
    async with stack(database_url, provider, clock) as shop:
        await register(shop.customers, "Ada Lovelace", "ada@example.com")
        assert await shop.notifications.deliver_due() == DeliveryRound(retrying=1)
    limited = only_row(shop_db)
    assert (limited.status, limited.attempts) == ("pending", 1)
    assert limited.last_error == "the e-mail provider answered 429: Rate limit exceeded"

    clock.advance(30)
    async with stack(database_url, provider, clock, api_base=unreachable_url) as shop:
        assert await shop.notifications.deliver_due() == DeliveryRound(retrying=1)
    unreachable = only_row(shop_db)
    assert (unreachable.status, unreachable.attempts) == ("pending", 2)
    assert unreachable.last_error == "could not reach the e-mail provider (ConnectError)"
    assert len(provider.requests) == 1


async def test_a_provider_slower_than_the_timeout_is_a_temporary_failure(
    provider: StandInProvider, database_url: str, shop_db: ShopDatabase
):
    """The provider holds its answer until the test releases it, after the round is over: the round
    can only end by the HTTP client giving up (its read timeout), never by the answer arriving."""
    clock = start_of_test()
    provider.script = [HELD]
    async with stack(database_url, provider, clock, http_timeout=SHORT_READ) as shop:
        await register(shop.customers, "Ada Lovelace", "ada@example.com")
        outcome = await shop.notifications.deliver_due()
        assert await anyio.to_thread.run_sync(provider.holding.wait, HANG_S), "the request never reached the provider"
        provider.release()

    assert outcome == DeliveryRound(retrying=1)
    slow = only_row(shop_db)
    assert (slow.status, slow.attempts, slow.sent_at) == ("pending", 1, None)
    assert slow.last_error == "the e-mail provider did not answer in time"
    assert len(provider.requests) == 1


# --- two workers ---------------------------------------------------------------------------------------


async def test_two_workers_on_one_database_never_send_a_message_twice(
    provider: StandInProvider, database_url: str, shop_db: ShopDatabase
):
    provider.delay_each = 0.005  # sends take a little while, so the workers' rounds overlap
    clock = SystemClock()
    async with stack(database_url, provider, clock) as first:
        for n in range(30):
            await register(first.customers, f"Customer {n}", f"c{n}@example.com")
    queued = {row.id for row in outbox(shop_db)}
    assert len(queued) == 30

    rounds: dict[str, list[DeliveryRound]] = {"worker-a": [], "worker-b": []}

    async def work(token: str) -> None:
        async with stack(database_url, provider, clock, token=token) as worker:
            while True:
                # one message per round: the most claims, so the most chances for two to overlap
                outcome = await worker.notifications.deliver_due(limit=1)
                if not isinstance(outcome, DeliveryRound):  # Unavailable: the other one held the lock too long
                    await anyio.sleep(0.01)
                    continue
                if not outcome.handled:
                    return
                rounds[token].append(outcome)

    with anyio.fail_after(15):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(work, "worker-a")
            tasks.start_soon(work, "worker-b")

    sent_ids = [r.shopkeeper_id for r in provider.requests]
    assert sorted({i for i in sent_ids if sent_ids.count(i) > 1}) == []  # nothing sent twice
    assert sorted(sent_ids) == sorted(queued)  # and everything sent
    rows = outbox(shop_db)
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}
    by_worker = {token: sum(r.sent for r in done) for token, done in rounds.items()}
    assert sum(by_worker.values()) == 30
    assert all(by_worker.values()), by_worker  # both really took part
    tokens = [r.headers["x-postmark-server-token"] for r in provider.requests]
    assert {t: tokens.count(t) for t in set(tokens)} == by_worker


class SlowOnTheClock:
    """The real client inside a double of the service's EmailSender port: each send takes ``seconds`` on
    the shared fake clock, and after the ``after``-th send ``meanwhile`` runs (another worker's round)."""

    def __init__(
        self,
        inner: EmailSender,
        clock: FakeClock,
        *,
        seconds: float,
        after: int,
        meanwhile: Callable[[], Awaitable[object]],
    ) -> None:
        self._inner = inner
        self._clock = clock
        self._seconds = seconds
        self._after = after
        self._meanwhile = meanwhile
        self.sends = 0
        self.meanwhile_outcome: object = None

    async def send(self, email: Email, *, message_id: str) -> SendOutcome:
        outcome = await self._inner.send(email, message_id=message_id)
        self.sends += 1
        self._clock.advance(self._seconds)
        if self.sends == self._after:
            self.meanwhile_outcome = await self._meanwhile()
        return outcome


def claims_held(db: ShopDatabase) -> list[str | None]:
    return [r[0] for r in db.query("SELECT claimed_by FROM outbox ORDER BY id")]


async def test_a_worker_slower_than_its_lease_never_sends_what_another_has_claimed_since(
    provider: StandInProvider, database_url: str, shop_db: ShopDatabase
):
    clock = start_of_test()
    slow: list[SlowOnTheClock] = []
    async with stack(database_url, provider, clock, token=WORKER_B) as second:

        def slow_sender(inner: EmailSender) -> EmailSender:
            # 9 s per send: the 14th ends 126 s after the claim, when the lease on the 15th to 20th has run out
            slow.append(SlowOnTheClock(inner, clock, seconds=9, after=14, meanwhile=second.notifications.deliver_due))
            return slow[0]

        async with stack(database_url, provider, clock, token=WORKER_A, wrap=slow_sender) as first:
            for n in range(20):
                await register(first.customers, f"Customer {n}", f"c{n}@example.com")
            outcome = await first.notifications.deliver_due()  # the default batch of 20

    rows = outbox(shop_db)
    sent_ids = [r.shopkeeper_id for r in provider.requests]
    assert sorted({i for i in sent_ids if sent_ids.count(i) > 1}) == []  # nothing sent twice
    assert sorted(sent_ids) == [r.id for r in rows]  # and everything sent
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}
    assert claims_held(shop_db) == [None] * 20
    tokens = [r.headers["x-postmark-server-token"] for r in provider.requests]
    assert tokens == [WORKER_A] * 14 + [WORKER_B] * 6
    assert [r.shopkeeper_id for r in provider.requests] == [r.id for r in rows]
    assert outcome == DeliveryRound(sent=14, lost=6)
    assert slow[0].meanwhile_outcome == DeliveryRound(sent=6)


async def test_a_worker_that_lost_its_claim_mid_send_leaves_the_other_workers_outcome_alone(
    provider: StandInProvider, database_url: str, shop_db: ShopDatabase
):
    """A send longer than the lease, played out on a fake clock (in real time SEND_TIMEOUT gives such a
    send up well inside the lease): the late worker's 500 must not overwrite the other's delivery."""
    clock = start_of_test()
    provider.script = [SERVER_ERROR, OK]
    late: list[SlowOnTheClock] = []
    async with stack(database_url, provider, clock, token=WORKER_B) as second:

        def overtaken(inner: EmailSender) -> EmailSender:
            seconds = (LEASE + timedelta(seconds=1)).total_seconds()
            late.append(
                SlowOnTheClock(inner, clock, seconds=seconds, after=1, meanwhile=second.notifications.deliver_due)
            )
            return late[0]

        async with stack(database_url, provider, clock, token=WORKER_A, wrap=overtaken) as first:
            await register(first.customers, "Ada Lovelace", "ada@example.com")
            assert await first.notifications.deliver_due() == DeliveryRound(lost=1)
            assert late[0].meanwhile_outcome == DeliveryRound(sent=1)

            clock.advance(24 * 3600)
            assert await first.notifications.deliver_due() == DeliveryRound()
            assert await second.notifications.deliver_due() == DeliveryRound()

    done = only_row(shop_db)
    assert (done.status, done.attempts, done.last_error) == ("sent", 1, None)
    assert done.sent_at is not None
    assert claims_held(shop_db) == [None]
    assert [r.headers["x-postmark-server-token"] for r in provider.requests] == [WORKER_A, WORKER_B]


# --- secrets -------------------------------------------------------------------------------------------


async def test_the_token_never_reaches_the_outbox_after_failures(
    provider: StandInProvider, database_url: str, shop_db: ShopDatabase
):
    clock = start_of_test()
    provider.script = [
        SERVER_ERROR,
        TOO_MANY,
        BAD_ADDRESS,
        Answer(401, {"ErrorCode": 10, "Message": "Request does not contain a valid Server token."}),
        HELD,  # until the test is over: the client's read timeout ends that send
    ]
    async with stack(database_url, provider, clock, http_timeout=SHORT_READ, max_attempts=2) as shop:
        for n in range(5):
            await register(shop.customers, f"Customer {n}", f"c{n}@example.com")
        # one at a time, so each message meets the scripted answer in order
        assert [await shop.notifications.deliver_due(limit=1) for _ in range(5)] == [
            DeliveryRound(retrying=1),
            DeliveryRound(retrying=1),
            DeliveryRound(failed=1),
            DeliveryRound(failed=1),
            DeliveryRound(retrying=1),
        ]

    rows = outbox(shop_db)
    assert [r.last_error is not None for r in rows] == [True] * 5
    assert len(provider.requests) == 5
    assert all(r.headers["x-postmark-server-token"] == TOKEN for r in provider.requests)
    for row in rows:
        assert TOKEN not in repr(row)
    assert TOKEN not in repr(shop_db.tables())


async def test_a_provider_echoing_the_token_gets_it_neither_stored_nor_listed_nor_logged(
    provider: StandInProvider,
    database_url: str,
    shop_db: ShopDatabase,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG)
    provider.script = [
        Answer(401, {"ErrorCode": 10, "Message": "The Server token '{token}' is not valid."}),
        Answer(500, {"ErrorCode": 500, "Message": "Internal error while handling a request with {token}"}),
        Answer(422, {"ErrorCode": 300, "Message": "x" * 190 + "{token}"}),  # the token straddles the cut at 200
    ]
    mail = MailOptions(directory=tmp_path / "mail", sender=SENDER, api_base=provider.url, token=TOKEN)
    backend = await Backend.start(database_url, mail=mail)
    try:
        for n in range(3):
            await register(backend.services.customers, f"Customer {n}", f"c{n}@example.com")

        async def services() -> ServiceRegistry:
            return backend.services

        await run_outbox_worker(services, stop_when_idle=True)  # the consumer door, with its logging
    finally:
        await backend.close()

    assert [r.headers["x-postmark-server-token"] for r in provider.requests] == [TOKEN] * 3  # it was echoed
    assert [(r.status, r.last_error) for r in outbox(shop_db)] == [
        ("failed", "the e-mail provider answered 401: The Server token '[server token]' is not valid."),
        ("pending", "the e-mail provider answered 500: Internal error while handling a request with [server token]"),
        ("failed", "the e-mail provider answered 422: " + "x" * 190 + "[server to"),
    ]
    assert TOKEN not in repr(shop_db.tables())
    assert "e-mails: 0 sent, 1 to retry, 2 failed" in caplog.text  # the worker's log was captured
    assert TOKEN not in caplog.text

    async with open_shop(shop_db, "legacy") as shop:
        listed = await shop.ok("notifications_list", {})
    assert "`the e-mail provider answered 401: The Server token '[server token]' is not valid.`" in listed.text
    reasons = [as_object(n)["last_error"] for n in as_list(listed.data["notifications"])]
    assert reasons == [r.last_error for r in outbox(shop_db)]
    assert TOKEN not in listed.text
    assert TOKEN not in json.dumps(listed.data)
    assert TOKEN not in caplog.text


# --- no provider: files ---------------------------------------------------------------------------------


async def test_without_a_token_each_email_becomes_an_eml_file(database_url: str, shop_db: ShopDatabase, tmp_path: Path):
    directory = tmp_path / "outgoing"
    backend = await Backend.start(database_url, mail=MailOptions(directory=directory, sender=SENDER))
    try:
        await register(backend.services.customers, "Ada Lovelace", "ada@example.com")
        outcome = await backend.services.notifications.deliver_due()
    finally:
        await backend.close()

    assert outcome == DeliveryRound(sent=1)
    row = only_row(shop_db)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert sorted(p.name for p in directory.iterdir()) == [f"{row.id}.eml"]  # no partial file left behind
    text = (directory / f"{row.id}.eml").read_text(encoding="utf-8")
    headers, _, body = text.partition("\n\n")
    assert headers.splitlines() == [
        f"From: {SENDER}",
        "To: ada@example.com",
        "Subject: Welcome to the shop",
        f"X-Shopkeeper-Id: {row.id}",
    ]
    assert body.startswith("Hello Ada Lovelace,\n")


@pytest.mark.parametrize("db_engine", ["sqlite"])  # "beside" a file; a database server has no folder to put them by
async def test_without_mail_options_the_files_go_beside_the_database(
    database_url: str, shop_db: ShopDatabase, tmp_path: Path
):
    backend = await Backend.start(database_url)
    try:
        await register(backend.services.customers, "Ada Lovelace", "ada@example.com")
        assert await backend.services.notifications.deliver_due() == DeliveryRound(sent=1)
    finally:
        await backend.close()

    row = only_row(shop_db)
    assert row.status == "sent"
    assert "To: ada@example.com\n" in (tmp_path / "mail" / f"{row.id}.eml").read_text(encoding="utf-8")
