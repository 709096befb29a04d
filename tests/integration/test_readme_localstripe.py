"""The README's localstripe command starts an empty Stripe stand-in, whatever an earlier run left behind."""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
PICKLE = Path("/tmp/localstripe.pickle")  # where localstripe keeps its objects between runs (hard-coded)
AUTH = {"Authorization": "Bearer sk_test_anything"}

pytestmark = pytest.mark.slow


def readme_command(port: int) -> list[str]:
    """The README's localstripe line, run from this venv on ``port``."""
    line = next(line for line in README.read_text().splitlines() if line.startswith(".venv/bin/localstripe "))
    words = shlex.split(line.split("&", 1)[0])
    assert words[words.index("--port") + 1] == "8420"
    words[words.index("--port") + 1] = str(port)
    return [str(Path(sys.executable).parent / "localstripe"), *words[1:]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serving(command: list[str], port: int) -> Iterator[str]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/v1/customers", headers=AUTH, timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, "localstripe exited"
                assert time.monotonic() < deadline, "localstripe did not listen within 60 s"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def kept_pickle() -> Iterator[None]:
    """Puts back whatever store a person's own localstripe left in /tmp."""
    before = PICKLE.read_bytes() if PICKLE.exists() else None
    yield
    if before is None:
        PICKLE.unlink(missing_ok=True)
    else:
        PICKLE.write_bytes(before)


def customers(url: str) -> list[object]:
    answer = httpx.get(f"{url}/v1/customers", headers=AUTH, timeout=10)
    answer.raise_for_status()
    return list(answer.json()["data"])


@pytest.mark.usefixtures("kept_pickle")
def test_the_readme_command_forgets_what_an_earlier_run_left() -> None:
    port = free_port()
    command = readme_command(port)
    for url in serving(command, port):
        made = httpx.post(f"{url}/v1/customers", data={"email": "old@example.com"}, headers=AUTH, timeout=10)
        made.raise_for_status()
        assert len(customers(url)) == 1
    assert PICKLE.exists(), "localstripe keeps its store in /tmp between runs: the case this guards against"

    for url in serving(command, port):
        assert customers(url) == []
