"""Leases on pending card rows: the request that is asking the payment gateway about a row.

Before the gateway is called, a request takes the row's lease with a conditional UPDATE (only a
pending row whose lease is free or has run out); other requests answer "pending" instead of
sending the same request again. The lease is dropped when the answer is booked, and runs out by
itself if the process that held it dies.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mcp_server.models.entities.base import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("lease_until", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("claimed_by")
        batch.drop_column("lease_until")
