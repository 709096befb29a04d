"""Files and folders on the shop's own disk that hold customers' data: private to their user."""

from __future__ import annotations

import os
from pathlib import Path


def make_private_directories(directory: Path) -> None:
    """Create ``directory`` and its missing parents, each 0700 whatever the umask."""
    missing: list[Path] = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made by someone else meanwhile: theirs to keep as it is
        folder.chmod(0o700)


def make_private(fd: int) -> None:
    """A file this process just created: 0600 exactly, whatever the umask (SQLite gives WAL and SHM the same)."""
    if hasattr(os, "fchmod"):  # not on Windows, where files are private to their user by default
        os.fchmod(fd, 0o600)
