"""A unit's tracking state and its compact encoding (the value of the `units` table).

The encoding is a positional orjson array with times as integer microseconds and enums as indexes into
append-only tables, because state is read and written on every record and must stay small on disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from schemas import Classifier, Milestone, Mode, TrackedUnit
from streams.core.records import EventRecord, LegRecord, PlanRecord, trusted_unit

VERSION = 3  # 2 added `links`, 3 `learned` and `eta_band`; versions 1 and 2 are still read
# Append-only: stored state refers to these by position.
_MILESTONES = list(Milestone)
_CLASSIFIERS = list(Classifier)
_MODES = list(Mode)
_MILESTONE_INDEX = {m: i for i, m in enumerate(_MILESTONES)}
_CLASSIFIER_INDEX = {c: i for i, c in enumerate(_CLASSIFIERS)}
_MODE_INDEX = {m: i for i, m in enumerate(_MODES)}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@lru_cache(maxsize=1 << 17)  # and encoded on every save: equal instants give equal integers, whatever their zone
def to_micros(dt: datetime | None) -> int | None:
    """An instant as integer microseconds since the epoch (how state stores times)."""
    return None if dt is None else (dt - _EPOCH) // _US


@lru_cache(maxsize=1 << 17)  # a unit's plan and event times are decoded on every record that touches it
def from_micros(us: int | None) -> datetime | None:
    """The aware UTC instant of `to_micros`'s integer."""
    return None if us is None else _EPOCH + timedelta(microseconds=us)


@dataclass(slots=True)
class UnitState:
    unit: TrackedUnit | None = None
    plan: PlanRecord | None = None
    events: dict[str, EventRecord] = field(default_factory=dict)  # by event id, latest version
    alerted: list[str] = field(default_factory=list)  # ids of alerts emitted, so none is emitted twice
    alert_floor: int = 0  # largest delay (minutes) alerted under the current plan revision
    eta: datetime | None = None  # last emitted prediction for the final destination
    eta_stops: dict[str, datetime] = field(default_factory=dict)  # last emitted prediction per remaining stop
    eta_arrived: bool = False  # the final "arrived" ETA update was emitted
    timeline_digest: str | None = None
    next_due: datetime | None = None  # watermark at which time passing alone may change something
    # Shipments whose cargo went into or out of this unit: shipment id -> link events, each
    # [event_id, stuffed (1) or stripped (0), event time (us), location, pieces, retracted], in arrival order
    # (`streams.core.links.Link` names them).
    links: dict[str, list[list[Any]]] = field(default_factory=dict)
    # What this unit's history taught the job (`streams.core.learning.observe`), as contributed: observation id ->
    # [value, model keys...]. Kept so that only what changes is learned again (nothing twice, corrections undone).
    learned: dict[str, list[Any]] = field(default_factory=dict)
    eta_band: tuple[datetime, datetime] | None = None  # last emitted (p10, p90) of the final arrival
    # Not state: each event's encoded row (its bytes, as `encode` writes them) by event id, so that a unit's events
    # are encoded once while it is in memory rather than on every save. Shared by copies; a row is used only for
    # the very record it was made of.
    _rows: dict[str, tuple[EventRecord, orjson.Fragment]] = field(default_factory=dict, compare=False, repr=False)
    # Not state either: the derived view kept up to date change by change (`streams.core.incremental`), used
    # only while it reflects this very state's unit, plan and events. Passed on to copies.
    _derived: Any = field(default=None, compare=False, repr=False)
    # Not state: the plan's encoded row, with the plan it is of (a plan changes seldom; the state is saved after
    # every record). Passed on to copies; used only for that very plan.
    _plan_row: tuple[PlanRecord, orjson.Fragment] | None = field(default=None, compare=False, repr=False)

    def copy(self) -> UnitState:
        """A shallow copy, as `dataclasses.replace(self)` makes it but cheaper (it is made on every record).
        Lists and dicts are shared: replace them, never change them in place."""
        return UnitState(self.unit, self.plan, self.events, self.alerted, self.alert_floor, self.eta,
                         self.eta_stops, self.eta_arrived, self.timeline_digest, self.next_due, self.links,
                         self.learned, self.eta_band, self._rows, self._derived, self._plan_row)  # fmt: skip

    def encode(self) -> bytes:
        unit = [self.unit.kind.value, self.unit.id] if self.unit else None
        return orjson.dumps([
            VERSION, unit, self._plan_encoded(), self._event_rows(),
            self.alerted, self.alert_floor, to_micros(self.eta),
            {k: to_micros(v) for k, v in self.eta_stops.items()}, int(self.eta_arrived), self.timeline_digest,
            to_micros(self.next_due), *self._tail(),
        ])

    def _tail(self) -> list[Any]:
        """The fields added since version 1, as far as any is set (older states end earlier)."""
        band = [to_micros(self.eta_band[0]), to_micros(self.eta_band[1])] if self.eta_band else None
        tail = [self.links, self.learned, band]
        while tail and not tail[-1]:
            tail.pop()
        return tail

    def _plan_encoded(self) -> orjson.Fragment | None:
        plan, memo = self.plan, self._plan_row
        if plan is None:
            return None
        if memo is None or memo[0] is not plan:
            memo = self._plan_row = (plan, orjson.Fragment(bytes(memoryview(orjson.dumps(_plan_out(plan))))))
        return memo[1]

    def _event_rows(self) -> list[orjson.Fragment]:
        rows, memo = [], self._rows
        for e in self.events.values():
            hit = memo.get(e.event_id)
            if hit is None or hit[0] is not e:
                hit = memo[e.event_id] = (e, _encoded_row(e))
            rows.append(hit[1])
        return rows

    @classmethod
    def decode(cls, data: bytes) -> UnitState:
        version, unit, plan, events, alerted, floor, eta, stops, arrived, digest, due, *rest = orjson.loads(data)
        if version not in (1, 2, VERSION):
            raise ValueError(f"unit state version {version} is not {VERSION}")
        owner = trusted_unit(*unit) if unit else None
        return cls(
            unit=owner,
            plan=_plan_in(plan, owner),
            events={
                e[0]: EventRecord(e[0], e[1], _MILESTONES[e[2]], _CLASSIFIERS[e[3]], _MODES[e[4]], e[5],
                                  from_micros(e[6]), from_micros(e[7]), bool(e[8]), e[9])  # type: ignore[arg-type]
                for e in events
            },
            alerted=alerted,
            alert_floor=floor,
            eta=from_micros(eta),
            eta_stops={k: from_micros(v) for k, v in stops.items()},  # type: ignore[misc]
            eta_arrived=bool(arrived),
            timeline_digest=digest,
            next_due=from_micros(due),
            links=rest[0] if rest else {},
            learned=rest[1] if len(rest) > 1 else {},
            eta_band=(from_micros(rest[2][0]), from_micros(rest[2][1])) if len(rest) > 2 and rest[2] else None,  # type: ignore[arg-type]
        )


def learned_of(data: bytes) -> dict[str, list[Any]]:
    """What a unit's encoded state says it has taught (`UnitState.learned`), without building the state."""
    row = orjson.loads(data)
    return row[12] if len(row) > 12 and row[12] else {}


def _encoded_row(e: EventRecord) -> orjson.Fragment:
    """Copied to bytes of its own size: orjson's output keeps the whole buffer it wrote into (4 KB, for a row of
    100 bytes), and a unit keeps its rows for as long as it is in memory."""
    return orjson.Fragment(bytes(memoryview(orjson.dumps(_event_row(e)))))


def _event_row(e: EventRecord) -> list[Any]:
    return [e.event_id, e.source, _MILESTONE_INDEX[e.milestone], _CLASSIFIER_INDEX[e.classifier],
            _MODE_INDEX[e.mode], e.location, to_micros(e.event_time), to_micros(e.received_time), int(e.retracted),
            e.digest]  # fmt: skip


def _plan_out(p: PlanRecord | None) -> list[Any] | None:
    if p is None:
        return None
    legs = [[_MODE_INDEX[g.mode], g.carrier, g.origin, g.destination, to_micros(g.planned_departure),
             to_micros(g.planned_arrival), g.reference] for g in p.legs]
    out = [p.revision, to_micros(p.issued_time), p.lane, p.customer, legs, to_micros(p.promised_delivery)]
    return out if p.cargo_tonnes is None else [*out, p.cargo_tonnes]  # appended: older state has 6 fields


def _plan_in(raw: list[Any] | None, unit: TrackedUnit | None) -> PlanRecord | None:
    if raw is None or unit is None:
        return None
    revision, issued, lane, customer, legs, promised, *more = raw
    return PlanRecord(
        unit,
        revision, from_micros(issued), lane, customer,  # type: ignore[arg-type]
        tuple(LegRecord(_MODES[g[0]], g[1], g[2], g[3], from_micros(g[4]), from_micros(g[5]), g[6]) for g in legs),  # type: ignore[arg-type]
        from_micros(promised),
        more[0] if more else None,
    )
