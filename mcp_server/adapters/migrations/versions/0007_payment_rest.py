"""When the background settler may ask again about a pending card row: stored, so shared.

A row that asking the payment gateway again left pending rests (1 min, doubling, at most 1 h)
before the settler asks about it again. The rest used to live in each process's memory; stored
with the row, every process (the MCP server, the worker, the CLI) keeps the same schedule.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mcp_server.models.entities.base import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("next_attempt_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
