"""Helpers for the end-to-end tests: a connected shop, typed readers for JSON, and leak checks.

The tests talk to the real server (``bootstrap(settings).mcp_server()``) through the SDK's ``Client``, on a fresh SQLite
file, and judge it only by what a client can see: the Markdown text, ``structuredContent`` and the
``isError`` flag. One exception: ``dump_tables`` reads the database file directly, so "nothing was
written" also covers rows no tool shows (the outbox of queued e-mails).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, cast

from mcp import Client
from mcp.client.session import ClientRequestContext, ElicitationFnT
from mcp_types import CallToolResult, ElicitRequestParams, ElicitResult, Implementation, TextContent

from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from mcp_server.services.results import Success
from tests.databases import sqlite_url
from tests.engines import ShopDatabase

APPROVER = "owner"
PASSPHRASE = "correct horse battery staple"

Mode = Literal["auto", "legacy"]
"""``auto`` negotiates protocol 2026-07-28; ``legacy`` speaks 2025-11-25 with the initialize handshake."""

PROTOCOL_VERSIONS: dict[Mode, str] = {"auto": "2026-07-28", "legacy": "2025-11-25"}

JsonObject = dict[str, object]
Tables = dict[str, list[tuple[object, ...]]]
"""Every row of every table in the database file, by table name."""

CHECKOUT = Path(__file__).resolve().parents[2]

TOOLS = frozenset(
    {
        "customers_register",
        "customers_get",
        "customers_list",
        "customers_update",
        "audit_log_list",
        "catalog_create_product",
        "catalog_update_product",
        "catalog_adjust_stock",
        "catalog_get",
        "catalog_search",
        "orders_place",
        "orders_get",
        "orders_list",
        "orders_cancel",
        "orders_mark_shipped",
        "orders_mark_delivered",
        "payments_record",
        "payments_list",
        "payments_refund",
        "reports_sales_summary",
        "notifications_list",
        "notifications_retry",
    }
)

# Text that must never reach a client: stack traces, driver and ORM names, SQL.
_INTERNALS_ANY_CASE = (
    "traceback",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "psycopg",
    "operationalerror",
    "integrityerror",
)
_INTERNALS_EXACT = ("SELECT", "INSERT", "UPDATE ", 'File "')


# --- typed readers for JSON values -----------------------------------------------------------


def as_object(value: object) -> JsonObject:
    assert isinstance(value, dict), f"expected a JSON object, got {value!r}"
    return cast(JsonObject, value)


def as_list(value: object) -> list[object]:
    assert isinstance(value, list), f"expected a JSON array, got {value!r}"
    return cast(list[object], value)


def string(obj: Mapping[str, object], key: str) -> str:
    value = obj.get(key)
    assert isinstance(value, str), f"{key!r} should be a string in {obj!r}"
    return value


def optional_string(obj: Mapping[str, object], key: str) -> str | None:
    assert key in obj, f"{key!r} missing from {obj!r}"
    value = obj[key]
    assert value is None or isinstance(value, str), f"{key!r} should be a string or null in {obj!r}"
    return value


def integer(obj: Mapping[str, object], key: str) -> int:
    value = obj.get(key)
    assert isinstance(value, int), f"{key!r} should be a whole number in {obj!r}"
    assert not isinstance(value, bool), f"{key!r} should be a number, not true/false, in {obj!r}"
    return value


def boolean(obj: Mapping[str, object], key: str) -> bool:
    value = obj.get(key)
    assert isinstance(value, bool), f"{key!r} should be true or false in {obj!r}"
    return value


def timestamp(obj: Mapping[str, object], key: str) -> datetime:
    """An ISO 8601 timestamp with its time zone (the server speaks UTC)."""
    moment = datetime.fromisoformat(string(obj, key))
    assert moment.tzinfo is not None, f"{key!r} has no time zone in {obj!r}"
    return moment


def objects(obj: Mapping[str, object], key: str) -> list[JsonObject]:
    return [as_object(item) for item in as_list(obj.get(key))]


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


_DELIMITER_ROW = re.compile(r"^\|?-+(\|-+)*\|?$")


def piped(text: str) -> str:
    """``text`` with every Markdown table row written with both outer pipes (``|a|b|``), as tests spell
    rows; the server leaves them out (GFM makes them optional, and they cost tokens)."""
    lines = text.split("\n")
    in_table = False
    for i, line in enumerate(lines):
        if _DELIMITER_ROW.match(line) and i > 0 and "|" in lines[i - 1]:
            in_table = True
            lines[i - 1] = _wrapped(lines[i - 1])
        elif not line:
            in_table = False
        if in_table:
            lines[i] = _wrapped(line)
    return "\n".join(lines)


def _wrapped(row: str) -> str:
    return ("" if row.startswith("|") else "|") + row + ("" if row.endswith("|") and len(row) > 1 else "|")


def assert_no_internals(text: str, *, db_path: Path | None = None, db: ShopDatabase | None = None) -> None:
    """An error (or any text) shows no stack trace, SQL, driver name or database location."""
    lowered = text.lower()
    for marker in _INTERNALS_ANY_CASE:
        assert marker not in lowered, f"{marker!r} leaked into: {text!r}"
    for marker in _INTERNALS_EXACT:
        assert marker not in text, f"{marker!r} leaked into: {text!r}"
    if db_path is not None:
        assert str(db_path.parent) not in text, f"the database location leaked into: {text!r}"
    if db is not None:
        assert db.leaks_in(text) is None, f"the database location leaked into: {text!r}"


Where = ShopDatabase | Path | str
"""A shop database as tests name it: a ShopDatabase, a SQLite file, or a SHOPKEEPER_DATABASE_URL."""


def url_of(where: Where) -> str:
    if isinstance(where, ShopDatabase):
        return where.url
    return sqlite_url(where) if isinstance(where, Path) else where


def dump_tables(db_path: Path | ShopDatabase) -> Tables:
    """Every row of every table in the database (a SQLite file read-only), in a stable order."""
    if isinstance(db_path, ShopDatabase):
        return db_path.tables()
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        names = [str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            name: sorted((tuple(row) for row in conn.execute(f'SELECT * FROM "{name}"')), key=repr)  # noqa: S608 - names come from sqlite_master
            for name in sorted(names)
        }


def rows_added(before: Tables, after: Tables) -> dict[str, int]:
    """How many rows each table gained between two ``dump_tables`` (tables that did not change are left out)."""
    grown = {name: len(rows) - len(before.get(name, [])) for name, rows in after.items()}
    return {name: count for name, count in grown.items() if count}


# --- a person, outside the conversation ----------------------------------------------------------


async def add_approver(db_path: Where, name: str = APPROVER, passphrase: str = PASSPHRASE) -> None:
    """Set up an approver as `shopkeeper approvers add` does (the passphrase typed at the terminal)."""
    actions = bootstrap(load_settings({"SHOPKEEPER_DATABASE_URL": url_of(db_path)})).cli_actions()
    assert actions.open_services is not None
    async with actions.open_services() as services:
        added = await services.approvals.add_approver(name, passphrase, actor="cli:test")
    assert isinstance(added, Success), added


async def decide(
    db_path: Where,
    approval_id: str,
    *,
    approve: bool = True,
    name: str = APPROVER,
    passphrase: str = PASSPHRASE,
    expect: bool = True,
) -> object:
    """An approver decides ``approval_id`` as `shopkeeper approvals approve|deny` does; the service's answer
    (``expect``: that it is a Success)."""
    actions = bootstrap(load_settings({"SHOPKEEPER_DATABASE_URL": url_of(db_path)})).cli_actions()
    assert actions.open_services is not None
    async with actions.open_services() as services:
        decided = await services.approvals.decide(approval_id, approve=approve, name=name, passphrase=passphrase)
    if expect:
        assert isinstance(decided, Success), decided
    return decided


# --- a connected shop -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful tool result: the Markdown an assistant reads and the structure a program reads."""

    text: str
    data: JsonObject


@dataclass(frozen=True, slots=True)
class ShopState:
    """Everything a change could touch: what the tools list, and every row in the file."""

    customers: list[JsonObject]
    products: list[JsonObject]
    audit: list[JsonObject]
    rows: Tables


@dataclass(frozen=True, slots=True)
class Shop:
    client: Client
    db: ShopDatabase

    @property
    def db_path(self) -> Path:
        """The SQLite file (a test that reads it directly runs on SQLite only)."""
        assert self.db.path is not None, "this test reads a SQLite file: give it a SQLite shop"
        return self.db.path

    async def call(self, tool: str, arguments: Mapping[str, object] | None = None) -> CallToolResult:
        return await self.client.call_tool(tool, dict(arguments or {}))

    async def ok(self, tool: str, arguments: Mapping[str, object] | None = None) -> Reply:
        result = await self.call(tool, arguments)
        text = text_of(result)
        assert not result.is_error, f"{tool}({arguments!r}) failed: {text}"
        assert text.strip(), f"{tool} returned no Markdown"
        assert_no_internals(text, db=self.db)
        return Reply(text=text, data=as_object(result.structured_content))

    async def fail(self, tool: str, arguments: Mapping[str, object] | None = None) -> str:
        """Call a tool that must refuse; return its message after checking it leaks nothing."""
        result = await self.call(tool, arguments)
        text = text_of(result)
        assert result.is_error, f"{tool}({arguments!r}) should have failed but returned: {text}"
        assert text.strip(), f"{tool} failed without a message"
        assert_no_internals(text, db=self.db)
        return text

    async def approved(self, tool: str, arguments: Mapping[str, object]) -> Reply:
        """A money-moving call as a person approves it: ask (an approval request), the approver
        approves it outside the conversation, then the same call with approval_id."""
        asked = (await self.ok(tool, arguments)).data
        assert string(asked, "outcome") == "approval_required", asked
        approval_id = string(asked, "approval_id")
        await decide(self.db, approval_id)
        return await self.ok(tool, {**arguments, "approval_id": approval_id})

    async def register(self, name: str, email: str, **extra: object) -> JsonObject:
        return (await self.ok("customers_register", {"name": name, "email": email, **extra})).data

    async def add_product(
        self, sku: str, name: str, price_minor: int = 1250, currency: str = "EUR", **extra: object
    ) -> JsonObject:
        arguments = {"sku": sku, "name": name, "price_minor": price_minor, "currency": currency, **extra}
        return (await self.ok("catalog_create_product", arguments)).data

    async def place(self, customer_id: str, *lines: tuple[str, int], **extra: object) -> JsonObject:
        """Place an order of ``(sku, quantity)`` lines; the placed order's ``order`` object."""
        arguments = {"customer_id": customer_id, "lines": [{"sku": s, "quantity": q} for s, q in lines], **extra}
        return as_object((await self.ok("orders_place", arguments)).data.get("order"))

    async def every_customer(self) -> list[JsonObject]:
        return await self._every("customers_list", "customers")

    async def every_product(self) -> list[JsonObject]:
        """Every product, retired ones included, in catalog order."""
        return await self._every("catalog_search", "products", include_inactive=True)

    async def every_audit_entry(self, **filters: object) -> list[JsonObject]:
        return await self._every("audit_log_list", "entries", **filters)

    async def state(self) -> ShopState:
        return ShopState(
            customers=await self.every_customer(),
            products=await self.every_product(),
            audit=await self.every_audit_entry(),
            rows=self.db.tables(),
        )

    async def _every(self, tool: str, key: str, **filters: object) -> list[JsonObject]:
        found: list[JsonObject] = []
        cursor: str | None = None
        while True:
            arguments: JsonObject = {**filters, "limit": 100, "response_format": "detailed"}
            if cursor is not None:
                arguments["cursor"] = cursor
            page = (await self.ok(tool, arguments)).data
            found += objects(page, key)
            cursor = optional_string(page, "next_cursor")
            if cursor is None:
                return found


@asynccontextmanager
async def open_shop(
    db_path: Path | ShopDatabase,
    mode: Mode,
    *,
    env: Mapping[str, str] | None = None,
    client_info: Implementation | None = None,
    elicitation: ElicitationFnT | None = None,
) -> AsyncGenerator[Shop]:
    """The real server on ``db_path``, connected in-process through the SDK client.

    It yields only once the database is ready (the first tool call waits for the server's
    background start-up). Disconnecting while that start-up is still running makes the event
    loop wait for it on shutdown (test_stdio.py shows the server still exits), which slows tests.
    """
    # The e-mail worker is off unless a test asks for it: it changes outbox rows in the background,
    # which would race the tests' before/after comparisons of every table.
    db = db_path if isinstance(db_path, ShopDatabase) else ShopDatabase("sqlite", sqlite_url(db_path), path=db_path)
    settings = load_settings({"SHOPKEEPER_DATABASE_URL": db.url, "SHOPKEEPER_WORKER": "off", **(env or {})})
    async with Client(
        bootstrap(settings).mcp_server(), mode=mode, client_info=client_info, elicitation_callback=elicitation
    ) as client:
        shop = Shop(client, db)
        await shop.call("customers_list", {"limit": 1})
        yield shop


@dataclass(slots=True)
class Person:
    """The person behind an elicitation-capable client: answers every question the same way.

    Pass it as ``open_shop(..., elicitation=person)``; ``questions`` keeps what the server asked.
    """

    action: Literal["accept", "decline", "cancel"] = "accept"
    confirm: bool = True
    questions: list[str] = field(default_factory=list[str])

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        del context
        self.questions.append(params.message)
        content: dict[str, str | int | float | bool | list[str] | None] | None = (
            {"confirm": self.confirm} if self.action == "accept" else None
        )
        return ElicitResult(action=self.action, content=content)


@dataclass(frozen=True, slots=True)
class Refusal:
    """One row of a refusal table: a call that must fail, and what its message must say."""

    tool: str
    arguments: JsonObject
    mentions: tuple[str, ...] = field(default=())
    """Text the message must contain (placeholders allowed): what went wrong and what to do next."""


async def assert_refused_without_change(
    shop: Shop, refusal: Refusal, resolve: Callable[[object], object] = lambda value: value
) -> None:
    """The call fails with every mention in its message, and no tool output or table row changes."""
    arguments = {key: resolve(value) for key, value in refusal.arguments.items()}
    before = await shop.state()

    message = await shop.fail(refusal.tool, arguments)

    for mention in refusal.mentions:
        expected = str(resolve(mention))
        assert expected in message, f"{refusal.tool} should say {expected!r}; it said: {message}"
    assert await shop.state() == before, "a refused call must not change anything"
