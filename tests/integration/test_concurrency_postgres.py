"""Concurrency on PostgreSQL, where writers really run at once (SQLite lets one write at a time):
the last units of stock, the e-mail outbox, a pending card row, idempotency keys, unique e-mail
addresses and orders locking the same products in opposite orders.

Each race is between separate engines (separate pools, separate connections): real server processes
over stdio, racer processes (``pg_racer.py``), or two Backends in this process. Every call's answer
is kept, exceptions included, so a failure says what each caller was told.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import CallToolResult
from sqlalchemy import text

from mcp_server.adapters.service_factories import Backend, CardOptions, MailOptions
from mcp_server.models.catalog import ProductCreate
from mcp_server.models.customers import CustomerCreate
from mcp_server.models.orders import OrderCreate, OrderLineRequest
from mcp_server.models.payments import PaymentCreate
from mcp_server.services.cards import BUSY as CARD_BUSY
from mcp_server.services.payments import CardNotCharged
from mcp_server.services.results import Conflict, Success
from tests.e2e.support import as_object, assert_no_internals, text_of
from tests.http_standin import serving
from tests.integration.stripe_standin import SECRET, FaultProxy, LocalStripe
from tests.postgres import PostgresServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ACTOR = "test"
ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


async def start(url: str, tmp_path: Path, cards: CardOptions | None = None) -> Backend:
    """The services on ``url`` in this process, with an engine of their own (migrating an empty database)."""
    return await Backend.start(url, mail=MailOptions(directory=tmp_path / "mail"), cards=cards)


@asynccontextmanager
async def backends(url: str, tmp_path: Path, count: int = 2) -> AsyncGenerator[list[Backend]]:
    """``count`` Backends on one database: as many engines and pools as server processes would have."""
    started: list[Backend] = []
    try:
        for _ in range(count):
            started.append(await start(url, tmp_path))
        yield started
    finally:
        for backend in started:
            await backend.close()


async def scalar(backend: Backend, sql: str) -> Any:
    async with backend.engine.connect() as connection:
        return (await connection.execute(text(sql))).scalar_one()


async def customer(backend: Backend, email: str = "ada@example.com") -> str:
    made = await backend.services.customers.register(CustomerCreate(name="Ada", email=email), actor=ACTOR)
    assert isinstance(made, Success), made
    return made.value.id


async def product(backend: Backend, sku: str, stock: int, price: int = 1250) -> str:
    request = ProductCreate(sku=sku, name=sku.title(), price_minor=price, currency="EUR", stock=stock)
    made = await backend.services.catalog.create_product(request, actor=ACTOR)
    assert isinstance(made, Success), made
    return made.value.id


async def at_once(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T | BaseException]:
    """Run every call at the same moment; what each answered, or what it raised, in call order."""
    results: list[T | BaseException | None] = [None] * len(calls)
    go = anyio.Event()

    async def one(n: int) -> None:
        await go.wait()
        try:
            results[n] = await calls[n]()
        except Exception as exc:  # kept, so the assertion shows every caller's fate
            results[n] = exc

    async with anyio.create_task_group() as tasks:
        for n in range(len(calls)):
            tasks.start_soon(one, n)
        await anyio.lowlevel.checkpoint()  # every task is waiting at the start line
        go.set()
    return [r for r in results if r is not None]


# --- 1. the last ten units, four server processes -------------------------------------------------------

SERVERS = 4
BUYERS = 50
LAST_UNITS = 10


def server_env(url: str, tmp_path: Path) -> dict[str, str]:
    inherited = {key: os.environ[key] for key in ("PATH", "HOME", "PYTHONPATH") if key in os.environ}
    return inherited | {
        "SHOPKEEPER_DATABASE_URL": url,
        "SHOPKEEPER_WORKER": "off",
        "SHOPKEEPER_MAIL_DIR": str(tmp_path / "mail"),
    }


@asynccontextmanager
async def servers(url: str, tmp_path: Path, count: int) -> AsyncGenerator[list[Client]]:
    """``count`` real ``shopkeeper-mcp`` processes on ``url``, connected over stdio, each ready to work
    (started together: each takes a second or two to start)."""
    command = str(Path(sys.executable).with_name("shopkeeper-mcp"))
    clients: list[Client] = []
    all_ready, finished = anyio.Event(), anyio.Event()

    async def serve(n: int) -> None:
        params = StdioServerParameters(command=command, env=server_env(url, tmp_path), cwd=tmp_path)
        with (tmp_path / f"server-{n}.log").open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                await client.call_tool("customers_list", {"limit": 1})  # waits for the server's start-up
                clients.append(client)
                if len(clients) == count:
                    all_ready.set()
                await finished.wait()

    async with anyio.create_task_group() as tasks:
        for n in range(count):
            tasks.start_soon(serve, n)
        with anyio.fail_after(60):
            await all_ready.wait()
        try:
            yield clients
        finally:
            finished.set()


def kind_of_answer(result: CallToolResult | BaseException) -> str:
    if isinstance(result, BaseException):
        return f"raised {result!r}"
    said = text_of(result)
    if not result.is_error:
        return "placed"
    assert_no_internals(said)
    if "insufficient stock" in said:
        return "out of stock"
    if "busy" in said:
        return "busy"
    return f"other: {said}"


async def test_fifty_buyers_on_four_servers_buy_exactly_the_last_ten_units(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.create_database("last_units")
    async with backends(url, tmp_path, count=1) as (shop,):
        buyer = await customer(shop)
        product_id = await product(shop, "LAST-10", stock=LAST_UNITS)
    order = {"customer_id": buyer, "lines": [{"sku": "LAST-10", "quantity": 1}]}

    async with servers(url, tmp_path, SERVERS) as clients:
        answers = await at_once(
            [lambda n=n: clients[n % SERVERS].call_tool("orders_place", order) for n in range(BUYERS)]
        )

    kinds = Counter(kind_of_answer(a) for a in answers)
    print(f"\n50 buyers on {SERVERS} servers: {dict(kinds)}")  # noqa: T201 - kept in the test's output
    placed = [
        str(as_object(as_object(a.structured_content).get("order"))["id"])
        for a in answers
        if isinstance(a, CallToolResult) and not a.is_error
    ]
    assert kinds["placed"] == LAST_UNITS, kinds
    assert kinds["out of stock"] + kinds["busy"] == BUYERS - LAST_UNITS, kinds  # nothing else, no crash
    async with backends(url, tmp_path, count=1) as (shop,):
        stocked = await shop.services.catalog.get(product_id=product_id, sku=None)
        assert isinstance(stocked, Success)
        assert stocked.value.stock == 0
        assert await scalar(shop, "SELECT count(*) FROM orders") == LAST_UNITS
        assert await scalar(shop, "SELECT sum(quantity) FROM order_lines") == LAST_UNITS
        stored = await scalar(shop, "SELECT string_agg(id, ' ' ORDER BY id) FROM orders")
        assert sorted(placed) == stored.split()
        audited = "SELECT count(*) FROM audit_log WHERE action = 'order.placed'"
        assert await scalar(shop, audited) == LAST_UNITS
    for n in range(SERVERS):
        assert "Traceback" not in (tmp_path / f"server-{n}.log").read_text()


# --- racer processes ------------------------------------------------------------------------------------


async def race(commands: Sequence[Sequence[str]], logs: Path) -> list[Any]:
    """Start one racer process per command, wait until each is ready, start them together; each one's report."""
    with ExitStack() as files, anyio.fail_after(60):
        processes: list[Process] = []
        outputs: list[BufferedByteReceiveStream] = []
        names = [logs / f"racer-{n}.log" for n in range(len(commands))]

        async def line(n: int) -> str:
            try:
                return (await outputs[n].receive_until(b"\n", 1 << 20)).decode()
            except (anyio.IncompleteRead, anyio.EndOfStream):
                pytest.fail(f"racer {n} stopped early:\n{names[n].read_text()}")

        try:
            for command, log in zip(commands, names, strict=True):
                argv = [sys.executable, "-m", "tests.integration.pg_racer", *command]
                process = await anyio.open_process(argv, cwd=ROOT, stderr=files.enter_context(log.open("w")))
                assert process.stdout is not None
                processes.append(process)
                outputs.append(BufferedByteReceiveStream(process.stdout))
            for n in range(len(processes)):
                assert await line(n) == "ready"
            for process in processes:
                assert process.stdin is not None
                await process.stdin.send(b"go\n")
            reports = [json.loads(await line(n)) for n in range(len(processes))]
            for process in processes:
                assert await process.wait() == 0
        finally:
            for process in processes:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
    return reports


# --- 2. two e-mail workers ---------------------------------------------------------------------------------

MESSAGES = 40
TOKENS = ("token-of-worker-a", "token-of-worker-b")


@dataclass
class MailStandIn:
    """A Postmark-shaped e-mail API: answers every POST with 200 after ``delay_s``, remembering each."""

    delay_s: float = 0.005
    sent: list[tuple[str, str]] = field(default_factory=lambda: list[tuple[str, str]]())  # (message id, token)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                with stand_in._lock:
                    stand_in.sent.append(
                        (str(body["Metadata"]["shopkeeper_id"]), self.headers.get("X-Postmark-Server-Token", ""))
                    )
                    number = len(stand_in.sent)
                threading.Event().wait(stand_in.delay_s)  # sends take a while, so the workers' rounds overlap
                data = json.dumps({"MessageID": f"pm-{number:05d}", "ErrorCode": 0}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler


@pytest.fixture
def mail_api() -> Iterator[MailStandIn]:
    stand_in = MailStandIn()
    with serving(stand_in.handler()) as url:
        stand_in.url = url
        yield stand_in


async def test_two_worker_processes_send_every_email_exactly_once(
    postgres: PostgresServer, tmp_path: Path, mail_api: MailStandIn
) -> None:
    url = postgres.create_database("two_workers")
    async with backends(url, tmp_path, count=1) as (shop,):
        for n in range(MESSAGES):  # a welcome e-mail each
            await customer(shop, f"c{n}@example.com")
        queued = (await scalar(shop, "SELECT string_agg(id, ' ') FROM outbox")).split()
    assert len(queued) == MESSAGES

    mail = str(tmp_path / "mail")
    reports: list[dict[str, int]] = await race([["deliver", url, mail, mail_api.url, t] for t in TOKENS], tmp_path)

    print(f"\ntwo workers: {reports}")  # noqa: T201 - kept in the test's output
    sent = Counter(message for message, _ in mail_api.sent)
    assert sorted(m for m, times in sent.items() if times > 1) == [], "sent twice"
    # Finer than the sends: a message claimed by both workers is "lost" by the one whose claim was
    # overwritten (it then sends nothing, or sends it twice if it checked its claim too early).
    assert [r["lost"] for r in reports] == [0, 0], f"claimed by both workers: {reports}"
    assert sorted(sent) == sorted(queued), "every message sent"
    by_token = Counter(token for _, token in mail_api.sent)
    assert [r["sent"] for r in reports] == [by_token[t] for t in TOKENS], reports
    assert all(by_token[t] for t in TOKENS), f"both workers took part: {reports}"
    async with backends(url, tmp_path, count=1) as (shop,):
        rows = "SELECT string_agg(DISTINCT status || ':' || attempts, ' ') FROM outbox"
        assert await scalar(shop, rows) == "sent:1"


# --- 3. two processes settling the same pending card rows ------------------------------------------------

CARD_ORDERS = 4
PRICE = 1250
HOLD_S = 0.3  # every gateway answer waits this long at the proxy, so the processes' requests overlap
FIRST_TRIES = 3  # the gateway client's tries per call (RetryPolicy's default)


def succeeded_charges(localstripe: LocalStripe, order_id: str) -> list[int]:
    """Amounts of the payment intents made for ``order_id`` that took the money."""
    return [
        int(str(intent["amount"]))
        for intent in localstripe.list("payment_intents")
        if isinstance(metadata := intent["metadata"], dict)
        and metadata.get("order_id") == order_id  # pyright: ignore[reportUnknownMemberType]
        and intent["status"] == "succeeded"
    ]


async def test_two_processes_settling_one_pending_card_row_charge_it_once(
    postgres: PostgresServer, tmp_path: Path, localstripe: LocalStripe, proxy: FaultProxy
) -> None:
    url = postgres.create_database("card_settle")
    cards = CardOptions(secret_key=SECRET, api_base=proxy.url)
    shop = await start(url, tmp_path, cards=cards)
    try:
        buyer = await customer(shop)
        await product(shop, "MUG-01", stock=50, price=PRICE)
        orders: list[str] = []
        for _ in range(CARD_ORDERS):
            request = OrderCreate(customer_id=buyer, lines=[OrderLineRequest(sku="MUG-01", quantity=2)])
            placed = await shop.services.orders.place(request, actor=ACTOR)
            assert isinstance(placed, Success), placed
            orders.append(placed.value.order.id)
        proxy.inject(*("503",) * (FIRST_TRIES * CARD_ORDERS))  # nothing reaches the gateway: every row stays pending
        first = await at_once(
            [
                lambda o=o: shop.services.payments.record(
                    PaymentCreate(order_id=o, method="card", payment_method="pm_card_visa"), actor=ACTOR
                )
                for o in orders
            ]
        )
        assert all(isinstance(f, CardNotCharged) and f.pending for f in first), first
        keys = {f"shopkeeper-{f.payment.id}" for f in first if isinstance(f, CardNotCharged)}
        assert proxy.upstream_posts == Counter()
        proxy.heal()
        proxy.seen.clear()
        proxy.hold_s = HOLD_S
        proxy.inject(*("timeout",) * 200)  # "timeout": run upstream, then hold the answer HOLD_S

        command = ["settle", url, str(tmp_path / "mail"), proxy.url, *orders]
        reports: list[list[str]] = await race([command, command], tmp_path)

        proxy.heal()
        outcomes = Counter(o.split(":", 2)[0] if o.startswith("settler") else o for r in reports for o in r)
        print(f"\ntwo settling processes: {dict(outcomes)}")  # noqa: T201 - kept in the test's output
        posts = Counter(s.idempotency_key for s in proxy.seen if (s.method, s.path) == ("POST", "/v1/payment_intents"))
        assert posts == Counter(keys), "each pending row's request went to the gateway once"
        assert proxy.upstream_posts == Counter(keys), "and was charged upstream once"
        for order_id in orders:
            assert succeeded_charges(localstripe, order_id) == [2 * PRICE], order_id
            detail = await shop.services.orders.get(order_id)
            assert isinstance(detail, Success)
            assert (detail.value.order.status, detail.value.order.paid_minor) == ("paid", 2 * PRICE)
            assert [(p.kind, p.status) for p in detail.value.payments] == [("payment", "succeeded")]
        allowed = {"paid:succeeded", f"not charged:pending:{CARD_BUSY}", "order is paid", "settler"}
        assert set(outcomes) <= allowed, outcomes
    finally:
        await shop.close()


# --- 4. one idempotency key, one e-mail address, two callers at once ----------------------------------------

ROUNDS = 8


async def test_two_calls_with_one_idempotency_key_place_one_order_and_the_loser_replays_it(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.create_database("same_key")
    async with backends(url, tmp_path) as (first, second):
        buyer = await customer(first)
        product_id = await product(first, "MUG-01", stock=100)
        request = OrderCreate(customer_id=buyer, lines=[OrderLineRequest(sku="MUG-01", quantity=1)])
        for n in range(ROUNDS):
            answers = await at_once(
                [
                    lambda b=b, key=f"place-{n}": b.services.orders.place(request, actor=ACTOR, idempotency_key=key)
                    for b in (first, second)
                ]
            )

            placed = [a.value for a in answers if isinstance(a, Success)]
            assert len(placed) == 2, answers
            assert len({p.order.id for p in placed}) == 1, answers  # both name the same order
            assert sorted(p.replayed for p in placed) == [False, True], answers
        assert await scalar(first, "SELECT count(*) FROM orders") == ROUNDS
        assert await scalar(first, "SELECT count(*) FROM idempotency_keys") == ROUNDS
        stocked = await first.services.catalog.get(product_id=product_id, sku=None)
        assert isinstance(stocked, Success)
        assert stocked.value.stock == 100 - ROUNDS


async def test_two_registrations_of_one_email_make_one_customer_and_the_other_is_told_who(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.create_database("same_email")
    async with backends(url, tmp_path) as (first, second):
        for n in range(ROUNDS):
            data = CustomerCreate(name=f"Ada {n}", email=f"ada{n}@example.com")
            answers = await at_once(
                [lambda b=b, data=data: b.services.customers.register(data, actor=ACTOR) for b in (first, second)]
            )

            made = [a.value.id for a in answers if isinstance(a, Success)]
            refused = [a for a in answers if isinstance(a, Conflict)]
            assert len(made) == 1, answers
            assert len(refused) == 1, answers  # the duplicate-e-mail refusal: not busy, not an exception
            assert refused[0].existing_id == made[0]
            assert refused[0].message == f"A customer with e-mail ada{n}@example.com already exists: {made[0]}."
        assert await scalar(first, "SELECT count(*) FROM customers") == ROUNDS


# --- 5. the same products in opposite orders ---------------------------------------------------------------

CROSSINGS = 20


async def test_orders_naming_two_products_in_opposite_orders_never_deadlock_a_caller(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.create_database("crossing")
    async with backends(url, tmp_path) as (first, second):
        buyer = await customer(first)
        a_id, b_id = await product(first, "AAA-1", stock=1000), await product(first, "BBB-1", stock=1000)
        forward = OrderCreate(
            customer_id=buyer,
            lines=[OrderLineRequest(sku="AAA-1", quantity=1), OrderLineRequest(sku="BBB-1", quantity=1)],
        )
        backward = OrderCreate(customer_id=buyer, lines=list(reversed(forward.lines)))
        answers: list[object] = []
        for _ in range(CROSSINGS):
            answers += await at_once(
                [
                    lambda: first.services.orders.place(forward, actor=ACTOR),
                    lambda: second.services.orders.place(backward, actor=ACTOR),
                ]
            )

        failed = [a for a in answers if not isinstance(a, Success)]
        assert failed == [], f"{len(failed)} of {len(answers)} callers were not served: {failed[:3]}"
        for product_id in (a_id, b_id):
            stocked = await first.services.catalog.get(product_id=product_id, sku=None)
            assert isinstance(stocked, Success)
            assert stocked.value.stock == 1000 - 2 * CROSSINGS
