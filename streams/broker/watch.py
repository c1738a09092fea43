"""Is the Kafka broker there? `BrokerWatch` opens a TCP connection to the bootstrap servers every `interval`
seconds (no Kafka request: it must not add its own failing client to the noise) and logs one line when the broker
goes and one when it comes back. What is not ready without the broker (a worker, the gateway, notify) answers
/readyz from it."""

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
