"""One dispatcher per subscription: its own queue and task, so a slow or dead endpoint only ever delays its
own messages. Each message is tried with exponential backoff until delivered, a permanent failure, or the
last attempt; the caller is told the outcome (and dead-letters failures)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from streams.consumers.notify.channels import DeliveryError
from streams.consumers.notify.messages import Message
from streams.consumers.notify.subscriptions import Subscription

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6  # in all, the first included
    base: float = 1.0  # seconds before the second attempt; doubles each time
    max_delay: float = 300.0
    timeout: float = 10.0  # per attempt
    jitter: float = 0.1  # up to +10%, so many failing messages do not retry in lockstep

    def delay(self, attempt: int) -> float:
        """Wait after failed attempt number `attempt` (1-based)."""
        d = min(self.max_delay, self.base * 2 ** (attempt - 1))
        return d * (1 + random.random() * self.jitter)


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    attempts: int
    last_error: str | None = None


Send = Callable[[Subscription, Message, int], Awaitable[None]]
Lookup = Callable[[str], Subscription | None]
OnResult = Callable[[Message, Subscription | None, Outcome], Awaitable[None]]


class Dispatcher:
    def __init__(self, sub_id: str, lookup: Lookup, send_for: Callable[[Subscription], Send], policy: RetryPolicy,
                 on_result: OnResult) -> None:
        self.sub_id = sub_id
        self._lookup = lookup
        self._send_for = send_for
        self._policy = policy
        self._on_result = on_result
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name=f"notify-{sub_id}")

    def submit(self, msg: Message) -> None:
        self._queue.put_nowait(msg)

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            msg = await self._queue.get()
            sub, outcome = await self._deliver(msg)
            try:
                await self._on_result(msg, sub, outcome)
            except Exception:  # the record stays uncommitted and is handled again after a restart
                log.exception("recording the outcome of %s for %s failed", msg.idempotency_key, self.sub_id)

    async def _deliver(self, msg: Message) -> tuple[Subscription | None, Outcome]:
        error = "not attempted"
        sub = None
        for attempt in range(1, self._policy.attempts + 1):
            sub = self._lookup(self.sub_id)  # re-read each time: the subscription may change or go
            if sub is None or not sub.enabled:
                return sub, Outcome(False, attempt - 1, error if attempt > 1 else "subscription removed or disabled")
            try:
                await self._send_for(sub)(sub, msg, attempt)
                return sub, Outcome(True, attempt)
            except DeliveryError as exc:
                error = str(exc)
                if exc.permanent:
                    return sub, Outcome(False, attempt, error)
            except Exception as exc:  # a bug or an unexpected library error: retried like a network failure
                error = f"{type(exc).__name__}: {exc}"
            if attempt < self._policy.attempts:
                log.info("delivery %s to %s failed (attempt %d): %s", msg.idempotency_key, self.sub_id, attempt, error)
                await asyncio.sleep(self._policy.delay(attempt))
        return sub, Outcome(False, self._policy.attempts, error)
