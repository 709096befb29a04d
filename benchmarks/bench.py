"""``make bench``: Shopkeeper against a bare MCP echo server, measured in one run on one machine.

Three comparisons, each against ``benchmarks/echo_server.py`` (a bare ``MCPServer`` with one ``echo`` tool):

1. cold start: spawn -> ``initialize`` answered, median over many starts on an already migrated database,
   plus what each heavy import costs in a fresh interpreter;
2. latency: sequential ``customers_get`` calls against sequential ``echo`` calls over stdio (p50/p90/p99);
3. memory: resident set size after start-up and after 1,000 calls.

The machines are shared and noisy, so every number is a median or a percentile, every phase starts with a
warm-up, and the two servers' runs are interleaved (alternating order) rather than run one block after the other.
The client is a few lines of raw JSON-lines over pipes, identical for both servers.

4. orders (``benchmarks/orders_bench.py``): a database seeded with ``--orders`` orders (``benchmarks/seed.py``),
   ``customers_get``, ``orders_get``, ``orders_list`` first and deep page and with ``placed_to`` far back (and its
   next page), ``reports_sales_summary`` and ``orders_place`` against ``echo``, and the server's peak memory while
   listing and reporting against its size after start-up;
5. the same on PostgreSQL (a throwaway cluster started by the benchmark, ``tests/postgres.py``; the same rows,
   ``benchmarks/seed_pg.py``), and each read's PostgreSQL ratio over SQLite's;
6. ``orders_place`` throughput from 1, 4 and 16 concurrent clients over 4 server processes, on each engine
   (``benchmarks/concurrency_bench.py``), every placed order checked in the database afterwards.
7. 16 concurrent HTTP clients against ``shopkeeper-mcp --transport http --workers 2`` (reads and ``orders_place``
   mixed, a scarce product among them; errors and oversold units must be 0), then against the echo server over
   HTTP with as many workers (``benchmarks/http_bench.py``); ``--skip-http`` skips it.
8. a shop owner's day through an in-process MCP client (``benchmarks/shop_day.py``): the calls a scripted assistant
   makes against the fewest a perfect one needs (target ≤ 1.2x); ``--skip-day`` skips it.

``--engines`` picks the engines of 4-6 (default both); without PostgreSQL's programs, 5 says so and the rest runs.

Run: ``.venv/bin/python -m benchmarks.bench [--starts N] [--calls N] [--orders N] [--engines sqlite,postgresql]
[--skip-basics] [--skip-http] [--http-seconds S] [--skip-day] [--quick]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, cast

BENCH_DIR = Path(__file__).resolve().parent
ECHO_SERVER = BENCH_DIR / "echo_server.py"
PYTHON = sys.executable
BIN_DIR = Path(PYTHON).parent
PROTOCOL_VERSION = "2025-11-25"
REQUEST_TIMEOUT_S = 60.0
EXIT_TIMEOUT_S = 10.0

TARGET_COLD_START = 1.2
TARGET_LATENCY = 1.5
TARGET_MEMORY = 1.5


class BenchError(RuntimeError):
    """Something went wrong with a server under test; the message says what and shows its stderr tail."""


# --------------------------------------------------------------------------------------------------------------------
# A minimal JSON-lines MCP client over subprocess pipes
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerSpec:
    label: str
    argv: Sequence[str]
    tool: str
    arguments: dict[str, Any]


class StdioClient:
    """One server process and the few JSON-RPC messages the benchmark needs.

    Reads with ``select`` + ``os.read`` into its own line buffer so a hung server fails the run after
    ``REQUEST_TIMEOUT_S`` instead of blocking forever; the per-call overhead is a few microseconds, the same
    for both servers.
    """

    def __init__(self, spec: ServerSpec, env: dict[str, str], workdir: Path, stderr_path: Path) -> None:
        self.spec = spec
        self._stderr_path = stderr_path
        self._stderr = stderr_path.open("ab")
        self.started_ns = time.perf_counter_ns()
        try:
            self.proc: subprocess.Popen[bytes] = subprocess.Popen(
                list(spec.argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
                cwd=workdir,
                bufsize=0,
            )
        except OSError as exc:
            self._stderr.close()
            raise BenchError(f"could not start {spec.label} ({' '.join(spec.argv)}): {exc}") from exc
        if self.proc.stdin is None or self.proc.stdout is None:  # pragma: no cover - PIPE always gives both
            raise BenchError("no pipes to the server")
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._buf = bytearray()
        self._next_id = 0
        call = {"name": spec.tool, "arguments": spec.arguments}
        self._call_tail = b',"method":"tools/call","params":' + _dumps(call) + b"}\n"

    @property
    def pid(self) -> int:
        return self.proc.pid

    # -- messages ----------------------------------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        self._write(_dumps(message) + b"\n")

    def request(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Send one request; return its result and the nanoseconds from sending to the answer's line arriving."""
        self._next_id += 1
        return self._roundtrip(
            self._next_id, _dumps({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}) + b"\n"
        )

    def initialize(self) -> tuple[dict[str, Any], int]:
        """The 2025-11-25 handshake: initialize, then notifications/initialized."""
        result, elapsed = self.request(
            "initialize",
            {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
        )
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return result, elapsed

    def call(self) -> tuple[dict[str, Any], int]:
        """One ``tools/call`` of the spec's tool; the request bytes are prebuilt to keep the client cheap."""
        self._next_id += 1
        rid = self._next_id
        result, elapsed = self._roundtrip(rid, b'{"jsonrpc":"2.0","id":' + str(rid).encode() + self._call_tail)
        if result.get("isError"):
            raise BenchError(f"{self.spec.label}: {self.spec.tool} returned an error: {_content_text(result)}")
        return result, elapsed

    def call_tool(self, name: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """One ``tools/call`` of any tool with these arguments (built per call: a few µs, same for both servers)."""
        self._next_id += 1
        rid = self._next_id
        message = {
            "jsonrpc": "2.0",
            "id": rid,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        }
        result, elapsed = self._roundtrip(rid, _dumps(message) + b"\n")
        if result.get("isError"):
            raise BenchError(f"{self.spec.label}: {name} returned an error: {_content_text(result)}")
        return result, elapsed

    def _roundtrip(self, rid: int, payload: bytes) -> tuple[dict[str, Any], int]:
        start = time.perf_counter_ns()
        self._write(payload)
        deadline = time.monotonic() + REQUEST_TIMEOUT_S
        while True:
            line = self._read_line(deadline)
            arrived = time.perf_counter_ns()
            reply = _as_object(json.loads(line))
            if reply is None or "method" in reply or reply.get("id") != rid:
                continue  # a notification (log message, progress, ...) or a server request: not ours
            if "error" in reply:
                raise BenchError(f"{self.spec.label}: request {rid} failed: {reply['error']}")
            return reply["result"], arrived - start

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._in, view)
            except BrokenPipeError:
                raise BenchError(f"{self.spec.label} closed its stdin{self._stderr_tail()}") from None
            view = view[written:]

    def _read_line(self, deadline: float) -> bytes:
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 1]
                if line.strip():
                    return line
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(
                    f"{self.spec.label} did not answer within {REQUEST_TIMEOUT_S:.0f} s{self._stderr_tail()}"
                )
            ready, _, _ = select.select([self._out], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._out, 1 << 16)
            if not chunk:
                code = self.proc.poll()
                raise BenchError(f"{self.spec.label} closed stdout (exit code {code}){self._stderr_tail()}")
            self._buf += chunk

    # -- process -----------------------------------------------------------------------------------------------------

    def memory(self) -> Memory:
        return read_memory(self.pid)

    def close(self) -> None:
        """End of input, as a client hanging up; terminate, then kill, if the server does not leave by itself."""
        proc = self.proc
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        self._stderr.close()

    def _stderr_tail(self, lines: int = 15) -> str:
        self._stderr.flush()
        try:
            text = self._stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        tail = text.strip().splitlines()[-lines:]
        return ("\n  stderr (last lines):\n    " + "\n    ".join(tail)) if tail else ""


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _as_object(value: object) -> dict[str, Any] | None:
    """A decoded JSON object as a dict (its keys are always strings), anything else as None."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def _content_text(result: dict[str, Any]) -> str:
    content = result.get("content")
    items = cast("list[object]", content) if isinstance(content, list) else []
    texts = [str(item.get("text", "")) for item in map(_as_object, items) if item is not None]
    return " ".join(texts)[:300]


class Launcher:
    """Starts servers in a scratch directory and guarantees every one of them is gone at the end."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self._live: list[StdioClient] = []

    def start(self, spec: ServerSpec) -> StdioClient:
        log = self.workdir / f"{spec.label.lower()}-stderr.log"
        client = StdioClient(spec, self.env, self.workdir, log)
        self._live.append(client)
        return client

    def stop(self, client: StdioClient) -> None:
        try:
            client.close()
        finally:
            if client in self._live:
                self._live.remove(client)

    @contextlib.contextmanager
    def running(self, spec: ServerSpec) -> Generator[StdioClient]:
        client = self.start(spec)
        try:
            yield client
        finally:
            self.stop(client)

    def stop_all(self) -> None:
        for client in list(self._live):
            with contextlib.suppress(Exception):
                self.stop(client)


# --------------------------------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Memory:
    rss_kb: int
    hwm_kb: int

    @property
    def rss_mb(self) -> float:
        return self.rss_kb / 1024

    @property
    def hwm_mb(self) -> float:
        return self.hwm_kb / 1024


def read_memory(pid: int) -> Memory:
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return Memory(rss_kb=values.get("VmRSS", 0), hwm_kb=values.get("VmHWM", 0))


NO_READING = Memory(rss_kb=0, hwm_kb=0)


@dataclass(slots=True)
class StartSamples:
    initialize_ms: list[float] = field(default_factory=list[float])
    first_call_ms: list[float] = field(default_factory=list[float])


@dataclass(slots=True)
class CallSamples:
    latencies_us: list[float] = field(default_factory=list[float])
    after_start: Memory = NO_READING
    after_calls: Memory = NO_READING
    calls_at_checkpoint: int = 0


def cold_start_once(launcher: Launcher, spec: ServerSpec) -> tuple[float, float]:
    """Spawn -> initialize answered, and spawn -> first tool result (both in ms); waits for the process to exit."""
    client = launcher.start(spec)
    try:
        client.initialize()
        initialized = time.perf_counter_ns()
        client.call()
        first_call = time.perf_counter_ns()
    finally:
        launcher.stop(client)
    return (initialized - client.started_ns) / 1e6, (first_call - client.started_ns) / 1e6


def measure_cold_starts(
    launcher: Launcher, specs: Sequence[ServerSpec], starts: int, warmups: int
) -> list[StartSamples]:
    samples = [StartSamples() for _ in specs]
    for _ in range(warmups):
        for spec in specs:
            cold_start_once(launcher, spec)
    for i in range(starts):
        order = list(range(len(specs)))
        if i % 2:
            order.reverse()
        for index in order:
            init_ms, call_ms = cold_start_once(launcher, specs[index])
            samples[index].initialize_ms.append(init_ms)
            samples[index].first_call_ms.append(call_ms)
    return samples


def measure_calls(
    launcher: Launcher, specs: Sequence[ServerSpec], *, warmup: int, calls: int, memory_checkpoint: int
) -> list[CallSamples]:
    """Both servers live side by side; calls alternate between them (and alternate who goes first)."""
    samples = [CallSamples() for _ in specs]
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(launcher.running(spec)) for spec in specs]
        for client in clients:
            client.initialize()
        counts = [0] * len(specs)

        def one_call(index: int, record: bool) -> None:
            _, elapsed = clients[index].call()
            counts[index] += 1
            if record:
                samples[index].latencies_us.append(elapsed / 1e3)
            if counts[index] == memory_checkpoint:
                samples[index].after_calls = clients[index].memory()
                samples[index].calls_at_checkpoint = counts[index]

        def rounds(n: int, record: bool) -> None:
            for i in range(n):
                order = range(len(specs)) if i % 2 == 0 else range(len(specs) - 1, -1, -1)
                for index in order:
                    one_call(index, record)

        rounds(1, record=False)  # the first tool call: Shopkeeper's waits for its database to open
        for index, client in enumerate(clients):
            samples[index].after_start = client.memory()
        rounds(warmup, record=False)
        rounds(calls, record=True)
        while min(counts) < memory_checkpoint:
            rounds(1, record=False)
    return samples


# -- imports in fresh interpreters ------------------------------------------------------------------------------------

_IMPORT_PROBE = """\
import sys, time
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
for name in sys.argv[2].split(","):
    if name:
        __import__(name)
before_kb = rss()
start = time.perf_counter()
for name in sys.argv[1].split(","):
    __import__(name)
elapsed = time.perf_counter() - start
print(elapsed * 1000, (rss() - before_kb) / 1024)
"""

IMPORT_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mcp + mcp.server.mcpserver", ("mcp", "mcp.server.mcpserver")),
    ("sqlalchemy.ext.asyncio", ("sqlalchemy.ext.asyncio",)),
    ("aiosqlite", ("aiosqlite",)),
    ("alembic + alembic.command", ("alembic", "alembic.command")),
    ("mcp_server.adapters.service_factories", ("mcp_server.adapters.service_factories",)),
    ("mcp_server.entrypoint + handlers.mcp.server", ("mcp_server.entrypoint", "mcp_server.handlers.mcp.server")),
)
MCP_BASE = ("mcp", "mcp.server.mcpserver")


@dataclass(frozen=True, slots=True)
class ImportCost:
    label: str
    alone_ms: float
    alone_mb: float
    on_mcp_ms: float | None
    on_mcp_mb: float | None


def _probe(modules: Sequence[str], preload: Sequence[str], env: dict[str, str], workdir: Path) -> tuple[float, float]:
    out = subprocess.run(
        [PYTHON, "-c", _IMPORT_PROBE, ",".join(modules), ",".join(preload)],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        raise BenchError(f"importing {', '.join(modules)} failed:\n{out.stderr.strip()[-2000:]}")
    ms, mb = out.stdout.split()
    return float(ms), float(mb)


def measure_interpreter_start(env: dict[str, str], workdir: Path, repeats: int) -> float:
    times: list[float] = []
    for _ in range(repeats + 1):
        start = time.perf_counter_ns()
        subprocess.run([PYTHON, "-c", "pass"], env=env, cwd=workdir, check=True, timeout=60)
        times.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(times[1:])


def measure_imports(env: dict[str, str], workdir: Path, repeats: int) -> list[ImportCost]:
    """Each group alone in a fresh interpreter, and on top of an interpreter that already imported mcp."""
    alone: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in IMPORT_GROUPS}
    on_mcp: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in IMPORT_GROUPS}
    for _label, modules in IMPORT_GROUPS:  # warm-up: page cache and .pyc files
        _probe(modules, (), env, workdir)
    for _ in range(repeats):
        for label, modules in IMPORT_GROUPS:
            alone[label].append(_probe(modules, (), env, workdir))
            if modules != MCP_BASE:
                on_mcp[label].append(_probe(modules, MCP_BASE, env, workdir))
    costs: list[ImportCost] = []
    for label, _ in IMPORT_GROUPS:
        a = alone[label]
        b = on_mcp[label]
        costs.append(
            ImportCost(
                label=label,
                alone_ms=statistics.median(x[0] for x in a),
                alone_mb=statistics.median(x[1] for x in a),
                on_mcp_ms=statistics.median(x[0] for x in b) if b else None,
                on_mcp_mb=statistics.median(x[1] for x in b) if b else None,
            )
        )
    return costs


# --------------------------------------------------------------------------------------------------------------------
# Preparation and report
# --------------------------------------------------------------------------------------------------------------------


def shopkeeper_argv() -> list[str]:
    script = BIN_DIR / "shopkeeper-mcp"
    return [str(script)] if script.exists() else [PYTHON, "-m", "mcp_server"]


_COMPILE = (
    "import compileall, os, mcp_server\n"
    "print(os.path.dirname(mcp_server.__file__))\n"
    "compileall.compile_dir(os.path.dirname(mcp_server.__file__), quiet=1)\n"
)


def compile_shopkeeper(env: dict[str, str], workdir: Path) -> str:
    """Byte-compile the ``mcp_server`` the servers will import, as installing it does; returns its folder.

    With PYTHONDONTWRITEBYTECODE set, every module edited since its .pyc was written is compiled again on every
    start: a cost of the checkout being worked on, not of Shopkeeper's start-up."""
    done = subprocess.run([PYTHON, "-c", _COMPILE], env=env, cwd=workdir, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"could not byte-compile mcp_server:\n{done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def prepare_database(launcher: Launcher) -> str:
    """One start on an empty database: migrates it and registers the customer the benchmark reads."""
    spec = ServerSpec(
        "Shopkeeper",
        shopkeeper_argv(),
        "customers_register",
        {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000", "notes": "Benchmark"},
    )
    with launcher.running(spec) as client:
        client.initialize()
        result, _ = client.call()
    structured = _as_object(result.get("structuredContent"))
    if structured is None or not str(structured.get("id", "")).startswith("cus_"):
        raise BenchError(f"customers_register gave no customer id: {result}")
    return str(structured["id"])


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (like numpy's default)."""
    if not sorted_values:
        return float("nan")
    position = (len(sorted_values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """Median of a[i] / b[i]: samples taken side by side share the machine's mood at that moment."""
    return statistics.median(ratio(x, y) for x, y in zip(a, b, strict=True))


def section(title: str) -> None:
    print()
    print(title)
    print("-" * len(title))


def machine_summary() -> list[str]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    versions: list[str] = []
    for package in ("mcp", "pydantic", "sqlalchemy", "aiosqlite", "asyncpg", "alembic"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    now = datetime.datetime.now(datetime.UTC).astimezone()
    flag = os.environ.get("PYTHONDONTWRITEBYTECODE")
    lines = [
        f"date     {now.isoformat(timespec='seconds')}",
        f"python   {platform.python_version()} ({platform.python_implementation()}) at {PYTHON}",
        f"machine  {platform.machine()}, {os.cpu_count()} cores ({usable} usable), {platform.platform(terse=True)}",
        f"packages {', '.join(versions)}",
        f"load avg {load} (1, 5, 15 min) at start",
    ]
    if flag:
        lines.append(
            f"note     PYTHONDONTWRITEBYTECODE={flag}: missing or stale .pyc files are compiled on every start"
        )
    return lines


@dataclass(frozen=True, slots=True)
class Options:
    starts: int
    start_warmups: int
    calls: int
    warmup: int
    memory_calls: int
    import_repeats: int
    quick: bool
    orders: int = 0
    order_calls: int = 0
    report_calls: int = 0
    place_calls: int = 0
    skip_basics: bool = False
    engines: tuple[str, ...] = ("sqlite", "postgresql")
    clients: tuple[int, ...] = (1, 4, 16)
    processes: int = 4
    place_seconds: float = 10.0
    place_warmup_s: float = 2.0
    mail_worker: bool = False
    http: bool = True
    http_seconds: float = 10.0
    http_warmup_s: float = 2.0
    day: bool = True


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("client counts must be at least 1")
    return values


def _engines(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    aliases = {"pg": "postgresql", "postgres": "postgresql"}
    names = tuple(dict.fromkeys(aliases.get(n, n) for n in names))
    unknown = [n for n in names if n not in ("sqlite", "postgresql")]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"engines are sqlite and postgresql, not {', '.join(unknown) or 'nothing'}")
    return names


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description="Cold start, latency and memory of Shopkeeper against a bare MCP echo server.",
    )
    parser.add_argument("--starts", type=int, default=None, help="cold starts per server (default 15; quick 3)")
    parser.add_argument("--calls", type=int, default=None, help="measured calls per server (default 1000; quick 100)")
    parser.add_argument("--warmup", type=int, default=None, help="unmeasured calls before them (default 50; quick 10)")
    parser.add_argument(
        "--memory-calls", type=int, default=None, help="calls before the memory reading (default 1000; quick 200)"
    )
    parser.add_argument("--import-repeats", type=int, default=None, help="fresh interpreters per import (default 5)")
    parser.add_argument(
        "--orders",
        type=int,
        default=None,
        help="orders to seed for section 4 (default 1,000,000; quick 20,000; 0 skips)",
    )
    parser.add_argument(
        "--order-calls", type=int, default=None, help="measured calls per order tool (default 500; quick 50)"
    )
    parser.add_argument(
        "--report-calls", type=int, default=None, help="measured 30-day sales reports (default 20; quick 3)"
    )
    parser.add_argument("--place-calls", type=int, default=None, help="orders_place calls (default 300; quick 30)")
    parser.add_argument(
        "--engines",
        type=_engines,
        default=("sqlite", "postgresql"),
        help="engines for the order sections 4-6, comma-separated (default sqlite,postgresql)",
    )
    parser.add_argument(
        "--skip-basics", action="store_true", help="skip sections 1-3 (cold start, latency, memory on SQLite)"
    )
    parser.add_argument(
        "--clients",
        type=_int_list,
        default=(1, 4, 16),
        help="concurrent orders_place clients per level in section 6 (default 1,4,16; empty skips it)",
    )
    parser.add_argument("--processes", type=int, default=4, help="server processes in section 6 (default 4)")
    parser.add_argument(
        "--place-seconds",
        type=float,
        default=None,
        help="seconds measured per level in 6 (default 10; quick 2)",
    )
    parser.add_argument(
        "--mail-worker",
        action="store_true",
        help="section 6 with each server sending the order e-mails itself (default: SHOPKEEPER_WORKER=off)",
    )
    parser.add_argument("--skip-http", action="store_true", help="skip section 7 (16 HTTP clients, 2 workers)")
    parser.add_argument("--skip-day", action="store_true", help="skip section 8 (a shop owner's day: calls made)")
    parser.add_argument(
        "--http-seconds", type=float, default=None, help="seconds measured per run in 7 (default 10; quick 3)"
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run, not a measurement")
    args = parser.parse_args(argv)
    quick: bool = args.quick
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    place_seconds: float = args.place_seconds if args.place_seconds is not None else (2.0 if quick else 10.0)
    if place_seconds <= 0:
        parser.error("--place-seconds must be more than 0")
    http_seconds: float = args.http_seconds if args.http_seconds is not None else (3.0 if quick else 10.0)
    if http_seconds <= 0:
        parser.error("--http-seconds must be more than 0")

    def pick(value: int | None, normal: int, small: int, minimum: int, name: str) -> int:
        chosen = value if value is not None else (small if quick else normal)
        if chosen < minimum:
            parser.error(f"--{name} must be at least {minimum}")
        return chosen

    return Options(
        starts=pick(args.starts, 15, 3, 1, "starts"),
        start_warmups=1,
        calls=pick(args.calls, 1000, 100, 1, "calls"),
        warmup=pick(args.warmup, 50, 10, 0, "warmup"),
        memory_calls=pick(args.memory_calls, 1000, 200, 1, "memory-calls"),
        import_repeats=pick(args.import_repeats, 5, 2, 1, "import-repeats"),
        quick=quick,
        orders=pick(args.orders, 1_000_000, 20_000, 0, "orders"),
        order_calls=pick(args.order_calls, 500, 50, 1, "order-calls"),
        report_calls=pick(args.report_calls, 20, 3, 1, "report-calls"),
        place_calls=pick(args.place_calls, 300, 30, 1, "place-calls"),
        skip_basics=args.skip_basics,
        engines=args.engines,
        clients=args.clients,
        processes=args.processes,
        place_seconds=place_seconds,
        place_warmup_s=0.5 if quick else 2.0,
        mail_worker=args.mail_worker,
        http=not args.skip_http,
        day=not args.skip_day,
        http_seconds=http_seconds,
        http_warmup_s=1.0 if quick else 2.0,
    )


def _fmt_ms(values: Sequence[float]) -> str:
    return f"{statistics.median(values):7.1f} ms  (min {min(values):6.1f}, max {max(values):6.1f})"


SummaryRow = tuple[str, float, float | None]


def run(options: Options, workdir: Path) -> list[SummaryRow]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPKEEPER_")}
    env["SHOPKEEPER_DATABASE_URL"] = f"sqlite+aiosqlite:///{workdir / 'shop.db'}"
    # Order e-mails go to files: in the scratch folder, never the user's data folder (a PostgreSQL shop's default).
    env["SHOPKEEPER_MAIL_DIR"] = str(workdir / "mail")
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    launcher = Launcher(workdir, env)
    try:
        return _run(options, launcher, env, workdir)
    finally:
        launcher.stop_all()


def _run(options: Options, launcher: Launcher, env: dict[str, str], workdir: Path) -> list[SummaryRow]:
    started = time.monotonic()
    rows = [] if options.skip_basics else _basics(options, launcher, env, workdir)

    # 4-6. orders over a seeded database, on each engine ------------------------------------------------------------
    if options.orders > 0:
        from benchmarks.orders_bench import OrderOptions, run_orders  # imports this module: load it after

        order_options = OrderOptions(
            orders=options.orders,
            calls=options.order_calls,
            warmup=options.warmup,
            report_calls=options.report_calls,
            place_calls=options.place_calls,
            engines=options.engines,
            clients=options.clients,
            processes=options.processes,
            place_seconds=options.place_seconds,
            place_warmup_s=options.place_warmup_s,
            mail_worker=options.mail_worker,
        )
        rows += run_orders(order_options, workdir, env)

    # 7. 16 clients over HTTP against 2 workers, and against echo over HTTP ----------------------------------------
    if options.http:
        from benchmarks.http_bench import HttpOptions, run_http  # imports this module: load it after

        # In a quick run fewer scarce units, so that it too sells out and meets the refusals.
        http_options = HttpOptions(
            seconds=options.http_seconds,
            warmup_s=options.http_warmup_s,
            scarce_stock=10 if options.quick else 50,
            rounds=1 if options.quick else 3,
        )
        rows += run_http(http_options, workdir, env)

    # 8. a shop owner's day: calls made against the minimum ----------------------------------------------------------
    if options.day:
        from benchmarks.shop_day import run_section  # loaded only when the section runs

        rows += run_section(workdir)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n  (whole run {time.monotonic() - started:.0f} s; load avg at end {load})")
    return rows


def _basics(options: Options, launcher: Launcher, env: dict[str, str], workdir: Path) -> list[SummaryRow]:
    """Sections 1-3 on a one-customer SQLite database: cold start, latency, memory."""
    compiled = compile_shopkeeper(env, workdir)
    customer_id = prepare_database(launcher)
    shop = ServerSpec("Shopkeeper", shopkeeper_argv(), "customers_get", {"customer_id": customer_id})
    echo = ServerSpec("Echo", [PYTHON, str(ECHO_SERVER)], "echo", {"text": customer_id})
    specs = (shop, echo)
    print(f"servers  Shopkeeper: {' '.join(shop.argv)}")
    print(f"         Echo:       {' '.join(echo.argv)}")
    print(f"database {env['SHOPKEEPER_DATABASE_URL']} (migrated, one customer {customer_id})")
    print(f"code     {compiled} (byte-compiled first, as an install is)")

    # 1. cold start ---------------------------------------------------------------------------------------------------
    section(f"1. Cold start: spawn -> initialize answered (median of {options.starts}, interleaved, migrated db)")
    starts = measure_cold_starts(launcher, specs, options.starts, options.start_warmups)
    shop_start, echo_start = (statistics.median(s.initialize_ms) for s in starts)
    for spec, sample in zip(specs, starts, strict=True):
        print(f"  {spec.label:<11} initialize  {_fmt_ms(sample.initialize_ms)}")
    start_ratio = ratio(shop_start, echo_start)
    print(
        f"  ratio       {start_ratio:.2f}x  ({shop_start - echo_start:+.0f} ms; cross-checks: median of paired ratios "
        f"{paired_ratio(starts[0].initialize_ms, starts[1].initialize_ms):.2f}x, ratio of minimums "
        f"{ratio(min(starts[0].initialize_ms), min(starts[1].initialize_ms)):.2f}x)"
    )
    for spec, sample in zip(specs, starts, strict=True):
        first = statistics.median(sample.first_call_ms)
        print(f"  {spec.label:<11} first {spec.tool} answered {first:7.1f} ms after spawn")

    interpreter_ms = measure_interpreter_start(env, workdir, options.import_repeats)
    print()
    print(
        f"  Import cost in fresh interpreters (median of {options.import_repeats}; `python -c pass` itself "
        f"takes {interpreter_ms:.0f} ms)"
    )
    print(f"  {'module(s)':<46} {'alone':>17}   {'on top of mcp':>17}")
    for cost in measure_imports(env, workdir, options.import_repeats):
        on_top = (
            f"{cost.on_mcp_ms:7.0f} ms {cost.on_mcp_mb:5.1f} MB"
            if cost.on_mcp_ms is not None and cost.on_mcp_mb is not None
            else f"{'-':>17}"
        )
        print(f"  {cost.label:<46} {cost.alone_ms:7.0f} ms {cost.alone_mb:5.1f} MB   {on_top}")

    # 2 + 3. latency and memory -----------------------------------------------------------------------------------
    section(
        f"2. Latency: sequential tools/call over stdio, {options.calls} calls each after {options.warmup} warm-up "
        "(interleaved)"
    )
    calls = measure_calls(
        launcher, specs, warmup=options.warmup, calls=options.calls, memory_checkpoint=options.memory_calls
    )
    print(f"  {'server / tool':<30} {'p50':>8} {'p90':>8} {'p99':>8} {'min':>8} {'mean':>8}   (µs)")
    p50s: list[float] = []
    for spec, sample in zip(specs, calls, strict=True):
        ordered = sorted(sample.latencies_us)
        p50 = percentile(ordered, 0.5)
        p50s.append(p50)
        print(
            f"  {spec.label + ' / ' + spec.tool:<30} {p50:8.0f} {percentile(ordered, 0.9):8.0f} "
            f"{percentile(ordered, 0.99):8.0f} {ordered[0]:8.0f} {statistics.fmean(ordered):8.0f}"
        )
    latency_ratio = ratio(p50s[0], p50s[1])
    shop_lat, echo_lat = calls[0].latencies_us, calls[1].latencies_us
    print(
        f"  p50 ratio   {latency_ratio:.2f}x  ({p50s[0] - p50s[1]:+.0f} µs per call; cross-checks: median of paired "
        f"ratios {paired_ratio(shop_lat, echo_lat):.2f}x, ratio of minimums {ratio(min(shop_lat), min(echo_lat)):.2f}x)"
    )

    section("3. Memory: resident set size of the server process (VmRSS; VmHWM = peak)")
    print(f"  {'server':<12} {'after start-up':>22}   {'after N calls':>30}")
    for spec, sample in zip(specs, calls, strict=True):
        a, b = sample.after_start, sample.after_calls
        print(
            f"  {spec.label:<12} {a.rss_mb:7.1f} MB (peak {a.hwm_mb:5.1f})   "
            f"{b.rss_mb:7.1f} MB (peak {b.hwm_mb:5.1f}) after {sample.calls_at_checkpoint} calls"
        )
    shop_mem, echo_mem = calls[0].after_calls, calls[1].after_calls
    memory_ratio = ratio(shop_mem.rss_kb, echo_mem.rss_kb)
    print(f"  ratio       {memory_ratio:.2f}x  ({shop_mem.rss_mb - echo_mem.rss_mb:+.1f} MB)")
    rows: list[SummaryRow] = [
        ("cold start (initialize, median)", start_ratio, TARGET_COLD_START),
        ("latency (p50)", latency_ratio, TARGET_LATENCY),
        (f"memory (RSS after {options.memory_calls} calls)", memory_ratio, TARGET_MEMORY),
    ]
    launcher.stop_all()
    return rows


def print_summary(rows: Sequence[SummaryRow]) -> None:
    section("Summary: Shopkeeper / bare echo server (and its own start-up size); PG = PostgreSQL")
    print(f"  {'measure':<44} {'value':>8} {'target':>8}   result")
    for name, value, target in rows:
        shown = f"{value:7.0f} " if "/s," in name else f"{value:7.2f}x"
        if target is None:
            print(f"  {name:<44} {shown} {'-':>8}   reported")
            continue
        at_least = name.startswith("HTTP throughput")  # a share of echo's throughput: higher is better
        verdict = "PASS" if (value >= target if at_least else value <= target) else "MISS"
        bound = ("≥ " if at_least else "≤ ") + format(target, ".1f") + "x"
        print(f"  {name:<44} {shown} {bound:>8}   {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    print("Shopkeeper benchmark" + ("  [--quick: smoke run, numbers are not meaningful]" if options.quick else ""))
    for line in machine_summary():
        print(line)
    with tempfile.TemporaryDirectory(prefix="shopkeeper-bench-") as tmp:
        try:
            rows = run(options, Path(tmp))
        except BenchError as exc:
            print(f"\nbenchmark failed: {exc}", file=sys.stderr)
            return 1
    print_summary(rows)
    return 0


if __name__ == "__main__":
    # Run the module's imported copy, not ``__main__``: orders_bench imports ``benchmarks.bench``, and one copy means
    # one BenchError class for main() to catch.
    from benchmarks.bench import main as imported_main

    raise SystemExit(imported_main())
