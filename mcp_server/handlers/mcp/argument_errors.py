"""Turns the SDK's raw pydantic report of bad tool arguments into an actionable message.

The SDK rejects arguments that do not match a tool's input schema before our code runs and
answers with pydantic's text ("1 validation error for customers_listArguments … For further
information visit https://errors.pydantic.dev/…"). This middleware rewrites that answer to
name each bad argument, say that nothing changed, and say what to do next. Anything it does
not recognise passes through untouched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import replace
from typing import Any, cast

from mcp.server.context import ServerRequestContext

_HEADER = re.compile(r"^Error executing tool (?P<tool>[\w.-]+): \d+ validation errors? for \w+$")
_PREFIXES = ("Value error, ", "Assertion failed, ")


def rewrite(text: str) -> str | None:
    """The friendly version of an SDK argument-validation message, or None if ``text`` is not one."""
    lines = text.splitlines()
    header = _HEADER.match(lines[0]) if lines else None
    if header is None:
        return None
    tool = header.group("tool")
    problems: list[tuple[str, str]] = []
    rest = [line for line in lines[1:] if not line.strip().startswith("For further information")]
    if len(rest) % 2:
        return None
    for field_line, detail_line in zip(rest[::2], rest[1::2], strict=True):
        message = detail_line.strip()
        if " [type=" in message:
            message = message.rsplit(" [type=", 1)[0]
        problems.append((field_line.strip(), message))
    return invalid_arguments_message(tool, problems)


def invalid_arguments_message(tool: str, problems: list[tuple[str, str]]) -> str:
    """One line per (argument, problem), then "nothing was changed" and what to do next."""
    lines: list[str] = []
    for argument, message in problems:
        for prefix in _PREFIXES:
            message = message.removeprefix(prefix)
        lines.append(f"- {_where(argument)}: {message}")
    which = "this argument" if len(problems) == 1 else "these arguments"
    return (
        f"Invalid arguments for {tool}:\n"
        + "\n".join(lines)
        + f"\n\nNothing was changed. Next: correct {which} (the tool's input schema lists what is allowed) "
        f"and call {tool} again."
    )


_ITEM = re.compile(r"^(?P<list>\w+)\.(?P<index>\d+)(?:\.(?P<rest>.+))?$")


def _where(argument: str) -> str:
    """``lines.0.quantity`` → "`lines` item 1, `quantity`": people and our own messages count from 1."""
    item = _ITEM.match(argument)
    if item is None:
        return f"`{argument or '(arguments)'}`"
    rest = f", `{item.group('rest')}`" if item.group("rest") else ""
    return f"`{item.group('list')}` item {int(item.group('index')) + 1}{rest}"


def unknown_arguments_message(tool: str, unknown: list[str], allowed: set[str]) -> str:
    names = ", ".join(f"`{name[:60]}`" for name in unknown[:10])
    valid = ", ".join(f"`{name}`" for name in sorted(allowed)) or "none"
    return (
        f"Invalid arguments for {tool}: {names} {'is not an argument' if len(unknown) == 1 else 'are not arguments'} "
        f"of this tool.\n\nNothing was changed. Next: call {tool} again using only its arguments: {valid}."
    )


# Free-text arguments. The SDK JSON-decodes string values of optional arguments before
# validating them, so a description reading '["gift", "mug"]' would arrive as a list and be
# refused as "not a valid string". The middleware hands the SDK a placeholder for such values
# and keeps the text as sent here; handlers read it back (common.as_sent) and validate it.
FREE_TEXT_ARGUMENTS = frozenset({"notes", "description", "note", "text", "query"})
_PLACEHOLDER = "x"
RAW_ARGUMENTS: ContextVar[Mapping[str, Any] | None] = ContextVar("shopkeeper_raw_arguments", default=None)


def _json_container(value: str) -> bool:
    stripped = value.strip()
    if stripped[:1] not in ("[", "{"):
        return False
    try:
        return isinstance(json.loads(stripped), list | dict)
    except ValueError:
        return False


class FriendlyArgumentErrors:
    """Server middleware for ``tools/call``: keeps free text that looks like JSON as text, and
    rewrites argument-validation failures into actionable text."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
        token = None
        params = ctx.params
        arguments = params.get("arguments") if ctx.method == "tools/call" and params is not None else None
        if isinstance(arguments, dict):
            raw = cast(dict[str, Any], arguments)
            shielded = {
                name: _PLACEHOLDER
                for name, value in raw.items()
                if name in FREE_TEXT_ARGUMENTS and isinstance(value, str) and _json_container(value)
            }
            if shielded:
                token = RAW_ARGUMENTS.set(dict(raw))
                ctx = replace(ctx, params={**(params or {}), "arguments": {**raw, **shielded}})
        try:
            result = await call_next(ctx)
        finally:
            if token is not None:
                RAW_ARGUMENTS.reset(token)
        if ctx.method != "tools/call" or not isinstance(result, dict):
            return result
        answer = cast(dict[str, Any], result)
        content = answer.get("content")
        if not answer.get("isError") or not isinstance(content, list):
            return answer
        blocks = cast(list[Any], content)
        if len(blocks) != 1 or not isinstance(blocks[0], dict):
            return answer
        block = cast(dict[str, Any], blocks[0])
        text = block.get("text")
        friendly = rewrite(text) if isinstance(text, str) else None
        if friendly is None:
            return answer
        return {**answer, "content": [{**block, "text": friendly}]}
