"""Is the broker there? A worker whose broker is gone must say so on /readyz and in one log line, not in
eighty lines a second.

`BrokerWatch` (streams/broker/watch.py: the gateway and notify use it too) probes the bootstrap servers and logs
one line when the broker goes and one when it comes back. `RepeatLimiter` is a logging filter for the worker's
handlers: a message repeated (same logger, level and format) passes once, then again only after a back-off that
doubles up to `max_interval`, with the count of what it held back; so the Kafka clients' reconnect errors while
the broker is away cost a few lines a minute."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class _Seen:
    next_at: float
    interval: float
    held: int = 0


class RepeatLimiter(logging.Filter):
    """Let a repeated log message through once per back-off interval (doubling from `first_interval` to
    `max_interval`), saying how many it held back. A message quiet for `max_interval` starts afresh."""

    def __init__(self, first_interval: float = 1.0, max_interval: float = 60.0,
                 clock: object = time.monotonic) -> None:  # fmt: skip
        super().__init__()
        self.first, self.max, self.clock = first_interval, max_interval, clock
        self._seen: dict[tuple[str, int, str], _Seen] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:  # only warnings and errors flood; info is left alone
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()  # type: ignore[operator]
        seen = self._seen.get(key)
        if seen is None or now >= seen.next_at + self.max:  # new, or quiet for a long time
            self._seen[key] = _Seen(now + self.first, self.first)
            if len(self._seen) > 10_000:  # bounded: forget the oldest keys
                for k in list(self._seen)[:5_000]:
                    del self._seen[k]
            return True
        if now < seen.next_at:
            seen.held += 1
            return False
        if seen.held:
            record.msg = f"{record.msg} (and {seen.held} more like it in the last {seen.interval:.0f} s)"
        seen.interval = min(seen.interval * 2, self.max)
        seen.next_at, seen.held = now + seen.interval, 0
        return True


def limit_repeats(logger: logging.Logger | None = None) -> RepeatLimiter:
    """Install one RepeatLimiter on every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    limiter = next((f for h in target.handlers for f in h.filters if isinstance(f, RepeatLimiter)), None)
    limiter = limiter or RepeatLimiter()
    for handler in target.handlers:
        if limiter not in handler.filters:
            handler.addFilter(limiter)
    return limiter
