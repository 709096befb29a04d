"""Providers that echo the shop's secrets back, in every field of every answer and in every encoding.

A stand-in on 127.0.0.1 plays both the card gateway (Stripe's shape) and the e-mail provider
(Postmark's shape). Whatever it answers (a decline, a rejection, a 404, a 5xx, a malformed
answer, or a success whose ids are not ids) it fills every string field, the HTTP reason phrase
and a header with the secret it was sent, spelled one of the ways in ``echoes.py``. The shop is
driven through the real clients, the real services behind the MCP in-memory client, and the CLI;
the secret, in any spelling and any letter case, must show up in no tool text, no structured
result, no database row, no log record (at DEBUG) and no CLI output.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from mcp_server.clients.email_provider import PostmarkEmailSender
from mcp_server.clients.payment_gateway import RetryPolicy, StripePaymentGateway
from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from mcp_server.handlers.cli.main import run
from mcp_server.models.outbox import Delivered, Email, PermanentFailure, TemporaryFailure
from mcp_server.models.payments_gateway import (
    CardDeclined,
    GatewayPayment,
    GatewayRejected,
    GatewayUnavailable,
)
from tests.cli.conftest import Cli
from tests.e2e.support import (
    Shop,
    add_approver,
    as_object,
    decide,
    dump_tables,
    integer,
    objects,
    open_shop,
    sqlite_url,
    string,
)
from tests.engines import ShopDatabase
from tests.http_standin import serving
from tests.integration.stripe_standin import Sleeps
from tests.reliability.echoes import echoes, leaks

pytestmark = pytest.mark.anyio

KEY = "sk_test_51Hx9QeLkdIwHu7ixEchoedBackKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
TOKEN = "5f3a9c1e-7b2d-4e8f-9a6c-1d2e3f4a5b6c"
EVERY_ECHO = list(echoes(KEY))
# Through the whole server, a spread of spellings (each answer kind still sees each field echoed).
SOME_ECHOES = ["upper case", "json \\u escapes", "basic auth header", "hex", "base64 one byte in", "url-encoded"]

Json = dict[str, Any]


# --- the stand-in ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: Json | bytes
    headers: dict[str, str] = field(default_factory=lambda: {})
    reason: str | None = None
    raw: bytes | None = None
    """Sent as it is instead of an HTTP answer."""


Script = Callable[[str], Answer]
"""Given the echo (the presented secret, spelled the test's way), what to answer."""


def error_fields(echo: str) -> Json:
    """Every field Stripe puts into an error, each one the echo."""
    return {
        "type": echo,
        "code": echo,
        "decline_code": echo,
        "message": f"No such key: {echo}",
        "param": echo,
        "doc_url": echo,
        "request_log_url": echo,
        "payment_intent": {"id": f"pi_{echo}", "status": echo, "last_payment_error": {"message": echo}},
        "charge": echo,
    }


def noisy(status: int, body: Json | bytes, echo: str, **headers: str) -> Answer:
    return Answer(status, body, {"Request-Id": echo, "X-Echo": echo, **headers}, reason=echo)


def declined(echo: str) -> Answer:
    return noisy(402, {"error": error_fields(echo)}, echo)


def rejected(echo: str) -> Answer:
    return noisy(400, {"error": error_fields(echo)}, echo)


def not_found(echo: str) -> Answer:
    return noisy(404, {"error": error_fields(echo)}, echo)


def unauthorized(echo: str) -> Answer:
    return noisy(401, {"error": error_fields(echo)}, echo)


def server_error(echo: str) -> Answer:
    return noisy(500, {"error": error_fields(echo)}, echo, **{"Stripe-Should-Retry": "false"})


def malformed(echo: str) -> Answer:
    return Answer(200, f"{{not json {echo}".encode(), {"X-Echo": echo}, reason=echo)


def garbled(echo: str) -> Answer:
    """A status line no HTTP client can parse: the parser's error quotes it."""
    return Answer(0, b"", raw=f"HTTP/1.1 {echo}\r\n{echo}\r\n\r\n".encode())


def intent(status: str, echo: str, *, intent_id: str, amount: int = 2500) -> Json:
    return {
        "id": intent_id,
        "object": echo,
        "status": status,
        "amount": amount,
        "currency": "eur",
        "latest_charge": echo,
        "charges": {"data": [{"id": echo}]},
        "client_secret": echo,
        "description": echo,
        "metadata": {"order_id": echo},
    }


def paid_with_odd_id(echo: str) -> Answer:
    return noisy(200, intent("succeeded", echo, intent_id=f"pi_{echo}"), echo)


def paid_with_hex_id(echo: str) -> Answer:
    """An id of the right shape (letters and digits) that spells the key in hex."""
    return noisy(200, intent("succeeded", echo, intent_id=f"pi_{KEY.encode().hex()}"), echo)


def paid_with_odd_charge(echo: str) -> Answer:
    """A good payment intent id, every other string the echo: the payment is booked without them."""
    return noisy(200, intent("succeeded", echo, intent_id="pi_3GoodIntent0001"), echo)


def processing(echo: str) -> Answer:
    return noisy(200, intent("processing", echo, intent_id="pi_3StillProcessing01"), echo)


def odd_status(echo: str) -> Answer:
    return noisy(200, intent(echo, echo, intent_id="pi_3OddStatus0001"), echo)


def refunded_with_odd_id(echo: str) -> Answer:
    body = {"id": f"re_{echo}", "status": "succeeded", "amount": 1000, "charge": echo, "reason": echo}
    return noisy(200, body, echo)


def refunded_with_odd_status(echo: str) -> Answer:
    body = {"id": "re_3GoodRefund0001", "status": echo, "amount": 1000, "charge": echo}
    return noisy(200, body, echo)


def mail_refused(status: int) -> Script:
    def answer(echo: str) -> Answer:
        body = {"ErrorCode": 10, "Message": f"The Server token '{echo}' is not valid.", "To": echo}
        return noisy(status, body, echo)

    return answer


def mail_sent(echo: str) -> Answer:
    return noisy(200, {"ErrorCode": 0, "MessageID": echo, "Message": echo, "To": echo}, echo)


@dataclass
class HostileProvider:
    """Answers each request with the next script entry, the echo spelled ``how`` from the secret it got."""

    how: str = "as sent"
    script: list[Script] = field(default_factory=lambda: list[Script]())
    url: str = ""
    presented: list[str] = field(default_factory=lambda: list[str]())
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, secret: str) -> Answer:
        with self._lock:
            self.presented.append(secret)
            script = self.script.pop(0) if self.script else server_error
        return script(echoes(secret)[self.how])


def _handler(provider: HostileProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            if length:
                self.rfile.read(length)
            secret = self.headers.get("X-Postmark-Server-Token") or self.headers.get("Authorization", "")
            answer = provider.answer(secret.removeprefix("Bearer "))
            if answer.raw is not None:
                self.wfile.write(answer.raw)
                self.close_connection = True
                return
            data = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
            self.send_response(answer.status, answer.reason)
            for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


@pytest.fixture
def provider() -> Iterator[HostileProvider]:
    stand_in = HostileProvider()
    with serving(_handler(stand_in)) as url:
        stand_in.url = url
        yield stand_in


def assert_nothing_leaked(*texts: str) -> None:
    for text in texts:
        for secret in (KEY, TOKEN):
            found = leaks(secret, text)
            where = [line[:500] for line in text.splitlines() if leaks(secret, line)] or [text[:500]]
            assert found == [], f"{found} leaked into:\n" + "\n".join(where[:10])


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record, as a handler would print it (traceback included)."""
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


# --- the clients themselves, for every spelling --------------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        yield client


def gateway(http: httpx.AsyncClient, provider: HostileProvider, sleeps: Sleeps) -> StripePaymentGateway:
    retry = RetryPolicy(attempts=2, base_delay_s=0.0, max_delay_s=0.0)
    return StripePaymentGateway(http, secret_key=KEY, base_url=provider.url, retry=retry, sleep=sleeps)


GATEWAY_ANSWERS: dict[str, tuple[Script, type]] = {
    "402 decline": (declined, CardDeclined),
    "400 rejection": (rejected, GatewayRejected),
    "401 rejection": (unauthorized, GatewayRejected),
    "404 rejection": (not_found, GatewayRejected),
    "500": (server_error, GatewayUnavailable),
    "malformed answer": (malformed, GatewayUnavailable),
    "garbled status line": (garbled, GatewayUnavailable),
    "id that is not an id": (paid_with_odd_id, GatewayUnavailable),
    "id that spells the key in hex": (paid_with_hex_id, GatewayUnavailable),
    "charge ids that are not ids": (paid_with_odd_charge, GatewayPayment),
    "status that is not a status": (odd_status, GatewayUnavailable),
}


@pytest.mark.parametrize("how", EVERY_ECHO)
async def test_the_gateway_client_returns_nothing_of_an_echoed_key(
    how: str, http: httpx.AsyncClient, provider: HostileProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mcp_server")
    provider.how = how
    client = gateway(http, provider, Sleeps())
    for kind, (script, expected) in GATEWAY_ANSWERS.items():
        provider.script = [script, script, script]

        charged = await client.create_and_confirm_payment(2500, "EUR", "pm_card_visa", "k-1", {"order_id": "ord_1"})
        looked_up = await client.retrieve_payment("pi_3SomeIntent0001")
        refunded = await client.refund("pi_3SomeIntent0001", 1000, "r-1")

        assert_nothing_leaked(repr(charged), repr(looked_up), repr(refunded))
        assert isinstance(charged, expected), kind
        assert not isinstance(looked_up, CardDeclined), kind  # a GET is never declined
        if isinstance(charged, GatewayPayment):
            assert (charged.id, charged.charge_id) == ("pi_3GoodIntent0001", None)
    assert set(provider.presented) == {KEY}  # it was echoed, spelled `how`
    assert_nothing_leaked(logged(caplog))


@pytest.mark.parametrize("how", EVERY_ECHO)
async def test_a_refund_answer_with_odd_fields_is_not_read_as_a_refund(
    how: str, http: httpx.AsyncClient, provider: HostileProvider
) -> None:
    provider.how = how
    provider.script = [refunded_with_odd_id, refunded_with_odd_status]
    client = gateway(http, provider, Sleeps())

    odd_id = await client.refund("pi_3SomeIntent0001", 1000, "r-1")
    odd_status = await client.refund("pi_3SomeIntent0001", 1000, "r-2")

    assert_nothing_leaked(repr(odd_id), repr(odd_status))
    assert odd_id == GatewayUnavailable("the payment gateway's answer could not be read")
    assert odd_status == GatewayUnavailable("the payment gateway's answer could not be read")


MAIL_ANSWERS: dict[str, tuple[Script, type]] = {
    "401": (mail_refused(401), PermanentFailure),
    "422": (mail_refused(422), PermanentFailure),
    "429": (mail_refused(429), TemporaryFailure),
    "500": (mail_refused(500), TemporaryFailure),
    "200 with an odd message id": (mail_sent, Delivered),
    "malformed answer": (malformed, Delivered),
    "garbled status line": (garbled, TemporaryFailure),
}


@pytest.mark.parametrize("how", EVERY_ECHO)
async def test_the_email_client_returns_nothing_of_an_echoed_token(
    how: str, http: httpx.AsyncClient, provider: HostileProvider
) -> None:
    provider.how = how
    sender = PostmarkEmailSender(http, base_url=provider.url, token=TOKEN, sender="shop@example.com")
    for kind, (script, expected) in MAIL_ANSWERS.items():
        provider.script = [script]

        outcome = await sender.send(Email("ada@example.com", "Hello", "Hi"), message_id="ntf_1")

        assert_nothing_leaked(repr(outcome))
        assert isinstance(outcome, expected), kind
    assert provider.presented == [TOKEN] * len(MAIL_ANSWERS)


# --- the whole server, through an MCP client -----------------------------------------------------------------


@dataclass
class Seen:
    """Everything an assistant was shown."""

    shop: Shop
    texts: list[str] = field(default_factory=lambda: list[str]())

    async def call(self, tool: str, arguments: Json) -> tuple[bool, str, Json]:
        result = await self.shop.call(tool, arguments)
        text = "\n".join(getattr(block, "text", "") for block in result.content)
        structured = as_object(result.structured_content) if result.structured_content is not None else {}
        self.texts += [text, json.dumps(structured)]
        return bool(result.is_error), text, structured

    async def ok(self, tool: str, arguments: Json) -> Json:
        failed, text, structured = await self.call(tool, arguments)
        assert not failed, f"{tool} failed: {text}"
        return structured

    async def order(self, customer_id: str) -> str:
        placed = await self.ok("orders_place", {"customer_id": customer_id, "lines": [{"sku": "MUG-1", "quantity": 2}]})
        return string(as_object(placed["order"]), "id")


def shop_env(provider: HostileProvider) -> dict[str, str]:
    return {
        "SHOPKEEPER_STRIPE_SECRET_KEY": KEY,
        "SHOPKEEPER_STRIPE_API_BASE": provider.url,
        "SHOPKEEPER_EMAIL_API_TOKEN": TOKEN,
        "SHOPKEEPER_EMAIL_API_BASE": provider.url,
    }


@pytest.mark.parametrize("how", SOME_ECHOES)
async def test_an_assistant_never_sees_the_key_whatever_the_gateway_echoes(
    how: str, provider: HostileProvider, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider.how = how
    db_path = tmp_path / "shop.db"
    async with open_shop(db_path, "auto", env=shop_env(provider)) as shop:
        await add_approver(db_path)
        seen = Seen(shop)
        customer = string(await seen.ok("customers_register", {"name": "Ada", "email": "ada@example.com"}), "id")
        product = {"sku": "MUG-1", "name": "Mug", "price_minor": 1250, "currency": "EUR", "stock": 50}
        await seen.ok("catalog_create_product", product)
        card = {"method": "card", "payment_method": "pm_card_visa"}
        outcomes: dict[str, tuple[bool, str, Json]] = {}
        orders: dict[str, str] = {}
        for name, script in [
            ("declined", declined),
            ("rejected", rejected),
            ("server error", server_error),
            ("malformed", malformed),
            ("garbled", garbled),
            ("odd id", paid_with_odd_id),
            ("hex id", paid_with_hex_id),
            ("odd status", odd_status),
            ("paid", paid_with_odd_charge),
        ]:
            orders[name] = await seen.order(customer)
            provider.script = [script]
            outcomes[name] = await seen.call("payments_record", {"order_id": orders[name], **card})

        # A charge the gateway is still processing, then a look-up it answers 404 to.
        orders["processing"] = await seen.order(customer)
        provider.script = [processing, not_found]
        pay = {"order_id": orders["processing"], **card, "idempotency_key": "pay-processing"}
        outcomes["processing"] = await seen.call("payments_record", pay)
        outcomes["looked up: 404"] = await seen.call("payments_record", pay)

        # Refunds of the paid order: refused, then answered with a refund id that is not one.
        for name, script in [("refund refused", declined), ("refund odd id", refunded_with_odd_id)]:
            refund = {
                "order_id": orders["paid"],
                "amount": 1000,
                "reason": "broken",
                "idempotency_key": name.replace(" ", "-"),
            }
            approval_id = string(await seen.ok("payments_refund", refund), "approval_id")
            await decide(db_path, approval_id)  # the approver approves, outside the conversation
            provider.script = [script]
            outcomes[name] = await seen.call("payments_refund", {**refund, "approval_id": approval_id})

        shown = {
            name: await seen.ok("orders_get", {"order_id": order_id, "response_format": "detailed"})
            for name, order_id in orders.items()
        }
        for order_id in orders.values():
            await seen.ok("payments_list", {"order_id": order_id, "response_format": "detailed"})
            await seen.ok("audit_log_list", {"entity_id": order_id, "response_format": "detailed"})
        await seen.ok("payments_list", {"response_format": "detailed"})
        await seen.ok("notifications_list", {})

    assert_nothing_leaked(*seen.texts, repr(dump_tables(db_path)), logged(caplog))
    assert set(provider.presented) == {KEY}
    assert outcomes["declined"][0]
    assert outcomes["declined"][1].startswith("Card declined")
    assert outcomes["rejected"][0]
    assert "is pending" in outcomes["server error"][1]
    for unreadable in ("malformed", "garbled", "odd id", "hex id", "odd status"):
        assert "is pending" in outcomes[unreadable][1], unreadable  # never booked on an answer it cannot read
    assert not outcomes["paid"][0]
    assert string(outcomes["paid"][2], "gateway_reference") == "pi_3GoodIntent0001"
    assert "is pending" in outcomes["looked up: 404"][1]
    assert string(outcomes["refund refused"][2], "outcome") == "refused"
    assert string(outcomes["refund odd id"][2], "outcome") == "pending"
    assert (integer(shown["paid"], "paid_minor"), integer(shown["paid"], "refunded_minor")) == (2500, 0)
    assert [integer(shown[name], "paid_minor") for name in orders if name != "paid"] == [0] * (len(orders) - 1)
    assert not [f for name in HTTP_LOGGERS for f in logging.getLogger(name).filters], "filters left behind"


HTTP_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy")


@pytest.mark.parametrize("how", SOME_ECHOES)
def test_an_email_provider_echoing_the_token_leaves_it_in_no_row_listing_or_log(
    how: str,
    provider: HostileProvider,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    provider.how = how
    db_path = tmp_path / "shop.db"
    cli = command_line(db_path, provider, capsys)
    for n, script in enumerate([mail_refused(401), mail_refused(422), mail_refused(500), mail_sent, malformed]):
        cli.ok("customers", "create", "--name", f"Customer {n}", "--email", f"c{n}@example.com")
        provider.script.append(script)

    worker = cli("worker", "--once")  # the worker door delivers them, each answered by the next script entry
    listed, shown = anyio.run(notifications_through_mcp, db_path, provider)
    text_list = cli.ok("notifications", "list").out
    json_list = cli.ok("--json", "notifications", "list").out

    assert_nothing_leaked(*shown, worker.out, worker.err, text_list, json_list, repr(dump_tables(db_path)))
    assert_nothing_leaked(logged(caplog))
    assert provider.presented == [TOKEN] * 5
    statuses = sorted(string(n, "status") for n in objects(listed, "notifications"))
    assert statuses == ["failed", "failed", "pending", "sent", "sent"]


async def notifications_through_mcp(db_path: Path, provider: HostileProvider) -> tuple[Json, list[str]]:
    async with open_shop(db_path, "auto", env=shop_env(provider)) as shop:
        seen = Seen(shop)
        listed = await seen.ok("notifications_list", {})
    return listed, seen.texts


# --- the command line ----------------------------------------------------------------------------------------


def command_line(db_path: Path, provider: HostileProvider, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The CLI in-process on a new shop whose gateway and e-mail provider are the stand-in."""
    settings = load_settings({"SHOPKEEPER_DATABASE_URL": sqlite_url(db_path), **shop_env(provider)})
    actions = bootstrap(settings).cli_actions()
    assert run(["db", "upgrade"], actions) == 0  # it prints where the file is, which Cli would refuse
    return Cli(actions, ShopDatabase("sqlite", sqlite_url(db_path), path=db_path), capsys)


@pytest.mark.parametrize("how", ["swapped case", "every byte percent-encoded", "base64 of key: (basic auth)"])
def test_the_command_line_never_prints_the_key_whatever_the_gateway_echoes(
    how: str,
    provider: HostileProvider,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    provider.how = how
    db_path = tmp_path / "shop.db"
    cli = command_line(db_path, provider, capsys)
    customer = string(cli.json("customers", "create", "--name", "Ada", "--email", "ada@example.com"), "id")
    product = ("--sku", "MUG-1", "--name", "Mug", "--price-minor", "1250", "--currency", "EUR", "--stock", "9")
    cli.ok("catalog", "create", *product)
    printed: list[str] = []
    orders: list[str] = []
    scripts = (declined, rejected, server_error, paid_with_odd_id, paid_with_odd_charge)
    for n, script in enumerate(scripts):
        placed = cli.json("orders", "place", "--customer", customer, "--line", "MUG-1=1")
        orders.append(string(as_object(placed["order"]), "id"))
        provider.script = [script]
        card = ("payments", "record", "--order", orders[-1], "--method", "card", "--payment-method", "pm_x")
        outcome = cli(*card) if n % 2 else cli("--json", *card)
        printed += [outcome.out, outcome.err]
    for command in (
        ("payments", "list"),
        ("audit", "list"),
        ("orders", "get", orders[0]),
        ("orders", "get", orders[4]),
    ):
        printed += [cli(*command).out, cli("--json", *command).out]
    printed.append(cli("--json", "audit", "list", "--detailed").out)
    provider.script = [mail_refused(401)] * 3
    worker = cli("worker", "--once")

    assert set(provider.presented) >= {KEY}
    assert_nothing_leaked(*printed, worker.out, worker.err, repr(dump_tables(db_path)), logged(caplog))
