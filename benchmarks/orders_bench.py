"""Sections 4-6 of ``make bench``: the order tools over N seeded orders (default 1,000,000) on SQLite and PostgreSQL.

Each engine gets the same rows (``benchmarks.seed`` / ``benchmarks.seed_pg``, one random seed, one clock; rows per
second reported), then Shopkeeper and the echo server run side by side and every order tool is timed against
``echo`` calls interleaved with it in the same run:

- ``customers_get`` (500 customers in turn): p50 ≤ 1.5x echo;
- ``orders_get`` (a different order each call, spread over the whole table): p50 ≤ 1.5x echo;
- ``orders_list`` first page and a deep page (a cursor after the 900,000th order, newest first): each ≤ 2.0x echo,
  deep/first ≤ 1.2;
- ``orders_list`` with ``placed_to`` the day of the 900,000th order (the oldest ~10% match), and the page its
  ``next_cursor`` gives: each ≤ 2.0x echo;
- ``reports_sales_summary`` over the last 30 days (reported), and over 186 days by day and 366 days by product;
- ``orders_place`` p50 against echo, and its throughput in a sequential burst (reported).

Memory: the server's resident set right after start-up and its first ``orders_get``, against its peak (VmHWM) after
all the listing and reporting: ≤ 1.5x, i.e. nothing loads a table.

With both engines, each read's PostgreSQL ratio over SQLite's: ≤ 1.5. Then ``orders_place`` throughput from 1, 4
and 16 concurrent clients over 4 server processes on each engine (``benchmarks.concurrency_bench``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from benchmarks import pg
from benchmarks.bench import (
    ECHO_SERVER,
    PYTHON,
    TARGET_LATENCY,
    BenchError,
    Launcher,
    Memory,
    ServerSpec,
    StdioClient,
    _as_object,  # pyright: ignore[reportPrivateUsage]
    paired_ratio,
    percentile,
    ratio,
    section,
    shopkeeper_argv,
)
from benchmarks.concurrency_bench import (
    Catalogue,
    Level,
    OrderStore,
    PostgresStore,
    SqliteStore,
    describe_levels,
    measure_levels,
)
from benchmarks.seed import SeedResult, describe, id_moment, seed
from benchmarks.seed_pg import seed_postgres
from mcp_server.utils.cursors import encode_cursor

TARGET_GET = 1.5
TARGET_LIST = 2.0
TARGET_DEEP_OVER_FIRST = 1.2
TARGET_PEAK_OVER_START = 1.5
DEEP_POSITION = 900_000
PAGE = 20  # orders_list's default page size
LIST_FILTERS: dict[str, object] = {"status": None, "customer_id": None, "from": None, "to": None}

SummaryRow = tuple[str, float, float | None]


ENGINES = ("sqlite", "postgresql")
ENGINE_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
TARGET_PG_OVER_SQLITE = 1.5
PG_DATABASE = "shopkeeper_bench"


@dataclass(frozen=True, slots=True)
class OrderOptions:
    orders: int
    calls: int  # measured customers_get / orders_get / orders_list calls per phase
    warmup: int
    report_calls: int
    place_calls: int
    engines: tuple[str, ...] = ENGINES
    clients: tuple[int, ...] = (1, 4, 16)
    processes: int = 4
    place_seconds: float = 10.0
    place_warmup_s: float = 2.0
    mail_worker: bool = False


@dataclass(frozen=True, slots=True)
class EngineReads:
    """One engine's read measurements: the summary rows, and the four read ratios keyed by name."""

    rows: list[tuple[str, float, float | None]]
    ratios: dict[str, float]


@dataclass(frozen=True, slots=True)
class Timed:
    """Latencies (µs) of one Shopkeeper tool and of the echo calls interleaved with it."""

    label: str
    shop_us: list[float]
    echo_us: list[float]

    @property
    def shop_p50(self) -> float:
        return percentile(sorted(self.shop_us), 0.5)

    @property
    def echo_p50(self) -> float:
        return percentile(sorted(self.echo_us), 0.5)

    @property
    def ratio(self) -> float:
        return ratio(self.shop_p50, self.echo_p50)


Arguments = Callable[[int], dict[str, Any]]


def interleaved(
    shop: StdioClient, echo: StdioClient, tool: str, arguments: Arguments, *, warmup: int, calls: int
) -> Timed:
    """``warmup`` then ``calls`` rounds of one ``tool`` call and one ``echo`` call, alternating who goes first."""
    shop_us: list[float] = []
    echo_us: list[float] = []
    for i in range(warmup + calls):
        args = arguments(i)
        text = str(next(iter(args.values()), "x"))[:64]
        pair = ((shop, tool, args, shop_us), (echo, "echo", {"text": text}, echo_us))
        for client, name, call_args, sink in pair if i % 2 == 0 else reversed(pair):
            _, elapsed = client.call_tool(name, call_args)
            if i >= warmup:
                sink.append(elapsed / 1e3)
    return Timed(tool, shop_us, echo_us)


def _structured(result: dict[str, Any]) -> dict[str, Any]:
    structured = _as_object(result.get("structuredContent"))
    if structured is None:
        raise BenchError(f"no structuredContent in {str(result)[:300]}")
    return structured


def check_page(shop: StdioClient, arguments: dict[str, Any], what: str) -> tuple[str, str, str]:
    """Call orders_list once and insist on a full page with a next cursor; its first and last order ids, and the
    cursor."""
    result, _ = shop.call_tool("orders_list", arguments)
    page = _structured(result)
    raw = page.get("orders")
    items = cast("list[object]", raw) if isinstance(raw, list) else []
    orders = [o for o in map(_as_object, items) if o is not None]
    if len(orders) != PAGE or not page.get("next_cursor"):
        raise BenchError(f"orders_list {what}: expected a full page of {PAGE} and a next_cursor, got {len(orders)}")
    return str(orders[0]["id"]), str(orders[-1]["id"]), str(page["next_cursor"])


def _line(label: str, timed: Timed, target: float | None) -> str:
    shop, echo = sorted(timed.shop_us), sorted(timed.echo_us)
    goal = f"target ≤ {target:.1f}x" if target is not None else "reported"
    return (
        f"  {label:<34} {timed.shop_p50 / 1e3:8.2f} {percentile(shop, 0.9) / 1e3:8.2f} "
        f"{percentile(shop, 0.99) / 1e3:8.2f}"
        f"   echo {timed.echo_p50 / 1e3:6.2f} {percentile(echo, 0.99) / 1e3:6.2f}   {timed.ratio:6.2f}x "
        f"(paired {paired_ratio(timed.shop_us, timed.echo_us):5.2f}x)  {goal}"
    )


def run_orders(options: OrderOptions, workdir: Path, base_env: dict[str, str]) -> list[SummaryRow]:
    """Seed each engine with the same rows, time the order tools on each, then orders_place under concurrency."""
    n = options.orders
    deep = min(DEEP_POSITION, n * 9 // 10)
    now_ms = time.time_ns() // 1_000_000  # one clock for both engines: the same ids and timestamps in each
    samples = max(1000, options.calls + options.warmup)
    rows: list[SummaryRow] = []
    reads: dict[str, EngineReads] = {}
    databases: dict[str, tuple[str, SeedResult]] = {}
    with contextlib.ExitStack() as stack:
        if "sqlite" in options.engines:
            section(f"4. Orders on SQLite: a database of {n:,} orders, Shopkeeper against echo in the same run")
            path = workdir / "orders.db"
            print(f"  seeding {path} ...", flush=True)
            seeded = seed(path, n, deep_positions=(deep,), samples=samples, now_ms=now_ms)
            for line in describe(seeded):
                print(f"  {line}")
            url = f"sqlite+aiosqlite:///{path}"
            reads["sqlite"] = _run_reads(options, workdir, base_env, url, seeded, deep, "")
            rows += reads["sqlite"].rows
            databases["sqlite"] = (url, seeded)
        if "postgresql" in options.engines:
            section(f"5. Orders on PostgreSQL: the same {n:,} orders, Shopkeeper against echo in the same run")
            server = stack.enter_context(pg.server())
            if isinstance(server, pg.Unavailable):
                print(f"  PostgreSQL column: not measured. {server.reason}")
            else:
                url = server.create_database(PG_DATABASE)
                print(f"  PostgreSQL {_pg_version(server.bindir)} at {server.host}:{server.port} (a throwaway cluster, "
                      "fsync off, default shared_buffers); Shopkeeper's pool: SHOPKEEPER_DB_POOL_SIZE "
                      f"{base_env.get('SHOPKEEPER_DB_POOL_SIZE', 'unset (5)')}")  # fmt: skip
                print(f"  seeding {url} ...", flush=True)
                seeded = seed_postgres(url, n, now_ms=now_ms, deep_positions=(deep,), samples=samples)
                for line in describe(seeded):
                    print(f"  {line}")
                reads["postgresql"] = _run_reads(options, workdir, base_env, url, seeded, deep, "PG ")
                rows += reads["postgresql"].rows
                databases["postgresql"] = (url, seeded)
        if "sqlite" in reads and "postgresql" in reads:
            rows += _compare(options, workdir, base_env, databases, deep, reads)
        if databases and options.clients:
            rows += _run_concurrency(options, workdir, base_env, databases)
    return rows


def _pg_version(bindir: Path) -> str:
    done = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False)
    words = done.stdout.split()  # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    return words[2] if len(words) > 2 else "?"


def _run_reads(
    options: OrderOptions, workdir: Path, base_env: dict[str, str], url: str, seeded: SeedResult, deep: int, prefix: str
) -> EngineReads:
    env = dict(base_env)
    env["SHOPKEEPER_DATABASE_URL"] = url
    launcher = Launcher(workdir, env)
    try:
        return _measure(options, launcher, seeded, deep, prefix)
    finally:
        launcher.stop_all()


def _compare(
    options: OrderOptions,
    workdir: Path,
    base_env: dict[str, str],
    databases: dict[str, tuple[str, SeedResult]],
    deep: int,
    reads: dict[str, EngineReads],
) -> list[SummaryRow]:
    """Each read on a SQLite server, a PostgreSQL server and echo in the same rounds: PG's ratio over SQLite's.

    Sections 4 and 5 run minutes apart, and on a shared machine the load moves in between; here the three servers
    take turns call by call, so both engines' ratios share the same echo samples and the same moment.
    """
    (sqlite_url, seeded), (pg_url, _) = databases["sqlite"], databases["postgresql"]
    ids, customers = seeded.sample_order_ids, seeded.customer_ids
    cursor = encode_cursor("orders", LIST_FILTERS, [seeded.newest_first[deep]])
    workloads: dict[str, tuple[str, Arguments]] = {
        "customers_get": ("customers_get", lambda i: {"customer_id": customers[i % len(customers)]}),
        "orders_get": ("orders_get", lambda i: {"order_id": ids[i % len(ids)]}),
        "orders_list first page": ("orders_list", lambda _: {}),
        "orders_list deep page": ("orders_list", lambda _: {"cursor": cursor}),
    }
    launchers: list[Launcher] = []
    servers = (
        ServerSpec("Shopkeeper-sqlite-turns", shopkeeper_argv(), "orders_get", {"order_id": ids[0]}),
        ServerSpec("Shopkeeper-pg-turns", shopkeeper_argv(), "orders_get", {"order_id": ids[0]}),
        ServerSpec("Echo-turns", [PYTHON, str(ECHO_SERVER)], "echo", {"text": ids[0]}),
    )
    urls = (sqlite_url, pg_url, None)
    rows: list[SummaryRow] = []
    print()
    print(
        f"  PostgreSQL against SQLite in the same rounds: a SQLite server, a PostgreSQL server and echo take turns "
        f"call by call\n  ({options.calls} calls each after {options.warmup} warm-up; p50 in ms). The verdict uses "
        "these; sections 4 and 5 (minutes apart) for reference."
    )
    print(
        f"  {'read':<28} {'SQLite':>7} {'PG':>7} {'echo':>7}   {'SQLite/echo':>11} {'PG/echo':>8}   "
        f"{'PG/SQLite':>9} {'(paired)':>9} {'(4 and 5)':>10}   target"
    )
    try:
        clients: list[StdioClient] = []
        for spec, url in zip(servers, urls, strict=True):
            launchers.append(Launcher(workdir, dict(base_env) | ({"SHOPKEEPER_DATABASE_URL": url} if url else {})))
            clients.append(launchers[-1].start(spec))
        for client in clients:
            client.initialize()
            client.call()
        dated, dated_next = dated_pages(clients[0], seeded, deep)  # the same ids and days on both engines
        workloads["orders_list placed_to"] = ("orders_list", same(dated))
        workloads["orders_list placed_to next"] = ("orders_list", same(dated_next))
        for name, (tool, arguments) in workloads.items():
            sqlite_us, pg_us, echo_us = in_turns(
                clients, (tool, tool, "echo"), arguments, warmup=options.warmup, calls=options.calls
            )
            p50s = [percentile(sorted(x), 0.5) for x in (sqlite_us, pg_us, echo_us)]
            quotient = ratio(p50s[1], p50s[0])
            before = ratio(reads["postgresql"].ratios[name], reads["sqlite"].ratios[name])
            verdict = "PASS" if quotient <= TARGET_PG_OVER_SQLITE else "MISS"
            print(
                f"  {name:<28} {p50s[0] / 1e3:7.2f} {p50s[1] / 1e3:7.2f} {p50s[2] / 1e3:7.2f}   "
                f"{ratio(p50s[0], p50s[2]):10.2f}x {ratio(p50s[1], p50s[2]):7.2f}x   {quotient:8.2f}x "
                f"{paired_ratio(pg_us, sqlite_us):8.2f}x {before:9.2f}x   ≤ {TARGET_PG_OVER_SQLITE:.1f}x {verdict}",
                flush=True,
            )
            rows.append((f"PG/SQLite ratio, {name}", quotient, TARGET_PG_OVER_SQLITE))
    finally:
        for launcher in launchers:
            launcher.stop_all()
    return rows


def in_turns(
    clients: Sequence[StdioClient], tools: Sequence[str], arguments: Arguments, *, warmup: int, calls: int
) -> list[list[float]]:
    """``warmup`` then ``calls`` rounds in which every client makes one call (µs), the first of each round rotating."""
    samples: list[list[float]] = [[] for _ in clients]
    n = len(clients)
    for i in range(warmup + calls):
        args = arguments(i)
        text = str(next(iter(args.values()), "x"))[:64]
        for index in ((i + j) % n for j in range(n)):
            tool = tools[index]
            _, elapsed = clients[index].call_tool(tool, {"text": text} if tool == "echo" else args)
            if i >= warmup:
                samples[index].append(elapsed / 1e3)
    return samples


def _run_concurrency(
    options: OrderOptions, workdir: Path, base_env: dict[str, str], databases: dict[str, tuple[str, SeedResult]]
) -> list[SummaryRow]:
    clients = ", ".join(str(c) for c in options.clients)
    section(
        f"6. orders_place from {clients} concurrent clients over {options.processes} shopkeeper-mcp processes "
        f"({options.place_warmup_s:g} s warm-up + {options.place_seconds:g} s each)"
    )
    most = max(options.clients)
    print(
        f"  One MCP stdio session per process; client k uses process k % {options.processes}, so {most} clients put up "
        f"to {-(-most // options.processes)} requests\n  in flight on one session. Closed loop, 2 random products per "
        "order; 'busy' answers are retried and counted.\n"
        "  The database is asked afterwards: it must have gained exactly the orders reported placed, with their ids.\n"
        + (
            "  Each server also sends the order e-mails from its own worker (SHOPKEEPER_WORKER=on, the default)."
            if options.mail_worker
            else "  SHOPKEEPER_WORKER=off: the order e-mails wait in the outbox for a separate `shopkeeper worker`."
        )
    )
    rows: list[SummaryRow] = []
    for engine, (url, seeded) in databases.items():
        label = ENGINE_LABELS[engine]
        catalogue = Catalogue(seeded.customer_ids, seeded.skus)
        levels = asyncio.run(_levels(options, workdir, base_env, engine, url, seeded, catalogue))
        print()
        for line in describe_levels(label, levels, options.processes, mail_worker=options.mail_worker):
            print(line)
        bad = [level for level in levels if not level.verified]
        if bad:
            raise BenchError(f"{label}: orders placed and the database disagree: " + "; ".join(
                f"{lv.clients} clients placed {lv.placed}, database +{lv.counted}, ids found {lv.found}" for lv in bad
            ))  # fmt: skip
        prefix = "" if engine == "sqlite" else "PG "
        for level in levels:
            rows.append((f"{prefix}orders_place/s, {level.clients} clients", level.rate, None))
        if len(levels) > 1 and levels[0].rate:
            rows.append((f"{prefix}orders_place/s {levels[-1].clients} / {levels[0].clients} clients",
                         levels[-1].rate / levels[0].rate, None))  # fmt: skip
    return rows


async def _levels(
    options: OrderOptions,
    workdir: Path,
    base_env: dict[str, str],
    engine: str,
    url: str,
    seeded: SeedResult,
    catalogue: Catalogue,
) -> list[Level]:
    store: OrderStore
    if engine == "sqlite":
        assert seeded.path is not None
        store = SqliteStore(seeded.path)
    else:
        store = await PostgresStore.open(url)
    try:
        return await measure_levels(
            ENGINE_LABELS[engine],
            url,
            store,
            base_env,
            workdir,
            catalogue,
            processes=options.processes,
            levels=options.clients,
            warmup_s=options.place_warmup_s,
            seconds=options.place_seconds,
            mail_worker=options.mail_worker,
        )
    finally:
        await store.close()


READS = (
    "customers_get",
    "orders_get",
    "orders_list first page",
    "orders_list deep page",
    "orders_list placed_to",
    "orders_list placed_to next",
)


def same(arguments: dict[str, Any]) -> Arguments:
    """The same arguments on every call."""
    return lambda _: arguments


def dated_pages(shop: StdioClient, seeded: SeedResult, deep: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """``orders_list`` arguments up to the day of the ``deep``-th newest order, and for the page after; checked.

    The benchmark's shop keeps the default time zone (UTC), which is the day the id's moment falls on."""
    day = id_moment(seeded.newest_first[deep]).date()
    first_id, _, cursor = check_page(shop, {"placed_to": day.isoformat()}, f"placed_to {day}")
    if id_moment(first_id).date() > day:
        raise BenchError(f"orders_list placed_to {day} began with {first_id}, placed after that day")
    next_id, _, _ = check_page(shop, {"placed_to": day.isoformat(), "cursor": cursor}, "placed_to, next page")
    if not next_id < first_id:
        raise BenchError(f"the page after placed_to {day}'s first began with {next_id}, not an older order")
    return {"placed_to": day.isoformat()}, {"placed_to": day.isoformat(), "cursor": cursor}


def _measure(options: OrderOptions, launcher: Launcher, seeded: SeedResult, deep: int, prefix: str) -> EngineReads:
    """Every order tool against echo on one seeded database; ``prefix`` names the engine in the summary rows."""
    ids = seeded.sample_order_ids
    tag = prefix.strip().lower() or "sqlite"
    shop_spec = ServerSpec(f"Shopkeeper-orders-{tag}", shopkeeper_argv(), "orders_get", {"order_id": ids[0]})
    echo_spec = ServerSpec(f"Echo-orders-{tag}", [PYTHON, str(ECHO_SERVER)], "echo", {"text": ids[0]})
    calls, warmup = options.calls, options.warmup
    with contextlib.ExitStack() as stack:
        shop = stack.enter_context(launcher.running(shop_spec))
        echo = stack.enter_context(launcher.running(echo_spec))
        for client in (shop, echo):
            client.initialize()
            client.call()  # Shopkeeper's first call waits for its database to open
        at_start = shop.memory()
        echo_start = echo.memory()

        rows: list[SummaryRow] = []
        ratios: dict[str, float] = {}
        print()
        print(f"  {'Shopkeeper tool (ms)':<34} {'p50':>8} {'p90':>8} {'p99':>8}   {'echo p50 p99':>16}   p50 ratio")

        customers = seeded.customer_ids
        customer = interleaved(
            shop,
            echo,
            "customers_get",
            lambda i: {"customer_id": customers[i % len(customers)]},
            warmup=warmup,
            calls=calls,
        )
        print(_line(f"customers_get ({len(customers)} ids)", customer, None if prefix else TARGET_LATENCY), flush=True)
        # PostgreSQL's read targets are against SQLite's ratios (the PG/SQLite rows), not against echo.
        rows.append((f"{prefix}customers_get p50 / echo", customer.ratio, None if prefix else TARGET_LATENCY))
        ratios["customers_get"] = customer.ratio

        get = interleaved(
            shop, echo, "orders_get", lambda i: {"order_id": ids[i % len(ids)]}, warmup=warmup, calls=calls
        )
        print(_line(f"orders_get ({len(ids)} ids)", get, None if prefix else TARGET_GET), flush=True)
        rows.append((f"{prefix}orders_get p50 / echo", get.ratio, None if prefix else TARGET_GET))
        ratios["orders_get"] = get.ratio

        first_id, _, _ = check_page(shop, {}, "first page")
        after = seeded.newest_first[deep]
        cursor = encode_cursor("orders", LIST_FILTERS, [after])
        deep_first, _, _ = check_page(shop, {"cursor": cursor}, f"after order {deep:,}")
        if not deep_first < after < first_id:
            raise BenchError(f"the deep page starts at {deep_first}, not just after {after}")
        first = interleaved(shop, echo, "orders_list", lambda _: {}, warmup=warmup, calls=calls)
        print(_line("orders_list first page", first, None if prefix else TARGET_LIST), flush=True)
        deep_page = interleaved(shop, echo, "orders_list", lambda _: {"cursor": cursor}, warmup=warmup, calls=calls)
        print(_line(f"orders_list after {deep:,}", deep_page, None if prefix else TARGET_LIST), flush=True)
        deep_over_first = ratio(deep_page.shop_p50, first.shop_p50)
        print(f"  {'  deep / first page p50':<34} {deep_over_first:8.2f}x   target ≤ {TARGET_DEEP_OVER_FIRST:.1f}x")
        list_target = None if prefix else TARGET_LIST
        rows.append((f"{prefix}orders_list first page p50 / echo", first.ratio, list_target))
        rows.append((f"{prefix}orders_list after {deep:,} p50 / echo", deep_page.ratio, list_target))
        rows.append((f"{prefix}orders_list deep / first page p50", deep_over_first, TARGET_DEEP_OVER_FIRST))
        ratios["orders_list first page"] = first.ratio
        ratios["orders_list deep page"] = deep_page.ratio

        dated, dated_next = dated_pages(shop, seeded, deep)
        for name, arguments in (("orders_list placed_to", dated), ("orders_list placed_to next", dated_next)):
            timed = interleaved(shop, echo, "orders_list", same(arguments), warmup=warmup, calls=calls)
            label = f"{name} {dated['placed_to']}" if name.endswith("to") else "  … its next_cursor page"
            print(_line(label, timed, list_target), flush=True)
            rows.append((f"{prefix}{name} p50 / echo", timed.ratio, list_target))
            ratios[name] = timed.ratio

        last = seeded.last_day
        month = {"date_from": (last - datetime.timedelta(days=29)).isoformat(), "date_to": last.isoformat()}
        half = {"date_from": (last - datetime.timedelta(days=185)).isoformat(), "date_to": last.isoformat()}
        year = {"date_from": (last - datetime.timedelta(days=365)).isoformat(), "date_to": last.isoformat()}
        reports = max(1, options.report_calls)
        report = interleaved(shop, echo, "reports_sales_summary", lambda _: month, warmup=1, calls=reports)
        print(_line("reports_sales_summary, 30 days", report, None), flush=True)
        half_days = interleaved(shop, echo, "reports_sales_summary", lambda _: half, warmup=0, calls=3)
        print(_line("  … 186 days (the most), by day", half_days, None), flush=True)
        year_products = interleaved(
            shop, echo, "reports_sales_summary", lambda _: year | {"group_by": "product"}, warmup=0, calls=3
        )
        print(_line("  … 366 days, by product", year_products, None), flush=True)
        rows.append((f"{prefix}reports_sales_summary 30 d p50 / echo", report.ratio, None))
        after_reads = shop.memory()

        customers, skus = seeded.customer_ids, seeded.skus
        stamp = time.time_ns()

        def place(i: int) -> dict[str, Any]:
            return {
                "customer_id": customers[i % len(customers)],
                "lines": [
                    {"sku": skus[i % len(skus)], "quantity": 1},
                    {"sku": skus[(i + 7) % len(skus)], "quantity": 2},
                ],
                "idempotency_key": f"bench-{stamp}-{i}",
            }

        placed = interleaved(shop, echo, "orders_place", place, warmup=warmup // 5, calls=options.place_calls)
        print(_line("orders_place (2 lines)", placed, None), flush=True)
        burst = max(1, options.place_calls)
        offset = warmup // 5 + options.place_calls
        began = time.perf_counter_ns()
        for i in range(burst):
            shop.call_tool("orders_place", place(offset + i))
        burst_s = (time.perf_counter_ns() - began) / 1e9
        print(
            f"  {'orders_place sequential throughput':<34} {burst / burst_s:8.0f} orders/s "
            f"({burst} calls back to back in {burst_s:.2f} s, one client)"
        )
        rows.append((f"{prefix}orders_place p50 / echo", placed.ratio, None))
        at_end = shop.memory()

    print()
    print("  Memory of the Shopkeeper process (VmRSS; VmHWM = peak since start)")
    _memory_line("after start-up + first orders_get", at_start)
    _memory_line("after listing and reporting", after_reads)
    _memory_line("after orders_place", at_end)
    peak_ratio = ratio(after_reads.hwm_kb, at_start.rss_kb)
    print(
        f"  peak while listing and reporting / RSS after start-up: {peak_ratio:.2f}x "
        f"({after_reads.hwm_mb:.1f} MB / {at_start.rss_mb:.1f} MB)   target ≤ {TARGET_PEAK_OVER_START:.1f}x"
    )
    print(f"  (echo at start-up: {echo_start.rss_mb:.1f} MB)")
    rows.append((f"{prefix}peak RSS listing+reporting / start-up", peak_ratio, TARGET_PEAK_OVER_START))
    return EngineReads(rows, ratios)


def _memory_line(label: str, memory: Memory) -> None:
    print(f"  {label:<36} {memory.rss_mb:7.1f} MB (peak {memory.hwm_mb:6.1f} MB)")
