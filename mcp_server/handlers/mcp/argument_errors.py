"""Tool arguments: one gate before the SDK sees them, and bad ones answered in the project's own words.

``ShopServer.call_tool`` is the one place every tool call's arguments pass. From each tool's
advertised input schema (read once) it refuses argument names the tool does not have (the SDK would
drop them silently, so a misspelt ``phnoe`` would "succeed" without the phone) and keeps every text
argument as sent (``ToolArguments.shielded``).

Then the SDK validates the arguments and raises a ToolError caused by pydantic's ValidationError;
left alone, the client would read pydantic's multi-line text with a docs URL. ``call_tool`` catches
that one case and builds the answer from ``exc.errors()`` (handlers' own model checks use the same
builder), so no value, however odd (line breaks, pydantic's own markers, thousands of characters),
can break the form: one line per bad argument, what was echoed cut to 60 characters, then
"Nothing was changed. Next: …".
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp_types import CallToolResult, InputRequiredResult, TextContent
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
    """MCPServer whose tool calls pass one gate before the SDK validates them, driven by each tool's
    advertised input schema: argument names it does not have are refused, text arguments are kept as
    sent; and whose argument-validation failures name each bad argument and the next step."""

    _arguments: dict[str, ToolArguments] | None = None

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppContext, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        expected = await self.arguments_of(name)
        if expected is not None:
            unknown = sorted(set(arguments) - expected.names)
            if unknown:
                message = unknown_arguments_message(name, unknown, set(expected.names))
                hints = "".join(
                    f" {ARGUMENT_HINTS[(name, each)]}" for each in unknown if (name, each) in ARGUMENT_HINTS
                )
                return CallToolResult(content=[TextContent(type="text", text=message + hints)], is_error=True)
            arguments = expected.shielded(arguments)
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

    async def arguments_of(self, tool: str) -> ToolArguments | None:
        """What ``tool`` takes, read once from the input schemas tools/list advertises (None: no such tool)."""
        if self._arguments is None or tool not in self._arguments:
            self._arguments = {listed.name: ToolArguments.of(listed.input_schema) for listed in await self.list_tools()}
        return self._arguments.get(tool)


ARGUMENT_HINTS = {
    ("catalog_update_product", "stock"): "Stock changes only through catalog_adjust_stock (delta and reason).",
}
"""A sentence added to the refusal of an argument name a client is likely to try."""


@dataclass(frozen=True, slots=True)
class ToolArguments:
    """A tool's argument names, and which of them admit text, from its input schema."""

    names: frozenset[str]
    text: frozenset[str]

    @classmethod
    def of(cls, input_schema: Mapping[str, Any]) -> ToolArguments:
        properties = cast(dict[str, Any], input_schema.get("properties") or {})
        defs = cast(dict[str, Any], input_schema.get("$defs") or {})
        text = frozenset(name for name, schema in properties.items() if admits_text(schema, defs))
        return cls(frozenset(properties), text)

    def shielded(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """``arguments`` with each text the SDK would JSON-decode handed over as UTF-8 bytes.

        The SDK JSON-decodes the string value of any argument not annotated plain ``str`` (an optional
        one, a Literal, a date) before validating it, so '["r1"]' became a list ("not a valid string")
        and 'null' became None. It decodes only ``str`` values; pydantic takes bytes for a string
        field and validates the decoded text against the same constraints, so the tool gets the text
        exactly as sent. Text that cannot be UTF-8 (a lone surrogate) is left to the SDK.
        """
        shielded = dict(arguments)
        for name, value in arguments.items():
            if name in self.text and isinstance(value, str) and _decoded_by_sdk(value):
                try:
                    shielded[name] = value.encode("utf-8")
                except UnicodeEncodeError:
                    continue
        return shielded


def admits_text(schema: object, defs: Mapping[str, Any] | None = None) -> bool:
    """True when a JSON schema lets a string through: ``type`` string (or a list with it), an option
    that does, or a ``#/$defs/…`` reference (an enum class) to one that does."""
    if not isinstance(schema, Mapping):
        return False
    node = cast(Mapping[str, Any], schema)
    kind = node.get("type")
    if kind == "string" or (isinstance(kind, list) and "string" in kind):
        return True
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/$defs/") and defs:
        name = reference.removeprefix("#/$defs/")
        return admits_text(defs.get(name), {key: value for key, value in defs.items() if key != name})  # no cycles
    options = [*cast(list[object], node.get("anyOf") or []), *cast(list[object], node.get("oneOf") or [])]
    return any(admits_text(option, defs) for option in options)


def _decoded_by_sdk(value: str) -> bool:
    """True when the SDK's JSON pre-parsing would turn ``value`` into something else than text or a number."""
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError):
        return False
    return not isinstance(decoded, str | int | float)


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
    if isinstance(value, bytes):  # text the gate shielded from the SDK's JSON decoding (ToolArguments)
        value = value.decode("utf-8", "replace")
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
