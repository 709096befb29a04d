"""Kill -9 during concurrent writes on SQLite: the file stays sound and the shop's books add up.

Each round starts a few worker processes (``crash_worker``: the real services, wired by the
entrypoint as the CLI door wires them) on one SQLite file. They write without pause and race each
other for the last units of stock; each journals (fsync) every write it saw confirmed before the
next one. At seeded random moments the test kills each with SIGKILL, then reads the file directly
and checks, after every round:

- ``PRAGMA integrity_check`` is ok and no foreign key dangles;
- no confirmed write is lost, and none is doubled: a write cut off by the kill is sent again, with
  the same idempotency key, by the next round's worker, and happens at most once;
- stock of every product = its initial stock + the audited adjustments - units on order lines not
  returned to stock, and never below zero;
- each order's lines add up to its total, paid = Σ its succeeded payments, refunded = Σ its
  succeeded refunds ≤ paid ≤ total, each payment's refunded amount = Σ its refunds, and the
  status agrees with the money and the stock (a cancelled order has every unit back);
- every change has exactly one audit entry: each order's entries form one unbroken chain from
  ``order.placed`` to its present state, every payment and refund is named by exactly one entry,
  every used approval request by one refund or cancellation; and one e-mail per placed order.

``SHOPKEEPER_CRASH_ROUNDS`` (default 12) and ``SHOPKEEPER_CRASH_SEED`` make a longer or another run.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import select
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Generator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

from tests.reliability.crash_worker import Journal, Record, Worker, open_services, read_journal, seed

logger = logging.getLogger(__name__)

CHECKOUT = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("SHOPKEEPER_CRASH_ROUNDS", "12"))
SEED = os.environ.get("SHOPKEEPER_CRASH_SEED", "shopkeeper-crash-1")
WORKERS = 3
KILL_AFTER_S = (0.05, 1.5)  # each worker dies this long after it said ready (seeded uniform draw)
READY_TIMEOUT_S = 60.0  # start-up on a busy machine; generous, it is not what is tested
INITIAL_STOCK = [3, 5, 8, 12, 2, 20]  # small levels, so orders race for the last units


@dataclass
class Figures:
    rounds: int = 0
    kills: int = 0
    confirmed: Counter[str] = field(default_factory=Counter[str])
    refused: Counter[str] = field(default_factory=Counter[str])
    in_flight_at_kill: int = 0
    retried_after_kill: int = 0
    checks: int = 0


# --- running the workers ---------------------------------------------------------------------------


def _start(db: Path, journal: Path, seed_value: str, shop: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.crash_worker", str(db), str(journal), seed_value, str(shop)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=CHECKOUT,
            env={**os.environ, "PYTHONPATH": str(CHECKOUT)},
        )


def _wait_ready(process: subprocess.Popen[bytes], log: Path) -> None:
    stdout = process.stdout
    assert stdout is not None
    readable, _, _ = select.select([stdout], [], [], READY_TIMEOUT_S)
    line = stdout.readline() if readable else b""
    assert line == b"ready\n", f"a worker did not start ({line!r}); its stderr:\n{log.read_text()[-3000:]}"


def _run_round(number: int, tmp: Path, db: Path, shop: Path, rng: random.Random, figures: Figures) -> None:
    logs = [tmp / f"worker{w}.log" for w in range(WORKERS)]
    workers = [_start(db, tmp / f"worker{w}.jsonl", f"{SEED}-{number}-{w}", shop, logs[w]) for w in range(WORKERS)]
    try:
        for process, log in zip(workers, logs, strict=True):
            _wait_ready(process, log)
        start = time.monotonic()
        for moment, w in sorted((rng.uniform(*KILL_AFTER_S), w) for w in range(WORKERS)):
            time.sleep(max(0.0, start + moment - time.monotonic()))
            # Still writing when killed: a worker that stopped by itself hit something unexpected.
            assert workers[w].poll() is None, f"worker {w} exited by itself; its stderr:\n{logs[w].read_text()[-3000:]}"
            workers[w].kill()
            figures.kills += 1
    finally:
        for process in workers:
            process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
    figures.rounds += 1


# --- reading the file -------------------------------------------------------------------------------


@contextmanager
def _read_only(db: Path) -> Generator[sqlite3.Connection]:
    """The file as the killed processes left it (WAL and all), opened read-only."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        yield conn


def _rows(conn: sqlite3.Connection, sql: str, *args: object) -> list[sqlite3.Row]:
    return conn.execute(sql, args).fetchall()


def _json(value: object) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(value)) if isinstance(value, str) else {}


# --- the invariants ---------------------------------------------------------------------------------


def _check_storage(conn: sqlite3.Connection) -> None:
    integrity = [tuple(r) for r in _rows(conn, "PRAGMA integrity_check")]
    assert integrity == [("ok",)], f"integrity_check: {integrity}"
    assert _rows(conn, "PRAGMA foreign_key_check") == [], "a row points at nothing"


def _check_stock(conn: sqlite3.Connection, initial: dict[str, int]) -> None:
    """stock = initial + Σ audited adjustments - Σ units on lines not returned; never negative."""
    products = _rows(
        conn,
        """
        SELECT p.id, p.stock,
          (SELECT json_extract(a.after, '$.stock') FROM audit_log a
            WHERE a.entity_type = 'product' AND a.entity_id = p.id AND a.action = 'product.created') AS created_with,
          (SELECT COUNT(*) FROM audit_log a
            WHERE a.entity_type = 'product' AND a.entity_id = p.id AND a.action = 'product.created') AS created,
          (SELECT COALESCE(SUM(json_extract(a.after, '$.stock') - json_extract(a.before, '$.stock')), 0)
             FROM audit_log a
            WHERE a.entity_type = 'product' AND a.entity_id = p.id AND a.action = 'product.stock_adjusted') AS adjusted,
          (SELECT COALESCE(SUM(l.quantity - l.restocked), 0) FROM order_lines l WHERE l.product_id = p.id) AS held
        FROM products p
        """,
    )
    assert {r["id"] for r in products} == set(initial)
    for r in products:
        assert r["created"] == 1, f"product {r['id']} has {r['created']} creation entries"
        assert r["created_with"] == initial[r["id"]], f"product {r['id']} was created with {r['created_with']}"
        expected = initial[r["id"]] + r["adjusted"] - r["held"]
        assert r["stock"] == expected, (
            f"{r['id']}: stock {r['stock']} != {initial[r['id']]} initial + {r['adjusted']} adjusted "
            f"- {r['held']} on order"
        )
        assert r["stock"] >= 0, f"{r['id']} is oversold: stock {r['stock']}"


def _check_orders(conn: sqlite3.Connection) -> None:
    lineless = _rows(
        conn, "SELECT id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)"
    )
    assert lineless == [], f"orders without lines: {[r['id'] for r in lineless]}"
    mispriced = _rows(conn, "SELECT order_id FROM order_lines WHERE line_total_minor != quantity * unit_price_minor")
    assert mispriced == [], f"lines whose total is not quantity * price: {[r['order_id'] for r in mispriced]}"
    assert (
        _rows(
            conn,
            """
            SELECT o.id FROM orders o JOIN (
              SELECT order_id, SUM(line_total_minor) AS total, COUNT(*) AS n, SUM(quantity) AS units
              FROM order_lines GROUP BY order_id) l ON l.order_id = o.id
            WHERE o.total_minor != l.total OR o.line_count != l.n OR o.units != l.units
            """,
        )
        == []
    ), "an order's total, line count or units disagree with its lines"
    money = _rows(
        conn,
        """
        SELECT o.id, o.status, o.total_minor, o.paid_minor, o.refunded_minor, o.carrier,
          (SELECT COALESCE(SUM(amount_minor), 0) FROM payments p
            WHERE p.order_id = o.id AND p.kind = 'payment' AND p.status = 'succeeded') AS payments,
          (SELECT COALESCE(SUM(amount_minor), 0) FROM payments p
            WHERE p.order_id = o.id AND p.kind = 'refund' AND p.status = 'succeeded') AS refunds,
          (SELECT COUNT(*) FROM order_lines l WHERE l.order_id = o.id AND l.restocked != l.quantity) AS held_lines,
          (SELECT COUNT(*) FROM order_lines l WHERE l.order_id = o.id AND l.restocked NOT IN (0, l.quantity))
            AS part_lines
        FROM orders o
        """,
    )
    for o in money:
        where = f"order {o['id']} ({o['status']})"
        assert o["paid_minor"] == o["payments"], f"{where}: paid {o['paid_minor']} != Σ payments {o['payments']}"
        assert o["refunded_minor"] == o["refunds"], f"{where}: refunded {o['refunded_minor']} != Σ {o['refunds']}"
        assert 0 <= o["refunded_minor"] <= o["paid_minor"] <= o["total_minor"], where
        assert o["part_lines"] == 0, f"{where}: a line is partly back in stock"
        if o["status"] == "placed":
            assert o["paid_minor"] < o["total_minor"], where
        if o["status"] in ("paid", "shipped", "delivered"):
            assert o["paid_minor"] == o["total_minor"], where
        if o["status"] in ("shipped", "delivered"):
            assert o["carrier"] is not None, where
        if o["status"] == "refunded":
            assert o["refunded_minor"] == o["paid_minor"] > 0, where
        if o["status"] == "cancelled":
            assert o["refunded_minor"] == o["paid_minor"], f"{where}: money not given back"
            assert o["held_lines"] == 0, f"{where}: stock not given back"
    assert (
        _rows(
            conn,
            """
            SELECT p.id FROM payments p LEFT JOIN (
              SELECT payment_id, SUM(amount_minor) AS given FROM payments
              WHERE kind = 'refund' AND status != 'failed' GROUP BY payment_id) r ON r.payment_id = p.id
            WHERE p.refunded_minor != COALESCE(r.given, 0)
            """,
        )
        == []
    ), "a payment's refunded amount disagrees with its refunds"
    assert (
        _rows(
            conn,
            """
            SELECT r.id FROM payments r LEFT JOIN payments p ON p.id = r.payment_id
            WHERE (r.kind = 'refund' AND (p.id IS NULL OR p.order_id != r.order_id OR p.kind != 'payment'))
               OR (r.kind = 'payment' AND r.payment_id IS NOT NULL)
            """,
        )
        == []
    ), "a refund that returns no payment of its order"
    orphans = _rows(conn, "SELECT p.id FROM payments p LEFT JOIN orders o ON o.id = p.order_id WHERE o.id IS NULL")
    assert orphans == [], f"payments without their order: {[r['id'] for r in orphans]}"


_ORDER_FIELDS = ("status", "total_minor", "paid_minor", "refunded_minor")
_APPROVED_IN = re.compile(r"\(approved by person:[^ ]+ in (apr_[0-9A-Za-z_]+)\)$")


def _check_audit(conn: sqlite3.Connection) -> None:
    """One audit entry per change: per order an unbroken chain; every payment, refund and used approval named once."""
    orders = {r["id"]: r for r in _rows(conn, "SELECT * FROM orders")}
    chains: dict[str, list[sqlite3.Row]] = {order_id: [] for order_id in orders}
    for entry in _rows(conn, "SELECT * FROM audit_log WHERE entity_type = 'order' ORDER BY sequence"):
        assert entry["entity_id"] in chains, f"audit entry {entry['id']} names no order"
        chains[entry["entity_id"]].append(entry)
    for order_id, chain in chains.items():
        actions = [e["action"] for e in chain]
        assert actions[:1] == ["order.placed"], f"{order_id}: {actions}"
        assert actions.count("order.placed") == 1, f"{order_id}: {actions}"
        known = _json(chain[0]["after"])
        for entry in chain[1:]:
            before, after = _json(entry["before"]), _json(entry["after"])
            for name in _ORDER_FIELDS:
                if name in before:  # a missing or doubled entry breaks the chain here
                    assert before[name] == known[name], (
                        f"{order_id}: {entry['action']} starts from {before} not {known}"
                    )
            known |= {name: after[name] for name in _ORDER_FIELDS if name in after}
        row = orders[order_id]
        assert {name: row[name] for name in _ORDER_FIELDS} == {name: known[name] for name in _ORDER_FIELDS}, (
            f"{order_id}: the audit trail ends at {known}, the order is {dict(row)}"
        )
        assert actions.count("order.cancelled") == (row["status"] == "cancelled"), f"{order_id}: {actions}"
        assert actions.count("order.shipped") == (row["carrier"] is not None), f"{order_id}: {actions}"

    payments = {r["id"] for r in _rows(conn, "SELECT id FROM payments WHERE kind = 'payment' AND status = 'succeeded'")}
    named = Counter(
        _json(e["after"]).get("payment_id")
        for e in _rows(conn, "SELECT after FROM audit_log WHERE action = 'payment.recorded'")
    )
    assert named == Counter(payments), "each recorded payment has exactly one audit entry"

    refunds = {r["id"] for r in _rows(conn, "SELECT id FROM payments WHERE kind = 'refund'")}
    money_back = _rows(
        conn, "SELECT action, actor, after FROM audit_log WHERE action IN ('payment.refunded', 'order.cancelled')"
    )
    listed = Counter(rid for e in money_back for rid in str(_json(e["after"]).get("refund_ids") or "").split())
    assert listed == Counter(refunds), "each refund is named by exactly one refund or cancellation entry"
    # A change made through an approval request names it in its actor, and marks it used in its own transaction.
    approved_in = Counter(m.group(1) for e in money_back if (m := _APPROVED_IN.search(str(e["actor"]))))
    assert all(_json(e["after"]).get("refund_ids") for e in money_back if _APPROVED_IN.search(str(e["actor"])))
    used = Counter(r["id"] for r in _rows(conn, "SELECT id FROM approval_requests WHERE status = 'used'"))
    assert approved_in == used, (
        f"used approval requests {sorted(used)} and the money-back entries that used them {sorted(approved_in)} differ"
    )

    mails = Counter(
        (r["kind"], r["subject_id"])
        for r in _rows(conn, "SELECT kind, subject_id FROM outbox WHERE kind = 'order_placed'")
    )
    assert mails == Counter(("order_placed", order_id) for order_id in orders), "one e-mail per placed order"


def _check_keys(conn: sqlite3.Connection) -> None:
    """Each idempotency key made its things once: the rows that carry the key are exactly its results."""
    carried: dict[str, dict[str, set[str]]] = {
        "orders_place": _by_key(conn, "SELECT ship_name AS k, id FROM orders WHERE ship_name LIKE 'crash-place-%'"),
        "payments_record": _by_key(conn, "SELECT reference AS k, id FROM payments WHERE reference LIKE 'crash-pay-%'"),
        "payments_refund": _by_key(conn, "SELECT reason AS k, id FROM payments WHERE reason LIKE 'crash-refund-%'"),
    }
    for tool, rows in carried.items():
        stored = {
            r["key"]: set(str(r["result_ids"]).split())
            for r in _rows(conn, "SELECT key, result_ids FROM idempotency_keys WHERE tool = ?", tool)
        }
        assert stored == rows, f"{tool}: keys and what they made disagree (a write doubled or lost its key)"
        if tool != "payments_refund":
            assert all(len(ids) == 1 for ids in rows.values()), f"{tool}: a key made two things"


def _by_key(conn: sqlite3.Connection, sql: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for r in _rows(conn, sql):
        found.setdefault(str(r["k"]), set()).add(str(r["id"]))
    return found


def _check_journals(conn: sqlite3.Connection, journals: list[list[Record]], figures: Figures) -> None:
    """Every write a worker saw confirmed is in the file, as it was confirmed."""
    figures.confirmed.clear()
    figures.refused.clear()
    figures.in_flight_at_kill = figures.retried_after_kill = 0
    adjustments: Counter[tuple[str, int, int]] = Counter()
    for journal in journals:
        outcomes = {e["n"] for e in journal if e["t"] != "intent"}
        figures.in_flight_at_kill += sum(1 for e in journal if e["t"] == "intent" and e["n"] not in outcomes)
        for entry in journal:
            if entry["t"] == "no":
                figures.refused[f"{entry['op']}: {entry['why']}"] += 1
            if entry["t"] != "done":
                continue
            figures.confirmed[entry["op"]] += 1
            figures.retried_after_kill += bool(entry["retry"])
            _check_confirmed(conn, entry)
            if entry["op"] == "adjust":
                adjustments[(entry["product"], entry["before"], entry["after"])] += 1
    audited: Counter[tuple[str, int, int]] = Counter(
        (r["entity_id"], _json(r["before"])["stock"], _json(r["after"])["stock"])
        for r in _rows(conn, "SELECT entity_id, before, after FROM audit_log WHERE action = 'product.stock_adjusted'")
    )
    assert not adjustments - audited, f"confirmed stock adjustments missing: {adjustments - audited}"


def _check_confirmed(conn: sqlite3.Connection, entry: Record) -> None:
    op = entry["op"]
    if op == "place":
        lines = _rows(
            conn, "SELECT product_id, quantity FROM order_lines WHERE order_id = ? ORDER BY line_no", entry["order"]
        )
        assert [[r["product_id"], r["quantity"]] for r in lines] == entry["lines"], f"confirmed order lost: {entry}"
    elif op == "pay":
        found = _rows(conn, "SELECT order_id, amount_minor, status FROM payments WHERE id = ?", entry["payment"])
        assert [tuple(r) for r in found] == [(entry["order"], entry["amount"], "succeeded")], f"payment lost: {entry}"
    elif op in ("refund", "cancel"):
        if op == "cancel":
            status = _rows(conn, "SELECT status FROM orders WHERE id = ?", entry["order"])
            assert [r["status"] for r in status] == ["cancelled"], f"cancellation lost: {entry}"
        marks = ",".join("?" * len(entry["refunds"]))
        found = _rows(conn, f"SELECT id FROM payments WHERE kind = 'refund' AND id IN ({marks})", *entry["refunds"])  # noqa: S608 - placeholders only
        assert len(found) == len(entry["refunds"]), f"refund lost: {entry}"
    elif op == "ship":
        status = _rows(conn, "SELECT status, carrier FROM orders WHERE id = ?", entry["order"])
        assert [r["carrier"] for r in status] == ["Crash Post"], f"shipment lost: {entry}"
    elif op == "deliver":
        status = _rows(conn, "SELECT status FROM orders WHERE id = ?", entry["order"])
        assert [r["status"] for r in status] in (["delivered"], ["refunded"]), f"delivery lost: {entry}"


def check_shop(db: Path, initial: dict[str, int], journals: list[list[Record]], figures: Figures) -> None:
    with _read_only(db) as conn:
        _check_storage(conn)
        _check_stock(conn, initial)
        _check_orders(conn)
        _check_audit(conn)
        _check_keys(conn)
        _check_journals(conn, journals, figures)
    figures.checks += 1


# --- the test ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_during_concurrent_writes_loses_nothing_confirmed_and_keeps_the_books(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    shop = anyio.run(lambda: seed(db, customers=4, stocks=INITIAL_STOCK))
    shop_file = tmp_path / "shop.json"
    shop_file.write_text(json.dumps(shop))
    initial = cast(dict[str, int], shop["products"])
    rng = random.Random(SEED)  # noqa: S311 - seeded, so a run repeats; nothing secret
    figures = Figures()

    for number in range(ROUNDS):
        _run_round(number, tmp_path, db, shop_file, rng, figures)
        journals = [read_journal(tmp_path / f"worker{w}.jsonl") for w in range(WORKERS)]
        check_shop(db, initial, journals, figures)

    logger.info("crash consistency: %s", figures)
    # The run proves something only if writes of every kind were confirmed, and some were cut off.
    assert figures.kills == ROUNDS * WORKERS
    assert {"place", "pay", "refund", "cancel", "adjust", "ship"} <= set(figures.confirmed), figures
    assert figures.in_flight_at_kill > 0, figures
    with _read_only(db) as conn:
        used = _rows(conn, "SELECT COUNT(*) AS n FROM approval_requests WHERE status = 'used'")[0]["n"]
    assert used > 0, "no money went back through an approval request"


# --- the checks themselves can fail -------------------------------------------------------------------

_TAMPERING = {
    "stock off by one": ("UPDATE products SET stock = stock + 1 WHERE rowid = 1", r"stock \d+ != \d+ initial"),
    "paid amount without its payment": (
        "UPDATE orders SET paid_minor = paid_minor - 1 WHERE id = (SELECT MIN(id) FROM orders WHERE paid_minor > 0)",
        r"paid \d+ != Σ payments",
    ),
    "audit entry lost": (
        "DELETE FROM audit_log WHERE sequence = "
        "(SELECT MAX(sequence) FROM audit_log WHERE action = 'payment.recorded')",
        "the audit trail ends at",
    ),
    "audit entry doubled": (
        "INSERT INTO audit_log (id, occurred_at, actor, action, entity_type, entity_id, before, after) "
        "SELECT 'aud_X', occurred_at, actor, action, entity_type, entity_id, before, after FROM audit_log "
        "WHERE sequence = (SELECT MAX(sequence) FROM audit_log WHERE action = 'order.shipped')",
        "order.shipped",
    ),
    "approval used without its change": (
        "INSERT INTO approval_requests (id, use_case, arguments_digest, state_digest, summary, subject_id, actor, "
        "created_at, expires_at, status, decided_by, decided_at, used_at) SELECT 'apr_X', use_case, arguments_digest, "
        "state_digest, summary, subject_id, actor, created_at, expires_at, 'used', decided_by, decided_at, used_at "
        "FROM approval_requests WHERE status = 'used' LIMIT 1",
        "used approval requests",
    ),
    "change made through an approval without naming it": (
        "UPDATE audit_log SET actor = 'crash-test' "
        "WHERE sequence = (SELECT MAX(sequence) FROM audit_log WHERE actor LIKE '%(approved by person:%')",
        "used approval requests",
    ),
    "order without lines": (
        "INSERT INTO orders SELECT 'ord_X', customer_id, status, currency, total_minor, paid_minor, refunded_minor, "
        "line_count, units, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, placed_at, updated_at FROM orders LIMIT 1",
        "orders without lines",
    ),
    "order doubled by a retry": (
        "UPDATE orders SET ship_name = (SELECT MIN(ship_name) FROM orders) "
        "WHERE ship_name = (SELECT MAX(ship_name) FROM orders)",
        "orders_place",
    ),
    "confirmed order rolled back whole": (
        # Everything the order wrote, undone consistently: only the worker's journal can tell.
        "CREATE TEMP TABLE victim AS SELECT MAX(id) AS id FROM orders o WHERE status = 'placed' "
        "AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id);"
        "UPDATE products SET stock = stock + (SELECT SUM(quantity) FROM order_lines l WHERE l.product_id = products.id "
        "AND l.order_id = (SELECT id FROM victim)) WHERE id IN (SELECT product_id FROM order_lines "
        "WHERE order_id = (SELECT id FROM victim));"
        "DELETE FROM audit_log WHERE entity_id = (SELECT id FROM victim);"
        "DELETE FROM outbox WHERE subject_id = (SELECT id FROM victim);"
        "DELETE FROM idempotency_keys WHERE result_ids = (SELECT id FROM victim);"
        "DELETE FROM order_lines WHERE order_id = (SELECT id FROM victim);"
        "DELETE FROM orders WHERE id = (SELECT id FROM victim);",
        "confirmed order lost",
    ),
}


@pytest.mark.parametrize("tampering", list(_TAMPERING), ids=list(_TAMPERING))
def test_the_checks_catch_a_shop_whose_books_do_not_add_up(tmp_path: Path, tampering: str) -> None:
    """A shop written by one worker passes the checks; the same shop with one thing broken does not."""
    db, journal_path = tmp_path / "shop.db", tmp_path / "worker.jsonl"

    async def write_some() -> Record:
        shop = await seed(db, customers=2, stocks=INITIAL_STOCK)
        async with open_services(db) as services:
            await Worker(services, Journal(journal_path), random.Random(SEED), shop).run(steps=80)  # noqa: S311 - seeded, so a run repeats; nothing secret
        return shop

    shop = anyio.run(write_some)
    initial = cast(dict[str, int], shop["products"])
    check_shop(db, initial, [read_journal(journal_path)], Figures())  # as written: it adds up
    sql, mentioned = _TAMPERING[tampering]
    with closing(sqlite3.connect(db)) as conn:
        conn.executescript(f"BEGIN; {sql}; COMMIT;")
        changed = conn.total_changes
    assert changed > 0, "the tampering changed nothing"

    with pytest.raises(AssertionError, match=mentioned):
        check_shop(db, initial, [read_journal(journal_path)], Figures())
