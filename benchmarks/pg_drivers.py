"""psycopg 3 against asyncpg under SQLAlchemy's async engine, on one throwaway PostgreSQL 15 (decision 0013).

``python -m benchmarks.pg_drivers`` starts a server (``tests.postgres``), loads ``bench_rows`` (10,000 rows) and
measures, with the drivers interleaved round by round (the order swapped every round) so they share the machine's
noise:

(a) a primary-key SELECT through ``connection.execute`` on a pooled connection already checked out, p50/p90 of
    2,000 calls after a warm-up; (a2) the same with a pool checkout and return around every call (BEGIN ... ROLLBACK
    each time); (a3) as (a2) on an AUTOCOMMIT engine, the way Shopkeeper's read units of work run;
(b) a short write transaction (BEGIN; conditional UPDATE of one row; INSERT of one row; COMMIT), p50 of 1,000;
(c) 20 tasks each doing 200 lookups through a pool of 10 connections: lookups per second, median of 5 rounds;
(d) opening a new connection through the engine (NullPool, so the dialect's per-connection set-up is included),
    median of 50;
(e) lookup (a) with server-side prepared statements off, as PgBouncer's transaction pooling needs;
and the import time and resident-memory growth of ``import psycopg`` / ``import asyncpg`` in a fresh interpreter.
The asyncio event loop is the standard one, as the server runs (anyio, no uvloop).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text, bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from benchmarks.bench import percentile
from tests.postgres import PostgresServer, postgres_server

ROWS = 10_000
LOOKUPS, WRITES, ROUNDS, WARMUP = 2_000, 1_000, 10, 200
TASKS, PER_TASK, POOL, CONCURRENT_ROUNDS = 20, 200, 10, 5
CONNECTS, IMPORT_REPEATS = 50, 5

metadata = MetaData()
rows = Table("bench_rows", metadata, Column("id", BigInteger, primary_key=True), Column("stock", Integer),
             Column("note", Text))  # fmt: skip
moves = Table("bench_moves", metadata, Column("id", BigInteger, primary_key=True), Column("row_id", BigInteger),
              Column("note", Text))  # fmt: skip
LOOKUP = select(rows.c.id, rows.c.stock, rows.c.note).where(rows.c.id == bindparam("id"))
TAKE = update(rows).where(rows.c.id == bindparam("row"), rows.c.stock > 0).values(stock=rows.c.stock - 1)
RECORD = insert(moves).values(row_id=bindparam("row"), note=bindparam("note"))
SCHEMA = (
    "CREATE TABLE bench_rows (id bigint PRIMARY KEY, stock int NOT NULL, note text NOT NULL)",
    "CREATE TABLE bench_moves (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, row_id bigint NOT NULL, note text)",
)
LOAD = "INSERT INTO bench_rows SELECT n, 1000000, 'row ' || n FROM generate_series(1, :rows) AS n"

Timed = Callable[[AsyncEngine, int], Awaitable[list[float]]]  # (engine, calls) -> seconds per call


def _key(i: int) -> dict[str, int]:
    return {"id": i * 7919 % ROWS + 1}  # spread over the table


async def held_lookups(engine: AsyncEngine, calls: int) -> list[float]:
    out: list[float] = []
    async with engine.connect() as conn:
        for i in range(calls):
            start = time.perf_counter()
            (await conn.execute(LOOKUP, _key(i))).one()
            out.append(time.perf_counter() - start)
    return out


async def checkout_lookups(engine: AsyncEngine, calls: int) -> list[float]:
    out: list[float] = []
    for i in range(calls):
        start = time.perf_counter()
        async with engine.connect() as conn:
            (await conn.execute(LOOKUP, _key(i))).one()
        out.append(time.perf_counter() - start)
    return out


async def writes(engine: AsyncEngine, calls: int) -> list[float]:
    out: list[float] = []
    for i in range(calls):
        row = _key(i)["id"]
        start = time.perf_counter()
        async with engine.begin() as conn:
            if (await conn.execute(TAKE, {"row": row})).rowcount != 1:
                raise RuntimeError(f"row {row} was not updated")
            await conn.execute(RECORD, {"row": row, "note": "bench"})
        out.append(time.perf_counter() - start)
    return out


async def concurrent(engine: AsyncEngine, _calls: int) -> list[float]:
    async def task(t: int) -> None:
        for i in range(PER_TASK):
            async with engine.connect() as conn:
                (await conn.execute(LOOKUP, _key(t * PER_TASK + i))).one()

    start = time.perf_counter()
    await asyncio.gather(*(task(t) for t in range(TASKS)))
    return [(time.perf_counter() - start) / (TASKS * PER_TASK)]  # seconds per lookup, whole round


async def connects(engine: AsyncEngine, calls: int) -> list[float]:
    out: list[float] = []
    for _ in range(calls):
        start = time.perf_counter()
        conn: AsyncConnection = await engine.connect()
        out.append(time.perf_counter() - start)
        await conn.close()
    return out


async def interleaved(engines: dict[str, AsyncEngine], body: Timed, total: int, rounds: int) -> dict[str, list[float]]:
    """Warm each engine up, then ``rounds`` rounds of ``total / rounds`` calls each, engines in turn."""
    for engine in engines.values():
        await body(engine, max(1, min(WARMUP, total // rounds)))
    samples: dict[str, list[float]] = {name: [] for name in engines}
    order = list(engines)
    for r in range(rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            samples[name] += await body(engines[name], total // rounds)
    return samples


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    psycopg: float
    asyncpg: float
    unit: str


def p(values: Sequence[float], fraction: float) -> float:
    return percentile(sorted(values), fraction)


def engine(server: PostgresServer, driver: str, query: str = "", **kw: Any) -> AsyncEngine:
    return create_async_engine(server.url("bench", driver) + query, **kw)


def import_cost(module: str) -> tuple[float, float]:
    """Median ms and MB of resident memory that ``import module`` adds in a fresh interpreter."""
    probe = (
        "import sys, time\n"
        "def rss():\n"
        "    return next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmRSS:'))\n"
        "before = rss(); start = time.perf_counter(); __import__(sys.argv[1])\n"
        "print((time.perf_counter() - start) * 1000, (rss() - before) / 1024)"
    )
    runs = [subprocess.run([sys.executable, "-c", probe, module], capture_output=True, text=True, check=True)
            for _ in range(IMPORT_REPEATS + 1)][1:]  # fmt: skip
    ms, mb = zip(*((float(a), float(b)) for a, b in (r.stdout.split() for r in runs)), strict=True)
    return statistics.median(ms), statistics.median(mb)


async def measure(server: PostgresServer) -> list[Row]:
    pooled: dict[str, Any] = {"pool_size": POOL, "max_overflow": 0}
    pair = {"psycopg": engine(server, "psycopg", **pooled), "asyncpg": engine(server, "asyncpg", **pooled)}
    async with pair["psycopg"].begin() as conn:
        for statement in SCHEMA:
            await conn.execute(text(statement))
        await conn.execute(text(LOAD), {"rows": ROWS})
        await conn.execute(text("ANALYZE bench_rows"))
    unprepared = {
        "psycopg": pair["psycopg"],
        "psycopg prepare_threshold=None": engine(server, "psycopg", connect_args={"prepare_threshold": None}),
        "asyncpg": pair["asyncpg"],
        "asyncpg statement_cache_size=0": engine(server, "asyncpg", connect_args={"statement_cache_size": 0}),
        "asyncpg + prepared_statement_cache_size=0": engine(
            server, "asyncpg", "?prepared_statement_cache_size=0",
            connect_args={"statement_cache_size": 0,
                          "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4()}__"},
        ),
    }  # fmt: skip
    auto = {name: engine(server, name, isolation_level="AUTOCOMMIT") for name in pair}
    fresh = {name: engine(server, name, poolclass=NullPool) for name in pair}
    try:
        held = await interleaved(pair, held_lookups, LOOKUPS, ROUNDS)
        checkout = await interleaved(pair, checkout_lookups, LOOKUPS, ROUNDS)
        autocommit = await interleaved(auto, checkout_lookups, LOOKUPS, ROUNDS)
        wrote = await interleaved(pair, writes, WRITES, ROUNDS)
        crowd = await interleaved(pair, concurrent, CONCURRENT_ROUNDS, CONCURRENT_ROUNDS)
        opened = await interleaved(fresh, connects, CONNECTS, CONNECTS)
        bouncer = await interleaved(unprepared, held_lookups, LOOKUPS, ROUNDS)
    finally:
        for e in {*pair.values(), *unprepared.values(), *auto.values(), *fresh.values()}:
            await e.dispose()

    def both(label: str, samples: dict[str, list[float]], fraction: float = 0.5, psy: str = "psycopg",
             apg: str = "asyncpg") -> Row:  # fmt: skip
        return Row(label, p(samples[psy], fraction) * 1e6, p(samples[apg], fraction) * 1e6, "µs")

    throughput = {name: [1 / s for s in values] for name, values in crowd.items()}
    result = [
        both("(a) PK lookup, held connection p50", held),
        both("(a) PK lookup, held connection p90", held, 0.9),
        both("(a2) PK lookup incl. pool checkout p50", checkout),
        both("(a3) same on an AUTOCOMMIT engine p50", autocommit),
        both("(b) write transaction p50", wrote),
        both("(b) write transaction p90", wrote, 0.9),
        Row("(c) 20 tasks x 200 lookups, pool 10", p(throughput["psycopg"], 0.5), p(throughput["asyncpg"], 0.5),
            "lookups/s"),
        both("(d) new connection through the engine", opened),
        both("(e) PK lookup p50, same rounds: default", bouncer),
        both("(e) psycopg prepare off / asyncpg stmt cache 0", bouncer,
             psy="psycopg prepare_threshold=None", apg="asyncpg statement_cache_size=0"),
        both("(e) psycopg prepare off / asyncpg + SA cache 0", bouncer,
             psy="psycopg prepare_threshold=None", apg="asyncpg + prepared_statement_cache_size=0"),
    ]  # fmt: skip
    (psy_ms, psy_mb), (apg_ms, apg_mb) = import_cost("psycopg"), import_cost("asyncpg")
    result.append(Row("import, fresh interpreter (median of 5)", psy_ms, apg_ms, "ms"))
    result.append(Row("RSS growth of the import (median of 5)", psy_mb, apg_mb, "MB"))
    return result


def main() -> None:
    with postgres_server() as server:
        server.create_database("bench")
        result = asyncio.run(measure(server))
    print(f"{'measurement':<50} {'psycopg':>10} {'asyncpg':>10}  {'unit':<10} {'psycopg/asyncpg':>15}")
    for r in result:
        print(f"{r.label:<50} {r.psycopg:>10.1f} {r.asyncpg:>10.1f}  {r.unit:<10} {r.psycopg / r.asyncpg:>15.2f}")
    base, *off = (r for r in result if r.label.startswith("(e)"))
    for r in off:
        print(
            f"cost of {r.label[4:]}: psycopg x{r.psycopg / base.psycopg:.2f}, asyncpg x{r.asyncpg / base.asyncpg:.2f}"
        )


if __name__ == "__main__":
    main()
