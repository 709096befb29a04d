"""Incident logs name the operation and the error class, never the SQL's parameters (a customer's
name and e-mail); the traceback is there only at DEBUG, and even then without the parameters."""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.e2e.support import open_shop
from tests.reliability.storage_faults import assert_logs_keep_private, logged_text, records_about

pytestmark = pytest.mark.anyio

SECRET_NAME = "Bob Secretname"
SECRET_EMAIL = "bob.secret@private.example"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def break_the_outbox(db: Path) -> None:
    """An unexpected storage failure: the welcome e-mail's INSERT (the customer's data as its
    parameters) finds no outbox table."""
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("ALTER TABLE outbox RENAME TO outbox_gone")
        conn.commit()


async def test_an_unexpected_failure_logs_the_tool_and_error_class_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "shop.db"
    async with open_shop(db, "auto") as shop:
        break_the_outbox(db)
        caplog.set_level(logging.INFO)

        text = await shop.fail("customers_register", {"name": SECRET_NAME, "email": SECRET_EMAIL})

    assert "unexpected internal error (incident " in text
    incident = text.split("(incident ", 1)[1].split(")", 1)[0]
    [logged] = records_about(caplog.records, incident)
    assert logged.levelno == logging.ERROR
    assert "customers_register" in logged.getMessage()
    assert "OperationalError" in logged.getMessage()
    assert_logs_keep_private(caplog.records, SECRET_NAME, SECRET_EMAIL)


async def test_at_debug_the_traceback_is_logged_without_the_parameters(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "shop.db"
    async with open_shop(db, "auto", env={"SHOPKEEPER_LOG_LEVEL": "DEBUG"}) as shop:
        break_the_outbox(db)
        caplog.set_level(logging.DEBUG)

        text = await shop.fail("customers_register", {"name": SECRET_NAME, "email": SECRET_EMAIL})

    incident = text.split("(incident ", 1)[1].split(")", 1)[0]
    details = [r for r in records_about(caplog.records, incident) if r.exc_info]
    assert details, "at DEBUG the incident's traceback is logged"
    for record in details:
        assert "outbox" in logged_text(record), "the traceback shows the failing statement"
    for record in caplog.records:  # the driver's own DEBUG lines too: they would print every statement's values
        shown = logged_text(record)
        assert SECRET_EMAIL not in shown, f"{record.name}: {shown[:300]}"
        assert SECRET_NAME not in shown, f"{record.name}: {shown[:300]}"
