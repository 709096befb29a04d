"""Fill a Shopkeeper SQLite database with N orders for the benchmark: bulk inserts, rows per second reported.

``python -m benchmarks.seed --orders 1000000 --db /tmp/shop.db`` migrates the file to the server's schema (the
``shopkeeper db upgrade`` command), then writes a few hundred customers and products and N orders with 1-3 lines
each, a payment for every paid/shipped/delivered/refunded order and a refund for every refunded one. Plain
``sqlite3`` with ``executemany`` in large transactions; the secondary indexes are dropped during the load and rebuilt
at the end (faster than maintaining them row by row), exactly as the migrations define them.

Orders are spread over the last ``--days`` days, placed at strictly increasing milliseconds, and their ids are
generated from those milliseconds the way ``mcp_server.utils.ids`` makes them (48-bit ms + 80 random bits, Crockford
base32), so ids sort in placed_at order as the server's own would. Seeded rows get no audit entries and no outbox
messages: this is a fixture, not history. No ``ANALYZE`` is run: the server does not run it either.

The rows come from ``catalog_rows`` and ``order_chunks``, which ``benchmarks.seed_pg`` also uses: the same random
seed and ``now_ms`` give a PostgreSQL database with the same ids, timestamps and amounts.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PYTHON = sys.executable
BIN_DIR = Path(PYTHON).parent
CURRENCY = "EUR"
PRODUCT_STOCK = 10_000_000  # enough for every orders_place the benchmark makes
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # 10 bits -> two characters
_RANDOM_BITS = 80
_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy's SQLite DateTime stores naive UTC
_RECENT_DAYS = 14  # orders younger than this are still moving through the states

# (status, weight) for old and recent orders.
_OLD_MIX = (("delivered", 84), ("cancelled", 7), ("refunded", 4), ("shipped", 2), ("paid", 1), ("placed", 2))
_RECENT_MIX = (("placed", 20), ("paid", 25), ("shipped", 30), ("delivered", 15), ("cancelled", 7), ("refunded", 3))
_PAID_STATUSES = frozenset({"paid", "shipped", "delivered", "refunded"})
_CITIES = (("Berlin", "DE", "10115"), ("Paris", "FR", "75001"), ("Madrid", "ES", "28001"), ("Wien", "AT", "1010"))
_METHODS = ("card", "bank_transfer", "cash", "other")


def make_id(prefix: str, ms: int, rng: random.Random) -> str:
    """``prefix_`` + 26 Crockford base32 characters: ``ms`` in the top 48 bits, 80 random bits below."""
    value = (ms << _RANDOM_BITS) | rng.getrandbits(_RANDOM_BITS)
    pairs = _PAIRS
    chunks = [pairs[(value >> shift) & 0x3FF] for shift in range(120, -10, -10)]  # 13 chunks of 10 bits
    return f"{prefix}_{''.join(chunks)}"


def id_moment(entity_id: str) -> datetime.datetime:
    """When an id made by ``make_id`` (or the server) was made: its top 48 bits, in UTC."""
    value = 0
    for char in entity_id.partition("_")[2]:
        value = (value << 5) | _ALPHABET.index(char)
    return datetime.datetime.fromtimestamp((value >> _RANDOM_BITS) / 1000, tz=datetime.UTC)


def _stamp(ms: int) -> str:
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)  # naive UTC, as stored
    return moment.strftime(_TIMESTAMP_FORMAT)


Stamp = Callable[[int], object]
"""Milliseconds since the epoch as one engine stores a UTC timestamp (SQLite: naive UTC text)."""


def _expand(mix: Sequence[tuple[str, int]]) -> list[str]:
    return [status for status, weight in mix for _ in range(weight)]


@dataclass(slots=True)
class SeedResult:
    """What was written, how long each part took, and the order ids the benchmark needs."""

    path: Path | None  # the SQLite file; None for a database server
    orders: int
    where: str = ""  # what was seeded, for the report
    size_bytes: int = 0
    rows: dict[str, int] = field(default_factory=dict[str, int])
    insert_s: float = 0.0
    index_s: float = 0.0
    analyze_s: float = 0.0  # PostgreSQL's VACUUM (ANALYZE) after the load
    total_s: float = 0.0
    customer_ids: list[str] = field(default_factory=list[str])
    skus: list[str] = field(default_factory=list[str])
    sample_order_ids: list[str] = field(default_factory=list[str])
    newest_first: dict[int, str] = field(default_factory=dict[int, str])  # position (1 = newest) -> order id
    last_day: datetime.date = datetime.date(1970, 1, 1)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_s(self) -> float:
        return self.total_rows / self.insert_s if self.insert_s else float("inf")

    @property
    def rows_per_s_with_indexes(self) -> float:
        spent = self.insert_s + self.index_s
        return self.total_rows / spent if spent else float("inf")


def migrate(path: Path) -> None:
    """The server's own migrations, through its CLI: ``shopkeeper db upgrade``."""
    script = BIN_DIR / "shopkeeper"
    argv = (
        [str(script)] if script.exists() else [PYTHON, "-c", "from mcp_server.entrypoint import cli_main; cli_main()"]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPKEEPER_")}
    env["SHOPKEEPER_DATABASE_URL"] = f"sqlite+aiosqlite:///{path.resolve()}"
    done = subprocess.run([*argv, "db", "upgrade"], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"shopkeeper db upgrade failed ({done.returncode}):\n{done.stderr[-2000:]}")


_SECONDARY_INDEX_TABLES = ("orders", "order_lines", "payments")


def _drop_secondary_indexes(db: sqlite3.Connection) -> list[str]:
    placeholders = ",".join("?" * len(_SECONDARY_INDEX_TABLES))
    rows: list[tuple[str, str]] = db.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "  # noqa: S608 - placeholders
        f"AND tbl_name IN ({placeholders})",
        _SECONDARY_INDEX_TABLES,
    ).fetchall()
    for name, _ in rows:
        db.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


def seed(
    path: Path,
    orders: int,
    *,
    customers: int = 500,
    products: int = 200,
    days: int = 365,
    batch: int = 50_000,
    random_seed: int = 20261126,
    deep_positions: Sequence[int] = (),
    samples: int = 1000,
    progress: bool = False,
    now_ms: int | None = None,
) -> SeedResult:
    """Migrate ``path`` (created if missing) and fill it; ``deep_positions`` are newest-first positions to report.

    The same ``random_seed`` and ``now_ms`` give the same rows, ids and timestamps on every engine.
    """
    started = time.perf_counter()
    migrate(path)
    rng = random.Random(random_seed)  # noqa: S311 - reproducible fixture data, not secrets
    result = SeedResult(path=path, orders=orders, where=str(path))
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    start_ms = now_ms - days * 86_400_000
    result.last_day = last_day(now_ms)

    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-262144")  # 256 MB while loading
        db.execute("PRAGMA temp_store=MEMORY")
        insert_started = time.perf_counter()
        db.execute("BEGIN")
        index_sql = _drop_secondary_indexes(db)
        catalog = catalog_rows(rng, result, customers, products, start_ms, _stamp)
        db.executemany(_INSERT_CUSTOMER, catalog.customer_rows)
        db.executemany(_INSERT_PRODUCT, catalog.product_rows)
        db.execute("COMMIT")
        tally = Tally(result, orders, deep_positions, samples, insert_started, progress)
        for chunk in order_chunks(rng, catalog, orders, start_ms, now_ms, batch, _stamp):
            db.execute("BEGIN")
            db.executemany(_INSERT_ORDER, chunk.orders)
            db.executemany(_INSERT_LINE, chunk.lines)
            db.executemany(_INSERT_PAYMENT, chunk.payments)
            db.execute("COMMIT")
            tally.add(chunk)
        result.insert_s = time.perf_counter() - insert_started
        index_started = time.perf_counter()
        db.execute("BEGIN")
        for sql in index_sql:
            db.execute(sql)
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        result.index_s = time.perf_counter() - index_started
    finally:
        db.close()
    result.total_s = time.perf_counter() - started
    result.size_bytes = path.stat().st_size
    return result


def last_day(now_ms: int) -> datetime.date:
    return datetime.datetime.fromtimestamp(now_ms / 1000, datetime.UTC).date()


class Tally:
    """Counts rows as chunks are written and keeps the order ids the benchmark asks for."""

    def __init__(
        self,
        result: SeedResult,
        orders: int,
        deep_positions: Sequence[int],
        samples: int,
        started: float,
        progress: bool,
    ) -> None:
        self._result = result
        self._wanted = {orders - p: p for p in deep_positions if 1 <= p <= orders}  # ascending index -> position
        self._stride = max(1, orders // max(1, samples))
        self._started = started
        self._progress = progress

    def add(self, chunk: Chunk) -> None:
        result, stride, wanted = self._result, self._stride, self._wanted
        for offset, row in enumerate(chunk.orders):
            index = chunk.first + offset
            if index in wanted:
                result.newest_first[wanted[index]] = str(row[0])
            if index % stride == stride // 2:
                result.sample_order_ids.append(str(row[0]))
        for table, count in (
            ("orders", len(chunk.orders)),
            ("order_lines", len(chunk.lines)),
            ("payments", len(chunk.payments)),
        ):
            result.rows[table] = result.rows.get(table, 0) + count
        if self._progress:
            done = chunk.first + len(chunk.orders)
            rate = result.total_rows / (time.perf_counter() - self._started)
            print(f"  {done:>10,} orders  ({rate:,.0f} rows/s)", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Catalog:
    customers: list[tuple[str, str]]  # id, name
    products: list[tuple[str, str, str, int]]  # id, sku, name, price_minor
    customer_rows: list[tuple[object, ...]]  # in CUSTOMER_COLUMNS order
    product_rows: list[tuple[object, ...]]  # in PRODUCT_COLUMNS order


CUSTOMER_COLUMNS = ("id", "name", "name_key", "email", "phone", "notes", "created_at", "updated_at")
PRODUCT_COLUMNS = (
    "id", "sku", "sku_key", "name", "name_key", "description", "price_minor", "currency", "stock", "active",
    "created_at", "updated_at",
)  # fmt: skip


def catalog_rows(
    rng: random.Random, result: SeedResult, customers: int, products: int, start_ms: int, stamp: Stamp
) -> Catalog:
    """The customers and products, as rows; their ids and SKUs noted in ``result``."""
    created = stamp(start_ms - 86_400_000)
    customer_rows: list[tuple[object, ...]] = []
    for n in range(customers):
        cid = make_id("cus", start_ms - 86_400_000 + n, rng)
        name = f"Customer {n:05d}"
        customer_rows.append((cid, name, name.lower(), f"customer{n:05d}@example.com", None, None, created, created))
    product_rows: list[tuple[object, ...]] = []
    for n in range(products):
        pid = make_id("prd", start_ms - 86_400_000 + n, rng)
        sku = f"SKU-{n:05d}"
        price = rng.randrange(199, 20_000)
        product_rows.append(
            (
                pid,
                sku,
                sku.lower(),
                f"Product {n:05d}",
                f"product {n:05d}",
                None,
                price,
                CURRENCY,
                PRODUCT_STOCK,
                True,
                created,
                created,
            )
        )
    result.rows["customers"] = len(customer_rows)
    result.rows["products"] = len(product_rows)
    result.customer_ids = [str(row[0]) for row in customer_rows]
    result.skus = [str(row[1]) for row in product_rows]
    return Catalog(
        customers=[(str(r[0]), str(r[1])) for r in customer_rows],
        products=[(str(r[0]), str(r[1]), str(r[3]), int(str(r[6]))) for r in product_rows],
        customer_rows=customer_rows,
        product_rows=product_rows,
    )


def _insert(table: str, columns: Sequence[str]) -> str:
    names, marks = ", ".join(columns), ", ".join("?" * len(columns))
    return f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - constant table and column names


ORDER_COLUMNS = (
    "id", "customer_id", "status", "currency", "total_minor", "paid_minor", "refunded_minor", "line_count", "units",
    "ship_name", "ship_line1", "ship_line2", "ship_postal_code", "ship_city", "ship_country", "carrier",
    "tracking_number", "placed_at", "updated_at",
)  # fmt: skip
LINE_COLUMNS = (
    "order_id", "line_no", "product_id", "sku", "name", "quantity", "unit_price_minor", "line_total_minor", "restocked",
)  # fmt: skip
PAYMENT_COLUMNS = (
    "id", "kind", "order_id", "payment_id", "amount_minor", "currency", "method", "status", "reference", "reason",
    "restock", "refunded_minor", "gateway_reference", "created_at",
)  # fmt: skip
_INSERT_CUSTOMER = _insert("customers", CUSTOMER_COLUMNS)
_INSERT_PRODUCT = _insert("products", PRODUCT_COLUMNS)
_INSERT_ORDER = _insert("orders", ORDER_COLUMNS)
_INSERT_LINE = _insert("order_lines", LINE_COLUMNS)
_INSERT_PAYMENT = _insert("payments", PAYMENT_COLUMNS)


@dataclass(slots=True)
class Chunk:
    first: int
    orders: list[tuple[object, ...]] = field(default_factory=list[tuple[object, ...]])
    lines: list[tuple[object, ...]] = field(default_factory=list[tuple[object, ...]])
    payments: list[tuple[object, ...]] = field(default_factory=list[tuple[object, ...]])


def order_chunks(
    rng: random.Random, catalog: Catalog, orders: int, start_ms: int, end_ms: int, batch: int, stamp: Stamp
) -> Iterator[Chunk]:
    """Orders in placed_at order, ``batch`` at a time, with their lines and payments (rows in *_COLUMNS order)."""
    old_mix, recent_mix = _expand(_OLD_MIX), _expand(_RECENT_MIX)
    recent_from = end_ms - _RECENT_DAYS * 86_400_000
    gap = max(1, (end_ms - start_ms) // max(1, orders))  # strictly increasing ms -> strictly increasing ids
    customers, products = catalog.customers, catalog.products
    randrange, choice, sample, random_ = rng.randrange, rng.choice, rng.sample, rng.random
    chunk = Chunk(first=0)
    for index in range(orders):
        placed_ms = start_ms + index * gap + randrange(gap)
        order_id = make_id("ord", placed_ms, rng)
        customer_id, customer_name = choice(customers)
        status = choice(recent_mix if placed_ms >= recent_from else old_mix)
        picked = sample(products, 1 if random_() < 0.5 else (2 if random_() < 0.7 else 3))
        total = units = 0
        for line_no, (product_id, sku, name, price) in enumerate(picked, start=1):
            quantity = 1 if random_() < 0.7 else randrange(2, 5)
            chunk.lines.append((order_id, line_no, product_id, sku, name, quantity, price, price * quantity, 0))
            total += price * quantity
            units += quantity
        placed = stamp(placed_ms)
        updated_ms = placed_ms
        paid = refunded = 0
        if status in _PAID_STATUSES:
            paid_ms = placed_ms + randrange(60_000, 3_600_000)
            paid = total
            payment_id = make_id("pay", paid_ms, rng)
            method = choice(_METHODS)
            refunded = total if status == "refunded" else 0
            chunk.payments.append(
                (
                    payment_id,
                    "payment",
                    order_id,
                    None,
                    total,
                    CURRENCY,
                    method,
                    "succeeded",
                    None,
                    None,
                    False,
                    refunded,
                    f"gw_{index:09d}" if method == "card" else None,
                    stamp(paid_ms),
                )
            )
            updated_ms = paid_ms
            if status == "refunded":
                refund_ms = paid_ms + randrange(86_400_000, 10 * 86_400_000)
                chunk.payments.append(
                    (
                        make_id("ref", refund_ms, rng),
                        "refund",
                        order_id,
                        payment_id,
                        total,
                        CURRENCY,
                        method,
                        "succeeded",
                        None,
                        "customer request",
                        False,
                        0,
                        None,
                        stamp(refund_ms),
                    )
                )
                updated_ms = refund_ms
            elif status in ("shipped", "delivered"):
                updated_ms = paid_ms + randrange(3_600_000, 3 * 86_400_000)
        elif status == "cancelled":
            updated_ms = placed_ms + randrange(60_000, 86_400_000)
        shipped = status in ("shipped", "delivered")
        city, country, postal = _CITIES[index % len(_CITIES)]
        chunk.orders.append(
            (
                order_id,
                customer_id,
                status,
                CURRENCY,
                total,
                paid,
                refunded,
                len(picked),
                units,
                customer_name,
                f"{index % 200 + 1} Example Street",
                None,
                postal,
                city,
                country,
                "DHL" if shipped else None,
                f"TRK{index:010d}" if shipped else None,
                placed,
                stamp(min(updated_ms, end_ms)),
            )
        )
        if len(chunk.orders) >= batch:
            yield chunk
            chunk = Chunk(first=index + 1)
    if chunk.orders:
        yield chunk


def describe(result: SeedResult) -> list[str]:
    tables = ", ".join(f"{table} {count:,}" for table, count in result.rows.items())
    return [
        f"seeded   {result.where} ({result.size_bytes / 1e6:,.0f} MB): {tables}",
        f"         {result.total_rows:,} rows inserted in {result.insert_s:.1f} s = {result.rows_per_s:,.0f} rows/s "
        f"({result.orders / result.insert_s:,.0f} orders/s); indexes rebuilt in {result.index_s:.1f} s "
        f"({result.rows_per_s_with_indexes:,.0f} rows/s including them)"
        + (f"; VACUUM (ANALYZE) {result.analyze_s:.1f} s" if result.analyze_s else "")
        + f"; {result.total_s:.1f} s in all with the schema",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.seed", description="Fill a Shopkeeper SQLite database with N orders."
    )
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to write (default 1,000,000)")
    parser.add_argument("--db", type=Path, required=True, help="SQLite file; created and migrated if missing")
    parser.add_argument("--customers", type=int, default=500, help="customers (default 500)")
    parser.add_argument("--products", type=int, default=200, help="products (default 200)")
    parser.add_argument("--days", type=int, default=365, help="spread orders over the last N days (default 365)")
    parser.add_argument("--batch", type=int, default=50_000, help="orders per transaction (default 50,000)")
    args = parser.parse_args(argv)
    path: Path = args.db
    for name in ("orders", "customers", "products", "days", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if path.exists():
        with contextlib.closing(sqlite3.connect(path)) as db:
            exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'orders'").fetchone()
            if exists and db.execute("SELECT 1 FROM orders LIMIT 1").fetchone():
                parser.error(f"{path} already has orders; seed a new file")
    result = seed(
        path,
        args.orders,
        customers=args.customers,
        products=args.products,
        days=args.days,
        batch=args.batch,
        progress=True,
    )
    for line in describe(result):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
