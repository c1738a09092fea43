"""Is the broker there? A worker whose broker is gone must say so on /readyz and in one log line, not in
eighty lines a second.

`BrokerWatch` opens a TCP connection to the bootstrap servers every `interval` seconds (no Kafka request: it
must not add its own failing client to the noise) and logs one line when the broker goes and one when it comes
back. `RepeatLimiter` is a logging filter for the worker's handlers: a message repeated (same logger, level and
format) passes once, then again only after a back-off that doubles up to `max_interval`, with the count of
what it held back; so the Kafka clients' reconnect errors while the broker is away cost a few lines a minute."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    out = []
    for part in bootstrap.split(","):
        host, _, port = part.strip().removeprefix("kafka://").rpartition(":")
        out.append((host.strip("[]") or "127.0.0.1", int(port)))
    return out


@dataclass
class BrokerWatch:
    bootstrap: str
    interval: float = 1.0
    timeout: float = 2.0
    reachable: bool = True  # until a probe says otherwise: a worker is started against a live broker
    since: float = field(default_factory=time.time)  # wall-clock time of the last change (for operators)
    last_error: str | None = None
    subject: str = "the worker"  # who is not ready without the broker, in the log line

    async def probe(self) -> str | None:
        """None if some bootstrap server accepts a connection, else why not."""
        error = "no bootstrap servers"
        for host, port in _hosts(self.bootstrap):
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), self.timeout)
            except (OSError, TimeoutError) as exc:
                error = f"{host}:{port}: {exc.strerror if isinstance(exc, OSError) and exc.strerror else 'timeout'}"
                continue
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return None
        return error

    async def check(self) -> None:
        error = await self.probe()
        if (error is None) == self.reachable:
            return
        self.reachable, self.since, self.last_error = error is None, time.time(), error
        if error is None:
            log.warning("Kafka broker %s is reachable again", self.bootstrap)
        else:
            log.error("Kafka broker %s is unreachable (%s); %s is not ready until it is back",
                      self.bootstrap, error, self.subject)  # fmt: skip

    async def run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.interval)

    def reason(self) -> str | None:
        if self.reachable:
            return None
        at = time.strftime("%H:%M:%SZ", time.gmtime(self.since))
        return f"the Kafka broker is unreachable since {at} ({self.last_error})"


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
