"""How much of the assistant's context the tool list takes (README, "Tools"; issue 15).

Every client puts the whole tools/list answer in the assistant's context on every turn. ``python -m
benchmarks.tool_list`` prints its size as a client receives it (each tool as compact JSON, text as
sent): the total against the budget tests/e2e/test_tools_list.py holds it to, the descriptions,
inputSchema and outputSchema, and each tool; then what pydantic's own schemas would weigh, and what
compacting them (``mcp_server.handlers.mcp.schemas``) costs when the tools are built at start-up.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import anyio
from mcp.server.mcpserver.tools import Tool
from mcp_types import Tool as ListedTool

from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from mcp_server.handlers.mcp import schemas
from mcp_server.handlers.mcp.server import shop_tools

BUDGET = 40_000
"""Characters; tests/e2e/test_tools_list.py fails above it."""
CHARS_PER_TOKEN = 4
"""A rough rule for English and JSON; a tokenizer counts a little differently."""


def size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


async def listed() -> list[ListedTool]:
    """The tools as tools/list answers them (listing opens no database)."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{quote(str(Path(folder) / 'never-opened.db'))}"
        return await bootstrap(load_settings({"SHOPKEEPER_DATABASE_URL": url})).mcp_server().list_tools()


def compaction_ms(rounds: int = 20) -> tuple[float, float]:
    """Milliseconds to build every tool from its signature, and to compact all their schemas (best of ``rounds``)."""
    built: list[float] = []
    compacted: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        raw = [Tool.from_function(each.fn) for each in shop_tools()]
        outputs = [each.fn_metadata.output_schema or {} for each in raw]
        built.append(time.perf_counter() - start)
        start = time.perf_counter()
        for each, output in zip(raw, outputs, strict=True):
            schemas.compact(each.parameters)
            schemas.compact(output, output=True)
        compacted.append(time.perf_counter() - start)
    return min(built) * 1000, min(compacted) * 1000


def main() -> None:
    tools = anyio.run(listed)
    dumped = [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in tools]
    total = size(dumped)
    parts = {key: sum(size(each.get(key)) for each in dumped) for key in ("description", "inputSchema", "outputSchema")}
    print(f"tools/list: {len(tools)} tools, {total:,} characters (about {total // CHARS_PER_TOKEN:,} tokens)")
    print(f"budget {BUDGET:,}: {'within' if total <= BUDGET else 'OVER'} ({BUDGET - total:+,})")
    print("  " + ", ".join(f"{key} {value:,}" for key, value in parts.items()))
    print(f"  names, titles, annotations and keys {total - sum(parts.values()):,}")
    print(f"\n{'tool':<26}{'total':>7}{'descr.':>8}{'input':>7}{'output':>8}")
    for each in dumped:
        row = [size(each)] + [size(each.get(key)) for key in parts]
        print(
            f"{each['name']:<26}" + "".join(f"{value:>{width}}" for value, width in zip(row, (7, 8, 7, 8), strict=True))
        )
    raw = [Tool.from_function(each.fn) for each in shop_tools()]
    uncompacted = sum(size(each.parameters) + size(each.fn_metadata.output_schema) for each in raw)
    compact_now = parts["inputSchema"] + parts["outputSchema"]
    print(f"\nschemas as pydantic writes them: {uncompacted:,} characters; as sent: {compact_now:,}")
    build, compacting = compaction_ms()
    print(f"start-up: building the {len(raw)} tools {build:.1f} ms, compacting their schemas {compacting:.1f} ms")


if __name__ == "__main__":
    main()
