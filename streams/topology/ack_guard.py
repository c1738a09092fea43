"""Only what an agent handled is acknowledged.

Faust acknowledges every record its stream skips: one fetched in an older consumer generation (a rebalance
came between fetch and hand-over), or handed over while flow was stopped. Nothing processed such a record, yet
its offset counts as done, and Faust commits the end of the first consecutive run of acknowledged offsets.
A worker whose streams were resumed for a generation that a rebalance had already revoked (Faust's recovery
resumes them when it completes between the revocation and the new assignment) fetched the backlog in that
window and, once the new generation arrived, skipped and acknowledged all of it: the committed offsets jumped
over inputs that never took effect (the data-loss issue: contiguous ranges per partition, from the committed
offset at the kill to the log end when the new worker was ready, and no error).

The guard makes an acknowledgement of a guarded topic's record count only if every agent that reads the topic
said it handled that record (`handled`); the others are refused (counted and logged), so the record stays
uncommitted and is read again from the committed offset after the rebalance's seek."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from faust.transport import consumer as faust_consumer

log = logging.getLogger(__name__)


class AckGuard:
    def __init__(self) -> None:
        self.readers: dict[str, int] = {}  # guarded topic -> agents that read it
        self._handled: dict[tuple[str, int, int], int] = {}  # record -> agents that handled it
        self.refused = 0  # acknowledgements refused: records skipped unprocessed (diagnostics, tests)
        self._logged_at = 0.0

    def reads(self, topics: Iterable[str]) -> None:
        """An agent reads these topics: their records are acknowledged only once it handled them."""
        for topic in topics:
            self.readers[topic] = self.readers.get(topic, 0) + 1

    def handled(self, message: Any) -> None:
        key = (message.topic, message.partition, message.offset)
        self._handled[key] = self._handled.get(key, 0) + 1

    def may_ack(self, message: Any) -> bool:
        need = self.readers.get(message.topic)
        if not need:
            return True
        key = (message.topic, message.partition, message.offset)
        if self._handled.get(key, 0) >= need:
            del self._handled[key]
            return True
        self.refused += 1
        now = time.monotonic()
        if now - self._logged_at > 5:  # one line per burst: a rebalance can skip thousands
            self._logged_at = now
            log.warning("refused to acknowledge %s[%d]@%d, which Faust's stream skipped unprocessed (a rebalance "
                        "came between fetch and hand-over); it is read again from the committed offset (%d refused "
                        "so far)", message.topic, message.partition, message.offset, self.refused)  # fmt: skip
        return False

    def forget(self) -> None:
        """Partitions were revoked: whatever was handled and not acknowledged is read again."""
        self._handled.clear()


_original_ack = faust_consumer.Consumer.ack


def _ack(self: Any, message: Any) -> bool:
    guard: AckGuard | None = getattr(self.app, "corridor_ack_guard", None)
    if guard is not None and not message.acked and not guard.may_ack(message):
        # Not counted, and not waited for either: every reader is done with it (Faust acknowledges to the
        # consumer once the last reader has). Left among the records in progress, it held the next rebalance
        # forever (`wait_empty: Waiting for tasks [... clock ... offset=484]`, bench chaos).
        self._unacked_messages.discard(message)
        faust_consumer.notify(self._waiting_for_ack)
        if self.app.flow_control.is_active() and message.generation_id != self.app.consumer_generation_id:
            _read_again(self, message)
        return False
    return _original_ack(self, message)


def _read_again(consumer: Any, message: Any) -> None:
    """A record of an older generation that a stream skipped after the new one began: the new generation's
    reading may already be past it (its seek went to the committed offset, then the stale record was handed
    over and the read offset moved on), and then nothing reads it again until the next rebalance: its offset
    is a gap the commits stop at (bench chaos: a group 201 records behind for good, though every effect was in).
    The partition is sought back to where nothing can be skipped: the earliest of this record, the read offset
    and the committed offset; what comes again is recognised as duplicates."""
    pending: dict = consumer.__dict__.setdefault("corridor_read_again", {})
    tp = message.tp
    first = not pending
    pending[tp] = min(pending.get(tp, message.offset), message.offset)
    if first:
        consumer.__dict__["corridor_read_again_task"] = asyncio.ensure_future(_seek_back(consumer))


async def _seek_back(consumer: Any) -> None:
    await asyncio.sleep(0)  # the rest of the burst of skipped records first
    pending: dict = consumer.__dict__.get("corridor_read_again", {})
    todo = dict(pending)
    pending.clear()
    try:
        assigned = consumer.assignment()
    except Exception:  # the consumer stopped meanwhile: its next start reads from the commits
        return
    for tp, offset in todo.items():
        if tp not in assigned:
            continue
        known = [o for o in (offset, consumer._read_offset.get(tp), consumer._committed_offset.get(tp))
                 if o is not None]  # fmt: skip
        target = min(known)
        log.warning("input %s[%d]: offset %d was skipped unprocessed after a rebalance; reading again from %d",
                    tp.topic, tp.partition, offset, target)  # fmt: skip
        try:
            await consumer.seek(tp, target)
        except Exception as exc:  # taken by a rebalance meanwhile: the next assignment reads from the commit
            log.info("input %s[%d]: not sought back (%r)", tp.topic, tp.partition, exc)


def _release_on_clear(app: Any) -> None:
    """A rebalance clears the agents' queues, then waits until every record an agent started is acknowledged.
    A record read by two agents (the clock ticks: both jobs) that one agent had taken and the other still had
    queued stays unacknowledged for good once the queue is cleared: the worker waited forever and was dropped from
    the group (seen in `bench chaos`). Cleared records are no longer waited for; unacknowledged, they are read
    again from the committed offset."""
    flow = app.flow_control
    clear = flow.clear

    def clear_releasing() -> None:
        dropped = [item.message for queue in list(flow._queues) for item in list(getattr(queue, "_queue", ()))
                   if hasattr(item, "message")]  # fmt: skip
        clear()
        if dropped:
            unacked = app.consumer._unacked_messages
            for message in dropped:
                if not message.acked:
                    unacked.discard(message)

    flow.clear = clear_releasing


def let_go(app: Any) -> Any:
    """A function that tells `app`'s consumer to stop waiting for a record an agent will not process (it is
    read again from the committed offset)."""

    def release(message: Any) -> None:
        consumer = app.consumer
        consumer._unacked_messages.discard(message)
        faust_consumer.notify(consumer._waiting_for_ack)

    return release


def install(app: Any) -> AckGuard:
    """Guard `app`'s consumer's acknowledgements (idempotent per app)."""
    faust_consumer.Consumer.ack = _ack  # type: ignore[method-assign]
    guard = getattr(app, "corridor_ack_guard", None)
    if guard is None:
        guard = app.corridor_ack_guard = AckGuard()
        _release_on_clear(app)
    return guard
