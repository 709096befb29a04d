"""Signals the storage layer raises in domain words, so services can turn them into results."""


class UniqueViolationError(Exception):
    """A write was refused because a uniqueness rule in storage already holds another row."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class StorageUnavailableError(Exception):
    """The database cannot take this work right now; nothing was written."""


class StorageBusyError(StorageUnavailableError):
    """The database stayed locked by another writer for longer than the busy timeout; nothing was written."""


class StorageFullError(StorageUnavailableError):
    """The disk that holds the database is full; the write was rolled back, nothing was written."""


class StorageReadOnlyError(StorageUnavailableError):
    """The database file (or its folder) cannot be written; reads still work, nothing was written."""


class StorageOfflineError(StorageUnavailableError):
    """The database server could not be reached (down, restarting, refusing connections); nothing was written."""
