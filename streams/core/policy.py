"""Per-mode tolerances and handling times that turn "later than planned" into alerts and ETAs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from schemas import Mode, Severity
from streams.core.severity import by_ratio


@dataclass(frozen=True, slots=True)
class ModePolicy:
    tolerance: timedelta  # lateness accepted before a milestone is alerted
    min_connection: timedelta  # shortest handling time at a stop when running late (transfer, gauge change)


_DEFAULT_MODES: dict[Mode, ModePolicy] = {
    Mode.SEA: ModePolicy(timedelta(hours=12), timedelta(hours=24)),
    Mode.BARGE: ModePolicy(timedelta(hours=12), timedelta(hours=12)),
    Mode.RAIL: ModePolicy(timedelta(hours=6), timedelta(hours=8)),
    Mode.AIR: ModePolicy(timedelta(hours=3), timedelta(hours=4)),
    Mode.ROAD: ModePolicy(timedelta(hours=2), timedelta(hours=1)),
}


@dataclass(frozen=True, slots=True)
class TrackingPolicy:
    modes: Mapping[Mode, ModePolicy] = field(default_factory=lambda: dict(_DEFAULT_MODES))
    # An ETA update is emitted only when a prediction moves at least this much: ETAs that jump around
    # many times a day are the first complaint about trackers.
    eta_min_shift: timedelta = timedelta(minutes=30)
    # A unit's history is bounded: every event re-derives it whole, and its timeline (about 230 bytes per event)
    # and its state must stay well inside one Kafka message (1 MB). A trip reports tens of events; thousands
    # mean a feed re-sending one event under fresh ids, or a container or ULD tracked for months (see `history`).
    max_events: int = 1000
    # What a unit at the cap may forget to make room: events this long before its newest (longer than any trip).
    history: timedelta = timedelta(days=90)
    # What the job has learned (`streams.core.learning.Knowledge`), or None: predictions from the plan alone.
    # Each engine gives its policy a Knowledge of its own (it is engine state, not configuration).
    knowledge: Any = field(default=None, compare=False)
    # An ETA update is published when the median moves by eta_min_shift or this fraction of the time left until
    # the predicted arrival, whichever is more, or when p10 or p90 moves by that or by this fraction of the band.
    eta_relative_shift: float = 0.03
    eta_band_shift: float | None = 0.5  # None: band moves alone publish nothing (the rule before bands)

    def tolerance(self, mode: Mode) -> timedelta:
        return self.modes[mode].tolerance

    def min_connection(self, mode: Mode) -> timedelta:
        return self.modes[mode].min_connection

    def severity(self, mode: Mode, minutes_late: int) -> Severity:
        return by_ratio(minutes_late / (self.tolerance(mode).total_seconds() / 60))


DEFAULT_POLICY = TrackingPolicy()
