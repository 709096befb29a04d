"""The MCP door: tool definitions that validate arguments, call one service method and render Markdown."""
