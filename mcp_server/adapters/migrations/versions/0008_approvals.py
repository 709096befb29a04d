"""Approvers and approval requests: a person, not the assistant, lets money go back.

``approvers`` keeps each approver's name and a slow (scrypt) hash of their passphrase.
``approval_requests`` keeps each call that needed a person: the use case, digests of its
arguments and of the state it was previewed against, the preview, who asked, when it expires,
and its status (pending, approved, denied, used), with who decided and when.

The confirmation tokens they replace go: ``used_confirmations`` and ``server_secrets`` (whose
only key signed those tokens) are dropped.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mcp_server.models.entities.base import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approvers",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("passphrase_hash", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("use_case", sa.String(40), nullable=False),
        sa.Column("arguments_digest", sa.String(64), nullable=False),
        sa.Column("state_digest", sa.String(64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("decided_by", sa.String(60), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'approved', 'denied', 'used')", name="ck_approval_requests_status"),
    )
    op.create_index("ix_approval_requests_status", "approval_requests", ["status", "created_at"])
    op.drop_table("used_confirmations")
    op.drop_table("server_secrets")


def downgrade() -> None:
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_secrets")),
    )
    op.create_table(
        "used_confirmations",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_used_confirmations")),
    )
    op.drop_index("ix_approval_requests_status", table_name="approval_requests")
    op.drop_table("approval_requests")
    op.drop_table("approvers")
