"""The sender used when no e-mail provider is configured: each message becomes a file.

Nothing is lost and everything stays visible: ``<directory>/<notification id>.eml`` holds the
headers and the text, written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio

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
        self._directory.mkdir(parents=True, exist_ok=True)
        target = self._directory / f"{message_id}.eml"
        partial = target.with_suffix(".eml.part")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
        return Delivered(f"file:{target.name}")
