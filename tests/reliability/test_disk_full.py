"""A full disk under the database: every write says so plainly, changes nothing, and is logged once;
reads go on; once space is freed, writes work again. Through the MCP client, the CLI and the worker."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path

import anyio
import pytest

from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from mcp_server.handlers.cli.common import Terminal
from mcp_server.handlers.cli.main import run
from mcp_server.handlers.consumers.outbox_worker import run_outbox_worker
from mcp_server.handlers.mcp.context import ServiceRegistry
from tests.e2e.support import as_object, assert_no_internals, dump_tables, objects, open_shop, sqlite_url, string
from tests.reliability.storage_faults import (
    SmallDisk,
    assert_logs_keep_private,
    records_about,
    seed_shop,
    small_disk,
)

pytestmark = pytest.mark.anyio

SECRET_NAME = "Bob Secretname"
WORKER_ROUNDS = 20  # failed rounds the worker runs on the full disk before the test stops it
HANG_S = 60.0  # only a hang takes this long
SECRET_EMAIL = "bob.secret@private.example"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def disk(tmp_path: Path) -> Generator[SmallDisk]:
    with small_disk(tmp_path / "disk") as mounted:
        yield mounted


def assert_says_disk_full(text: str) -> None:
    lowered = text.lower()
    assert "disk" in lowered, text
    assert "full" in lowered, text
    assert "nothing was changed" in lowered, text
    assert "free" in lowered, f"the message should say to free space: {text}"
    assert "unexpected" not in lowered, text


async def test_writes_on_a_full_disk_are_refused_plainly_logged_once_and_reads_go_on(
    disk: SmallDisk, caplog: pytest.LogCaptureFixture
) -> None:
    db = disk.path / "shop.db"
    async with open_shop(db, "auto") as shop:
        ada = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")
        product = string(await shop.add_product("MUG-1", "Mug", stock=5), "id")
        before = dump_tables(db)
        disk.fill()
        caplog.clear()
        caplog.set_level(logging.INFO)

        writes: list[tuple[str, dict[str, object]]] = [
            ("customers_register", {"name": SECRET_NAME, "email": SECRET_EMAIL}),
            ("customers_register", {"name": SECRET_NAME, "email": "second." + SECRET_EMAIL}),
            ("customers_update", {"customer_id": ada, "notes": "moved to " + SECRET_NAME}),
            ("catalog_create_product", {"sku": "TEA-1", "name": "Tea", "price_minor": 450, "currency": "EUR"}),
            ("catalog_adjust_stock", {"product_id": product, "delta": 3, "reason": "restock"}),
            ("orders_place", {"customer_id": ada, "lines": [{"sku": "MUG-1", "quantity": 1}]}),
            ("customers_register", {"name": SECRET_NAME, "email": "third." + SECRET_EMAIL}),
        ]
        for tool, arguments in writes:
            text = await shop.fail(tool, arguments)
            assert_says_disk_full(text)
            assert "\n\nNext: " in text, text

        listed = await shop.ok("customers_list", {"limit": 10})
        assert [string(c, "id") for c in objects(listed.data, "customers")] == [ada]
        assert string((await shop.ok("catalog_get", {"product_id": product})).data, "sku") == "MUG-1"
        assert dump_tables(db) == before, "a refused write must leave every table as it was"

        conditions = records_about(caplog.records, "disk", "full")
        assert len(conditions) == 1, [r.getMessage() for r in conditions]
        assert conditions[0].levelno >= logging.WARNING
        assert_logs_keep_private(caplog.records, SECRET_NAME, SECRET_EMAIL, "Ada Lovelace", "ada@engines.example")

        disk.free()
        caplog.clear()
        await shop.register(SECRET_NAME, SECRET_EMAIL)
        await shop.register("Grace Hopper", "grace@navy.example")
        assert len(records_about(caplog.records, "writes", "again")) == 1
        assert_logs_keep_private(caplog.records, SECRET_NAME, SECRET_EMAIL)


def test_the_cli_says_the_disk_is_full_exits_6_and_still_lists(
    disk: SmallDisk, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    db = disk.path / "shop.db"
    anyio.run(seed_shop, db)
    actions = bootstrap(
        load_settings({"SHOPKEEPER_DATABASE_URL": sqlite_url(db), "SHOPKEEPER_ACTOR": "tester"})
    ).cli_actions()
    nobody = Terminal(
        ask=lambda question: pytest.fail(f"nobody should be asked: {question}"), interactive=lambda: False
    )
    before = dump_tables(db)
    disk.fill()
    capsys.readouterr()
    caplog.set_level(logging.INFO)

    code = run(["customers", "create", "--name", SECRET_NAME, "--email", SECRET_EMAIL], actions, nobody)

    out, err = capsys.readouterr()
    assert code == 6, err
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("shopkeeper: "), err
    assert_says_disk_full(err)
    assert_no_internals(err, db_path=db)
    assert dump_tables(db) == before
    assert_logs_keep_private(caplog.records, SECRET_NAME, SECRET_EMAIL)

    assert run(["--json", "customers", "list"], actions, nobody) == 0
    listed = as_object(json.loads(capsys.readouterr().out))
    assert [string(c, "email") for c in objects(listed, "customers")] == ["ada@engines.example"]


async def test_the_email_worker_on_a_full_disk_logs_the_condition_once_not_a_traceback_per_round(
    disk: SmallDisk, caplog: pytest.LogCaptureFixture
) -> None:
    db = disk.path / "shop.db"
    await seed_shop(db)  # Ada's welcome e-mail waits in the outbox (the server's worker was off)
    open_services = bootstrap(load_settings({"SHOPKEEPER_DATABASE_URL": sqlite_url(db)})).cli_actions().open_services
    assert open_services is not None
    async with open_services() as registry:
        before = dump_tables(db)
        disk.fill()
        caplog.set_level(logging.INFO)
        rounds = 0
        stop = anyio.CancelScope()

        async def services() -> ServiceRegistry:
            nonlocal rounds
            rounds += 1
            if rounds > WORKER_ROUNDS:  # that many rounds have run: stop the worker before another begins
                stop.cancel()
                await anyio.lowlevel.checkpoint()
            return registry

        with anyio.fail_after(HANG_S), stop:  # fail_after only detects a hang
            await run_outbox_worker(services, idle_seconds=0, error_seconds=0)
        assert_logs_keep_private(caplog.records, "Ada Lovelace", "ada@engines.example")
        assert rounds == WORKER_ROUNDS + 1, "the worker should have kept trying, round after round"
        assert len(records_about(caplog.records, "disk", "full")) == 1
        assert dump_tables(db) == before


@pytest.mark.slow
def test_a_new_cli_process_on_a_full_disk_still_reads_and_says_full_once(disk: SmallDisk) -> None:
    """A process that opens the database after the disk filled up (no -shm index left to reuse)."""
    db = disk.path / "shop.db"
    anyio.run(seed_shop, db)
    assert not (disk.path / "shop.db-shm").exists(), "the seeding server closed cleanly"
    disk.fill()
    env = {**os.environ, "SHOPKEEPER_DATABASE_URL": sqlite_url(db), "SHOPKEEPER_ACTOR": "cron"}

    def shopkeeper(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).with_name("shopkeeper")), *argv],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    listed = shopkeeper("--json", "customers", "list")
    assert listed.returncode == 0, listed.stderr
    assert [string(c, "email") for c in objects(as_object(json.loads(listed.stdout)), "customers")] == [
        "ada@engines.example"
    ]

    refused = shopkeeper("customers", "create", "--name", SECRET_NAME, "--email", SECRET_EMAIL)
    assert refused.returncode == 6, refused.stderr
    assert_no_internals(refused.stderr, db_path=db)
    answer = refused.stderr.strip().splitlines()
    assert len(answer) == 1, f"a person gets one line, not log lines too: {refused.stderr}"
    assert answer[0].startswith("shopkeeper: ")
    assert_says_disk_full(answer[0])
    assert SECRET_EMAIL not in refused.stderr

    worked = shopkeeper("worker", "--once")  # Ada's welcome e-mail is due: delivering it needs a write
    assert worked.returncode == 6, worked.stderr
    assert len(worked.stderr.strip().splitlines()) == 1, worked.stderr
    assert_says_disk_full(worked.stderr)
