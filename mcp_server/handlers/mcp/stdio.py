"""The stdio door's reader: stdin read on the event loop, cut into lines with a size cap, checked first.

The SDK's own stdio transport reads whole lines in a worker thread and drops a line it cannot parse:
a malformed line gets no answer, a huge line is held whole in memory, and a stop waits for the next
line. Here every line that is not a JSON-RPC message gets a JSON-RPC error answer, a line over the
limit is skipped in constant memory, and SIGINT/SIGTERM stop the server at once. Writing stays the
SDK's: this reader is handed to its ``stdio_server`` as the stdin stream.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import stat
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

logger = logging.getLogger(__name__)

CHUNK_BYTES = 65_536
"""Bytes asked of stdin per read."""
EDGE_BYTES = 4_096
"""Of a line over the limit, this much of its start and of its end is kept, to find its id."""
SNIFF_TOKENS = 200_000
"""How far the id finder reads into a line it cannot parse before it gives up."""
LIMIT_SETTING = "SHOPKEEPER_MAX_MESSAGE_BYTES"

DRAIN_S = 10.0
"""At the end of stdin, how long requests already read may take to be answered before the server stops."""

RequestId = int | str
ByteSource = Callable[[], Awaitable[bytes]]
"""The next bytes of the input; ``b""`` at its end."""


class MessageSender(Protocol):
    async def send(self, item: SessionMessage, /) -> None: ...


class ClosableSender(MessageSender, Protocol):
    async def aclose(self) -> None: ...


# -- framing: lines of at most ``limit`` bytes ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Oversized:
    """A line longer than the limit, skipped: its length, and its first and last few bytes."""

    size: int
    head: bytes
    tail: bytes


class _Skipped:
    def __init__(self) -> None:
        self.size = 0
        self.head = bytearray()
        self.tail = bytearray()

    def add(self, piece: bytes | bytearray) -> None:
        self.size += len(piece)
        if len(self.head) < EDGE_BYTES:
            self.head += piece[: EDGE_BYTES - len(self.head)]
        self.tail += piece[-EDGE_BYTES:]
        del self.tail[:-EDGE_BYTES]

    def frame(self) -> Oversized:
        return Oversized(self.size, bytes(self.head), bytes(self.tail))


class LineFramer:
    """Cuts a byte stream into lines (without their ``\\n``); a line over ``limit`` bytes is never kept whole."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._line = bytearray()
        self._skipped: _Skipped | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for the line in progress (never more than the limit)."""
        return len(self._line)

    def feed(self, data: bytes) -> list[bytes | Oversized]:
        frames: list[bytes | Oversized] = []
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            self._take(data[start:] if end < 0 else data[start:end])
            if end < 0:
                break
            frames.append(self._complete())
            start = end + 1
        return frames

    def finish(self) -> list[bytes | Oversized]:
        """At the end of the input: the last line, if it had no newline."""
        return [self._complete()] if self._line or self._skipped else []

    def _take(self, piece: bytes) -> None:
        if self._skipped is None and len(self._line) + len(piece) <= self._limit:
            self._line += piece
            return
        if self._skipped is None:
            self._skipped = _Skipped()
            self._skipped.add(self._line)
            self._line = bytearray()  # let the memory go now, not at the end of the line
        self._skipped.add(piece)

    def _complete(self) -> bytes | Oversized:
        if self._skipped is not None:
            frame, self._skipped = self._skipped.frame(), None
            return frame
        line, self._line = bytes(self._line), bytearray()
        return line


# -- checking: a JSON-RPC message, or the error answer it gets ------------------------------------------


@dataclass(frozen=True, slots=True)
class Accepted:
    """A line that is a JSON-RPC message: its text (for the SDK) and the message."""

    text: str
    message: JSONRPCMessage


def check_line(line: bytes) -> Accepted | JSONRPCError | None:
    """A valid JSON-RPC message, the error answer for any other line, or None for a blank line."""
    if not line.strip():
        return None
    try:
        text = line.decode("utf-8")  # strict: invalid bytes and encoded surrogates are errors
    except UnicodeDecodeError as exc:
        detail = f"the message is not valid UTF-8 (byte {exc.start + 1} of {len(line)})"
        return _error(PARSE_ERROR, f"Parse error: {detail}", sniff_id(line.decode("utf-8", "replace")))
    try:
        # The SDK's own check (jiter: strict Unicode, nesting capped at about 200 levels), so what passes
        # here passes there.
        message = jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValidationError as exc:
        return _refusal(text, exc)
    return Accepted(text, message)


def refuse_oversized(frame: Oversized, limit: int) -> JSONRPCError:
    request_id = sniff_id(frame.head.decode("utf-8", "replace"))
    if request_id is None:
        request_id = _id_at_end(frame.tail.decode("utf-8", "replace"))
    message = (
        f"Invalid Request: the message is {frame.size:,} bytes, over the limit of {limit:,} bytes "
        f"({LIMIT_SETTING}); it was skipped unread. Send less in one call (shorter texts, fewer lines)."
    )
    return _error(INVALID_REQUEST, message, request_id, data={"max_message_bytes": limit, "size": frame.size})


def _refusal(text: str, exc: ValidationError) -> JSONRPCError:
    first = exc.errors(include_url=False)[0]
    parsed, request_id = _parse_for_id(text)
    if first["type"] == "json_invalid":
        detail = str(first.get("ctx", {}).get("error", first["msg"]))
        if "recursion limit" in detail:
            reason = f"the message is nested too deeply (the limit is about 200 levels; {detail})"
        elif parsed is not _UNPARSED:
            reason = f"a string holds a lone UTF-16 surrogate escape such as \\ud800, which is not Unicode ({detail})"
        else:
            reason = f"the message is not valid JSON ({detail})"
        return _error(PARSE_ERROR, f"Parse error: {reason}", request_id)
    if isinstance(parsed, list):
        reason = "a batch (a JSON array) is not accepted; send one JSON-RPC message per line"
    elif not isinstance(parsed, dict):
        reason = "a message must be a JSON object"
    else:
        reason = (
            'not a JSON-RPC 2.0 message: it needs "jsonrpc": "2.0" and a "method" (a request or notification), '
            'or an "id" with a "result" or an "error" (a response)'
        )
    return _error(INVALID_REQUEST, f"Invalid Request: {reason}", request_id)


_UNPARSED = object()


def _parse_for_id(text: str) -> tuple[object, RequestId | None]:
    """The line as Python's json reads it (it allows lone surrogates and deeper nesting), and its id."""
    try:
        parsed: object = json.loads(text)
    except (ValueError, RecursionError):
        return _UNPARSED, sniff_id(text)
    if isinstance(parsed, dict):
        members = cast("dict[str, object]", parsed)
        return members, _usable_id(members.get("id"))
    return parsed, None


_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+|"')
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,30})")
_ID_AT_END = re.compile(r'[{,]\s*"id"\s*:\s*("[^"\\]*(?:\\.[^"\\]*)*"|-?[0-9]+)\s*\}\s*$')


def sniff_id(text: str) -> RequestId | None:
    """The top-level ``"id"`` of a JSON object that may be cut short, malformed or too deep to parse."""
    depth = 0
    expect_key = False
    key: str | None = None
    value_of: str | None = None
    for count, match in enumerate(_TOKEN.finditer(text)):
        piece = match.group()
        if piece == '"' or count >= SNIFF_TOKENS:  # a string cut short, or too far to look
            return None
        if depth == 1 and value_of is not None:
            if value_of == "id":
                return _token_id(piece)
            value_of = None
        if piece in ("{", "["):
            if depth == 0 and piece == "[":
                return None
            depth += 1
            expect_key = depth == 1
        elif piece in ("}", "]"):
            depth -= 1
            if depth <= 0:
                return None
        elif depth == 1:
            if piece == ",":
                expect_key = True
            elif piece == ":":
                value_of = key
            elif expect_key and piece.startswith('"'):
                key = _json_string(piece)
                expect_key = False
    return None


def _id_at_end(tail: str) -> RequestId | None:
    """An id written as the last member of the object, as the TypeScript SDK writes it."""
    match = _ID_AT_END.search(tail)
    return _token_id(match.group(1)) if match else None


def _token_id(token: str) -> RequestId | None:
    if token.startswith('"'):
        return _usable_id(_json_string(token))
    return int(token) if _INTEGER.fullmatch(token) else None


def _json_string(token: str) -> str | None:
    try:
        value: object = json.loads(token)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _usable_id(value: object) -> RequestId | None:
    """An id that can be sent back: an integer (not a boolean) or a string that is valid Unicode."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return value
    return None


def _error(code: int, message: str, request_id: RequestId | None, data: Any = None) -> JSONRPCError:
    error = ErrorData(code=code, message=message) if data is None else ErrorData(code=code, message=message, data=data)
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=error)


# -- the stream the SDK reads --------------------------------------------------------------------------


class StdinMessages:
    """What the SDK's ``stdio_server`` iterates as stdin: the text of each valid message, nothing else.

    Every other line is answered here, on the SDK's write stream, before the next line is read. At the
    end of the input, the requests already handed over get up to ``drain_s`` to be answered before the
    SDK is told (the SDK cancels whatever is still running when its input ends).
    """

    def __init__(self, read: ByteSource, max_message_bytes: int, drain_s: float = DRAIN_S) -> None:
        self._read = read
        self._limit = max_message_bytes
        self._drain_s = drain_s
        self._sender: MessageSender | None = None
        self._attached = anyio.Event()
        self._unanswered: set[RequestId] = set()
        self._all_answered = anyio.Event()

    def answer_errors_on(self, sender: MessageSender) -> None:
        self._sender = sender
        self._attached.set()

    def answered(self, message: JSONRPCMessage) -> None:
        """The server wrote ``message``: if it answers a request, that request is no longer waiting."""
        if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id is not None:
            self._settle(message.id)

    def _settle(self, request_id: object) -> None:
        if isinstance(request_id, int | str):
            self._unanswered.discard(request_id)
        if not self._unanswered:
            self._all_answered.set()

    def _handing_over(self, message: JSONRPCMessage) -> None:
        if isinstance(message, JSONRPCRequest):
            self._unanswered.add(message.id)
            if self._all_answered.is_set():
                self._all_answered = anyio.Event()
        elif isinstance(message, JSONRPCNotification) and message.method == "notifications/cancelled":
            params = message.params or {}
            self._settle(params.get("requestId"))  # a cancelled request gets no answer

    def __aiter__(self) -> AsyncIterator[str]:
        return self._texts()

    async def _texts(self) -> AsyncIterator[str]:
        framer = LineFramer(self._limit)
        while True:
            data = await self._read()
            for frame in framer.feed(data) if data else framer.finish():
                verdict = refuse_oversized(frame, self._limit) if isinstance(frame, Oversized) else check_line(frame)
                if isinstance(verdict, Accepted):
                    self._handing_over(verdict.message)
                    yield verdict.text
                elif verdict is not None:
                    await self._answer(verdict)
            if not data:
                break
        if self._unanswered:
            with anyio.move_on_after(self._drain_s):
                await self._all_answered.wait()

    async def _answer(self, error: JSONRPCError) -> None:
        logger.warning("refused a message from the client: %s", error.error.message[:300])
        await self._attached.wait()
        assert self._sender is not None
        try:
            await self._sender.send(SessionMessage(error))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            logger.debug("the answer to a refused message could not be sent: the server is stopping")


class _WatchedWrites:
    """The SDK's write stream, telling ``StdinMessages`` which requests the server has answered."""

    def __init__(self, inner: ClosableSender, messages: StdinMessages) -> None:
        self._inner = inner
        self._messages = messages

    async def send(self, item: SessionMessage, /) -> None:
        await self._inner.send(item)
        self._messages.answered(item.message)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> None:
        await self.aclose()


# -- reading a file descriptor without blocking the loop ----------------------------------------------

ReadMode = Literal["poll", "direct", "thread"]


class FdReader:
    """Reads a file descriptor on the event loop, so that a stop cancels a read in progress.

    Pipes, sockets and terminals are polled by the loop. Regular files and /dev/null cannot be polled
    (epoll refuses them) but never block, so they are read directly. Anything else that cannot be
    polled (a terminal on macOS, stdin on Windows) is read by a daemon thread that never holds up exit.
    """

    def __init__(self, fd: int | None, chunk_bytes: int = CHUNK_BYTES, mode: ReadMode | None = None) -> None:
        self._fd = fd
        self._chunk = chunk_bytes
        self._mode: ReadMode = mode or ("thread" if sys.platform == "win32" else "poll")
        self._chunks: MemoryObjectReceiveStream[bytes] | None = None

    @property
    def uses_thread(self) -> bool:
        return self._chunks is not None

    async def read(self) -> bytes:
        if self._fd is None:
            return b""
        while True:
            if self._mode == "poll":
                try:
                    await anyio.wait_readable(self._fd)
                except OSError:
                    self._mode = self._fallback(self._fd)
                    continue
            elif self._mode == "thread":
                return await self._read_in_thread(self._fd)
            else:
                await anyio.lowlevel.checkpoint()
            try:
                return os.read(self._fd, self._chunk)
            except BlockingIOError:  # someone set O_NONBLOCK on a shared pipe: wait again
                continue
            except OSError as exc:  # EIO: the terminal hung up
                logger.info("stdin could not be read (%s); treating it as closed", exc.strerror or exc)
                return b""

    @staticmethod
    def _fallback(fd: int) -> ReadMode:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode) or (stat.S_ISCHR(mode) and not os.isatty(fd)):
            return "direct"
        return "thread"

    async def _read_in_thread(self, fd: int) -> bytes:
        if self._chunks is None:
            send, self._chunks = anyio.create_memory_object_stream[bytes](1)
            token = anyio.lowlevel.current_token()
            chunk = self._chunk

            def pump() -> None:
                while True:
                    try:
                        data = os.read(fd, chunk)
                    except OSError:
                        data = b""
                    try:
                        anyio.from_thread.run(send.send, data, token=token)
                    except Exception:  # the loop has stopped: nobody is reading any more
                        return
                    if not data:
                        return

            threading.Thread(target=pump, name="shopkeeper-stdin", daemon=True).start()
        try:
            return await self._chunks.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return b""


@contextmanager
def claimed_stdin() -> Generator[int | None]:
    """A private copy of fd 0 for the wire, while fd 0 itself reads the null device (as the SDK's transport does).

    Tools and child processes then cannot take bytes meant for the protocol. fd 0 is restored on exit.
    Yields None when there is no stdin at all.
    """
    if sys.platform == "win32":  # no fcntl: read fd 0 itself
        yield 0
        return
    import fcntl

    try:
        wire = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    except OSError:  # fd 0 is closed
        yield None
        return
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
    finally:
        os.close(null)
    try:
        yield wire
    finally:
        os.dup2(wire, 0)


# -- serving --------------------------------------------------------------------------------------------


async def serve_stdio(server: MCPServer[Any], max_message_bytes: int) -> int | None:
    """Serve ``server`` over stdin/stdout until stdin ends or a signal; returns the signal that stopped it.

    SIGINT and SIGTERM cancel the serving at once; the lifespan's cleanup still runs (shielded).
    """
    # MCPServer.run_stdio_async does exactly this with the SDK's reader and takes no streams of ours.
    lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]
    stopped_by: list[int] = []
    with claimed_stdin() as wire:
        reader = FdReader(wire)
        messages = StdinMessages(reader.read, max_message_bytes)
        async with anyio.create_task_group() as tasks:
            if sys.platform != "win32":
                tasks.start_soon(_stop_on_signal, tasks.cancel_scope, stopped_by)
            # The SDK only iterates its stdin (``async for line in stdin``), which StdinMessages supports.
            async with stdio_server(stdin=cast("anyio.AsyncFile[str]", messages)) as (read_stream, write_stream):
                messages.answer_errors_on(write_stream)
                writes = _WatchedWrites(write_stream, messages)
                await lowlevel.run(read_stream, writes, lowlevel.create_initialization_options())
            tasks.cancel_scope.cancel()
    if wire not in (None, 0) and not reader.uses_thread:  # a thread may still block on it: leave it to exit
        os.close(wire)
    return stopped_by[0] if stopped_by else None


async def _stop_on_signal(scope: anyio.CancelScope, stopped_by: list[int]) -> None:
    """The first SIGINT or SIGTERM cancels the server; a second one (default handlers again) is abrupt."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            logger.info("stopping on %s", signal.Signals(signum).name)
            stopped_by.append(signum)
            scope.cancel()
            return
