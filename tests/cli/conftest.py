"""The CLI in-process: ``run(argv, actions, terminal)`` over the entrypoint's real wiring, on a new shop of the
test's own on each engine (``shop_db``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from mcp_server.handlers.cli.common import Terminal
from mcp_server.handlers.cli.main import CliActions, run
from tests.databases import sqlite_url
from tests.e2e.support import JsonObject, as_object, assert_no_internals, string
from tests.engines import Engine, ShopDatabase


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int
    out: str
    err: str

    def data(self) -> JsonObject:
        return as_object(json.loads(self.out))


@dataclass(slots=True)
class Person:
    """Someone at the terminal who answers every question with ``answer``; keeps what was asked."""

    answer: str
    questions: list[str] = field(default_factory=list[str])

    def ask(self, question: str) -> str:
        self.questions.append(question)
        return self.answer

    def terminal(self) -> Terminal:
        return Terminal(ask=self.ask, interactive=lambda: True)


NOBODY = Terminal(ask=lambda question: pytest.fail(f"nobody should be asked: {question}"), interactive=lambda: False)


@dataclass(slots=True)
class Cli:
    actions: CliActions
    db: ShopDatabase
    capture: pytest.CaptureFixture[str]

    @property
    def db_path(self) -> Path:
        """The SQLite file (a test that reads it directly runs on SQLite only)."""
        assert self.db.path is not None, "this test reads a SQLite file: give it a SQLite shop"
        return self.db.path

    def __call__(self, *argv: str, terminal: Terminal = NOBODY) -> Outcome:
        self.capture.readouterr()
        code = run(list(argv), self.actions, terminal)
        captured = self.capture.readouterr()
        assert_no_internals(captured.out + captured.err, db_path=self.db.path, db=self.db)
        return Outcome(code, captured.out, captured.err)

    def ok(self, *argv: str, terminal: Terminal = NOBODY) -> Outcome:
        outcome = self(*argv, terminal=terminal)
        assert outcome.code == 0, f"{argv} failed ({outcome.code}): {outcome.err}"
        assert outcome.err == "", outcome.err
        return outcome

    def json(self, *argv: str, terminal: Terminal = NOBODY) -> JsonObject:
        return self.ok("--json", *argv, terminal=terminal).data()

    def fail(self, code: int, *argv: str, terminal: Terminal = NOBODY) -> str:
        """Run a command that must fail with ``code``: one line on stderr, which is returned."""
        outcome = self(*argv, terminal=terminal)
        assert outcome.code == code, f"{argv}: expected exit {code}, got {outcome.code}: {outcome.err}{outcome.out}"
        lines = outcome.err.splitlines()
        assert len(lines) == 1, outcome.err
        assert lines[0].startswith("shopkeeper: "), outcome.err
        return lines[0]

    def customer(self, name: str = "Ada Lovelace", email: str = "ada@example.com") -> str:
        return string(self.json("customers", "create", "--name", name, "--email", email), "id")

    def product(self, sku: str = "MUG-1", price_minor: int = 1250, stock: int = 10) -> str:
        created = self.json(
            "catalog", "create", "--sku", sku, "--name", f"Mug {sku}", "--price-minor", str(price_minor),
            "--currency", "EUR", "--stock", str(stock),
        )  # fmt: skip
        return string(created, "id")

    def paid_order(self, customer_id: str, sku: str = "MUG-1", quantity: int = 2) -> str:
        """A paid order of ``quantity`` x ``sku`` (12.50 EUR each; the product is added if it is new)."""
        if self("catalog", "get", "--sku", sku).code == 3:
            self.product(sku)
        placed = self.json("orders", "place", "--customer", customer_id, "--line", f"{sku}={quantity}")
        order = as_object(placed["order"])
        order_id = string(order, "id")
        self.ok("payments", "record", "--order", order_id, "--amount", str(order["total_minor"]), "--method", "cash")
        return order_id


@pytest.fixture
def make_cli(
    request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str], db_engine: Engine
) -> Callable[..., Cli]:
    def make(*, database: bool = True, **env: str) -> Cli:
        """The CLI on the test's shop (``shop_db``, made as ``shopkeeper db init`` makes it), or with
        ``database=False`` on a SQLite file that does not exist yet."""
        if database:
            db: ShopDatabase = request.getfixturevalue("shop_db")
        else:
            assert db_engine == "sqlite", "a shop that does not exist yet is a SQLite file"
            db = ShopDatabase("sqlite", sqlite_url(tmp_path / "shop.db"), path=tmp_path / "shop.db")
        settings = load_settings({"SHOPKEEPER_DATABASE_URL": db.url, **env})
        return Cli(bootstrap(settings).cli_actions(), db, capsys)

    return make


@pytest.fixture
def cli(make_cli: Callable[..., Cli]) -> Cli:
    return make_cli(SHOPKEEPER_ACTOR="tester")
