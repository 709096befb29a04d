"""Plumbing every tool shares: reaching services, naming the actor, shaping results and errors."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast, get_type_hints

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ValidationError

from mcp_server.handlers.mcp import schemas
from mcp_server.handlers.mcp.argument_errors import arguments_error
from mcp_server.handlers.mcp.context import AppContext, BackendUnavailableError, ServiceRegistry
from mcp_server.models.errors import StorageUnavailableError
from mcp_server.services.results import Failure, Unavailable, storage_unavailable
from mcp_server.utils.markdown import close_open_fence

logger = logging.getLogger("mcp_server.tools")

ToolContext = Context[AppContext, Any]
UNKNOWN_ACTOR = "unknown-client"
RETRY_LATER = "call the same tool again in a few seconds; this call changed nothing."
ToolFn = TypeVar("ToolFn", bound=Callable[..., Awaitable[CallToolResult]])


def tool(
    fn: Callable[..., Awaitable[CallToolResult]],
    *,
    title: str,
    read_only: bool,
    idempotent: bool,
    destructive: bool = False,
    open_world: bool = False,
    clears: bool = False,
    outline: schemas.Outline | None = None,
) -> Tool:
    """A tool with truthful annotations (``open_world``: a call can reach the payment gateway; anything
    else touches only the shop's own database), its docstring as the description, and compact schemas
    (``schemas``: the tool list is in the assistant's context on every turn; ``outline`` for an order
    another tool's schema describes in full; ``clears``: an explicit null argument clears a field)."""
    annotations = ToolAnnotations(
        title=title,
        read_only_hint=read_only,
        destructive_hint=None if read_only else destructive,
        idempotent_hint=idempotent,
        open_world_hint=open_world,
    )
    # The annotations are strings (postponed evaluation); the SDK would evaluate them three times per tool
    # (context parameter, resolvers, signature). Evaluated once here, the same objects; start-up is shorter.
    fn.__annotations__ = get_type_hints(fn, include_extras=True)
    built = Tool.from_function(fn, title=title, description=schemas.description(fn), annotations=annotations)
    built.parameters = schemas.compact(built.parameters, nulls=clears)
    if built.fn_metadata.output_schema is not None:
        # Tool.output_schema (what tools/list sends) reads this live; results are still validated by the model.
        built.fn_metadata.output_schema = schemas.compact(built.fn_metadata.output_schema, output=True, outline=outline)
    return built


MAX_MARKDOWN_CHARS = 60_000  # about 15,000 tokens: with the structured copy, well under 25,000


def ok(markdown: str, structured: BaseModel | dict[str, Any]) -> CallToolResult:
    """A result: Markdown for the assistant, and the tool's output model (or its JSON) for programs."""
    if len(markdown) > MAX_MARKDOWN_CHARS:
        # Lists are bounded by their limits; this is the backstop for anything that is not.
        cut = markdown.rfind("\n", 0, MAX_MARKDOWN_CHARS)
        markdown = (
            close_open_fence(markdown[: cut if cut > 0 else MAX_MARKDOWN_CHARS])
            + "\n\n… (cut here to keep the answer short: ask for less, e.g. a smaller limit or a shorter "
            "date range; structuredContent has every row)"
        )
    return CallToolResult(
        content=[TextContent(type="text", text=markdown)],
        structured_content=structured.model_dump(mode="json") if isinstance(structured, BaseModel) else structured,
    )


def error(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def sentence(message: str) -> str:
    """A failure's message as a sentence: capitalised, ending with a full stop."""
    text = message[:1].upper() + message[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def failure(result: Failure, *, next_step: str, between: str = "") -> CallToolResult:
    """An isError result: what went wrong, then what to call next (``between`` goes between them: a
    "Did you mean" block).

    An Unavailable with a remedy (a full disk, a read-only file) needs a person before a retry can
    work, whatever the tool: its own next step replaces "call again in a few seconds".
    """
    if isinstance(result, Unavailable) and result.remedy:
        next_step = (
            f"ask the person running Shopkeeper to {result.remedy}, then call the same tool again; "
            "this call changed nothing. Tools that only read still work."
        )
    shown = f"{sentence(result.message)}\n\n{between}" if between else sentence(result.message)
    return error(f"{shown}\n\nNext: {next_step}")


def actor(ctx: ToolContext) -> str:
    """Who is making the change: the HTTP caller's token (token:NAME), else SHOPKEEPER_ACTOR, else the
    client's name from initialize."""
    app = ctx.request_context.lifespan_context
    caller = app.caller().actor
    if caller:
        return caller
    if app.actor:
        return app.actor
    params = ctx.session.client_params
    name = params.client_info.name if params is not None else None
    return name[:200] if name else UNKNOWN_ACTOR


def given_arguments(ctx: ToolContext) -> set[str] | None:
    """Names of the arguments the client actually sent (None if the SDK does not expose them)."""
    params = ctx.request_context.params
    if params is None:
        return None
    arguments = params.get("arguments")
    if not isinstance(arguments, dict):
        return None
    return {str(key) for key in arguments}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]


def as_sent(ctx: ToolContext, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every text argument exactly as the client sent it.

    ``ShopServer`` already keeps text from the SDK's JSON decoding (a note reading ``null`` is not
    None); handlers still take the raw strings, before any normalising validator, and validate
    them through the models.
    """
    params = ctx.request_context.params
    arguments = params.get("arguments") if params is not None else None
    if not isinstance(arguments, dict):
        return values
    raw = cast(dict[str, Any], arguments)
    return {name: raw[name] if isinstance(raw.get(name), str) else value for name, value in values.items()}


def changes_sent(ctx: ToolContext, values: dict[str, Any]) -> dict[str, Any]:
    """For partial updates: the entries of ``values`` the client actually sent (an explicit null
    included, which clears a field), text as sent. The SDK turns "absent" and "null" both into None."""
    sent = given_arguments(ctx)
    values = as_sent(ctx, values)
    return {name: value for name, value in values.items() if (name in sent if sent is not None else value is not None)}


Model = TypeVar("Model", bound=BaseModel)


def validated(model: type[Model], values: dict[str, Any], tool: str) -> Model | CallToolResult:
    """``model`` built from ``values``, or an isError result naming each bad argument."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        return error(arguments_error(tool, exc))


NEW_SHOP_NOTE = (
    "Note: this is a new, empty shop: the server set up its database when it started (what this call "
    "did is all it holds). If you expected existing customers, products or orders, SHOPKEEPER_DATABASE_URL "
    "names the wrong database: tell the person running Shopkeeper before you add anything more."
)


def noting_a_new_shop(ctx: ToolContext, result: CallToolResult) -> CallToolResult:
    """The first answer after the server created the shop's database says so, once (a mistyped
    location would otherwise look like a shop that lost everything)."""
    if ctx.request_context.lifespan_context.new_shop():
        result.content.insert(0, TextContent(type="text", text=NEW_SHOP_NOTE))
    return result


async def run(
    ctx: ToolContext, tool: str, use: Callable[[ServiceRegistry], Awaitable[CallToolResult]]
) -> CallToolResult:
    """Reach the services and run one use case; no exception text ever reaches the client.

    (Argument names the tool does not have were refused before it ran: ``ShopServer.call_tool``.)
    """
    try:
        services = await ctx.request_context.lifespan_context.services()
        return noting_a_new_shop(ctx, await use(services))
    except BackendUnavailableError as exc:
        return error(
            f"The shop's database is not available: {exc.public_message}\n\n"
            "Next: tell the person running Shopkeeper; the server log (stderr) has the details. "
            "Retrying will not help until that is fixed."
        )
    except StorageUnavailableError as exc:  # a use case without its own answer for it (see unavailable_when_busy)
        return failure(storage_unavailable(exc), next_step=RETRY_LATER)
    except Exception as exc:
        incident = secrets.token_hex(4)
        # One line, naming the tool and the error class: the error's text may carry SQL and a
        # customer's data, and rendering a traceback blocks the event loop for most of a second.
        logger.error("tool %s failed (incident %s): %s", tool, incident, type(exc).__name__)
        logger.debug("details of incident %s", incident, exc_info=True)
        return error(
            f"Shopkeeper hit an unexpected internal error (incident {incident}).\n\n"
            "Next: call audit_log_list to see whether the change was applied before you retry; "
            "if it keeps happening, report the incident id to the person running Shopkeeper."
        )
