"""How the background loops report rounds that fail: once per kind of failure, not once per round."""

from __future__ import annotations

import logging

logger = logging.getLogger("mcp_server.worker")


class RoundFailures:
    """Logs the first failed round of a kind (the error class, no details: its text may carry SQL and
    a customer's data), then only at DEBUG while it repeats, and once more when a round works again."""

    def __init__(self, job: str) -> None:
        self._job = job
        self._failing: str | None = None

    def failed(self, exc: BaseException, retry_s: float) -> None:
        kind = type(exc).__name__
        if kind != self._failing:
            self._failing = kind
            logger.error(
                "%s failed (%s); trying again every %s s, logged again only when it changes", self._job, kind, retry_s
            )
        logger.debug("details of the failed round of %s", self._job, exc_info=exc)

    def worked(self) -> None:
        if self._failing is not None:
            logger.info("%s works again", self._job)
            self._failing = None
