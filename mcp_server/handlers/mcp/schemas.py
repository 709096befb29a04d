"""Tool schemas as tools/list sends them: pydantic's JSON Schema without what only costs tokens.

Every client puts the whole tool list in the assistant's context on every turn, so each character
counts. ``compact`` keeps the meaning (types, constraints, enums, ``required``, the descriptions
written for the assistant) and drops what pydantic writes for its own reasons: a ``title`` on every
field and model (a copy of its name), ``"default": null``, class docstrings (written for developers),
a ``$defs`` entry with its ``$ref`` for a model used once (written in place instead), and, in
arguments, the ``null`` an optional argument's type allows (leaving it out means the same), except
for the arguments a null clears (``nulls``). A nullable type stays an ``anyOf`` of single types, never
a type list: clients that map schemas onto one-type dialects (Gemini's function declarations)
reject lists, and MCP Inspector warns about each one. An output schema also loses its
defaults (a result always carries every field), ``format`` (times and days are ISO 8601 text named
``…_at``, ``day``, ``date_…``) and the ``type`` beside an ``enum``; ``Outline`` cuts an object
another tool's schema describes in full.

Only the advertised schemas change: the SDK validates arguments and results with the pydantic
models themselves, so what is accepted or refused stays the same.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

Schema = dict[str, Any]
NULL: Schema = {"type": "null"}
DEFS = "#/$defs/"


@dataclass(frozen=True, slots=True)
class Outline:
    """An object in an answer that another tool's output schema describes in full (``see``), sent as
    its main fields only: the object at ``at`` (a top-level property, each item of it for a list, or
    "" for the whole answer) keeps the properties in ``keep``. The answer itself is unchanged and
    still validates (a JSON Schema object allows properties it does not list)."""

    at: str
    keep: tuple[str, ...]
    see: str


def description(fn: Callable[..., Any]) -> str:
    """``fn``'s docstring as a tool description: dedented, each paragraph on one line (the line breaks
    are the source file's wrapping, not the text's)."""
    paragraphs = inspect.cleandoc(fn.__doc__ or "").split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in paragraph.splitlines()) for paragraph in paragraphs)


def compact(schema: Schema, *, output: bool = False, nulls: bool = False, outline: Outline | None = None) -> Schema:
    """``schema`` (a tool's input schema, or its output schema when ``output``) made small; a new dict.
    ``nulls``: the tool's arguments take an explicit null that means something (a partial update clears)."""
    root = _clean(schema, output=output, nulls=output or nulls)
    root.pop("description", None)  # the arguments' or the result's model docstring
    defs = cast(dict[str, Schema], root.pop("$defs", {}))
    for each in defs.values():
        each.pop("description", None)  # a model's or an enum's docstring
    if outline is not None:
        root = _outlined(root, defs, outline)
    reachable = _reachable(root, defs)
    uses = Counter(_references(root) + [ref for name in reachable for ref in _references(defs[name])])
    inline = {name for name in reachable if uses[name] == 1}
    root = _inlined(root, defs, inline)
    kept = {name: _inlined(defs[name], defs, inline) for name in defs if name in reachable and name not in inline}
    return {"$defs": kept, **root} if kept else root


def _clean(schema: Schema, *, output: bool, nulls: bool) -> Schema:
    node: Schema = {}
    for key, value in schema.items():
        if key == "title" or (key == "default" and (value is None or output)) or (key == "format" and output):
            continue
        if key in ("properties", "$defs"):  # keys here are names (a property may be called "title")
            named = cast(dict[str, Schema], value)
            node[key] = {name: _clean(each, output=output, nulls=nulls) for name, each in named.items()}
        else:
            node[key] = _value(value, lambda each: _clean(each, output=output, nulls=nulls))
    if not nulls and "properties" in node:
        required = set(cast(list[str], node.get("required", [])))
        named = cast(dict[str, Schema], node["properties"])
        node["properties"] = {name: each if name in required else _without_null(each) for name, each in named.items()}
    node = _union(node)
    if output and "enum" in node:
        node.pop("type", None)  # the members say it (an input keeps it: argument_errors.admits_text reads it)
    return node


def _value(value: Any, on_dict: Callable[[Schema], Schema]) -> Any:
    if isinstance(value, dict):
        return on_dict(cast(Schema, value))
    if isinstance(value, list):
        return [_value(each, on_dict) for each in cast(list[Any], value)]
    return value


def _references(node: Any) -> list[str]:
    """Names of the ``$defs`` entries ``node`` refers to, once per reference."""
    if isinstance(node, list):
        return [name for each in cast(list[Any], node) for name in _references(each)]
    if not isinstance(node, dict):
        return []
    node = cast(Schema, node)
    ref = node.get("$ref")
    own = [ref.removeprefix(DEFS)] if isinstance(ref, str) and ref.startswith(DEFS) else []
    return own + [name for key, value in node.items() if key != "$ref" for name in _references(value)]


def _reachable(root: Schema, defs: dict[str, Schema]) -> set[str]:
    """Names of the definitions ``root`` uses, directly or through other definitions."""
    found: set[str] = set()
    waiting = _references(root)
    while waiting:
        name = waiting.pop()
        if name not in found:
            found.add(name)
            waiting += _references(defs[name])
    return found


def _outlined(root: Schema, defs: dict[str, Schema], outline: Outline) -> Schema:
    if not outline.at:
        return _trimmed(root, outline)
    properties = dict(cast(dict[str, Schema], root["properties"]))
    target = _resolved(properties[outline.at], defs)
    if "items" in target:  # a list: each item outlined
        target = {**target, "items": _trimmed(_resolved(target["items"], defs), outline)}
    else:
        target = _trimmed(target, outline)
    properties[outline.at] = target
    return {**root, "properties": properties}


def _resolved(node: Schema, defs: dict[str, Schema]) -> Schema:
    """``node`` with its own reference to a definition (also one in a nullable ``anyOf``) written out."""
    ref = node.get("$ref")
    if isinstance(ref, str):
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return {**defs[ref.removeprefix(DEFS)], **siblings}
    options = node.get("anyOf")
    if isinstance(options, list):
        resolved = [_resolved(option, defs) for option in cast(list[Schema], options)]
        return _union({**node, "anyOf": resolved})
    return node


def _trimmed(node: Schema, outline: Outline) -> Schema:
    options = node.get("anyOf")
    if isinstance(options, list):  # a nullable object: its object option outlined
        trimmed = [option if option == NULL else _trimmed(option, outline) for option in cast(list[Schema], options)]
        return {**node, "anyOf": trimmed}
    properties = cast(dict[str, Schema], node["properties"])
    missing = [name for name in outline.keep if name not in properties]
    if missing:  # a renamed field: fail at start-up, not in a client
        raise ValueError(f"outline of {outline.at or 'the answer'} keeps unknown fields {missing}")
    required = [name for name in cast(list[str], node.get("required", [])) if name in outline.keep]
    return {
        **node,
        "description": f"Main fields; {outline.see} lists all",
        "properties": {name: properties[name] for name in outline.keep},
        "required": required,
    }


def _inlined(node: Schema, defs: dict[str, Schema], inline: set[str]) -> Schema:
    """``node`` with each reference to a definition in ``inline`` replaced by the definition."""
    out: Schema = {}
    for key, value in node.items():
        if key == "properties":
            named = cast(dict[str, Schema], value)
            out[key] = {name: _inlined(each, defs, inline) for name, each in named.items()}
        else:
            out[key] = _value(value, lambda each: _inlined(each, defs, inline))
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.removeprefix(DEFS) in inline:
        siblings = {key: value for key, value in out.items() if key != "$ref"}
        out = {**_inlined(defs[ref.removeprefix(DEFS)], defs, inline), **siblings}
    return _union(out)


def _without_null(node: Schema) -> Schema:
    """An optional argument's schema without its ``null`` option (absent and null mean the same)."""
    options = node.get("anyOf")
    if not isinstance(options, list) or NULL not in options:
        return node
    kept = [option for option in cast(list[Schema], options) if option != NULL]
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    return {**kept[0], **rest} if len(kept) == 1 else {"anyOf": kept, **rest}


def _union(node: Schema) -> Schema:
    """``anyOf: [{enum: […]}, {type: null}]`` (an output's enum, its type dropped) as one enum with a
    null member; other unions stay ``anyOf`` branches of one type each (see the module's note)."""
    options = node.get("anyOf")
    if not isinstance(options, list):
        return node
    options = cast(list[Schema], options)
    if len(options) != 2 or NULL not in options:
        return node
    other = options[0] if options[1] == NULL else options[1]
    if "enum" in other and other.get("type") is None:
        rest = {key: value for key, value in node.items() if key != "anyOf"}
        return {**other, "enum": [*other["enum"], None], **rest}
    return node
