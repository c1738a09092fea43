"""What fits in a Kafka record, and dead letters cut to fit.

A record the producer or the broker refuses stops the worker (see `streams.topology.batching`), and it would
stop again at the same input after every restart. So the engines check what they are about to write: a result
too big for a record (a unit's or shipment's state, a timeline) refuses the input that caused it to the
dead-letter topic, state unchanged, and a dead letter too big for one keeps only the first bytes of what it
carries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from schemas import DeadLetter, dumps
from streams.processing.cache import StateCache

DEFAULT_MAX_RECORD_BYTES = 1_000_000  # key + value; the producer's request limit is set a little above it
_REASON_CHARS = 2_000  # a reason quoting a huge exception is cut: the letter still carries the input
# What one step can add to a state beyond the bytes of the input that caused it (alert ids, ETA stops, due
# times; a step of time passing has no input): a few KB at most. Inputs' own content (ids, names, a replaced
# plan or timeline) is counted by their size.
STEP_SLACK = 64 * 1024


R = TypeVar("R")


class TooLarge(Exception):
    """A result of the input would not fit in a record."""


def check(what: str, key: bytes | None, value: bytes, limit: int) -> None:
    size = len(value) + (len(key) if key else 0)
    if size > limit:
        raise TooLarge(f"{what} would be {size:,} bytes, over the {limit:,} a record may hold")


def dead_letter_bytes(letter: DeadLetter, limit: int) -> bytes:
    """The letter encoded; cut (reason, then fragment and original, each to its first bytes) if the whole
    would not fit in `limit` bytes with its key."""
    if len(letter.reason) > _REASON_CHARS:
        letter = letter.model_copy(update={"reason": letter.reason[:_REASON_CHARS] + "..."})
    raw = dumps(letter)
    room = limit - (len(letter.key) if letter.key else 0)
    if len(raw) <= room:
        return raw
    bare = dumps(letter.model_copy(update={"original": b"", "fragment": b"" if letter.fragment is not None else None,
                                           "original_size": len(letter.original)}))  # fmt: skip
    budget = max(0, (room - len(bare)) * 3 // 4 - 8)  # base64 makes 3 bytes 4 characters (and pads)
    fragment = letter.fragment
    if fragment is not None:  # the rejected part first: it is what the reader needs
        fragment = fragment[:budget]
        budget -= len(fragment)
    cut = letter.model_copy(update={"original": letter.original[:budget], "fragment": fragment,
                                    "original_size": len(letter.original)})  # fmt: skip
    return dumps(cut)


def save(cache: StateCache[Any], key: bytes, state: Any, growth: int, limit: int, what: str) -> None:
    """Put a new state in the cache, once sure that it fits in a record: it raises `TooLarge` if not.

    Encoding every new state to measure it cost the engine about 14% (the flush encodes each key once per batch
    anyway). So a state is encoded here only when an upper bound of its size is near the limit: its last
    known encoded size plus `growth` (the input's size plus `STEP_SLACK`) for each step since. The bound is
    exact again whenever the state is written or read from the store."""
    known = cache.size(key)
    if known is not None and known + growth + len(key) <= limit:
        cache.put(key, state, size=known + growth)
        return
    encoded = state.encode()
    check(what, key, encoded, limit)
    cache.put(key, state, encoded)


def swept(step: Callable[[], list[R]], letter: Callable[[str], R], what: str, watermark: datetime) -> list[R]:
    """One unit's or shipment's step of time passing (a sweep); if its result would not fit in a record, a dead
    letter about it instead: it is the swept one's, not the input's, whose other effects stand."""
    try:
        return step()
    except TooLarge as exc:
        return [letter(f"{exc} when the watermark reached {watermark.isoformat()}: the {what} is unchanged and not "
                       "re-evaluated until its next record")]
