"""Any JSON value in any argument of any tool gets an answer in the project's own words.

Regression test for issue 10 (items 7 and 9), kept small (a few hundred calls) so it stays fast:
whatever a client sends, the answer is never an unexpected internal error, never pydantic's own
text or its docs URL, and every isError answer says what to do next. The server runs in a
background event loop (a blocking portal) so that hypothesis can drive it from a plain test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.support import TOOLS, Shop, assert_no_internals, open_shop, text_of
from tests.engines import ENGINES, postgres_shop, sqlite_shop
from tests.postgres import PostgresServer

ODD_TEXT = [
    "",
    " ",
    "a\nb",
    "E\nU",
    "\r\n",
    "x [type=value_error, input_value='y', input_type=str]",
    "y\n    For further information visit https://errors.pydantic.dev/2.14/v/value_error",
    "1 validation error for customers_registerArguments",
    "é🙂\u202eZ\u0000",
    "x" * 5_000,
    '["a", "b"]',
    '{"a": 1}',
    "null",
    "true",
    "12",
    "-1",
    "1e400",
    "0001-01-01",
    "1969-12-31",
    "1970-01-01",
    "9998-12-31",
    "9999-12-31",
    "2026-02-30",
    "2026-01-01T00:00:00Z",
    "EUR",
    "cus_01HZZZZZZZZZZZZZZZZZZZZZZZ",
    "ord_01HZZZZZZZZZZZZZZZZZZZZZZZ",
    "pay_01HZZZZZZZZZZZZZZZZZZZZZZZ",
    "ada@example.com",
    "concise",
    "detailed",
    "day",
    "product",
    "paid",
]
ODD_NUMBERS = [0, -1, 1, 2**31, 2**63, 10**30, -(10**30), 1.5, 1e308, -0.0, 253_402_300_800]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(ODD_NUMBERS)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(ODD_TEXT)
)
containers = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=12) | st.sampled_from(ODD_TEXT), inner, max_size=4)
    ),
    max_leaves=10,
)
# Mostly the odd texts (dates, line breaks, pydantic's markers), so that one bad value is often the
# only problem with a call and reaches the tool's own checks instead of the input schema's.
json_values = st.one_of(st.sampled_from(ODD_TEXT), st.sampled_from(ODD_TEXT), scalars, containers)

FORBIDDEN = ("unexpected internal error", "errors.pydantic.dev", "validation error for")


Schema = dict[str, Any]
# The ends of the calendar come up often: they used to overflow into "unexpected internal error".
DAYS = ["0001-01-01", "9999-12-31"] * 3 + ["1969-12-31", "1970-01-01", "2026-11-27", "9998-12-31"]
ZONE = "Asia/Tokyo"  # east of UTC: the first day of year 1 has no UTC instant here


@dataclass(frozen=True, slots=True)
class Running:
    portal: BlockingPortal
    shop: Shop
    schemas: dict[str, Schema]
    """Each tool's input schema, as the server advertises it."""


@pytest.fixture(scope="module", params=ENGINES)
def running(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One shop per engine for all the examples (``shop_db`` is per test; hypothesis calls one test often)."""
    server: PostgresServer | None = None
    if request.param == "sqlite":
        db = sqlite_shop(tmp_path_factory.mktemp("fuzz") / "shop.db", request.getfixturevalue("migrated_shop_file"))
    else:
        server = request.getfixturevalue("postgres")
        db = postgres_shop(server, request.getfixturevalue("postgres_templates")["shop"])
    try:
        with (
            start_blocking_portal("asyncio") as portal,
            portal.wrap_async_context_manager(open_shop(db, "auto", env={"SHOPKEEPER_TIMEZONE": ZONE})) as shop,
        ):
            listed = portal.call(shop.client.list_tools)
            schemas = {tool.name: tool.input_schema for tool in listed.tools}
            assert set(schemas) == TOOLS
            yield Running(portal, shop, schemas)
    finally:
        if server is not None and db.name is not None:
            server.drop_database(db.name)


def plausible(schema: Schema) -> st.SearchStrategy[object]:
    """Values of the argument's own type (days, enum members, small numbers), the extremes included,
    so that one odd value is often a call's only problem and reaches the tool's own checks."""
    choices = [schema, *cast(list[Schema], schema.get("anyOf", []))]
    for choice in choices:
        if choice.get("format") == "date":
            return st.sampled_from(DAYS)
        if "enum" in choice:
            return st.sampled_from(cast(list[object], choice["enum"]))
        kind = choice.get("type")  # a type, or a list of them for an optional value (["integer", "null"])
        kinds = cast(list[object], kind) if isinstance(kind, list) else [kind]
        if "integer" in kinds:
            return st.integers(-2, 120) | st.sampled_from(ODD_NUMBERS)
        if "boolean" in kinds:
            return st.booleans()
    return st.sampled_from(ODD_TEXT)


@st.composite
def calls(draw: st.DrawFn, schemas: dict[str, Schema]) -> tuple[str, dict[str, object]]:
    """A tool, its required arguments (usually), and a few others with plausible or any JSON values
    (sometimes an argument it does not have)."""
    tool = draw(st.sampled_from(sorted(schemas)))
    properties = cast(dict[str, Schema], schemas[tool].get("properties", {}))
    required = [name for name in cast(list[str], schemas[tool].get("required", [])) if draw(st.integers(0, 4))]
    names = sorted(properties)
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=min(2, len(names)))) if names else []
    sent: dict[str, object] = {name: draw(plausible(properties[name])) for name in required}
    for name in chosen:
        typed = plausible(properties[name])
        sent[name] = draw(st.one_of(typed, typed, typed, json_values))
    if draw(st.integers(0, 9)) == 0:
        sent[draw(st.sampled_from(ODD_TEXT))] = draw(json_values)
    return tool, sent


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_json_in_any_argument_gets_an_answer_in_the_projects_words(running: Running, data: st.DataObject) -> None:
    tool, arguments = data.draw(calls(running.schemas), label="call")
    result = running.portal.call(running.shop.call, tool, arguments)
    text = text_of(result)
    sent = json.dumps(arguments, ensure_ascii=False)  # echoing (a piece of) what was sent is not a leak
    for marker in FORBIDDEN:
        assert marker not in text or marker in sent, f"{tool}({arguments!r}) answered with {marker!r}: {text!r}"
    assert_no_internals(text, db=running.shop.db)
    if result.is_error:
        assert "\nNext: " in text or ". Next: " in text, f"{tool}({arguments!r}) failed without a next step: {text!r}"
    if text.startswith("Invalid arguments for ") and "\n- " in text:
        head, *problems, blank, last = text.split("\n")
        assert head.endswith(":"), text
        assert all(line.startswith("- ") for line in problems), f"{tool}({arguments!r}) broke the form: {text!r}"
        assert blank == "", text
        assert last.startswith("Nothing was changed. Next: "), text
        assert "x" * 61 not in text, f"{tool}({arguments!r}) echoed a long value uncut: {text!r}"
