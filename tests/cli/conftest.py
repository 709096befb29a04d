"""The CLI in-process: ``run(argv, actions, terminal)`` over the entrypoint's real wiring, on a fresh SQLite file."""

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
from tests.databases import new_database, sqlite_url
from tests.e2e.support import JsonObject, as_object, assert_no_internals, string


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
    db_path: Path
    capture: pytest.CaptureFixture[str]

    def __call__(self, *argv: str, terminal: Terminal = NOBODY) -> Outcome:
        self.capture.readouterr()
        code = run(list(argv), self.actions, terminal)
        captured = self.capture.readouterr()
        assert_no_internals(captured.out + captured.err, db_path=self.db_path)
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
def make_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Cli]:
    def make(*, database: bool = True, **env: str) -> Cli:
        """The CLI on ``tmp_path / 'shop.db'``, made first as ``shopkeeper db init`` makes it (unless told not to)."""
        db_path = tmp_path / "shop.db"
        if database and not db_path.exists():
            new_database(db_path)
        settings = load_settings({"SHOPKEEPER_DATABASE_URL": sqlite_url(db_path), **env})
        return Cli(bootstrap(settings).cli_actions(), db_path, capsys)

    return make


@pytest.fixture
def cli(make_cli: Callable[..., Cli]) -> Cli:
    return make_cli(SHOPKEEPER_ACTOR="tester")
