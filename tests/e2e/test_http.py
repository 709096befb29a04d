"""The HTTP door over real HTTP: uvicorn on a free loopback port, the SDK's Streamable HTTP client on both
protocol versions, bearer tokens made as `shopkeeper tokens create` makes them, on both engines."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncGenerator, Generator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import httpx2
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from mcp_server.services.results import Success
from mcp_server.utils.stripe_signature import sign
from tests.e2e.support import (
    APPROVER,
    PASSPHRASE,
    TOOLS,
    JsonObject,
    Mode,
    Person,
    as_object,
    decide,
    objects,
    string,
    text_of,
)
from tests.engines import ShopDatabase

pytestmark = pytest.mark.anyio
WEBHOOK_SECRET = "whsec_test_door"


@dataclass(frozen=True, slots=True)
class Door:
    base: str
    db: ShopDatabase
    tokens: dict[str, str]

    @property
    def mcp(self) -> str:
        return f"{self.base}/mcp"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _token(url: str, name: str, scopes: str) -> str:
    actions = bootstrap(load_settings({"SHOPKEEPER_DATABASE_URL": url})).cli_actions()
    assert actions.open_services is not None
    async with actions.open_services() as services:
        made = await services.access.create(name, scopes.split(","), actor="cli:test")
    assert isinstance(made, Success), made
    return made.value.secret


def _tokens(shop_db: ShopDatabase) -> dict[str, str]:
    """Tokens made as `shopkeeper tokens create` makes them: ``all``, ``reader``, ``clerk`` (read, customers),
    and ``gone`` (revoked)."""
    tokens = {
        "all": anyio.run(_token, shop_db.url, "all", "read,customers,catalog,orders,payments,refunds,admin"),
        "reader": anyio.run(_token, shop_db.url, "reader", "read"),
        "clerk": anyio.run(_token, shop_db.url, "clerk", "read,customers"),
        "gone": anyio.run(_token, shop_db.url, "gone", "read"),
    }
    actions = bootstrap(load_settings({"SHOPKEEPER_DATABASE_URL": shop_db.url})).cli_actions()

    async def revoke() -> None:
        assert actions.open_services is not None
        async with actions.open_services() as services:
            assert isinstance(await services.access.revoke("gone", actor="cli:test"), Success)

    anyio.run(revoke)
    return tokens


@contextmanager
def _serving(env: dict[str, str]) -> Generator[str]:
    """One HTTP door (uvicorn in a thread) on a free loopback port; its base URL."""
    port = _free_port()
    app = bootstrap(load_settings(env)).http_app(host="127.0.0.1", port=port)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the HTTP door did not start"
        assert thread.is_alive(), "the HTTP door stopped while starting"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _env(shop_db: ShopDatabase, mail: Path) -> dict[str, str]:
    return {
        "SHOPKEEPER_DATABASE_URL": shop_db.url,
        "SHOPKEEPER_WORKER": "off",
        "SHOPKEEPER_MAIL_DIR": str(mail),
        "SHOPKEEPER_MAX_MESSAGE_BYTES": "65536",
        "SHOPKEEPER_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        # Allowed on both doors' ports: a client of either (or of the balancer below) is at home.
        "SHOPKEEPER_HTTP_ALLOWED_HOSTS": "127.0.0.1:*",
        "SHOPKEEPER_HTTP_ALLOWED_ORIGINS": "http://127.0.0.1:*",
    }


@pytest.fixture
def tokens(shop_db: ShopDatabase) -> dict[str, str]:
    return _tokens(shop_db)


@pytest.fixture
def door(shop_db: ShopDatabase, tokens: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Generator[Door]:
    """The HTTP door on the test's shop, with the tokens of ``_tokens``."""
    with _serving(_env(shop_db, tmp_path_factory.mktemp("mail"))) as base:
        yield Door(base, shop_db, tokens)


@asynccontextmanager
async def connected(door: Door, token: str, mode: Mode = "auto") -> AsyncGenerator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(door.mcp, http_client=http), mode=mode) as client,
    ):
        yield client


async def paid_order(client: Client, email: str) -> str:
    """A customer, a mug with 3 in stock, and an order of 2 paid in cash (25.00 EUR); the order's id."""
    registered = await client.call_tool("customers_register", {"name": "Ada", "email": email})
    assert not registered.is_error, text_of(registered)
    ada = string(as_object(registered.structured_content), "id")
    mug = {"sku": "MUG-1", "name": "Mug", "price_minor": 1250, "currency": "EUR", "stock": 3}
    assert not (await client.call_tool("catalog_create_product", mug)).is_error
    placed = await client.call_tool("orders_place", {"customer_id": ada, "lines": [{"sku": "MUG-1", "quantity": 2}]})
    assert not placed.is_error, text_of(placed)
    order = string(as_object(as_object(placed.structured_content)["order"]), "id")
    paid = await client.call_tool("payments_record", {"order_id": order, "method": "cash"})
    assert not paid.is_error, text_of(paid)
    return order


def _post(door: Door, *, headers: dict[str, str] | None = None, body: bytes | None = None) -> httpx.Response:
    payload = body or b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'
    sent = {"content-type": "application/json", "accept": "application/json, text/event-stream", **(headers or {})}
    return httpx.post(door.mcp, content=payload, headers=sent, timeout=10)


async def test_a_token_sees_and_calls_only_its_tools_and_is_the_audit_actor(door: Door, mode: Mode) -> None:
    async with connected(door, door.tokens["clerk"], mode) as clerk:
        listed = {tool.name for tool in (await clerk.list_tools()).tools}
        assert "customers_register" in listed
        assert "orders_place" not in listed
        assert "payments_refund" not in listed
        made = await clerk.call_tool("customers_register", {"name": "Ada Lovelace", "email": "ada@http.example"})
        assert not made.is_error, text_of(made)
        refused = await clerk.call_tool("orders_place", {"customer_id": "cus_x", "lines": []})
        assert refused.is_error
        assert "needs the `orders` scope" in text_of(refused)
    customer = string(as_object(made.structured_content), "id")
    actors = door.db.query("SELECT actor FROM audit_log WHERE entity_id = :id", id=customer)
    assert actors == [("token:clerk",)]


async def test_a_token_with_every_scope_runs_an_order_through(door: Door) -> None:
    async with connected(door, door.tokens["all"]) as owner:
        order = await paid_order(owner, "a@http.example")
    assert door.db.scalar("SELECT status FROM orders WHERE id = :id", id=order) == "paid"


@pytest.mark.parametrize("which", ["none", "unknown", "revoked", "not bearer"])
def test_no_valid_token_is_401_with_www_authenticate_and_changes_nothing(door: Door, which: str) -> None:
    before = door.db.tables()
    headers = {
        "none": {},
        "unknown": {"Authorization": "Bearer shk_" + "x" * 43},
        "revoked": {"Authorization": f"Bearer {door.tokens['gone']}"},
        "not bearer": {"Authorization": f"Basic {door.tokens['all']}"},
    }[which]
    answered = _post(door, headers=headers)
    assert answered.status_code == 401
    assert answered.headers["www-authenticate"].startswith("Bearer")
    assert door.tokens["all"] not in answered.text
    assert door.db.tables() == before


def test_health_and_readiness(door: Door) -> None:
    assert httpx.get(f"{door.base}/healthz", timeout=10).json() == {"status": "ok"}
    ready = httpx.get(f"{door.base}/readyz", timeout=10)
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


def test_a_foreign_host_or_origin_is_refused(door: Door) -> None:
    """DNS rebinding: a page on another name that resolves here must not reach the shop, nor its health."""
    token = {"Authorization": f"Bearer {door.tokens['all']}"}
    assert _post(door, headers={**token, "Host": "evil.example"}).status_code in (400, 421)
    assert _post(door, headers={**token, "Origin": "http://evil.example"}).status_code in (400, 403)
    assert httpx.get(f"{door.base}/healthz", headers={"Host": "evil.example"}, timeout=10).status_code == 421
    assert _post(door, headers=token).status_code == 200


def test_a_body_over_the_limit_is_refused_unread(door: Door) -> None:
    token = {"Authorization": f"Bearer {door.tokens['all']}"}
    huge = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"' + b"x" * 70_000 + b'"}}'
    before = door.db.tables()
    assert _post(door, headers=token, body=huge).status_code == 413
    assert door.db.tables() == before


def test_the_gateway_webhook_is_served_on_the_door(door: Door) -> None:
    """Signed events are taken (one naming nothing of the shop's is acknowledged), others refused: 400."""
    event = json.dumps(
        {
            "id": "evt_door_1",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_unknown", "object": "payment_intent", "metadata": {}}},
        }
    ).encode()
    now = int(time.time())
    signed = {"Stripe-Signature": f"t={now},v1={sign(event, WEBHOOK_SECRET, now)}", "content-type": "application/json"}
    url = f"{door.base}/webhooks/stripe"
    assert httpx.post(url, content=event, headers=signed, timeout=10).status_code == 200
    forged = {**signed, "Stripe-Signature": f"t={now},v1={sign(event, 'whsec_other', now)}"}
    assert httpx.post(url, content=event, headers=forged, timeout=10).status_code == 400
    assert httpx.post(url, content=event, headers={**signed, "Host": "evil.example"}, timeout=10).status_code == 421


class _Balancer(httpx2.AsyncBaseTransport):
    """A load balancer in front of several doors: each request goes to the next one in turn."""

    def __init__(self, ports: list[int]) -> None:
        self._ports = ports
        self._next = 0
        self._inner = httpx2.AsyncHTTPTransport()
        self.sent_to: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self._ports[self._next % len(self._ports)]
        self._next += 1
        self.sent_to.append(port)
        request.url = request.url.copy_with(port=port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_question_to_the_person_started_on_one_worker_finishes_on_another(
    shop_db: ShopDatabase, tokens: dict[str, str], tmp_path: Path
) -> None:
    """Protocol 2026-07-28: the cancel asks the person (input required); the answer comes back to another
    door, which opens the sealed request state with the shared key and finishes the cancellation."""
    env = {**_env(shop_db, tmp_path / "mail"), "SHOPKEEPER_REQUEST_STATE_KEY": "one key for every worker " * 2}
    with _serving(env) as first, _serving(env) as second:
        async with connected(Door(first, shop_db, tokens), tokens["all"]) as owner:
            order = await paid_order(owner, "a@w.example")
        balancer = _Balancer([int(first.rsplit(":", 1)[1]), int(second.rsplit(":", 1)[1])])
        person = Person()
        async with (
            httpx2.AsyncClient(transport=balancer, headers={"Authorization": f"Bearer {tokens['all']}"}) as http,
            Client(streamable_http_client(f"{first}/mcp", http_client=http), elicitation_callback=person) as client,
        ):
            done = await client.call_tool("orders_cancel", {"order_id": order, "reason": "duplicate"})
        assert not done.is_error, text_of(done)
        assert string(as_object(done.structured_content), "order_status") == "cancelled"
        assert len(person.questions) == 1, "the person was asked once"
        assert len(set(balancer.sent_to)) == 2, "the question and its answer went to different doors"
    assert shop_db.scalar("SELECT status FROM orders WHERE id = :id", id=order) == "cancelled"


@pytest.mark.approver
async def test_money_goes_back_after_a_person_approves_on_the_doors_own_page(door: Door) -> None:
    """A client that cannot show a form gets an approval request whose link is on the door; the approver
    approves there with name and passphrase (the token never approves), then the call goes through."""
    async with connected(door, door.tokens["all"]) as owner:
        order = await paid_order(owner, "a@p.example")
        refund = {"order_id": order, "amount": 500, "reason": "chipped"}
        asked = as_object((await owner.call_tool("payments_refund", refund)).structured_content)
        assert string(asked, "outcome") == "approval_required"
        approval_id = string(asked, "approval_id")
        link = string(asked, "approval_url")
        assert link == f"{door.base}/approvals/{approval_id}"

        async with httpx.AsyncClient(timeout=10) as browser:
            page = await browser.get(link)
            found = re.search(r'name="token" value="([0-9a-f]+)"', page.text)
            assert found is not None
            form = {"token": found.group(1), "decision": "approve", "name": APPROVER, "passphrase": PASSPHRASE}
            bearer = {"Authorization": f"Bearer {door.tokens['all']}"}
            forged = await browser.post(link, data=form, headers={"Origin": "http://evil.example"})
            guessed = {**form, "passphrase": "guess"}
            wrong = await browser.post(link, data=guessed, headers={"Origin": door.base, **bearer})
            approved = await browser.post(link, data=form, headers={"Origin": door.base})
        assert page.status_code == 200
        assert "5.00 EUR" in page.text
        assert forged.status_code == 403
        assert wrong.status_code == 403, "a token is no passphrase"
        assert approved.status_code == 200, approved.text

        done = await owner.call_tool("payments_refund", {**refund, "approval_id": approval_id})
        assert not done.is_error, text_of(done)
    assert door.db.scalar("SELECT refunded_minor FROM orders WHERE id = :id", id=order) == 500


@pytest.mark.slow
async def test_two_worker_processes_serve_one_shop_and_stop_on_sigterm(
    shop_db: ShopDatabase, tokens: dict[str, str], tmp_path: Path
) -> None:
    """`shopkeeper-mcp --transport http --workers 2` as a person starts it: calls are served, SIGTERM stops it."""
    port = _free_port()
    env = {**os.environ, **_env(shop_db, tmp_path / "mail")}
    env.pop("SHOPKEEPER_REQUEST_STATE_KEY", None)  # the server makes one for its workers
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for with a deadline below
        [sys.executable, "-m", "mcp_server", "--transport", "http", "--port", str(port), "--workers", "2"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=2) as probe:
            with anyio.fail_after(60):
                while True:
                    try:
                        if (await probe.get(f"{base}/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert server.poll() is None, server.stderr.read() if server.stderr else ""
                    await anyio.sleep(0.1)
        workers = worker_processes(server.pid)
        assert len(workers) == 2, f"two worker processes, found {workers}"
        async with connected(Door(base, shop_db, tokens), tokens["all"]) as client:
            for n in range(12):
                made = await client.call_tool("customers_register", {"name": f"C {n}", "email": f"c{n}@w.example"})
                assert not made.is_error, text_of(made)
        assert shop_db.count("customers") == 12
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    out = server.stdout.read() if server.stdout else b""
    assert code == 0
    assert out == b"", "the HTTP door writes nothing to stdout"


def worker_processes(pid: int) -> list[int]:
    """The worker processes ``pid`` spawned (children running multiprocessing's spawn_main), from /proc."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if parent == pid and b"spawn_main" in command:
                found.append(int(entry.name))
    return found


ISSUER = "https://id.example"
AUDIENCE = "http://127.0.0.1/shop"


def _rsa_key() -> tuple[str, str]:
    """(private PEM, public PEM) of a new RSA key: the identity provider's, in the test."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def test_an_identity_providers_jwts_open_the_door_with_their_scopes(
    shop_db: ShopDatabase, tokens: dict[str, str], tmp_path: Path
) -> None:
    """The SDK's token-verification hook with a JWT issuer plugged in beside the shop's own tokens."""
    private, public = _rsa_key()
    other_private, _ = _rsa_key()
    env = {
        **_env(shop_db, tmp_path / "mail"),
        "SHOPKEEPER_JWT_KEY": public,
        "SHOPKEEPER_JWT_ISSUER": ISSUER,
        "SHOPKEEPER_JWT_AUDIENCE": AUDIENCE,
    }

    def token(key: str = private, **changes: object) -> str:
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "alice",
            "exp": int(time.time()) + 300,
            "scope": "read customers",
            **changes,
        }
        return jwt.encode(claims, key, algorithm="RS256")

    async def tools_with(bearer: str, base: str, email: str) -> set[str]:
        async with connected(Door(base, shop_db, tokens), bearer) as client:
            listed = {tool.name for tool in (await client.list_tools()).tools}
            made = await client.call_tool("customers_register", {"name": "Alice", "email": email})
            assert not made.is_error, text_of(made)
            return listed

    with _serving(env) as base:
        listed = anyio.run(tools_with, token(), base, "alice@jwt.example")
        assert "customers_register" in listed
        assert "orders_place" not in listed
        assert shop_db.query("SELECT actor FROM audit_log WHERE action = 'customer.registered'") == [("jwt:alice",)]
        own = anyio.run(tools_with, tokens["clerk"], base, "bob@shop.example")
        assert own >= {"customers_update"}, "the shop's own tokens still work"
        refused = {
            "expired": token(exp=int(time.time()) - 10),
            "another audience": token(aud="https://other.example"),
            "another issuer": token(iss="https://evil.example"),
            "another key": token(other_private),
            "no subject": jwt.encode(
                {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300}, private, algorithm="RS256"
            ),
            "unsigned": jwt.encode(
                {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "exp": int(time.time()) + 300},
                "",
                algorithm="none",
            ),
        }
        for why, bearer in refused.items():
            answered = _post(Door(base, shop_db, tokens), headers={"Authorization": f"Bearer {bearer}"})
            assert answered.status_code == 401, why


@pytest.mark.approver
async def test_a_legacy_client_is_not_asked_mid_call_over_stateless_http_and_gets_the_link(
    door: Door,
) -> None:
    """Protocol 2025-11-25 over stateless HTTP has no channel for a mid-call question, even from a client
    that declares it can answer one: the call returns the approval request and the door's page instead."""
    person = Person()
    async with connected(door, door.tokens["all"]) as owner:
        order = await paid_order(owner, "a@l.example")
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {door.tokens['all']}"}) as http,
        Client(streamable_http_client(door.mcp, http_client=http), mode="legacy", elicitation_callback=person) as c,
    ):
        with anyio.fail_after(30):
            asked = await c.call_tool("orders_cancel", {"order_id": order})
    assert not asked.is_error, text_of(asked)
    data = as_object(asked.structured_content)
    assert string(data, "outcome") == "approval_required"
    assert string(data, "approval_url").startswith(f"{door.base}/approvals/apr_")
    assert person.questions == [], "nobody was asked mid-call"
    assert door.db.scalar("SELECT status FROM orders WHERE id = :id", id=order) == "paid"


@pytest.mark.approver
async def test_every_tool_answers_over_http(door: Door, mode: Mode) -> None:
    """Each of the 22 tools' happy path through the HTTP door, on both protocol versions (money back
    approved by the approver outside the conversation)."""
    called: set[str] = set()

    async with connected(door, door.tokens["all"], mode) as shop:

        async def ok(tool: str, arguments: Mapping[str, object]) -> JsonObject:
            result = await shop.call_tool(tool, dict(arguments))
            assert not result.is_error, f"{tool}: {text_of(result)}"
            called.add(tool)
            return as_object(result.structured_content)

        ada = string(await ok("customers_register", {"name": "Ada Lovelace", "email": "ada@all.example"}), "id")
        await ok("customers_get", {"customer_id": ada})
        await ok("customers_list", {"query": "ada"})
        await ok("customers_update", {"customer_id": ada, "phone": "+44 20 7946 0000"})
        mug = string(
            await ok("catalog_create_product", {"sku": "MUG-1", "name": "Mug", "price_minor": 1250, "currency": "EUR"}),
            "id",
        )
        await ok("catalog_get", {"sku": "MUG-1"})
        await ok("catalog_search", {"text": "mug"})
        await ok("catalog_update_product", {"product_id": mug, "name": "Blue mug"})
        await ok("catalog_adjust_stock", {"product_id": mug, "delta": 10, "reason": "restock"})
        lines = [{"sku": "MUG-1", "quantity": 2}]
        first = string(as_object((await ok("orders_place", {"customer_id": ada, "lines": lines}))["order"]), "id")
        second = string(as_object((await ok("orders_place", {"customer_id": ada, "lines": lines}))["order"]), "id")
        await ok("orders_get", {"order_id": first})
        await ok("orders_list", {"customer_id": ada})
        await ok("payments_record", {"order_id": first, "method": "cash"})
        await ok("payments_list", {"order_id": first})
        await ok("orders_mark_shipped", {"order_id": first, "carrier": "DHL", "tracking_number": "JD1"})
        await ok("orders_mark_delivered", {"order_id": first})
        await ok("orders_cancel", {"order_id": second})
        refund = {"order_id": first, "amount": 500, "reason": "chipped"}
        asked = await ok("payments_refund", refund)
        approval = string(asked, "approval_id")
        await decide(door.db, approval)
        await ok("payments_refund", {**refund, "approval_id": approval})
        await ok("reports_sales_summary", {"date_from": "2026-01-01", "date_to": "2026-12-31", "group_by": "product"})
        notification = string(as_object(objects(await ok("notifications_list", {}), "notifications")[0]), "id")
        door.db.execute("UPDATE outbox SET status = 'failed', attempts = 5 WHERE id = :id", id=notification)
        await ok("notifications_retry", {"notification_id": notification})
        await ok("audit_log_list", {"entity_id": first})
    assert called == set(TOOLS)


class _TokenSwap(httpx2.AsyncBaseTransport):
    """Sends every request after the first ``keep`` with another bearer token: a stolen request state."""

    def __init__(self, keep: int, other: str) -> None:
        self._keep = keep
        self._other = other
        self._inner = httpx2.AsyncHTTPTransport()
        self.sent = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent += 1
        if self.sent > self._keep:
            request.headers["Authorization"] = f"Bearer {self._other}"
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_an_unfinished_question_is_bound_to_the_token_that_asked(door: Door) -> None:
    """The sealed request state of a question asked for one token does not finish the call for another."""
    async with connected(door, door.tokens["all"]) as owner:
        order = await paid_order(owner, "a@b.example")
    thief = await _token_async(door.db.url, "thief", "read,customers,catalog,orders,payments,refunds,admin")
    # discover, then the call that asks, with the owner's token; the answer comes back with the thief's
    swap = _TokenSwap(keep=2, other=thief)
    person = Person()
    async with (
        httpx2.AsyncClient(transport=swap, headers={"Authorization": f"Bearer {door.tokens['all']}"}) as http,
        Client(streamable_http_client(door.mcp, http_client=http), elicitation_callback=person) as client,
    ):
        try:
            done = await client.call_tool("orders_cancel", {"order_id": order})
            finished = not done.is_error
        except Exception:
            finished = False
    assert len(person.questions) == 1
    assert swap.sent == 3, "discover, the call, its answer"
    assert not finished, "another token finished a call it did not start"
    assert door.db.scalar("SELECT status FROM orders WHERE id = :id", id=order) == "paid"


async def _token_async(url: str, name: str, scopes: str) -> str:
    return await _token(url, name, scopes)
