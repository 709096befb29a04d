"""Outbox claim tokens: the worker round that holds a ``sending`` message's lease.

A worker renews the lease before each send and records the outcome only while the row still
carries its token, so a worker whose lease ran out can neither send nor overwrite a message
another worker has claimed since.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_by")
