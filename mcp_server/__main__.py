"""`python -m mcp_server` starts the stdio MCP server."""

from mcp_server.entrypoint import main

if __name__ == "__main__":
    main()
