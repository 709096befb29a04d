"""Alembic migrations, shipped inside the package so a first start can create the schema.

HEAD_REVISION lets a start on a current database skip importing Alembic at all; a test
checks that it matches the newest script.
"""

HEAD_REVISION = "0010"
