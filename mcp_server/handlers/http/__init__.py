"""The HTTP door's own routes beside MCP's ``/mcp``: Starlette routes that parse a request, call one
service method and answer with a status code (the gateway's webhooks among them)."""
