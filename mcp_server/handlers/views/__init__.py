"""Neutral views of service results, rendered by each door: the MCP door as Markdown with tool
names, the CLI as terminal text with command names.

A view says what happened, with its figures and rows, and the next actions as use-case ids (the
Order's action verbs); each door maps those ids to its own names. Views import services and models,
never ``mcp`` or a door.
"""
