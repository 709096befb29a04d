"""The sender used when no e-mail provider is configured: each message becomes a file.

Nothing is lost and everything stays visible: ``<directory>/<notification id>.eml`` holds the
headers and the text, written atomically (a temporary file, then a rename). The files hold
customers' names and addresses: they are 0600, their directory 0700, whatever the umask.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import anyio

from mcp_server.clients.private_files import make_private, make_private_directories
from mcp_server.models.outbox import Delivered, Email, SendOutcome, TemporaryFailure


class FileEmailSender:
    def __init__(self, directory: Path, *, sender: str) -> None:
        self._directory = directory
        self._from = sender

    async def send(self, email: Email, *, message_id: str) -> SendOutcome:
        headers = f"From: {self._from}\nTo: {email.to}\nSubject: {email.subject}\nX-Shopkeeper-Id: {message_id}\n"
        text = f"{headers}\n{email.text}"
        try:
            return await anyio.to_thread.run_sync(self._write, message_id, text)
        except OSError as exc:
            return TemporaryFailure(f"could not write the message file ({exc.strerror or type(exc).__name__})")

    def _write(self, message_id: str, text: str) -> SendOutcome:
        make_private_directories(self._directory)
        target = self._directory / f"{message_id}.eml"
        # mkstemp: a new file (never through a link) with an unguessable name, 0600
        fd, partial = tempfile.mkstemp(prefix=f".{message_id}.", suffix=".eml.part", dir=self._directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                make_private(file.fileno())
                file.write(text)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return Delivered(f"file:{target.name}")
