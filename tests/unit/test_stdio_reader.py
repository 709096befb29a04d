"""The stdio reader's parts on fake byte streams: framing with a cap, checking lines, finding ids, reading fds."""

from __future__ import annotations

import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, JSONRPCError, JSONRPCResponse

from mcp_server.config import ConfigError, load_settings
from mcp_server.handlers.mcp.stdio import (
    EDGE_BYTES,
    Accepted,
    FdReader,
    LineFramer,
    Oversized,
    ReadMode,
    StdinMessages,
    check_line,
    refuse_oversized,
    sniff_id,
)

HANG_S = 10.0


def feed_in_pieces(framer: LineFramer, data: bytes, size: int) -> list[bytes | Oversized]:
    frames: list[bytes | Oversized] = []
    for start in range(0, len(data), size):
        frames += framer.feed(data[start : start + size])
    return frames + framer.finish()


@pytest.mark.parametrize("piece", [1, 3, 7, 64, 10_000])
def test_lines_are_cut_the_same_whatever_the_chunk_size(piece: int) -> None:
    data = b'{"a":1}\n\n{"b":2}\r\n{"c":3}'  # the last line has no newline: it ends with the input

    assert feed_in_pieces(LineFramer(100), data, piece) == [b'{"a":1}', b"", b'{"b":2}\r', b'{"c":3}']


def test_a_line_of_exactly_the_limit_is_kept_and_one_byte_more_is_skipped() -> None:
    limit = 20
    data = b"a" * limit + b"\n" + b"b" * (limit + 1) + b"\n" + b"c\n"

    frames = feed_in_pieces(LineFramer(limit), data, 6)

    assert frames == [b"a" * limit, Oversized(limit + 1, b"b" * (limit + 1), b"b" * (limit + 1)), b"c"]


def test_an_oversized_line_is_never_held_whole() -> None:
    limit, size = 1_000, 1_000_000
    framer = LineFramer(limit)
    most_held = 0
    frames: list[bytes | Oversized] = []
    data = b"x" * size + b"\nnext\n"
    for start in range(0, len(data), 4_096):
        frames += framer.feed(data[start : start + 4_096])
        most_held = max(most_held, framer.buffered)

    assert most_held <= limit
    assert frames == [Oversized(size, b"x" * EDGE_BYTES, b"x" * EDGE_BYTES), b"next"]


def code_and_id(verdict: Accepted | JSONRPCError | None) -> tuple[int, object]:
    assert isinstance(verdict, JSONRPCError), verdict
    assert verdict.error.message
    return verdict.error.code, verdict.id


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\\ud800"}}', (PARSE_ERROR, 1)),
        (b'{"method":"ping","params":{"x":"\\udfff"},"jsonrpc":"2.0","id":"last"}', (PARSE_ERROR, "last")),
        (
            b'{"jsonrpc":"2.0","id":2,"method":"ping","params":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            (PARSE_ERROR, 2),
        ),
        (b'{"jsonrpc":"2.0","id":3,"method":"pi', (PARSE_ERROR, 3)),
        (b'{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}', (PARSE_ERROR, None)),
        (b'{"jsonrpc":"2.0","id":4,"method":"ping","params":{"x":"\xc3\x28"}}', (PARSE_ERROR, 4)),
        (b'{"jsonrpc":"2.0","id":5,"method":"ping","params":{"x":"\xed\xa0\x80"}}', (PARSE_ERROR, 5)),
        (b"null", (INVALID_REQUEST, None)),
        (b'"ping"', (INVALID_REQUEST, None)),
        (b'[{"jsonrpc":"2.0","id":6,"method":"ping"}]', (INVALID_REQUEST, None)),
        (b'{"jsonrpc":"1.0","id":7,"method":"ping"}', (INVALID_REQUEST, 7)),
        (b'{"id":8}', (INVALID_REQUEST, 8)),
    ],
    ids=[
        "lone high surrogate",
        "lone low surrogate, id last",
        "nested 100,000 deep",
        "truncated",
        "id is a lone surrogate",
        "invalid UTF-8",
        "UTF-8-encoded surrogate",
        "null",
        "a string",
        "a batch",
        "JSON-RPC 1.0",
        "an id alone",
    ],
)
def test_every_bad_line_gets_an_error_answer(line: bytes, expected: tuple[int, object]) -> None:
    assert code_and_id(check_line(line)) == expected


def test_a_valid_message_passes_as_its_text_and_blank_lines_are_ignored() -> None:
    verdict = check_line(b'{"jsonrpc":"2.0","id":9,"method":"tools/list"}\r')

    assert isinstance(verdict, Accepted)
    assert verdict.text == '{"jsonrpc":"2.0","id":9,"method":"tools/list"}\r'
    assert check_line(b"   \r") is None


def test_the_error_answers_say_what_was_wrong() -> None:
    def message(line: bytes) -> str:
        verdict = check_line(line)
        assert isinstance(verdict, JSONRPCError)
        return verdict.error.message

    assert "surrogate" in message(b'{"x":"\\ud800"}')
    assert "nested too deeply" in message(b"[" * 1_000 + b"]" * 1_000)
    assert "not valid UTF-8" in message(b'{"x":"\xff"}')
    assert "not valid JSON" in message(b'{"x":')
    assert "batch" in message(b"[1]")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"jsonrpc":"2.0","id":12,"method":"x"', 12),
        ('{"params":{"id":1,"deep":[{"id":2}]},"id":"outer"', "outer"),
        ('{ "id" : -3 }', -3),
        ('{"id":true}', None),
        ('{"id":1.5}', None),
        ('{"id":null}', None),
        ('{"id":{"a":1}}', None),
        ('{"id":"cut', None),
        ('[{"id":1}]', None),
        ('{"a":"\\"id\\":4","b":1}', None),
        ('{"a":"x"} {"id":5}', None),
    ],
)
def test_the_id_is_found_only_at_the_top_level(text: str, expected: object) -> None:
    assert sniff_id(text) == expected


def test_an_oversized_message_is_refused_with_its_id_from_its_start_or_its_end() -> None:
    limit = 65_536
    first = Oversized(5_000_000, b'{"jsonrpc":"2.0","id":21,"method":"tools/call","params":{"x":"aaaa', b"aaaa}}")
    last = Oversized(5_000_000, b'{"method":"tools/call","params":{"x":"aaaa', b'aaaa"},"jsonrpc":"2.0","id":"r-22"}\r')
    neither = Oversized(5_000_000, b'{"method":"tools/call","params":{"x":"aaaa', b'aaaa", "y": {"id": 5}}}')

    refused = [refuse_oversized(frame, limit) for frame in (first, last, neither)]

    assert [(r.error.code, r.id) for r in refused] == [
        (INVALID_REQUEST, 21),
        (INVALID_REQUEST, "r-22"),
        (INVALID_REQUEST, None),
    ]
    assert "5,000,000 bytes" in refused[0].error.message
    assert "65,536 bytes" in refused[0].error.message
    assert "SHOPKEEPER_MAX_MESSAGE_BYTES" in refused[0].error.message
    assert refused[0].error.data == {"max_message_bytes": limit, "size": 5_000_000}


def byte_source(*chunks: bytes) -> Callable[[], Awaitable[bytes]]:
    pending = list(chunks)

    async def read() -> bytes:
        await anyio.lowlevel.checkpoint()
        return pending.pop(0) if pending else b""

    return read


class Sent:
    def __init__(self) -> None:
        self.items: list[SessionMessage] = []

    async def send(self, item: SessionMessage, /) -> None:
        self.items.append(item)


@pytest.mark.anyio
async def test_valid_lines_reach_the_sdk_and_bad_ones_are_answered_in_order() -> None:
    read = byte_source(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n4', b"2\n", b"x" * 70_000 + b"\n")
    messages = StdinMessages(read, max_message_bytes=65_536, drain_s=0)
    sent = Sent()
    messages.answer_errors_on(sent)

    texts = [text async for text in messages]

    assert texts == ['{"jsonrpc":"2.0","method":"notifications/initialized"}']
    assert [(m.message.error.code, m.message.id) for m in sent.items if isinstance(m.message, JSONRPCError)] == [
        (INVALID_REQUEST, None),
        (INVALID_REQUEST, None),
    ]
    assert len(sent.items) == 2


@pytest.mark.anyio
async def test_at_the_end_of_input_requests_already_read_are_answered_before_the_sdk_hears_of_it() -> None:
    read = byte_source(
        b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'
        b'{"jsonrpc":"2.0","id":2,"method":"ping"}\n'
        b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2}}\n'
    )
    messages = StdinMessages(read, max_message_bytes=65_536, drain_s=HANG_S)
    events: list[str] = []
    all_read = anyio.Event()

    async def consume() -> None:
        async for text in messages:
            events.append(text[:40])
            if len(events) == 3:
                all_read.set()
        events.append("end of input")

    with anyio.fail_after(HANG_S):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(consume)
            await all_read.wait()
            events.append("answered 1")
            messages.answered(JSONRPCResponse(jsonrpc="2.0", id=1, result={}))

    assert events[-2:] == ["answered 1", "end of input"], "the end waits for request 1 (request 2 was cancelled)"


def run_with_hang_detector(work: Callable[[], Awaitable[object]]) -> object:
    """Run ``work`` on its own loop in a thread; a read that cannot be cancelled would hang it, not the test run."""
    outcome: list[object] = []
    runner = threading.Thread(target=lambda: outcome.append(anyio.run(work)), daemon=True)
    runner.start()
    runner.join(HANG_S)
    assert not runner.is_alive(), f"still blocked after {HANG_S}s"
    return outcome[0]


@pytest.mark.parametrize("mode", ["poll", "thread"])
def test_a_read_from_a_silent_pipe_can_be_cancelled_and_a_written_one_is_read(mode: ReadMode) -> None:
    read_end, write_end = os.pipe()
    try:

        async def work() -> tuple[bool, bytes, bytes]:
            reader = FdReader(read_end, mode=mode)

            async def cancel_once_the_read_waits(scope: anyio.CancelScope) -> None:
                await anyio.wait_all_tasks_blocked()
                scope.cancel()

            with anyio.CancelScope() as waited:
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(cancel_once_the_read_waits, waited)
                    await reader.read()
            os.write(write_end, b"hello\n")
            data = await reader.read()
            os.close(write_end)
            return waited.cancelled_caught, data, await reader.read()

        assert run_with_hang_detector(work) == (True, b"hello\n", b"")
    finally:
        os.close(read_end)


def test_files_and_dev_null_are_read_although_they_cannot_be_polled(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_bytes(b"line one\nline two\n")
    with path.open("rb") as file, open(os.devnull, "rb") as null:

        async def work() -> tuple[bytes, bytes, bytes]:
            from_file = FdReader(file.fileno(), chunk_bytes=9)
            first, second = await from_file.read(), await from_file.read()
            return first + second + await from_file.read(), await from_file.read(), await FdReader(null.fileno()).read()

        assert run_with_hang_detector(work) == (b"line one\nline two\n", b"", b"")


def test_the_message_limit_is_a_setting_with_bounds() -> None:
    base = {"SHOPKEEPER_DATABASE_URL": "sqlite+aiosqlite:////tmp/shop.db"}

    assert load_settings(base).max_message_bytes == 4_194_304
    assert load_settings({**base, "SHOPKEEPER_MAX_MESSAGE_BYTES": "65536"}).max_message_bytes == 65_536
    for bad in ("4", "300000000", "4MiB"):
        with pytest.raises(ConfigError, match="SHOPKEEPER_MAX_MESSAGE_BYTES"):
            load_settings({**base, "SHOPKEEPER_MAX_MESSAGE_BYTES": bad})
