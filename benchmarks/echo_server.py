"""The baseline for ``make bench``: a bare MCPServer with one echo tool, served over stdio.

Run as ``python benchmarks/echo_server.py`` with the project's virtualenv python.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

mcp = MCPServer("echo")


@mcp.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


if __name__ == "__main__":
    mcp.run()
