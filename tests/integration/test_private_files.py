"""Files the shop writes hold customers' names, e-mails and addresses: they are private to its user
(files 0600, directories 0700) whatever the umask."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.adapters.service_factories import Backend
from mcp_server.clients.mail_files import FileEmailSender
from mcp_server.models.outbox import Delivered, Email
from tests.databases import mode_of, modes_in, sqlite_url, umask

pytestmark = pytest.mark.anyio


async def test_e_mail_files_and_their_directory_are_private(tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    sender = FileEmailSender(mail, sender="shop@localhost")

    with umask(0o000):
        sent = await sender.send(Email("ada@example.com", "Your order", "Dear Ada, …"), message_id="ntf_1")

    assert isinstance(sent, Delivered)
    assert mode_of(mail) == 0o700
    assert modes_in(mail) == {"ntf_1.eml": 0o600}


async def test_a_database_the_server_creates_is_private_with_its_wal_and_shm(tmp_path: Path) -> None:
    db_path = tmp_path / "shop.db"

    with umask(0o000):
        backend = await Backend.start(sqlite_url(db_path), create="new-file")
        try:
            files = modes_in(tmp_path)  # while it is open: WAL and SHM exist
        finally:
            await backend.close()

    assert backend.is_new
    assert files == {"shop.db": 0o600, "shop.db-wal": 0o600, "shop.db-shm": 0o600}
