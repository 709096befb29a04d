"""Access tokens for the HTTP door, and the payment gateway's webhook events taken.

``access_tokens`` keeps each token's name (the audit actor ``token:NAME``), its scopes and a SHA-256
hash of its secret; the secret itself is shown once, when it is made. ``webhook_events`` keeps each
gateway event id the webhook door has taken, so a replayed event is acknowledged and ignored; an index
on ``payments.gateway_reference`` finds the row an event names by its ``pi_…`` or ``re_…`` id.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mcp_server.models.entities.base import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("name", name="uq_access_tokens_name"),
        sa.UniqueConstraint("token_hash", name="uq_access_tokens_token_hash"),
    )
    op.create_table(
        "webhook_events",
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(200), nullable=False),
    )
    op.create_index("ix_payments_gateway_reference", "payments", ["gateway_reference"])


def downgrade() -> None:
    op.drop_index("ix_payments_gateway_reference", table_name="payments")
    op.drop_table("webhook_events")
    op.drop_table("access_tokens")
