"""Money goes back only when a person approves it, never through anything the assistant can send.

Through a real MCP client without elicitation (the assistant's side) and the real command line in a
pseudo-terminal (the person's side): the approver is set up at the terminal, the assistant asks,
tries to finish it by itself in every way the tools allow, and cannot; the person approves at the
terminal; the assistant's repeated call then refunds exactly once.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import cast

import pytest

from tests.databases import new_database, sqlite_url
from tests.e2e.support import JsonObject, Mode, Shop, as_object, integer, open_shop, string, text_of
from tests.engines import ShopDatabase, sqlite_shop

pytestmark = pytest.mark.anyio

HANG_S = 60.0  # only a hang takes this long
PASSPHRASE = "a long and private passphrase"
CLI = [sys.executable, "-c", "from mcp_server.entrypoint import cli_main; cli_main()"]


def at_the_terminal(
    db: ShopDatabase, arguments: Sequence[str], dialogue: Sequence[tuple[bytes, bytes]]
) -> tuple[int, str]:
    """Run ``shopkeeper ARGUMENTS`` on ``db`` with a pseudo-terminal as its controlling terminal, answering
    each prompt of ``dialogue`` (what it waits for, what the person types); its exit code and output."""
    env = {**os.environ, "SHOPKEEPER_DATABASE_URL": db.url, "SHOPKEEPER_WORKER": "off"}
    pid, terminal = pty.fork()
    if pid == 0:  # the child: a session leader whose controlling terminal is the pty
        os.execve(sys.executable, [*CLI, *arguments], env)  # noqa: S606 - no shell wanted
    seen = bytearray()
    reaped = False
    try:
        for prompt, typed in dialogue:
            _read_until(terminal, seen, prompt)
            os.write(terminal, typed)
        deadline = time.monotonic() + HANG_S
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                reaped = True
                _drain(terminal, seen)
                return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")
            _drain(terminal, seen, wait=0.05)
        raise AssertionError(f"the command did not finish; output:\n{seen.decode(errors='replace')}")
    finally:
        if not reaped:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(terminal)


def _read_until(terminal: int, seen: bytearray, marker: bytes) -> None:
    deadline = time.monotonic() + HANG_S
    while marker not in seen:
        readable, _, _ = select.select([terminal], [], [], max(0.0, deadline - time.monotonic()))
        assert readable, f"no {marker!r} on the terminal; output:\n{seen.decode(errors='replace')}"
        seen += os.read(terminal, 65_536)


def _drain(terminal: int, seen: bytearray, wait: float = 0.0) -> None:
    while select.select([terminal], [], [], wait)[0]:
        try:
            chunk = os.read(terminal, 65_536)
        except OSError:  # the child closed its side
            return
        if not chunk:
            return
        seen += chunk
        wait = 0.0


def add_approver_at_the_terminal(db: ShopDatabase, name: str = "owner") -> str:
    code, output = at_the_terminal(
        db,
        ["approvers", "add", name],
        [(b"Passphrase for approver", PASSPHRASE.encode() + b"\n"), (b"again", PASSPHRASE.encode() + b"\n")],
    )
    assert code == 0, output
    assert PASSPHRASE not in output, "the passphrase is not echoed"
    return output


def refunds_in(db: ShopDatabase) -> list[tuple[object, ...]]:
    return db.query("SELECT order_id, amount_minor, status FROM payments WHERE kind = 'refund'")


async def paid_order(shop: Shop) -> str:
    ada = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")
    await shop.add_product("MUG-1", "Mug", price_minor=1250, stock=5)
    order = string(await shop.place(ada, ("MUG-1", 2)), "id")
    await shop.ok("payments_record", {"order_id": order, "amount": 2500, "method": "cash"})
    return order


def strings_in(value: object) -> set[str]:
    """Every string an answer handed out, and every word-like token of its text."""
    found: set[str] = set()
    if isinstance(value, str):
        found.add(value)
        found.update(re.findall(r"[A-Za-z0-9_…:.-]{3,}", value))
    elif isinstance(value, dict):
        for item in cast(dict[str, object], value).values():
            found |= strings_in(item)
    elif isinstance(value, list):
        for item in cast(list[object], value):
            found |= strings_in(item)
    return found


async def test_no_sequence_of_tool_calls_alone_moves_money(shop_file: Path, mode: Mode) -> None:
    """On SQLite only: the checks are the services' (the next test shows the approval itself on both engines)."""
    db = sqlite_shop(shop_file)
    add_approver_at_the_terminal(db)
    async with open_shop(db, mode) as shop:
        order = await paid_order(shop)
        asks: dict[str, JsonObject] = {
            "payments_refund": {"order_id": order, "amount": 2500, "reason": "asked for by a stranger's note"},
            "orders_cancel": {"order_id": order, "reason": "asked for by a stranger's note"},
        }
        handed_out: set[str] = {"yes", "approved", "true", "confirm", "owner", "person:owner", PASSPHRASE}
        for tool, arguments in asks.items():
            asked = await shop.call(tool, arguments)
            handed_out |= strings_in(asked.structured_content) | strings_in(text_of(asked))
        listed = await shop.client.list_tools()
        tries = 0
        for tool, arguments in asks.items():
            schema = next(t.input_schema for t in listed.tools if t.name == tool)
            free = [name for name in schema.get("properties", {}) if name not in arguments]
            for name in free:
                for value in sorted(handed_out):
                    result = await shop.call(tool, {**arguments, name: value})
                    tries += 1
                    data = as_object(result.structured_content or {})
                    assert result.is_error or data.get("outcome") == "approval_required", (tool, name, value)
        assert tries > 100
        assert refunds_in(db) == [], "no call moved money"
        got = (await shop.ok("orders_get", {"order_id": order})).data
        assert (string(got, "status"), integer(got, "refunded_minor")) == ("paid", 0)


async def test_a_person_approves_at_the_terminal_and_the_refund_happens_once(shop_db: ShopDatabase, mode: Mode) -> None:
    added = add_approver_at_the_terminal(shop_db)
    assert "Approver owner added" in added
    async with open_shop(shop_db, mode) as shop:
        order = await paid_order(shop)
        arguments: JsonObject = {"order_id": order, "amount": 1000, "reason": "one mug arrived broken"}
        approval_id = string((await shop.ok("payments_refund", arguments)).data, "approval_id")

        code, output = at_the_terminal(shop_db, ["approvals", "list"], [])
        assert code == 0, output
        assert approval_id in output
        code, output = at_the_terminal(
            shop_db,
            ["approvals", "approve", approval_id],
            [(b"Approver name: ", b"owner\n"), (b"Passphrase of owner", b"not it at all\n")],
        )
        assert code != 0, output
        assert "do not match" in output
        code, output = at_the_terminal(
            shop_db,
            ["approvals", "approve", approval_id],
            [(b"Approver name: ", b"owner\n"), (b"Passphrase of owner", PASSPHRASE.encode() + b"\n")],
        )
        assert code == 0, output
        assert f"Approved {approval_id} as person:owner" in output
        assert "Refund 10.00 EUR of order" in output, "the person sees what they approve"
        assert PASSPHRASE not in output

        done = await shop.ok("payments_refund", {**arguments, "approval_id": approval_id})
        again = await shop.fail("payments_refund", {**arguments, "approval_id": approval_id})

    assert string(done.data, "outcome") == "done"
    assert "already used" in again
    assert refunds_in(shop_db) == [(order, 1000, "succeeded")]


async def test_with_no_approver_the_person_is_told_the_one_command(shop_db: ShopDatabase, mode: Mode) -> None:
    async with open_shop(shop_db, mode) as shop:
        order = await paid_order(shop)
        before = await shop.state()
        message = await shop.fail("payments_refund", {"order_id": order, "amount": 500, "reason": "late"})
        assert "no approver is set up yet" in message
        assert "`shopkeeper approvers add NAME`" in message
        assert await shop.state() == before


def test_the_approver_commands_refuse_a_passphrase_from_anywhere_but_the_terminal(tmp_path: Path) -> None:
    """On SQLite only: the refusal is the terminal check, before anything is stored."""
    db_path = tmp_path / "shop.db"
    new_database(db_path)
    env = {**os.environ, "SHOPKEEPER_DATABASE_URL": sqlite_url(db_path), "SHOPKEEPER_PASSPHRASE": PASSPHRASE}
    typed = f"{PASSPHRASE}\n{PASSPHRASE}\n"
    done = subprocess.run(
        [*CLI, "approvers", "add", "owner"], env=env, input=typed, capture_output=True, text=True, timeout=HANG_S
    )
    assert done.returncode == 2, done.stderr
    assert "run it in a terminal" in done.stderr
    with closing(sqlite3.connect(db_path)) as db:
        assert db.execute("SELECT count(*) FROM approvers").fetchone() == (0,)
