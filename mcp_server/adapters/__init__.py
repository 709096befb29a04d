"""Concrete adapters (database engine, migrations, service factories).

Dormant until ``mcp_server.entrypoint`` calls them; nothing is built at import time.
"""
