"""The sequence check: each record a job takes must follow the one before it from the same input partition since
the partition's latest seek.

A job reads a partition in offset order from where it was placed (`placed`, from `input_placement.placement_of`). A
record that does not follow is not processed and not acknowledged, so it comes again in its place: one handed over
before the partition was placed after an assignment (Faust resumes the partitions before it seeks them, and fetches
from where the client was), one repeated, and, in a topic without offset gaps (`gapless`), one past the next offset
(a fetch from before a seek: bench chaos, a worker that took a tick five days ahead of its events right after a
rebalance, from the previous generation's fetch). For the last the partition is sought back to the next offset (or
to the log start, if retention deleted what lay between). docs/design/restarts.md, item 15, has the evidence."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection

log = logging.getLogger(__name__)

# (topic, partition) -> (placement number, next offset) of the partition's latest seek, or None (not placed)
Placed = Callable[[str, int], "tuple[int, int] | None"]
# Seconds after a seek back before another to the same offset: the records already handed over before it come first.
SEEK_AGAIN = 2.0


class SequenceCheck:
    """`placed`: where each input partition was last sought to; `gapless`: the inputs without offset gaps; `seek`
    seeks one back; `take_back(topic, partition, start)`: the partition was sought back to `start`, so whatever the
    caller holds of it from there on must be let go (it is read again)."""

    def __init__(self, placed: Placed, gapless: Collection[str] = (),
                 seek: Callable[[str, int, int], object] = lambda topic, partition, offset: None,
                 take_back: Callable[[str, int, int], None] = lambda topic, partition, start: None) -> None:
        self.placed = placed
        self.gapless = frozenset(gapless)
        self.seek = seek
        self.take_back = take_back
        # (topic, partition) -> (placement, next offset): the record expected next from the latest placement
        self._sequence: dict[tuple[str, int], tuple[int, int]] = {}
        # (topic, partition) -> (offset, time.monotonic()) of the latest seek back
        self._sought: dict[tuple[str, int], tuple[int, float]] = {}
        self.out_of_sequence = 0  # records let go (diagnostics, tests)
        self._logged = 0.0

    def clear(self) -> None:
        """After a revocation: every partition starts again from its next placement."""
        self._sequence.clear()
        self._sought.clear()

    def follows(self, topic: str, partition: int, offset: int) -> bool:
        """Whether the record at `offset` follows the one taken before it from its partition since the latest
        placement; if not, it is to be let go, and the partition is sought back if need be."""
        key = (topic, partition)
        place = self.placed(topic, partition)
        if place is None:
            return self._out_of_sequence(key, offset, "it came before the partition was placed after an assignment")
        placement, start = place
        mine = self._sequence.get(key)
        if mine is None or mine[0] != placement:  # sought since: what is held from the new start on comes again
            if mine is not None:
                self.take_back(topic, partition, start)
            mine = (placement, start)
        expected = mine[1]
        if offset == expected or (offset > expected and topic not in self.gapless):
            self._sequence[key] = (placement, offset + 1)
            return True
        if offset < expected:
            self._sequence[key] = mine
            return self._out_of_sequence(key, offset, f"offset {expected} is next: it was taken already")
        self._sequence[key] = mine
        # Past the next offset in a topic without gaps: a fetch from before a seek. Sought back to the next offset
        # once (its rest, already handed over, comes after the seek and is let go too); again only if the next
        # offset has not come a while later. Offsets deleted by retention meanwhile: the seek goes to the log start.
        now = time.monotonic()
        sought = self._sought.get(key)
        if sought is not None and sought[0] == expected and now - sought[1] < SEEK_AGAIN:
            return self._out_of_sequence(key, offset, f"offset {expected} is next (sought back to it)")
        self._sought[key] = (expected, now)
        self.seek(topic, partition, expected)
        return self._out_of_sequence(key, offset, f"offset {expected} is next: seeking back to it", always=True)

    def _out_of_sequence(self, key: tuple[str, int], offset: int, why: str, always: bool = False) -> bool:
        self.out_of_sequence += 1
        now = time.monotonic()
        if always or now - self._logged > 5:  # one line per burst: a stale fetch can hold thousands
            self._logged = now
            log.warning("input %s[%d]: record %d left unprocessed, to be read again in its place: %s (%d so far)",
                        key[0], key[1], offset, why, self.out_of_sequence)  # fmt: skip
        return False
