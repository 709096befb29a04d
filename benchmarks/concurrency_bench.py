"""``orders_place`` throughput from 1, 4 and 16 concurrent clients spread over 4 ``shopkeeper-mcp`` processes.

Each process is a real stdio server with one MCP session (stdio has one client per process). Client ``k`` sends its
requests to process ``k % processes``: with 16 clients and 4 processes, every session has 4 requests in flight at
once (the SDK handles each request in its own task, so they run concurrently inside the server, each on its own
pooled connection). With 1 client only the first process gets work. A client places one order, waits for the answer,
places the next: closed loop, no think time. Every order has two random, distinct products (of the seeded 200) and
its own idempotency key.

For each level the clients run for ``warmup + seconds``; the orders answered inside the last ``seconds`` make the
throughput. Afterwards the database is asked: it must hold exactly as many more orders as were reported placed, and
every order id the server returned. An answer "busy, retry" (the server's StorageBusyError: a lock or pool wait past
its timeout, a PostgreSQL deadlock) is counted and retried with the same idempotency key; any other error fails the
run. On PostgreSQL the server's own counters say how many deadlocks there were.

Every order queues a confirmation e-mail. By default the servers run with ``SHOPKEEPER_WORKER=off``: the e-mails
wait in the outbox, as when a separate ``shopkeeper worker`` sends them, and the throughput is that of placing orders.
With ``mail_worker`` each server also sends e-mails (to files in the scratch folder) from its own worker, as it does
by default; then the benchmark waits before each level until the e-mails of earlier orders are out, so no level pays
for another's, and reports how many were sent during the level (the workers do not keep pace evenly, which makes the
curve jump: see the report's e-mail column).

All clients live in this one process on one asyncio loop (a few µs per request). Each level also reports the CPU
time spent per order by the server processes, by PostgreSQL's processes and by this client, and how busy the whole
machine was (``/proc``): on a machine with few cores, shared with others, that says whether the curve is limited by
the CPU or by waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from benchmarks.bench import PROTOCOL_VERSION, REQUEST_TIMEOUT_S, BenchError, percentile, shopkeeper_argv
from benchmarks.pg import Connection, connect, driver_dsn

EXIT_TIMEOUT_S = 10.0
BUSY_PAUSE_S = 0.01
READ_LIMIT = 1 << 24  # bytes in one answer line


class AsyncSession:
    """One server process over stdio, any number of requests in flight, answers matched to requests by id."""

    def __init__(self, label: str, proc: asyncio.subprocess.Process, stderr_path: Path) -> None:
        self.label = label
        self._proc = proc
        self._stderr_path = stderr_path
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    @property
    def pid(self) -> int:
        return self._proc.pid

    @classmethod
    async def start(cls, label: str, argv: Sequence[str], env: dict[str, str], workdir: Path) -> AsyncSession:
        stderr_path = workdir / f"{label.lower()}-stderr.log"
        with stderr_path.open("ab") as stderr:  # the child keeps its own copy of the descriptor
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=env,
                cwd=workdir,
                limit=READ_LIMIT,
            )
        return cls(label, proc, stderr_path)

    async def _read(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None  # PIPE
        try:
            while line := await stdout.readline():
                if not line.strip():
                    continue
                message = json.loads(line)
                if not isinstance(message, dict) or "method" in message:
                    continue  # a notification or a request from the server: not an answer
                reply = cast("dict[str, Any]", message)
                future = self._pending.pop(reply.get("id", -1), None)
                if future is not None and not future.done():
                    future.set_result(reply)
        finally:
            error = BenchError(f"{self.label} closed its stdout{self._stderr_tail()}")
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error)
            self._pending.clear()

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        rid = self._next_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        await self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        try:
            reply = await asyncio.wait_for(future, REQUEST_TIMEOUT_S)
        except TimeoutError:
            raise BenchError(f"{self.label}: no answer to {method} in {REQUEST_TIMEOUT_S:.0f} s") from None
        if "error" in reply:
            raise BenchError(f"{self.label}: {method} failed: {reply['error']}")
        return cast("dict[str, Any]", reply["result"])

    async def _send(self, message: dict[str, Any]) -> None:
        stdin = self._proc.stdin
        assert stdin is not None  # PIPE
        stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        await stdin.drain()

    async def initialize(self) -> None:
        await self.request(
            "initialize",
            {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
        )
        await self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def close(self) -> None:
        """End of input, as a client hanging up; terminate, then kill, if the server does not leave by itself."""
        proc = self._proc
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), EXIT_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), EXIT_TIMEOUT_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    def _stderr_tail(self, lines: int = 15) -> str:
        try:
            tail = self._stderr_path.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return ""
        return ("\n  stderr (last lines):\n    " + "\n    ".join(tail)) if tail else ""


# --------------------------------------------------------------------------------------------------------------------
# What the database says
# --------------------------------------------------------------------------------------------------------------------


class OrderStore(Protocol):
    """Asks the database itself, not the server: how many orders, which of these ids are there."""

    async def count(self) -> int: ...
    async def present(self, ids: Sequence[str]) -> int: ...
    async def deadlocks(self) -> int | None: ...
    async def server_pids(self) -> list[int]: ...
    async def mail(self) -> tuple[int, int]: ...
    async def close(self) -> None: ...


_MAIL = "SELECT status, count(*) FROM outbox GROUP BY status"


def _mail_counts(rows: Sequence[Sequence[Any]]) -> tuple[int, int]:
    """(e-mails waiting: pending or being sent, e-mails sent) from ``_MAIL``'s rows."""
    counts = {str(status): int(n) for status, n in rows}
    return counts.get("pending", 0) + counts.get("sending", 0), counts.get("sent", 0)


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    async def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM orders").fetchone()[0])

    async def present(self, ids: Sequence[str]) -> int:
        found = 0
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            query = f"SELECT count(*) FROM orders WHERE id IN ({marks})"  # noqa: S608 - placeholders only
            found += int(self._db.execute(query, part).fetchone()[0])
        return found

    async def deadlocks(self) -> int | None:
        return None

    async def server_pids(self) -> list[int]:
        return []  # SQLite runs inside the server processes

    async def mail(self) -> tuple[int, int]:
        return _mail_counts(self._db.execute(_MAIL).fetchall())

    async def close(self) -> None:
        self._db.close()


class PostgresStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        return cls(await connect(driver_dsn(url)))

    async def count(self) -> int:
        return int(await self._conn.fetchval("SELECT count(*) FROM orders"))

    async def present(self, ids: Sequence[str]) -> int:
        return int(await self._conn.fetchval("SELECT count(*) FROM orders WHERE id = ANY($1::text[])", list(ids)))

    async def deadlocks(self) -> int | None:
        await self._conn.execute("SELECT pg_stat_clear_snapshot()")  # the counters as they are now
        query = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        return int(await self._conn.fetchval(query))

    async def server_pids(self) -> list[int]:
        """PostgreSQL's processes: the pool's backends and the background ones (this connection's too)."""
        rows = await self._conn.fetch("SELECT pid FROM pg_stat_activity")
        return [int(row[0]) for row in rows]

    async def mail(self) -> tuple[int, int]:
        return _mail_counts(await self._conn.fetch(_MAIL))

    async def close(self) -> None:
        await self._conn.close()


# --------------------------------------------------------------------------------------------------------------------
# CPU time from /proc
# --------------------------------------------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of these processes (those that are gone count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the whole line)
    return total / _TICK


def machine_ticks() -> tuple[int, int]:
    """All CPUs' (busy, total) ticks since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


@dataclass(slots=True)
class CpuUse:
    """CPU seconds spent during a level, and the machine's busy share."""

    servers_s: float = 0.0
    database_s: float = 0.0
    client_s: float = 0.0
    machine_busy: float = 0.0  # of all cores
    ours: float = 0.0  # of all cores: servers + database + client


class CpuMeter:
    def __init__(self, server_pids: Sequence[int], database_pids: Sequence[int]) -> None:
        self._servers, self._database = list(server_pids), list(database_pids)
        self._start = (cpu_seconds(self._servers), cpu_seconds(self._database), time.process_time(), machine_ticks())

    def stop(self) -> CpuUse:
        servers, database, client = cpu_seconds(self._servers), cpu_seconds(self._database), time.process_time()
        busy, total = machine_ticks()
        s0, d0, c0, (b0, t0) = self._start
        use = CpuUse(servers - s0, database - d0, client - c0)
        ticks = total - t0
        if ticks > 0:
            use.machine_busy = (busy - b0) / ticks
            use.ours = (use.servers_s + use.database_s + use.client_s) * _TICK / ticks
        return use


# --------------------------------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Level:
    """One number of concurrent clients: what they placed, how fast, and what the database says."""

    clients: int
    seconds: float
    in_window: int = 0  # orders answered inside the measured window
    placed: int = 0  # all orders answered as placed (warm-up and the tail after the window too)
    busy: int = 0  # "busy, retry" answers, each retried
    replayed: int = 0  # a retry answered with an earlier call's order: that call had written after all
    latencies_ms: list[float] = field(default_factory=list[float])  # inside the window
    per_process: list[int] = field(default_factory=list[int])
    order_ids: list[str] = field(default_factory=list[str])
    counted: int = 0  # orders the database gained
    found: int = 0  # of order_ids, how many the database has
    deadlocks: int | None = None
    cpu: CpuUse = field(default_factory=CpuUse)  # over the whole level, warm-up and tail included
    mail_backlog: int = 0  # e-mails still waiting when the level began (after the wait for them)
    mail_drain_s: float = 0.0  # how long the level waited for earlier e-mails to go out first
    mail_sent: int = 0  # e-mails the servers' workers sent during the level

    @property
    def rate(self) -> float:
        return self.in_window / self.seconds if self.seconds else 0.0

    @property
    def verified(self) -> bool:
        return self.counted == self.placed == self.found == len(set(self.order_ids))


@dataclass(frozen=True, slots=True)
class Catalogue:
    customer_ids: Sequence[str]
    skus: Sequence[str]


def _text(result: dict[str, Any]) -> str:
    content = result.get("content")
    items = cast("list[object]", content) if isinstance(content, list) else []
    return " ".join(str(cast("dict[str, Any]", i).get("text", "")) for i in items if isinstance(i, dict))[:300]


async def _client(
    k: int,
    session: AsyncSession,
    level: Level,
    catalogue: Catalogue,
    window: tuple[float, float],
    tag: str,
    process: int,
) -> None:
    rng = random.Random(f"{tag}-{k}")  # noqa: S311 - reproducible picks, not secrets
    skus, customers = list(catalogue.skus), list(catalogue.customer_ids)
    window_start, deadline = window
    n = 0
    while time.perf_counter() < deadline:
        n += 1
        first, second = rng.sample(skus, 2)
        arguments = {
            "customer_id": rng.choice(customers),
            "lines": [{"sku": first, "quantity": 1}, {"sku": second, "quantity": 2}],
            "idempotency_key": f"{tag}-{k}-{n}",
        }
        while True:
            began = time.perf_counter()
            result = await session.request("tools/call", {"name": "orders_place", "arguments": arguments})
            ended = time.perf_counter()
            if not result.get("isError"):
                break
            text = _text(result)
            if "busy" not in text.lower():
                raise BenchError(f"{session.label}: orders_place failed (not busy): {text}")
            level.busy += 1
            await asyncio.sleep(BUSY_PAUSE_S)
        structured = cast("dict[str, Any]", result.get("structuredContent") or {})
        order = cast("dict[str, Any] | None", structured.get("order"))
        if order is None:
            raise BenchError(f"{session.label}: orders_place answered without an order: {str(result)[:300]}")
        if structured.get("replayed"):
            level.replayed += 1  # the order exists once, from the earlier attempt: not a new one
            continue
        level.placed += 1
        level.per_process[process] += 1
        level.order_ids.append(str(order["id"]))
        if window_start <= ended <= deadline:
            level.in_window += 1
            level.latencies_ms.append((ended - began) * 1e3)


async def run_level(
    sessions: Sequence[AsyncSession],
    store: OrderStore,
    catalogue: Catalogue,
    clients: int,
    *,
    warmup_s: float,
    seconds: float,
    tag: str,
    mail_worker: bool,
) -> Level:
    """``clients`` closed-loop clients over ``sessions`` for ``warmup_s + seconds``; then the database's count."""
    level = Level(clients=clients, seconds=seconds, per_process=[0] * len(sessions))
    if mail_worker:
        level.mail_backlog, level.mail_drain_s = await _drain_mail(store)
    _, sent_before = await store.mail()
    before = await store.count()
    deadlocks_before = await store.deadlocks()
    meter = CpuMeter([s.pid for s in sessions], await store.server_pids())
    start = time.perf_counter()
    window = (start + warmup_s, start + warmup_s + seconds)
    await asyncio.gather(
        *(
            _client(k, sessions[k % len(sessions)], level, catalogue, window, tag, k % len(sessions))
            for k in range(clients)
        )
    )
    level.cpu = meter.stop()
    level.mail_sent = (await store.mail())[1] - sent_before
    level.counted = await store.count() - before
    level.found = await store.present(level.order_ids)
    deadlocks_after = await store.deadlocks()
    if deadlocks_before is not None and deadlocks_after is not None:
        level.deadlocks = deadlocks_after - deadlocks_before
    return level


MAIL_DRAIN_S = 120.0


async def _drain_mail(store: OrderStore) -> tuple[int, float]:
    """Wait (at most MAIL_DRAIN_S) for the servers' workers to send the e-mails earlier orders queued, so that no
    level pays for another's; the e-mails still waiting, and the seconds waited."""
    start = time.perf_counter()
    waiting, _ = await store.mail()
    while waiting and time.perf_counter() - start < MAIL_DRAIN_S:
        await asyncio.sleep(0.25)
        waiting, _ = await store.mail()
    return waiting, time.perf_counter() - start


async def measure_levels(
    label: str,
    url: str,
    store: OrderStore,
    env: dict[str, str],
    workdir: Path,
    catalogue: Catalogue,
    *,
    processes: int,
    levels: Sequence[int],
    warmup_s: float,
    seconds: float,
    mail_worker: bool = False,
) -> list[Level]:
    """Start ``processes`` servers on ``url``, warm each up with a few orders, then run every level in turn."""
    env = dict(env) | {"SHOPKEEPER_DATABASE_URL": url, "SHOPKEEPER_WORKER": "on" if mail_worker else "off"}
    sessions: list[AsyncSession] = []
    try:
        for i in range(processes):
            sessions.append(await AsyncSession.start(f"{label}-place-{i}", shopkeeper_argv(), env, workdir))
        await asyncio.gather(*(s.initialize() for s in sessions))
        # Each process opens its database and pool, and runs orders_place's code once, before anything is timed.
        stamp = time.time_ns()
        warm = await run_level(
            sessions, store, catalogue, processes, warmup_s=0.0, seconds=0.3, tag=f"warm-{stamp}", mail_worker=False
        )
        if not warm.verified:
            raise BenchError(f"{label}: warm-up orders do not match the database: {describe_levels(label, [warm], 1)}")
        return [
            await run_level(
                sessions,
                store,
                catalogue,
                clients,
                warmup_s=warmup_s,
                seconds=seconds,
                tag=f"c{clients}-{stamp}",
                mail_worker=mail_worker,
            )
            for clients in levels
        ]
    finally:
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)


def describe_levels(label: str, levels: Sequence[Level], processes: int, *, mail_worker: bool = False) -> list[str]:
    """The table of one engine's levels, its curve, and whether every order was found in the database."""
    base = levels[0].rate if levels else 0.0
    lines = [
        f"  {label:<11} {'clients':>7} {'orders/s':>9} {'vs first':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'placed':>7} {'busy':>5} {'deadlocks':>9}  per process   database check"
    ]
    for level in levels:
        ordered = sorted(level.latencies_ms)
        p50 = percentile(ordered, 0.5) if ordered else float("nan")
        p99 = percentile(ordered, 0.99) if ordered else float("nan")
        deadlocks = "-" if level.deadlocks is None else str(level.deadlocks)
        check = (
            f"ok: +{level.counted} orders, all {level.found} ids found"
            if level.verified
            else f"MISMATCH: placed {level.placed}, database +{level.counted}, ids found {level.found}/"
            f"{len(level.order_ids)} ({len(set(level.order_ids))} distinct)"
        )
        if level.replayed:
            check += f"; {level.replayed} retries answered with an earlier attempt's order"
        lines.append(
            f"  {'':<11} {level.clients:>7} {level.rate:>9.0f} {level.rate / base if base else 0:>8.2f}x "
            f"{p50:>8.1f} {p99:>8.1f} {level.placed:>7} {level.busy:>5} {deadlocks:>9}  "
            f"{'/'.join(str(n) for n in level.per_process):<13} {check}"
        )
    for level in levels:
        cpu, placed = level.cpu, max(1, level.placed)
        database = f"database {cpu.database_s * 1e3 / placed:5.1f}, " if cpu.database_s else ""
        lines.append(
            f"  {label:<11} {level.clients:>3} clients: CPU ms per order: servers {cpu.servers_s * 1e3 / placed:5.1f}, "
            f"{database}client {cpu.client_s * 1e3 / placed:4.1f}; machine busy {cpu.machine_busy:4.0%} of "
            f"{os.cpu_count()} cores, ours {cpu.ours:4.0%}"
            + (
                f"; e-mails sent {level.mail_sent} (first waited {level.mail_drain_s:.1f} s for earlier ones, "
                f"{level.mail_backlog} still waiting)"
                if mail_worker
                else ""
            )
        )
    top = max((level.rate for level in levels), default=0.0) or 1.0
    for level in levels:
        bar = "#" * max(1, round(40 * level.rate / top))
        lines.append(f"  {label:<11} {level.clients:>3} clients |{bar:<40}| {level.rate:6.0f} orders/s")
    if len(levels) > 1:
        growth = ", ".join(f"{lv.clients}: {lv.rate / base:.2f}x" for lv in levels[1:]) if base else "-"
        first = levels[0].clients
        lines.append(f"  {label:<11} throughput against {first} client(s): {growth} ({processes} processes)")
    return lines
