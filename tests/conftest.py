"""Fixtures every kind of test may use: the anyio backend, an address that refuses connections, and
the Stripe stand-in (localstripe behind the fault-injecting proxy) for the integration, end-to-end
and CLI tests of card payments."""

from __future__ import annotations

import socket
from collections.abc import AsyncGenerator, Generator

import httpx
import pytest

from tests.integration.stripe_standin import READ_TIMEOUT_S, FaultProxy, LocalStripe, Sleeps
from tests.postgres import PostgresServer, postgres_server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def unreachable_url() -> Generator[str]:
    """``http://127.0.0.1:<port>`` where every connection is refused: the port stays bound (never
    listened on) for the whole test, so no other process can start listening there meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


@pytest.fixture(scope="session")
def localstripe() -> Generator[LocalStripe]:
    """One localstripe for the whole run (it starts in about a second); tests reset it."""
    server = LocalStripe()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def proxy(localstripe: LocalStripe) -> AsyncGenerator[FaultProxy]:
    localstripe.reset()
    proxy = FaultProxy(localstripe.url, hold_s=READ_TIMEOUT_S * 3)
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def gateway_http() -> AsyncGenerator[httpx.AsyncClient]:
    """The HTTP client a gateway gets in tests: short timeouts, so a held answer times out quickly."""
    timeout = httpx.Timeout(connect=1.0, read=READ_TIMEOUT_S, write=1.0, pool=1.0)
    async with httpx.AsyncClient(timeout=timeout) as client:
        yield client


@pytest.fixture(scope="session")
def postgres() -> Generator[PostgresServer]:
    """One throwaway PostgreSQL 15 server for the whole run (started on first use, about a second)."""
    with postgres_server() as server:
        yield server
