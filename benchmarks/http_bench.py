"""Section 7 of ``make bench``: 16 concurrent clients over HTTP against 2 worker processes, and the bare echo server.

The shop: a small SQLite database (``benchmarks/seed.py``: customers, products, a few thousand orders) with one
scarce product (``scarce_stock`` units). ``shopkeeper-mcp --transport http --workers 2`` serves it on 127.0.0.1 with
a bearer token made by ``shopkeeper tokens create``. Each client is the SDK's own (``mcp.Client`` over
``streamable_http_client``, one ``httpx2.AsyncClient`` each) and loops with no think time: closed loop. A call is a
read (``customers_get``, ``orders_get``, ``catalog_search``: ``read_share`` of the calls) or a write (``orders_place``
of 1 unit; ``scarce_share`` of the writes for the scarce product). Calls answered inside the window after the
warm-up make the throughput and the percentiles. A refusal "insufficient stock" of the scarce product is expected once
it is sold out and counted apart (its latency is in the scarce row); any other tool error or exception is an error
(the target is 0).

Afterwards the database is asked: orders gained == orders answered as placed, the scarce product's stock is not below
0, and the units of it in the new orders == its initial stock - its final stock (nothing oversold, nothing lost).

Then, in ``rounds`` rounds alternating who goes first, a read-only run (the same clients, reads only) and the same
clients calling ``echo`` against
``benchmarks/echo_server.py --http`` with as many uvicorn workers (the SDK's stateless Streamable HTTP app, **no
authentication**: the shop checks a bearer token on every request, echo checks nothing). The target is the shop's
read throughput at least 0.7 times echo's calls/s. All clients run in this one process on one asyncio loop: on a
small machine they share the cores with the servers, the same for both (the CPU line says what each side took).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from benchmarks.bench import BIN_DIR, PYTHON, BenchError, SummaryRow, percentile, section
from benchmarks.concurrency_bench import cpu_seconds, machine_ticks
from benchmarks.seed import seed

TARGET_READ_THROUGHPUT = 0.7  # the shop's reads/s at least this share of echo's calls/s
SCOPES = "read,customers,catalog,orders,payments,refunds,admin"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
READS = ("customers_get", "orders_get", "catalog_search")
WRITE = "orders_place"
SCARCE = "orders_place (scarce)"
SOLD_OUT = "insufficient stock"
ERROR_SAMPLES = 5
ROOT = Path(__file__).resolve().parent.parent  # ``-m benchmarks.echo_server`` imports from here


@dataclass(frozen=True, slots=True)
class HttpOptions:
    clients: int = 16
    workers: int = 2
    seconds: float = 10.0
    warmup_s: float = 2.0
    read_share: float = 0.7
    scarce_share: float = 0.3
    scarce_stock: int = 50
    rounds: int = 3  # read-only and echo runs, alternating
    customers: int = 200
    products: int = 50
    orders: int = 2000


@dataclass(slots=True)
class Run:
    """One phase: what the clients did inside the window, and everything that went wrong at any time."""

    label: str
    seconds: float
    latencies_ms: dict[str, list[float]] = field(default_factory=dict[str, list[float]])
    answered: int = 0  # calls answered at any time (warm-up too): what the CPU time is divided by
    errors: int = 0
    error_samples: list[str] = field(default_factory=list[str])
    sold_out: int = 0  # scarce orders refused for want of stock (expected), any time
    placed_ids: list[str] = field(default_factory=list[str])  # any time, warm-up too
    scarce_units: int = 0  # units of the scarce product in placed orders, any time
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    machine_busy: float = 0.0

    def calls(self, kinds: Sequence[str] | None = None) -> int:
        return sum(len(v) for k, v in self.latencies_ms.items() if kinds is None or k in kinds)

    def rate(self, kinds: Sequence[str] | None = None) -> float:
        return self.calls(kinds) / self.seconds if self.seconds else 0.0

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < ERROR_SAMPLES:
            self.error_samples.append(text[:300])


@dataclass(frozen=True, slots=True)
class Shop:
    customer_ids: Sequence[str]
    skus: Sequence[str]
    order_ids: Sequence[str]
    scarce_sku: str


# --------------------------------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    """The process and its descendants (uvicorn's supervisor and its workers), from /proc."""
    found, queue = [pid], [pid]
    while queue:
        parent = queue.pop()
        try:
            text = Path(f"/proc/{parent}/task/{parent}/children").read_text()
        except OSError:
            continue
        kids = [int(p) for p in text.split()]
        found += kids
        queue += kids
    return found


@contextlib.asynccontextmanager
async def serving(
    label: str, argv: Sequence[str], env: dict[str, str], workdir: Path, port: int
) -> AsyncGenerator[int]:
    """Start an HTTP server, wait until it answers on ``port``, yield its pid; SIGTERM (then SIGKILL) at the end."""
    log = workdir / f"{label}-stderr.log"
    proc = _spawn(argv, env, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx2.AsyncClient() as http:
            while True:
                if proc.poll() is not None:
                    raise BenchError(f"{label} exited with {proc.returncode}{_tail(log)}")
                if time.monotonic() > deadline:
                    raise BenchError(f"{label} did not answer on port {port} in {START_TIMEOUT_S:.0f} s{_tail(log)}")
                try:
                    # An empty POST is refused at once (401, 406...); a GET would open an event stream.
                    await http.post(f"http://127.0.0.1:{port}/mcp", content=b"", timeout=2.0)
                    break
                except httpx2.TransportError:
                    await asyncio.sleep(0.1)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _spawn(argv: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(list(argv), env=env, cwd=ROOT, stderr=stderr)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        tail = path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return ("\n  stderr (last lines):\n    " + "\n    ".join(tail)) if tail else ""


def make_token(env: dict[str, str]) -> str:
    script = BIN_DIR / "shopkeeper"
    cli = "from mcp_server.entrypoint import cli_main; cli_main()"
    argv = [str(script)] if script.exists() else [PYTHON, "-c", cli]
    done = subprocess.run(
        [*argv, "tokens", "create", "--name", "bench", "--scopes", SCOPES, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"shopkeeper tokens create failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return str(json.loads(done.stdout)["token"])


# --------------------------------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------------------------------


def _text(result: Any) -> str:
    return " ".join(str(getattr(item, "text", "")) for item in result.content)[:300]


async def _client(
    k: int,
    url: str,
    headers: dict[str, str],
    run: Run,
    shop: Shop | None,
    options: HttpOptions,
    window: tuple[float, float],
    read_share: float,
    tag: str,
) -> None:
    rng = random.Random(f"{tag}-{k}")  # noqa: S311 - reproducible picks, not secrets
    window_start, deadline = window
    n = 0
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60.0) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        while time.perf_counter() < deadline:
            n += 1
            kind, name, arguments = _pick(rng, shop, options, read_share, f"{tag}-{k}-{n}")
            began = time.perf_counter()
            try:
                result = await client.call_tool(name, arguments)
            except Exception as exc:  # every failure is counted, the run goes on
                run.error(f"{name}: {type(exc).__name__}: {exc}")
                continue
            ended = time.perf_counter()
            run.answered += 1
            if result.is_error:
                text = _text(result)
                if kind == SCARCE and SOLD_OUT in text:
                    run.sold_out += 1
                else:
                    run.error(f"{name}: {text}")
                    continue
            elif kind in (WRITE, SCARCE):
                structured: dict[str, Any] = result.structured_content or {}
                order = cast("dict[str, Any]", structured.get("order") or {})
                if "id" not in order:
                    run.error(f"{name}: answered without an order: {str(result)[:200]}")
                    continue
                run.placed_ids.append(str(order["id"]))
                if kind == SCARCE:
                    run.scarce_units += 1
            if window_start <= ended <= deadline:
                run.latencies_ms.setdefault(kind, []).append((ended - began) * 1e3)


def _pick(
    rng: random.Random, shop: Shop | None, options: HttpOptions, read_share: float, key: str
) -> tuple[str, str, dict[str, Any]]:
    """(kind, tool, arguments) of the next call: echo without a shop, else a read or a write by the shares."""
    if shop is None:
        return "echo", "echo", {"text": key}
    if rng.random() < read_share:
        tool = rng.choice(READS)
        if tool == "customers_get":
            return tool, tool, {"customer_id": rng.choice(shop.customer_ids)}
        if tool == "orders_get":
            return tool, tool, {"order_id": rng.choice(shop.order_ids)}
        return tool, tool, {"text": f"{rng.randrange(100):02d}", "limit": 10}
    scarce = rng.random() < options.scarce_share
    sku = shop.scarce_sku if scarce else rng.choice(shop.skus)
    arguments = {
        "customer_id": rng.choice(shop.customer_ids),
        "lines": [{"sku": sku, "quantity": 1}],
        "idempotency_key": key,
    }
    return (SCARCE if scarce else WRITE), WRITE, arguments


async def run_phase(
    label: str,
    url: str,
    headers: dict[str, str],
    server_pid: int,
    shop: Shop | None,
    options: HttpOptions,
    *,
    read_share: float,
) -> Run:
    run = Run(label=label, seconds=options.seconds)
    pids = _children(server_pid)
    cpu0, client0, (busy0, total0) = cpu_seconds(pids), time.process_time(), machine_ticks()
    start = time.perf_counter()
    window = (start + options.warmup_s, start + options.warmup_s + options.seconds)
    tag = f"{label}-{time.time_ns()}"
    await asyncio.gather(
        *(_client(k, url, headers, run, shop, options, window, read_share, tag) for k in range(options.clients))
    )
    busy, total = machine_ticks()
    run.server_cpu_s = cpu_seconds(pids) - cpu0
    run.client_cpu_s = time.process_time() - client0
    run.machine_busy = (busy - busy0) / (total - total0) if total > total0 else 0.0
    return run


# --------------------------------------------------------------------------------------------------------------------
# The database's word
# --------------------------------------------------------------------------------------------------------------------


def _scarce_state(path: Path, sku: str) -> tuple[int, int, int]:
    """(orders in the database, the scarce product's stock, units of it in all order lines)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        orders = int(db.execute("SELECT count(*) FROM orders").fetchone()[0])
        stock = int(db.execute("SELECT stock FROM products WHERE sku = ?", (sku,)).fetchone()[0])
        units = int(
            db.execute("SELECT coalesce(sum(quantity), 0) FROM order_lines WHERE sku = ?", (sku,)).fetchone()[0]
        )
    finally:
        db.close()
    return orders, stock, units


def _prepare(path: Path, options: HttpOptions) -> Shop:
    seeded = seed(path, options.orders, customers=options.customers, products=options.products, samples=200)
    scarce = seeded.skus[0]
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute("UPDATE products SET stock = ? WHERE sku = ?", (options.scarce_stock, scarce))
    finally:
        db.close()
    return Shop(
        customer_ids=seeded.customer_ids,
        skus=seeded.skus[1:],
        order_ids=seeded.sample_order_ids or list(seeded.newest_first.values()),
        scarce_sku=scarce,
    )


# --------------------------------------------------------------------------------------------------------------------
# The section
# --------------------------------------------------------------------------------------------------------------------


def run_http(options: HttpOptions, workdir: Path, base_env: dict[str, str]) -> list[SummaryRow]:
    return asyncio.run(_run_http(options, workdir, base_env))


async def _run_http(options: HttpOptions, workdir: Path, base_env: dict[str, str]) -> list[SummaryRow]:
    section(
        f"7. HTTP: {options.clients} clients against {options.workers} uvicorn workers on 127.0.0.1, "
        f"{options.seconds:g} s after {options.warmup_s:g} s warm-up, against the bare echo server over HTTP"
    )
    path = workdir / "http-shop.db"
    shop = _prepare(path, options)
    env = dict(base_env) | {
        "SHOPKEEPER_DATABASE_URL": f"sqlite+aiosqlite:///{path}",
        "SHOPKEEPER_WORKER": "off",
        "SHOPKEEPER_MAIL_DIR": str(workdir / "http-mail"),
    }
    headers = {"Authorization": f"Bearer {make_token(env)}"}
    orders0, stock0, units0 = _scarce_state(path, shop.scarce_sku)
    print(
        f"  shop     {len(shop.customer_ids)} customers, {len(shop.skus) + 1} products, {orders0} orders; "
        f"{shop.scarce_sku} scarce: {stock0} units; mix {options.read_share:.0%} reads "
        f"({', '.join(READS)}), {1 - options.read_share:.0%} orders_place of 1 unit "
        f"({options.scarce_share:.0%} of them for {shop.scarce_sku})"
    )

    port = _free_port()
    shop_argv = [
        *_shopkeeper_mcp(),
        *("--transport", "http", "--host", "127.0.0.1", "--port", str(port), "--workers", str(options.workers)),
    ]
    url = f"http://127.0.0.1:{port}/mcp"
    echo_port = _free_port()
    echo_argv = [
        PYTHON,
        *("-m", "benchmarks.echo_server", "--http", "--port", str(echo_port), "--workers", str(options.workers)),
    ]
    echo_url = f"http://127.0.0.1:{echo_port}/mcp"
    read_runs: list[Run] = []
    echo_runs: list[Run] = []
    # Both servers up (the idle one waits on its socket); the read-only and echo runs alternate, and alternate who
    # goes first, so the noise of a shared machine falls on both alike.
    async with (
        serving("shopkeeper-http", shop_argv, env, workdir, port) as pid,
        serving("echo-http", echo_argv, dict(base_env), workdir, echo_port) as echo_pid,
    ):
        mixed = await run_phase("mixed", url, headers, pid, shop, options, read_share=options.read_share)
        _print_runs((mixed,))  # before the rest: a failure there leaves these numbers on the screen
        for r in range(options.rounds):
            for which in ("reads", "echo") if r % 2 == 0 else ("echo", "reads"):
                if which == "reads":
                    read_runs.append(await run_phase("reads", url, headers, pid, shop, options, read_share=1.0))
                else:
                    echo_runs.append(await run_phase("echo", echo_url, {}, echo_pid, None, options, read_share=1.0))
    orders1, stock1, units1 = _scarce_state(path, shop.scarce_sku)
    per_round = ", ".join(f"{a.rate() / b.rate():.2f}x" for a, b in zip(read_runs, echo_runs, strict=True) if b.rate())
    reads, echo = _merge("reads", read_runs), _merge("echo", echo_runs)
    runs = (mixed, reads, echo)
    _print_runs((reads, echo))
    print(f"  reads only ÷ echo, each of {options.rounds} rounds (alternating order): {per_round}")
    placed = len(mixed.placed_ids) + len(reads.placed_ids)
    sold = units1 - units0
    checks = [
        (orders1 - orders0 == placed, f"orders in the database +{orders1 - orders0}, answered as placed {placed}"),
        (stock1 >= 0, f"{shop.scarce_sku} stock {stock0} -> {stock1} (never below 0)"),
        (
            sold == stock0 - stock1 == mixed.scarce_units,
            f"{shop.scarce_sku} units in new orders {sold} == initial - final {stock0 - stock1} "
            f"== placed by clients {mixed.scarce_units}; {mixed.sold_out} refusals 'insufficient stock' (expected)",
        ),
        (len(set(mixed.placed_ids)) == len(mixed.placed_ids), "every placed order id distinct"),
    ]
    for ok, text in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    errors = sum(r.errors for r in runs)
    read_ratio = mixed.rate(READS) / echo.rate() if echo.rate() else 0.0
    reads_only_ratio = reads.rate() / echo.rate() if echo.rate() else 0.0
    all_ratio = mixed.rate() / echo.rate() if echo.rate() else 0.0
    print(
        f"  reads/s ÷ echo calls/s: in the mix {read_ratio:.2f}x, reads only {reads_only_ratio:.2f}x "
        f"(all calls of the mix {all_ratio:.2f}x); target ≥ {TARGET_READ_THROUGHPUT:.1f}x. Echo has no bearer check."
    )
    if errors or not all(ok for ok, _ in checks):
        raise BenchError(f"HTTP section: {errors} errors, database checks {[ok for ok, _ in checks]}")
    return [
        ("HTTP mix calls/s, 16 clients", mixed.rate(), None),
        ("HTTP throughput: mix reads/s ÷ echo", read_ratio, TARGET_READ_THROUGHPUT),
        ("HTTP throughput: reads only ÷ echo", reads_only_ratio, TARGET_READ_THROUGHPUT),
    ]


def _merge(label: str, runs: Sequence[Run]) -> Run:
    """Several runs of one kind as one: their windows and calls added up."""
    merged = Run(label=label, seconds=sum(r.seconds for r in runs))
    for run in runs:
        for kind, values in run.latencies_ms.items():
            merged.latencies_ms.setdefault(kind, []).extend(values)
        merged.answered += run.answered
        merged.errors += run.errors
        merged.error_samples += run.error_samples[: ERROR_SAMPLES - len(merged.error_samples)]
        merged.sold_out += run.sold_out
        merged.placed_ids += run.placed_ids
        merged.scarce_units += run.scarce_units
        merged.server_cpu_s += run.server_cpu_s
        merged.client_cpu_s += run.client_cpu_s
    merged.machine_busy = sum(r.machine_busy for r in runs) / len(runs) if runs else 0.0
    return merged


def _shopkeeper_mcp() -> list[str]:
    script = BIN_DIR / "shopkeeper-mcp"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mcp_server"]


def _print_runs(runs: Sequence[Run]) -> None:
    print(f"  {'run / kind':<30} {'calls':>7} {'calls/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for run in runs:
        kinds = sorted(run.latencies_ms)
        if len(kinds) > 1:
            print(f"  {run.label + ' / all':<30} {run.calls():>7} {run.rate():>8.0f} {'':>8} {'':>8}")
            print(f"  {run.label + ' / reads':<30} {run.calls(READS):>7} {run.rate(READS):>8.0f}")
        for kind in kinds:
            ordered = sorted(run.latencies_ms[kind])
            print(
                f"  {run.label + ' / ' + kind:<30} {len(ordered):>7} {len(ordered) / run.seconds:>8.0f} "
                f"{percentile(ordered, 0.5):>8.1f} {percentile(ordered, 0.99):>8.1f}"
            )
    for run in runs:
        calls = max(1, run.answered)
        print(
            f"  {run.label:<8} errors {run.errors}, sold-out refusals {run.sold_out}; CPU ms per call: servers "
            f"{run.server_cpu_s * 1e3 / calls:.2f}, clients {run.client_cpu_s * 1e3 / calls:.2f}; "
            f"machine busy {run.machine_busy:.0%} of {os.cpu_count()} cores"
        )
        for sample in run.error_samples:
            print(f"           error: {sample}")
