"""Section 4 of ``make bench``: the order tools over a seeded database of N orders (default 1,000,000).

A fresh database is seeded with ``benchmarks.seed`` (rows per second reported), then Shopkeeper and the echo server
run side by side and every order tool is timed against ``echo`` calls interleaved with it in the same run:

- ``orders_get`` (a different order each call, spread over the whole table): p50 ≤ 1.5x echo;
- ``orders_list`` first page and a deep page (a cursor after the 900,000th order, newest first): each ≤ 2.0x echo,
  deep/first ≤ 1.2;
- ``reports_sales_summary`` over the last 30 days (reported), and over 186 days by day and 366 days by product;
- ``orders_place`` p50 against echo, and its throughput in a sequential burst (reported).

Memory: the server's resident set right after start-up and its first ``orders_get``, against its peak (VmHWM) after
all the listing and reporting: ≤ 1.5x, i.e. nothing loads a table.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from benchmarks.bench import (
    ECHO_SERVER,
    PYTHON,
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
from benchmarks.seed import SeedResult, describe, seed
from mcp_server.utils.cursors import encode_cursor

TARGET_GET = 1.5
TARGET_LIST = 2.0
TARGET_DEEP_OVER_FIRST = 1.2
TARGET_PEAK_OVER_START = 1.5
DEEP_POSITION = 900_000
PAGE = 20  # orders_list's default page size
LIST_FILTERS: dict[str, object] = {"status": None, "customer_id": None, "from": None, "to": None}

SummaryRow = tuple[str, float, float | None]


@dataclass(frozen=True, slots=True)
class OrderOptions:
    orders: int
    calls: int  # measured orders_get / orders_list calls per phase
    warmup: int
    report_calls: int
    place_calls: int


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


def check_page(shop: StdioClient, arguments: dict[str, Any], what: str) -> tuple[str, str]:
    """Call orders_list once and insist on a full page with a next cursor; its first and last order ids."""
    result, _ = shop.call_tool("orders_list", arguments)
    page = _structured(result)
    raw = page.get("orders")
    items = cast("list[object]", raw) if isinstance(raw, list) else []
    orders = [o for o in map(_as_object, items) if o is not None]
    if len(orders) != PAGE or not page.get("next_cursor"):
        raise BenchError(f"orders_list {what}: expected a full page of {PAGE} and a next_cursor, got {len(orders)}")
    return str(orders[0]["id"]), str(orders[-1]["id"])


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
    """Seed, start both servers on the seeded database, time every order tool, read memory; the summary rows."""
    n = options.orders
    deep = min(DEEP_POSITION, n * 9 // 10)
    section(f"4. Orders: a database of {n:,} orders, Shopkeeper against echo in the same run")
    path = workdir / "orders.db"
    print(f"  seeding {path} ...", flush=True)
    seeded = seed(path, n, deep_positions=(deep,), samples=max(1000, options.calls + options.warmup))
    for line in describe(seeded):
        print(f"  {line}")

    env = dict(base_env)
    env["SHOPKEEPER_DATABASE_URL"] = f"sqlite+aiosqlite:///{path}"
    launcher = Launcher(workdir, env)
    try:
        return _measure(options, launcher, seeded, deep)
    finally:
        launcher.stop_all()


def _measure(options: OrderOptions, launcher: Launcher, seeded: SeedResult, deep: int) -> list[SummaryRow]:
    ids = seeded.sample_order_ids
    shop_spec = ServerSpec("Shopkeeper-orders", shopkeeper_argv(), "orders_get", {"order_id": ids[0]})
    echo_spec = ServerSpec("Echo-orders", [PYTHON, str(ECHO_SERVER)], "echo", {"text": ids[0]})
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
        print()
        print(f"  {'Shopkeeper tool (ms)':<34} {'p50':>8} {'p90':>8} {'p99':>8}   {'echo p50 p99':>16}   p50 ratio")

        get = interleaved(
            shop, echo, "orders_get", lambda i: {"order_id": ids[i % len(ids)]}, warmup=warmup, calls=calls
        )
        print(_line(f"orders_get ({len(ids)} ids)", get, TARGET_GET), flush=True)
        rows.append(("orders_get p50 / echo", get.ratio, TARGET_GET))

        first_id, _ = check_page(shop, {}, "first page")
        after = seeded.newest_first[deep]
        cursor = encode_cursor("orders", LIST_FILTERS, [after])
        deep_first, _ = check_page(shop, {"cursor": cursor}, f"after order {deep:,}")
        if not deep_first < after < first_id:
            raise BenchError(f"the deep page starts at {deep_first}, not just after {after}")
        first = interleaved(shop, echo, "orders_list", lambda _: {}, warmup=warmup, calls=calls)
        print(_line("orders_list first page", first, TARGET_LIST), flush=True)
        deep_page = interleaved(shop, echo, "orders_list", lambda _: {"cursor": cursor}, warmup=warmup, calls=calls)
        print(_line(f"orders_list after {deep:,}", deep_page, TARGET_LIST), flush=True)
        deep_over_first = ratio(deep_page.shop_p50, first.shop_p50)
        print(f"  {'  deep / first page p50':<34} {deep_over_first:8.2f}x   target ≤ {TARGET_DEEP_OVER_FIRST:.1f}x")
        rows.append(("orders_list first page p50 / echo", first.ratio, TARGET_LIST))
        rows.append((f"orders_list after {deep:,} p50 / echo", deep_page.ratio, TARGET_LIST))
        rows.append(("orders_list deep / first page p50", deep_over_first, TARGET_DEEP_OVER_FIRST))

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
        rows.append(("reports_sales_summary 30 d p50 / echo", report.ratio, None))
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
        rows.append(("orders_place p50 / echo", placed.ratio, None))
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
    rows.append(("peak RSS listing+reporting / start-up", peak_ratio, TARGET_PEAK_OVER_START))
    return rows


def _memory_line(label: str, memory: Memory) -> None:
    print(f"  {label:<36} {memory.rss_mb:7.1f} MB (peak {memory.hwm_mb:6.1f} MB)")
