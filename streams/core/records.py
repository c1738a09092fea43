"""Lean, trusted forms of plans and events as the core keeps them in state.

Contracts (`schemas`) validate what comes in once; state is re-read on every record, so it is kept as slotted
dataclasses with the same attribute names the core reads, and encoded compactly (see `streams.core.state`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from schemas import Classifier, Milestone, Mode, Plan, TrackedUnit, TrackingEvent, UnitKind, dumps


@lru_cache(maxsize=65536)
def trusted_unit(kind: str, unit_id: str) -> TrackedUnit:
    """A TrackedUnit from state, which holds only ids that were validated on the way in."""
    return TrackedUnit.model_construct(kind=UnitKind(kind), id=unit_id)


@dataclass(frozen=True, slots=True)
class EventRecord:
    event_id: str
    source: str
    milestone: Milestone
    classifier: Classifier
    mode: Mode
    location: str
    event_time: datetime
    received_time: datetime
    retracted: bool
    digest: str  # of the whole event as received: a re-sent event with new content has a new digest

    @classmethod
    def of(cls, e: TrackingEvent, encoded: bytes | None = None) -> EventRecord:
        """`encoded`: `dumps(e)`, when the caller has it (the digest is of those bytes)."""
        return cls(
            e.event_id, e.source, e.milestone, e.classifier, e.mode, e.location, e.event_time, e.received_time,
            e.retracted, hashlib.blake2b(dumps(e) if encoded is None else encoded, digest_size=8).hexdigest(),
        )


@dataclass(frozen=True, slots=True)
class LegRecord:
    mode: Mode
    carrier: str
    origin: str
    destination: str
    planned_departure: datetime
    planned_arrival: datetime
    reference: str | None


@dataclass(frozen=True, slots=True)
class PlanRecord:
    unit: TrackedUnit
    revision: int
    issued_time: datetime
    lane: str | None
    customer: str | None
    legs: tuple[LegRecord, ...]
    promised_delivery: datetime | None
    cargo_tonnes: float | None = None

    @property
    def destination(self) -> str:
        return self.legs[-1].destination

    @classmethod
    def of(cls, p: Plan) -> PlanRecord:
        legs = tuple(
            LegRecord(g.mode, g.carrier, g.origin, g.destination, g.planned_departure, g.planned_arrival, g.reference)
            for g in p.legs
        )
        return cls(p.unit, p.revision, p.issued_time, p.lane, p.customer, legs, p.promised_delivery, p.cargo_tonnes)
