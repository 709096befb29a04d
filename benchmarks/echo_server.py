"""The baseline for ``make bench``: a bare MCPServer with one echo tool, over stdio or over HTTP.

Run as ``python benchmarks/echo_server.py`` (stdio) with the project's virtualenv python, or as
``python -m benchmarks.echo_server --http --port P --workers N``: the SDK's stateless Streamable HTTP app at
``/mcp`` under uvicorn with N worker processes, no authentication (the baseline for ``benchmarks/http_bench.py``).
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from mcp.server.mcpserver import MCPServer

if TYPE_CHECKING:  # not imported at run time: the stdio baseline's cold start stays what it was
    from starlette.applications import Starlette

mcp = MCPServer("echo")


@mcp.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


def http_app() -> Starlette:
    """The stateless Streamable HTTP app (uvicorn imports this in each worker process)."""
    # As the shop's door does: the SDK's INFO line per stateless request is not news, and it costs time.
    logging.getLogger("mcp").setLevel(logging.WARNING)
    return mcp.streamable_http_app(stateless_http=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.echo_server")
    parser.add_argument("--http", action="store_true", help="serve Streamable HTTP at /mcp instead of stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if not args.http:
        mcp.run()
        return
    import uvicorn

    uvicorn.run(
        "benchmarks.echo_server:http_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
