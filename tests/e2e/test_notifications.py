"""E-mail notifications through the tools, the in-server worker and `shopkeeper worker`."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from tests.e2e.support import Shop, as_object, integer, objects, open_shop, string
from tests.engines import ShopDatabase

pytestmark = pytest.mark.anyio

HANG_S = 60.0  # only a hang takes this long (the worker itself looks again every 5 s when idle)


def _fail_all(db: ShopDatabase, reason: str) -> None:
    """Set-up only: park every queued message as failed, as the worker would after its last try."""
    db.execute("UPDATE outbox SET status = 'failed', attempts = 5, last_error = :reason", reason=reason)


async def test_queued_welcome_mails_are_listed_and_a_failed_one_can_be_requeued(shop: Shop) -> None:
    await shop.register("Ada Lovelace", "ada@engines.example")
    pending = await shop.ok("notifications_list", {"status": "pending"})
    rows = objects(pending.data, "notifications")
    assert [(string(r, "kind"), string(r, "recipient"), string(r, "status")) for r in rows] == [
        ("welcome", "ada@engines.example", "pending")
    ]
    notification_id = string(rows[0], "id")

    before = await shop.state()
    refused = await shop.fail("notifications_retry", {"notification_id": notification_id})
    assert "is pending: only failed ones can be retried" in refused
    assert "notifications_list" in refused
    assert await shop.state() == before

    _fail_all(shop.db, "the e-mail provider answered 422: Invalid 'To' address")
    failed = await shop.ok("notifications_list", {"status": "failed"})
    assert "Invalid 'To' address" in failed.text

    requeued = await shop.ok("notifications_retry", {"notification_id": notification_id.lower()})

    assert (string(requeued.data, "status"), integer(requeued.data, "attempts")) == ("pending", 0)
    entries = await shop.every_audit_entry(entity_id=notification_id)
    assert [string(e, "action") for e in entries] == ["notification.requeued"]
    assert as_object(entries[0]["before"])["last_error"] == "the e-mail provider answered 422: Invalid 'To' address"


@pytest.mark.parametrize(
    ("notification_id", "says"),
    [("ntf_00000000000000000000000000", "No notification with id"), ("nope", "is not a notification id")],
)
async def test_retry_refuses_unknown_ids_without_change(shop: Shop, notification_id: str, says: str) -> None:
    before = await shop.state()
    message = await shop.fail("notifications_retry", {"notification_id": notification_id})
    assert says in message
    assert await shop.state() == before


class _RoundLogged(logging.Handler):
    def __init__(self, event: threading.Event) -> None:
        super().__init__(logging.INFO)
        self._event = event

    def emit(self, record: logging.LogRecord) -> None:
        self._event.set()


@contextmanager
def worker_round_logged() -> Generator[threading.Event]:
    """Set when the server's e-mail worker logs a round (it logs each round that handled something)."""
    logged = threading.Event()
    worker_log = logging.getLogger("mcp_server.worker")
    handler, level = _RoundLogged(logged), worker_log.level
    worker_log.addHandler(handler)
    worker_log.setLevel(logging.INFO)
    try:
        yield logged
    finally:
        worker_log.removeHandler(handler)
        worker_log.setLevel(level)


def mail_dir_env(db: ShopDatabase, tmp_path: Path) -> dict[str, str]:
    """A SQLite shop's mail goes beside its file (in tmp_path); a database server's shop must name a folder."""
    return {} if db.engine == "sqlite" else {"SHOPKEEPER_MAIL_DIR": str(tmp_path / "mail")}


async def test_the_worker_in_the_server_delivers_to_files_beside_the_database(shop_file: Path) -> None:
    """On SQLite only (it waits out the worker's 5 s idle): the loop is the same on both engines, and
    its round on PostgreSQL is the next test's."""
    with worker_round_logged() as round_logged:
        async with open_shop(shop_file, "legacy", env={"SHOPKEEPER_WORKER": "on"}) as shop:
            await shop.register("Ada Lovelace", "ada@engines.example")
            assert await anyio.to_thread.run_sync(round_logged.wait, HANG_S), "the worker never logged a round"
            sent = objects((await shop.ok("notifications_list", {"status": "sent"})).data, "notifications")
    assert [string(n, "recipient") for n in sent] == ["ada@engines.example"]
    files = list((shop_file.parent / "mail").glob("*.eml"))
    assert len(files) == 1
    text = files[0].read_text(encoding="utf-8")
    assert "To: ada@engines.example" in text
    assert "Subject: Welcome to the shop" in text


def test_shopkeeper_worker_once_delivers_what_is_due_and_exits(shop_db: ShopDatabase, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SHOPKEEPER_DATABASE_URL": shop_db.url,
        "SHOPKEEPER_WORKER": "off",
        **mail_dir_env(shop_db, tmp_path),
    }

    async def queue_two() -> None:
        async with open_shop(shop_db, "legacy") as shop:
            await shop.register("Ada Lovelace", "ada@engines.example")
            await shop.register("Alan Turing", "alan@bletchley.example")

    anyio.run(queue_two)
    command = [sys.executable, "-c", "from mcp_server.entrypoint import cli_main; cli_main()", "worker", "--once"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "2 sent" in done.stderr
    assert sorted(p.name.split(".")[0][:4] for p in (tmp_path / "mail").glob("*.eml")) == ["ntf_", "ntf_"]
    assert shop_db.query("SELECT status, count(*) FROM outbox GROUP BY status") == [("sent", 2)]
