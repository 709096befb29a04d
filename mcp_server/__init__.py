"""Shopkeeper: an MCP server for a small shop's back office."""

__version__ = "0.2.0"
