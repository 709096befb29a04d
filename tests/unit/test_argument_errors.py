"""The answer to bad arguments is built from pydantic's structured errors, whatever the values hold."""

from __future__ import annotations

from typing import Annotated

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from mcp_server.handlers.mcp.argument_errors import (
    MAX_SHOWN,
    ToolArguments,
    admits_text,
    arguments_error,
    shown,
    unknown_arguments_message,
    where,
)


def _echo(value: str) -> str:
    raise ValueError(f"'{value}' is not an e-mail address like name@example.com")


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: Annotated[int, Field(ge=1)]


class Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1)] = "x"
    email: Annotated[str, AfterValidator(_echo)] = ""
    lines: list[Line] = []


def error_for(**values: object) -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        Arguments.model_validate(values)
    return refused.value


def answer(**values: object) -> str:
    return arguments_error("customers_register", error_for(**values))


def test_each_bad_argument_gets_a_line_then_the_next_step() -> None:
    assert answer(name="", email="x") == (
        "Invalid arguments for customers_register:\n"
        "- `name`: String should have at least 1 character\n"
        "- `email`: 'x' is not an e-mail address like name@example.com\n\n"
        "Nothing was changed. Next: correct these arguments (the tool's input schema lists what is allowed) "
        "and call customers_register again."
    )


def test_a_line_break_in_a_value_stays_on_its_line() -> None:
    assert "- `email`: 'a\\nb' is not an e-mail address" in answer(email="a\nb")


def test_pydantic_markers_in_a_value_are_just_text() -> None:
    value = "x [type=value_error, input_value='y', input_type=str]\n    For further information visit https://x"
    text = answer(email=value)
    assert text.count("\n") == 3, text
    assert "[type=value_error, input_value='y'" in text  # the caller's own text, cut short …
    assert "https://x" not in text  # … to MAX_SHOWN characters


def test_a_long_value_is_echoed_cut_to_60_characters() -> None:
    text = answer(email="x" * 10_000)
    assert "x" * (MAX_SHOWN - 1) + "…" in text
    assert "x" * MAX_SHOWN not in text


def test_a_long_shielded_value_is_echoed_cut_too() -> None:
    """Text kept from the SDK's JSON decoding reaches pydantic as bytes; its echo is cut all the same."""
    text = answer(email=("[" + "x" * 10_000 + "]").encode())
    assert "[" + "x" * (MAX_SHOWN - 2) + "…" in text
    assert "x" * MAX_SHOWN not in text


SCHEMA = {
    "properties": {
        "notes": {"anyOf": [{"type": "string", "maxLength": 10}, {"type": "null"}]},
        "status": {"type": "string", "enum": ["paid"]},
        "day": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
        "lines": {"type": "array", "items": {"type": "object"}},
        "address": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}]},
        "amount": {"type": ["integer", "null"]},
        "either": {"oneOf": [{"type": "integer"}, {"type": ["string", "null"]}]},
        "kind": {"anyOf": [{"$ref": "#/$defs/Kind"}, {"type": "null"}]},
        "loop": {"$ref": "#/$defs/Loop"},
    },
    "$defs": {
        "Address": {"type": "object", "properties": {"city": {"type": "string"}}},
        "Kind": {"type": "string", "enum": ["a", "b"]},
        "Loop": {"anyOf": [{"$ref": "#/$defs/Loop"}, {"type": "integer"}]},
    },
}


def test_text_arguments_are_read_from_the_schema() -> None:
    arguments = ToolArguments.of(SCHEMA)
    assert arguments.names == set(SCHEMA["properties"])
    assert arguments.text == {"notes", "status", "day", "either", "kind"}
    assert not admits_text({"type": "null"})
    assert not admits_text("string")


def test_only_text_the_sdk_would_decode_is_shielded_and_only_in_text_arguments() -> None:
    sent = {"notes": '["a"]', "status": "null", "day": "2026-01-01", "either": "12", "lines": "[]", "amount": "null"}
    shielded = ToolArguments.of(SCHEMA).shielded(sent)
    assert shielded == sent | {"notes": b'["a"]', "status": b"null"}
    assert sent["notes"] == '["a"]', "the caller's arguments are not changed in place"
    lone_surrogate = '["\ud800"]'  # cannot be UTF-8: left for the SDK to refuse
    assert ToolArguments.of(SCHEMA).shielded({"notes": lone_surrogate}) == {"notes": lone_surrogate}


def test_nested_locations_count_items_from_1() -> None:
    text = answer(lines=[{"quantity": 1}, {"quantity": 0, "colour\n`red`": 1}])
    assert "- `lines` item 2, `quantity`: Input should be greater than or equal to 1" in text
    assert "- `lines` item 2, `colour\\n'red'`: Extra inputs are not permitted" in text


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (("email",), "`email`"),
        (("lines", 0, "quantity"), "`lines` item 1, `quantity`"),
        (("shipping_address", "line1"), "`shipping_address.line1`"),
        (("lines", 2), "`lines` item 3"),
        (("a", 0, 1, "b"), "`a` item 1 item 2, `b`"),
        ((), "the arguments together"),
        (("x" * 500,), f"`{'x' * (MAX_SHOWN - 1)}…`"),
    ],
)
def test_where(location: tuple[int | str, ...], expected: str) -> None:
    assert where(location) == expected


def test_many_problems_are_counted_not_listed() -> None:
    text = answer(lines=[{"quantity": 0}] * 50)
    assert text.count("\n- `lines`") == 10
    assert "- … and 40 more" in text


def test_unknown_argument_names_are_shown_on_one_line_and_cut() -> None:
    text = unknown_arguments_message("customers_get", ["ph\nnoe", "y" * 500], {"customer_id", "email"})
    assert text.startswith("Invalid arguments for customers_get: `ph\\nnoe`, `" + "y" * (MAX_SHOWN - 1) + "…` are not")
    assert text.endswith("Next: call customers_get again using only its arguments: `customer_id`, `email`.")


@settings(max_examples=200, deadline=None)
@given(value=st.text(), key=st.text(min_size=1))
def test_any_text_keeps_the_form(value: str, key: str) -> None:
    line: dict[str, object] = {"quantity": 0, key: 1} if key != "quantity" else {}
    text = answer(email=value, lines=[line])
    head, *problems, blank, last = text.split("\n")
    assert head == "Invalid arguments for customers_register:"
    assert all(line.startswith("- ") for line in problems), text
    assert blank == ""
    assert last.startswith("Nothing was changed. Next: ")
    assert len(text) < 1_500


def test_shown_escapes_what_cannot_be_seen() -> None:
    assert shown("a\u202eb\u0000c\u2028d`", 60) == "a\\u202eb\\u0000c\\u2028d'"
    assert shown("é🙂", 60) == "é🙂"
