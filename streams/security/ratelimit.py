"""Requests per credential: a token bucket per key (a tenant's subject, or a caller's address for failed
attempts). Refused requests are told how long to wait (HTTP 429 with Retry-After)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    rate: float  # requests per second, sustained
    burst: int  # requests at once
    max_keys: int = 10_000  # buckets kept; the least recently used go first
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, at)

    def take(self, key: str, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[key] = (tokens, now)  # re-inserted: dict order is recency
        while len(self._buckets) > self.max_keys:
            del self._buckets[next(iter(self._buckets))]
        return wait


def retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
