"""Real storage faults for tests: a small tmpfs that fills up, and a read-only bind mount.

Permissions are no test of "read-only" here: the tests (and CI) run as root, which writes
through file modes. A read-only mount stops root too, and a full tmpfs is a full disk. Both
need the right to mount; where that is missing the tests are skipped, saying why.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import subprocess
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.support import open_shop, string

JUNK = "junk.bin"
_CHUNK = b"\0" * (1 << 16)


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, check=False, timeout=30)


def _mount_or_skip(*arguments: str) -> None:
    """Mount, or skip the test where this machine does not let us (not root, or no mount rights)."""
    if os.geteuid() != 0:
        pytest.skip("storage-fault tests mount a tmpfs / read-only bind mount, which needs root (CI runs as root)")
    done = _run("mount", *arguments)
    if done.returncode != 0:
        reason = done.stderr.strip() or f"mount exited {done.returncode}"
        if "permission denied" in reason.lower() or "not permitted" in reason.lower():
            pytest.skip(f"mounting is not permitted here: {reason}")
        raise RuntimeError(f"mount {' '.join(arguments)} failed: {reason}")


def _unmount(where: Path) -> None:
    """Unmount; lazily if something still holds it, so a failed test never leaves a mount behind."""
    if _run("umount", str(where)).returncode != 0:
        _run("umount", "-l", str(where))


@dataclass(frozen=True, slots=True)
class SmallDisk:
    """A tmpfs of a few megabytes: ``fill()`` takes every free byte, ``free()`` gives them back."""

    path: Path

    def fill(self) -> None:
        # Unbuffered: a buffered file keeps what did not fit and raises ENOSPC again when it closes.
        with (self.path / JUNK).open("ab", buffering=0) as junk:
            try:
                while True:
                    junk.write(_CHUNK)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
        # A last few bytes may still fit in a partial block; take them too.
        with contextlib.suppress(OSError), (self.path / "junk-tail.bin").open("ab", buffering=0) as tail:
            while True:
                tail.write(b"\0" * 512)

    def free(self) -> None:
        for name in (JUNK, "junk-tail.bin"):
            (self.path / name).unlink(missing_ok=True)


@contextlib.contextmanager
def small_disk(where: Path, size: str = "8m") -> Generator[SmallDisk]:
    where.mkdir(parents=True, exist_ok=True)
    _mount_or_skip("-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where))
    try:
        yield SmallDisk(where)
    finally:
        _unmount(where)


@contextlib.contextmanager
def read_only_view(source: Path, view: Path) -> Generator[Path]:
    """``source`` seen through a read-only bind mount at ``view`` (no one, not even root, writes there)."""
    view.mkdir(parents=True, exist_ok=True)
    _mount_or_skip("--bind", str(source), str(view))
    try:
        remounted = _run("mount", "-o", "remount,ro,bind", str(view))
        if remounted.returncode != 0:
            raise RuntimeError(f"could not make {view} read-only: {remounted.stderr.strip()}")
        yield view
    finally:
        _unmount(view)


async def seed_shop(db: Path) -> tuple[str, str]:
    """A new shop at ``db`` (made by the MCP server) with Ada and a mug, closed cleanly: (Ada's id, the mug's id)."""
    async with open_shop(db, "auto") as shop:
        ada = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")
        product = string(await shop.add_product("MUG-1", "Mug", stock=5), "id")
    return ada, product


# --- what the logs may say ------------------------------------------------------------------


def records_about(records: Iterable[logging.LogRecord], *words: str) -> list[logging.LogRecord]:
    """The records whose message mentions every one of ``words`` (any letter case)."""
    return [r for r in records if all(word.lower() in r.getMessage().lower() for word in words)]


def logged_text(record: logging.LogRecord) -> str:
    """All a handler could print for ``record``: the message and any traceback."""
    text = record.getMessage()
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


def assert_logs_keep_private(records: Iterable[logging.LogRecord], *private: str) -> None:
    """At INFO and above: no traceback, no SQL or its parameters, none of the customer's data."""
    for record in records:
        if record.levelno < logging.INFO:
            continue
        text = logged_text(record)
        where = f"{record.name} {record.levelname}: {text[:300]!r}"
        assert record.exc_info is None, f"a traceback was logged at {record.levelname}: {where}"
        for marker in ("INSERT", "UPDATE ", "SELECT", "[parameters", "[SQL"):
            assert marker not in text, f"{marker!r} in the log: {where}"
        for value in private:
            assert value.lower() not in text.lower(), f"customer data {value!r} in the log: {where}"
