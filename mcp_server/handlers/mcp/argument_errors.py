"""Bad tool arguments, answered in the project's own words from pydantic's structured errors.

The SDK validates arguments against a tool's input schema before our code runs and raises a
ToolError caused by pydantic's ValidationError; left alone, the client would read pydantic's
multi-line text with a docs URL. ``ShopServer.call_tool`` catches that one case and builds the
answer from ``exc.errors()`` (handlers' own model checks use the same builder), so no value, however
odd (line breaks, pydantic's own markers, thousands of characters), can break the form: one line
per bad argument, what was echoed cut to 60 characters, then "Nothing was changed. Next: …".
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import replace
from typing import Any, cast

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp_types import CallToolResult, InputRequiredResult
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from mcp_server.handlers.mcp.context import AppContext

MAX_SHOWN = 60
"""Characters of a caller's value (or argument name) echoed back at most."""
MAX_MESSAGE = 200
MAX_PROBLEMS = 10
_PREFIXES = ("Value error, ", "Assertion failed, ")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "`": "'"}


class ShopServer(MCPServer[AppContext]):
    """MCPServer whose argument-validation failures name each bad argument and the next step."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppContext, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            # Only argument validation raises a plain ToolError directly caused by a ValidationError;
            # a crash is an UnexpectedToolError, a resolver's failure is caused by another ToolError.
            if isinstance(exc, UnexpectedToolError):
                raise
            if isinstance(cause, ValidationError):
                raise ToolError(arguments_error(name, cause)) from cause
            known = sorted(tool.name for tool in await self.list_tools())
            if name in known:
                raise
            raise ToolError(unknown_tool_message(name, known)) from None


def unknown_tool_message(name: str, known: Sequence[str]) -> str:
    """The answer to a call of a tool this server does not have: its tools, and what to do."""
    return (
        f"There is no tool named {shown(name, 60)!r} on this server.\n\nNothing was changed. Next: call one of "
        f"{', '.join(known)} (tools/list describes each)."
    )


def arguments_error(tool: str, exc: ValidationError) -> str:
    """The answer to a call whose arguments failed ``exc``: each bad argument, then what to do."""
    return invalid_arguments_message(tool, [describe(error) for error in exc.errors(include_url=False)])


def describe(error: ErrorDetails) -> tuple[str, str]:
    """(where, what) for one pydantic error, both on one line, echoed values cut short."""
    message = str(error["msg"])
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    value = error.get("input")
    if isinstance(value, str):
        message = _cut_echo(message, value.strip())
    return where(error["loc"]), shown(message, MAX_MESSAGE)


def where(location: Sequence[int | str]) -> str:
    """``("lines", 0, "quantity")`` → "`lines` item 1, `quantity`": people count items from 1."""
    parts: list[str] = []
    names: list[str] = []
    for part in location:
        if isinstance(part, int):
            if names:
                parts.append(f"`{'.'.join(names)}`")
                names = []
            parts.append(f"item {part + 1}")
        else:
            if parts and not names:
                parts[-1] += ","
            names.append(shown(part, MAX_SHOWN))
    if names:
        parts.append(f"`{'.'.join(names)}`")
    return " ".join(parts) or "the arguments together"


def shown(text: str, limit: int) -> str:
    """``text`` on one line (control and format characters written as escapes), cut to ``limit``."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return "".join(_ESCAPES.get(char) or _visible(char) for char in cut)


def _visible(char: str) -> str:
    return f"\\u{ord(char):04x}" if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") else char


def _cut_echo(message: str, value: str) -> str:
    """``message`` with its copy of ``value`` (or of the start of it) cut to MAX_SHOWN characters."""
    if len(value) <= MAX_SHOWN or value[: MAX_SHOWN + 1] not in message:
        return message
    low, high = MAX_SHOWN + 1, len(value)  # the longest start of value that message contains
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if value[:middle] in message else (low, middle - 1)
    return message.replace(value[:low], value[: MAX_SHOWN - 1] + "…", 1)


def invalid_arguments_message(tool: str, problems: list[tuple[str, str]]) -> str:
    """One line per (where, what), then "nothing was changed" and what to do next."""
    lines = [f"- {argument}: {message}" for argument, message in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"- … and {len(problems) - MAX_PROBLEMS} more")
    which = "this argument" if len(problems) == 1 else "these arguments"
    return (
        f"Invalid arguments for {tool}:\n"
        + "\n".join(lines)
        + f"\n\nNothing was changed. Next: correct {which} (the tool's input schema lists what is allowed) "
        f"and call {tool} again."
    )


def unknown_arguments_message(tool: str, unknown: list[str], allowed: set[str]) -> str:
    names = ", ".join(f"`{shown(name, MAX_SHOWN)}`" for name in unknown[:MAX_PROBLEMS])
    more = f" and {len(unknown) - MAX_PROBLEMS} more" if len(unknown) > MAX_PROBLEMS else ""
    valid = ", ".join(f"`{name}`" for name in sorted(allowed)) or "none"
    return (
        f"Invalid arguments for {tool}: {names}{more} "
        f"{'is not an argument' if len(unknown) == 1 else 'are not arguments'} of this tool.\n\n"
        f"Nothing was changed. Next: call {tool} again using only its arguments: {valid}."
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


class FreeTextAsSent:
    """Server middleware for ``tools/call``: free text that looks like JSON reaches the tool as text."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
        params = ctx.params
        arguments = params.get("arguments") if ctx.method == "tools/call" and params is not None else None
        if not isinstance(arguments, dict):
            return await call_next(ctx)
        raw = cast(dict[str, Any], arguments)
        shielded = {
            name: _PLACEHOLDER
            for name, value in raw.items()
            if name in FREE_TEXT_ARGUMENTS and isinstance(value, str) and _json_container(value)
        }
        if not shielded:
            return await call_next(ctx)
        token = RAW_ARGUMENTS.set(dict(raw))
        try:
            return await call_next(replace(ctx, params={**(params or {}), "arguments": {**raw, **shielded}}))
        finally:
            RAW_ARGUMENTS.reset(token)
