"""The real console script as a person or a cron job runs it: separate processes, one database file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import new_database, sqlite_url
from tests.e2e.support import as_object, assert_no_internals, dump_tables, string

pytestmark = pytest.mark.slow

SHOPKEEPER = Path(sys.executable).with_name("shopkeeper")


def shopkeeper(
    db_path: Path, *argv: str, stdin: str | None = None, shows_location: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHOPKEEPER_DATABASE_URL": sqlite_url(db_path), "SHOPKEEPER_ACTOR": "cron"}
    done = subprocess.run(
        [str(SHOPKEEPER), *argv],
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_no_internals(done.stdout + done.stderr, db_path=None if shows_location else db_path)
    return done


def test_a_script_runs_the_shop_through_the_console_script(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    new_database(db)
    customer = shopkeeper(db, "customers", "create", "--name", "Ada", "--email", "ada@example.com", "--json")
    assert customer.returncode == 0, customer.stderr
    ada = string(as_object(json.loads(customer.stdout)), "id")
    product = shopkeeper(db, "catalog", "create", "--sku", "MUG-1", "--name", "Mug", "--price-minor", "1250",
                         "--currency", "EUR", "--stock", "5")  # fmt: skip
    assert product.returncode == 0
    assert "12.50 EUR" in product.stdout

    placed = shopkeeper(db, "--json", "orders", "place", "--customer", ada, "--line", "MUG-1=2")
    order_id = string(as_object(as_object(json.loads(placed.stdout))["order"]), "id")
    assert (
        shopkeeper(db, "payments", "record", "--order", order_id, "--amount", "2500", "--method", "cash").returncode
        == 0
    )

    # stdin is a pipe, not a terminal: a refund without --yes previews, changes nothing, exits 5
    before = dump_tables(db)
    refused = shopkeeper(db, "payments", "refund", "--order", order_id, "--amount", "500", "--reason", "x", stdin="y\n")
    assert refused.returncode == 5
    assert refused.stdout == ""
    assert "Refund 5.00 EUR" in refused.stderr
    assert "--yes" in refused.stderr
    assert dump_tables(db) == before

    done = shopkeeper(db, "payments", "refund", "--order", order_id, "--amount", "500", "--reason", "x", "--yes")
    assert done.returncode == 0
    assert "Refunded 5.00 EUR" in done.stdout

    missing = shopkeeper(db, "orders", "get", "ord_01M8DDKK36E9YSJQTM2D02DDWS")
    assert missing.returncode == 3
    assert missing.stderr == "shopkeeper: No order with id ord_01M8DDKK36E9YSJQTM2D02DDWS.\n"


def test_help_is_quick_to_start_and_does_not_load_the_database_half(tmp_path: Path) -> None:
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('loaded: ' + str('sqlalchemy' in sys.modules)))\n"
        "from mcp_server.entrypoint import cli_main\n"
        "cli_main(['orders', 'place', '--help'])\n"
    )
    env = {**os.environ, "SHOPKEEPER_DATABASE_URL": sqlite_url(tmp_path / "shop.db")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert "--idempotency-key" in done.stdout
    assert done.stderr.endswith("loaded: False")
    assert not (tmp_path / "shop.db").exists()


def test_a_database_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    done = shopkeeper(blocker / "shop.db", "customers", "list", shows_location=True)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("shopkeeper: the shop's database is not available"), done.stderr
