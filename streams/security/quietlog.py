"""Malformed HTTP from a client (a request line or header over aiohttp's limit, a bad method) is the client's
fault: aiohttp logs each at ERROR with a traceback, so anyone could fill the logs. This filter turns each into
one INFO line, and at most one line a second (with a count of those left out)."""

from __future__ import annotations

import logging
import time

from aiohttp.http_exceptions import HttpProcessingError

_NAME = "aiohttp.server"


class QuietBadRequests(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.last = 0.0
        self.skipped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        now = time.monotonic()
        if now - self.last < 1.0:
            self.skipped += 1
            return False
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        more = f" ({self.skipped} more since the last such line)" if self.skipped else ""
        self.last, self.skipped = now, 0
        record.msg, record.args = "refused a malformed request from %s: %.120r%s", (remote, exc.message, more)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def install() -> None:
    """Idempotent: one filter on aiohttp's server logger."""
    logger = logging.getLogger(_NAME)
    if not any(isinstance(f, QuietBadRequests) for f in logger.filters):
        logger.addFilter(QuietBadRequests())
