"""schemas.compact: smaller tool schemas that accept and refuse exactly what pydantic's own do."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal, cast

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field

from mcp_server.handlers.mcp.schemas import Outline, compact, description


class Address(BaseModel):
    """Developer note: never sent."""

    model_config = ConfigDict(extra="forbid")

    city: Annotated[str, Field(min_length=1, max_length=100)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 code")]


class Line(BaseModel):
    sku: str | None = None
    quantity: Annotated[int, Field(ge=1, le=10)]


class Arguments(BaseModel):
    title: Annotated[str, Field(max_length=20, description="A property called title")]
    description: str | None = None
    status: Literal["open", "shut"] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    address: Address | None = None
    lines: Annotated[list[Line], Field(min_length=1)]
    spare: Line | None = None


class Colour(Enum):
    """An enum's docstring: never sent."""

    RED = "red"
    BLUE = "blue"


class Answer(BaseModel):
    """Output only: a developer note."""

    id: str
    status: Literal["open", "shut"]
    colour: Colour | None = None
    created_at: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    refunded: int = 0
    order: Arguments | None


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def keywords(node: object) -> set[str]:
    """Every keyword used in a schema; the names under properties and $defs are not keywords."""
    if isinstance(node, list):
        return {key for each in cast(list[object], node) for key in keywords(each)}
    if not isinstance(node, dict):
        return set()
    found: set[str] = set()
    for key, value in cast(dict[str, object], node).items():
        if key in ("properties", "$defs"):
            found |= {k for each in cast(dict[str, object], value).values() for k in keywords(each)}
        else:
            found |= {key, *keywords(value)}
    return found


def test_drops_titles_but_keeps_a_property_called_title() -> None:
    compacted = compact(schema_of(Arguments))

    assert "title" not in keywords(compacted)
    assert compacted["properties"]["title"] == {
        "description": "A property called title",
        "maxLength": 20,
        "type": "string",
    }
    assert "description" in compacted["properties"]


def test_optional_arguments_lose_their_null_and_models_used_once_are_written_in_place() -> None:
    properties = compact(schema_of(Arguments))["properties"]

    assert properties["description"] == {"type": "string"}
    assert properties["status"] == {"enum": ["open", "shut"], "type": "string"}
    assert properties["address"]["type"] == "object"
    assert properties["address"]["additionalProperties"] is False
    assert properties["address"]["properties"]["country"]["description"] == "ISO 3166 code"
    assert "description" not in properties["address"], "a model's docstring is for developers"


def test_where_a_null_means_something_it_stays_an_any_of_of_single_types() -> None:
    """A partial update clears a field with null; the union is never a type list (Gemini's dialect
    rejects those, and MCP Inspector warns about each)."""
    properties = compact(schema_of(Arguments), nulls=True)["properties"]

    assert properties["description"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert properties["address"]["anyOf"][1] == {"type": "null"}
    assert properties["address"]["anyOf"][0]["type"] == "object"


def test_no_schema_uses_a_type_list() -> None:
    def type_lists(node: object) -> list[object]:
        if isinstance(node, list):
            return [found for each in cast(list[object], node) for found in type_lists(each)]
        if not isinstance(node, dict):
            return []
        node = cast(dict[str, object], node)
        own = [node["type"]] if isinstance(node.get("type"), list) else []
        return own + [found for value in node.values() for found in type_lists(value)]

    for schema in (
        compact(schema_of(Arguments)),
        compact(schema_of(Arguments), nulls=True),
        compact(schema_of(Answer), output=True),
    ):
        assert type_lists(schema) == []


def test_a_model_used_twice_stays_a_definition() -> None:
    compacted = compact(schema_of(Arguments))

    assert set(compacted["$defs"]) == {"Line"}
    assert compacted["properties"]["lines"]["items"] == {"$ref": "#/$defs/Line"}
    assert compacted["properties"]["spare"] == {"$ref": "#/$defs/Line"}
    with_nulls = compact(schema_of(Arguments), nulls=True)
    assert with_nulls["properties"]["spare"] == {"anyOf": [{"$ref": "#/$defs/Line"}, {"type": "null"}]}


def test_inputs_keep_defaults_outputs_drop_defaults_formats_and_the_type_beside_an_enum() -> None:
    arguments = compact(schema_of(Arguments))
    answer = compact(schema_of(Answer), output=True)

    assert arguments["properties"]["limit"]["default"] == 20
    assert "default" not in keywords(answer)
    assert "format" not in keywords(answer)
    assert answer["properties"]["status"] == {"enum": ["open", "shut"]}
    assert answer["properties"]["colour"] == {"enum": ["red", "blue", None]}
    assert "description" not in answer, "the output model's docstring"


INSTANCES: list[Any] = [
    {"title": "t", "lines": [{"quantity": 1}]},
    {"title": "t", "lines": [{"quantity": 1, "sku": None}], "status": None, "address": None, "spare": None},
    {"title": "t", "lines": [{"quantity": 1}], "status": "open", "address": {"city": "Ulm", "country": "DE"}},
    {"title": "t", "lines": []},
    {"title": "t" * 21, "lines": [{"quantity": 1}]},
    {"title": "t", "lines": [{"quantity": 11}]},
    {"title": "t", "lines": [{"quantity": 1}], "status": "ajar"},
    {"title": "t", "lines": [{"quantity": 1}], "address": {"city": "Ulm", "country": "de"}},
    {"title": "t", "lines": [{"quantity": 1}], "address": {"city": "Ulm", "country": "DE", "zip": "1"}},
    {"title": "t", "lines": [{"quantity": 1}], "description": 5},
    {"title": "t", "lines": [{"quantity": 1}], "spare": {"quantity": 0}},
    {"title": "t", "lines": [{"quantity": 1}], "limit": 0},
    {"lines": [{"quantity": 1}]},
]


def sends_a_null(instance: object) -> bool:
    if isinstance(instance, dict):
        return any(value is None or sends_a_null(value) for value in cast(dict[str, object], instance).values())
    if isinstance(instance, list):
        return any(sends_a_null(each) for each in cast(list[object], instance))
    return False


@pytest.mark.parametrize("instance", INSTANCES)
def test_the_compact_schema_accepts_and_refuses_what_pydantics_does(instance: Any) -> None:
    """With ``nulls`` exactly; without, an explicit null is not advertised (the server still takes it)."""
    full = Draft202012Validator(schema_of(Arguments))
    exact = Draft202012Validator(compact(schema_of(Arguments), nulls=True))
    small = Draft202012Validator(compact(schema_of(Arguments)))

    assert exact.is_valid(instance) == full.is_valid(instance)  # pyright: ignore[reportUnknownMemberType]
    if sends_a_null(instance):
        assert not small.is_valid(instance)  # pyright: ignore[reportUnknownMemberType]
    else:
        assert small.is_valid(instance) == full.is_valid(instance)  # pyright: ignore[reportUnknownMemberType]


def test_an_outline_keeps_the_main_fields_and_still_validates_the_whole_answer() -> None:
    outline = Outline("order", ("title", "status"), see="some_get")
    answer = compact(schema_of(Answer), output=True, outline=outline)
    order = answer["properties"]["order"]
    whole = {"id": "a", "status": "open", "created_at": "2026-01-01T00:00:00Z", "refunded": 0, "order": None}
    placed = whole | {"order": {"title": "t", "status": "shut", "lines": [{"quantity": 1}], "limit": 20}}

    assert order["anyOf"][1] == {"type": "null"}
    order = order["anyOf"][0]
    assert set(order["properties"]) == {"title", "status"}
    assert order["required"] == ["title"]
    assert order["type"] == "object"
    assert "some_get" in order["description"]
    assert "$defs" not in answer, "definitions only the cut fields used are gone"
    for instance in (whole, placed):
        assert Draft202012Validator(answer).is_valid(instance)  # pyright: ignore[reportUnknownMemberType]


def test_an_outline_naming_a_field_the_model_lacks_fails_at_start_up() -> None:
    with pytest.raises(ValueError, match="unknown fields"):
        compact(schema_of(Answer), output=True, outline=Outline("", ("id", "flavour"), see="some_get"))


def test_a_description_is_the_docstring_with_each_paragraph_on_one_line() -> None:
    def a_tool() -> None:
        """First line,
        wrapped here.

        Second paragraph
        also wrapped.
        """

    assert description(a_tool) == "First line, wrapped here.\n\nSecond paragraph also wrapped."
