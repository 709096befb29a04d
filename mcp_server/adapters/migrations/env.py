"""Alembic environment: runs on a connection handed over by adapters.database.upgrade."""

from __future__ import annotations

from alembic import context

from mcp_server.models.entities import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'shopkeeper db upgrade', which provides the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
