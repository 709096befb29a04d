"""Names folded to lower case in Python, for searches that match any letter case on both engines.

``customers.name_key`` and ``products.name_key`` hold ``name.lower()`` as Python folds it, and
searches compare them with the search text folded the same way. SQLite's own ``lower()`` folds
ASCII only, and PostgreSQL's depends on the database's locale (ASCII only under ``C``) and folds
some letters ("İ") differently from Python. Filled for every existing row here; the column stays
nullable in the schema (SQLite cannot add NOT NULL to a table with rows), and Shopkeeper always
writes it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BATCH = 1_000


def upgrade() -> None:
    connection = op.get_bind()
    for table in ("customers", "products"):
        op.add_column(table, sa.Column("name_key", sa.String(200), nullable=True))
        rows = sa.table(table, sa.column("id", sa.String), sa.column("name", sa.String), sa.column("name_key"))
        update = sa.update(rows).where(rows.c.id == sa.bindparam("b_id")).values(name_key=sa.bindparam("b_key"))
        found = connection.execute(sa.select(rows.c.id, rows.c.name).order_by(rows.c.id)).all()
        for start in range(0, len(found), _BATCH):
            batch = found[start : start + _BATCH]
            connection.execute(update, [{"b_id": row.id, "b_key": str(row.name).lower()} for row in batch])


def downgrade() -> None:
    for table in ("products", "customers"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("name_key")
