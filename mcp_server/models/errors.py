"""Signals the storage layer raises in domain words, so services can turn them into results."""


class UniqueViolationError(Exception):
    """A write was refused because a uniqueness rule in storage already holds another row."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class StorageBusyError(Exception):
    """The database stayed locked by another writer for longer than the busy timeout; nothing was written."""
