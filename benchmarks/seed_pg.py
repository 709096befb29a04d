"""Fill a Shopkeeper PostgreSQL database with N orders: the same rows as ``benchmarks.seed`` writes to SQLite.

``shopkeeper db init`` creates the schema in the (existing, empty) database; then the rows from ``benchmarks.seed``'s
generator (same random seed and the same ``now_ms`` give the same ids, timestamps and amounts as the SQLite file) go
in with asyncpg's binary ``COPY`` (``copy_records_to_table``), 50,000 orders per transaction, the next chunk being
generated in a thread while the server takes the last one. As for SQLite, the secondary indexes are dropped first
and rebuilt at the end, and foreign keys are not checked during the load (``session_replication_role = replica``;
SQLite's loader connection has ``foreign_keys`` off). ``VACUUM (ANALYZE)`` at the end leaves the tables as a server
that has run for a while would have them (statistics, visibility map, hint bits), so autovacuum does not start on
them in the middle of the measurements.

``python -m benchmarks.seed_pg --orders N --url postgresql://user@host:port/db`` seeds an existing database.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import datetime
import os
import random
import subprocess
import time
from collections.abc import Iterator, Sequence

from benchmarks.pg import connect, driver_dsn
from benchmarks.seed import (
    BIN_DIR,
    CUSTOMER_COLUMNS,
    LINE_COLUMNS,
    ORDER_COLUMNS,
    PAYMENT_COLUMNS,
    PRODUCT_COLUMNS,
    PYTHON,
    Chunk,
    SeedResult,
    Tally,
    catalog_rows,
    describe,
    last_day,
    order_chunks,
)

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MILLISECOND = datetime.timedelta(milliseconds=1)
_LOADED_TABLES = ("orders", "order_lines", "payments")
_SECONDARY_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
WHERE t.relname = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""


def _pg_stamp(ms: int) -> datetime.datetime:
    return _EPOCH + ms * _MILLISECOND


def init_schema(url: str) -> None:
    """The server's own schema, through its CLI: ``shopkeeper db init`` on an existing empty database."""
    script = BIN_DIR / "shopkeeper"
    argv = (
        [str(script)] if script.exists() else [PYTHON, "-c", "from mcp_server.entrypoint import cli_main; cli_main()"]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPKEEPER_")}
    env["SHOPKEEPER_DATABASE_URL"] = url
    done = subprocess.run([*argv, "db", "init"], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"shopkeeper db init failed ({done.returncode}):\n{done.stderr[-2000:]}{done.stdout[-500:]}")


def seed_postgres(
    url: str,
    orders: int,
    *,
    now_ms: int,
    customers: int = 500,
    products: int = 200,
    days: int = 365,
    batch: int = 50_000,
    random_seed: int = 20261126,
    deep_positions: Sequence[int] = (),
    samples: int = 1000,
    progress: bool = False,
) -> SeedResult:
    """Create the schema in the empty database at ``url`` and fill it as ``benchmarks.seed.seed`` fills a file."""
    started = time.perf_counter()
    init_schema(url)
    result = SeedResult(path=None, orders=orders, where=url.split("@", 1)[-1])
    result.last_day = last_day(now_ms)
    asyncio.run(
        _load(
            driver_dsn(url),
            result,
            orders=orders,
            now_ms=now_ms,
            customers=customers,
            products=products,
            days=days,
            batch=batch,
            random_seed=random_seed,
            deep_positions=deep_positions,
            samples=samples,
            progress=progress,
        )
    )
    result.total_s = time.perf_counter() - started
    return result


async def _load(
    dsn: str,
    result: SeedResult,
    *,
    orders: int,
    now_ms: int,
    customers: int,
    products: int,
    days: int,
    batch: int,
    random_seed: int,
    deep_positions: Sequence[int],
    samples: int,
    progress: bool,
) -> None:
    rng = random.Random(random_seed)  # noqa: S311 - reproducible fixture data, not secrets
    start_ms = now_ms - days * 86_400_000
    conn = await connect(dsn)
    try:
        await conn.execute("SET session_replication_role = replica")  # no FK triggers while loading
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '512MB'")
        insert_started = time.perf_counter()
        async with conn.transaction():
            indexes = await conn.fetch(_SECONDARY_INDEXES, list(_LOADED_TABLES))
            for name, _ in indexes:
                await conn.execute(f"DROP INDEX {name}")
            catalog = catalog_rows(rng, result, customers, products, start_ms, _pg_stamp)
            await conn.copy_records_to_table("customers", records=catalog.customer_rows, columns=CUSTOMER_COLUMNS)
            await conn.copy_records_to_table("products", records=catalog.product_rows, columns=PRODUCT_COLUMNS)
        tally = Tally(result, orders, deep_positions, samples, insert_started, progress)
        chunks = order_chunks(rng, catalog, orders, start_ms, now_ms, batch, _pg_stamp)
        loop = asyncio.get_running_loop()
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as generator:
            # The next chunk is made in a thread while the server parses and stores this one.
            pending = loop.run_in_executor(generator, _next, chunks)
            while (chunk := await pending) is not None:
                pending = loop.run_in_executor(generator, _next, chunks)
                async with conn.transaction():
                    await conn.copy_records_to_table("orders", records=chunk.orders, columns=ORDER_COLUMNS)
                    await conn.copy_records_to_table("order_lines", records=chunk.lines, columns=LINE_COLUMNS)
                    await conn.copy_records_to_table("payments", records=chunk.payments, columns=PAYMENT_COLUMNS)
                tally.add(chunk)
        result.insert_s = time.perf_counter() - insert_started
        index_started = time.perf_counter()
        for _, definition in indexes:
            await conn.execute(definition)
        result.index_s = time.perf_counter() - index_started
        vacuum_started = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE) customers, products, orders, order_lines, payments")
        result.analyze_s = time.perf_counter() - vacuum_started
        result.size_bytes = int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await conn.close()


def _next(chunks: Iterator[Chunk]) -> Chunk | None:
    return next(chunks, None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.seed_pg", description="Fill an empty Shopkeeper PostgreSQL database with N orders."
    )
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to write (default 1,000,000)")
    parser.add_argument("--url", required=True, help="postgresql://user@host:port/db of an existing, empty database")
    args = parser.parse_args(argv)
    url = str(args.url)
    if not url.startswith("postgresql"):
        parser.error("--url must be a postgresql:// URL")
    if "+" not in url.split("://", 1)[0]:
        url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    result = seed_postgres(url, args.orders, now_ms=time.time_ns() // 1_000_000, progress=True)
    for line in describe(result):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
