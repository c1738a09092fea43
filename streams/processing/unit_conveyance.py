"""The unit job's side of the conveyance join (docs/design/conveyances.md):

- `boardings`: after a plan or a unit event is applied, what it says about who is on which ride, for the
  conveyance job (topic `corridor.boardings`, keyed by ride);
- `apply_feed`: a fan-out record from the conveyance job (one per unit partition): each unit it lists takes each
  event it carries as an event of its own (carrier estimate or actual, with the conveyance as provenance), through
  the same tracker step as any unit event: its timeline shows it, its ETA moves only if its prediction moved.

Functions over the `Engine`, kept out of engine.py so the tracking engine stays one thing."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from hashlib import blake2b
from typing import Any

import orjson
from pydantic import ValidationError

from schemas import Classifier, DecodeError, Milestone, Plan, TrackedUnit, TrackingEvent, dumps, loads
from schemas.codec import explain
from schemas.conveyances import normalise_flight
from schemas.partitioning import partition_for
from streams.core.conveyance import Boarding, is_conveyance_news
from streams.core.manifest import local_date, ride_of_event, ride_of_leg
from streams.core.records import EventRecord, PlanRecord
from streams.core.schedule import PartitionClock
from streams.core.state import UnitState
from streams.core.tracker import Refused, apply_event
from streams.feeds.locations import locode_zone
from streams.processing.limits import TooLarge

# The unit job's Engine and its OutRecord class are passed in, not imported: engine.py imports this module.
Engine = Any
OutRecord = Any

_BOARDING = (Milestone.LOADED, Milestone.DEPARTED, Milestone.DISCHARGED)
_LISTING = (Milestone.LOADED, Milestone.STUFFED)  # an FFM lists bulk air waybills (LOADED) and built-up ULDs


def boardings(engine: Engine, record: Plan | TrackingEvent, before: UnitState | None,
              out_record: type) -> list[OutRecord]:  # fmt: skip
    """What an applied plan or unit event says about rides: a new plan revision books its unit on each ride its
    legs name and unbooks it from those only the previous revision named; a unit's own ACTUAL LOADED, DEPARTED or
    DISCHARGED with a transport reference reports it on (or off) that ride; an FFM's loading lists it."""
    after = engine._units.get(record.unit.id.encode())
    if after is None:
        return []
    topic = engine.topics.name("boarding")
    out: list[Boarding] = []
    if isinstance(record, Plan):
        old, new = before.plan if before is not None else None, after.plan
        if new is None or new is old or new.revision != record.revision:
            return []  # refused, a duplicate, or an older revision
        booked = _rides(new)
        gone = set(_rides(old)) if old is not None else set()
        out += [Boarding(ride=r, basis="UNBOOKED", unit=record.unit, as_of=new.issued_time)
                for r in sorted(gone - set(booked))]  # fmt: skip
        out += [Boarding(ride=r, basis="BOOKED", unit=record.unit, boards=stops[0], leaves=stops[-1],
                         via=stops[1:-1], as_of=new.issued_time) for r, stops in sorted(booked.items())]  # fmt: skip
    else:
        e = record
        if (is_conveyance_news(e.event_id) or e.retracted or e.classifier is not Classifier.ACTUAL
                or after.events.get(e.event_id) is None):  # fmt: skip
            return []
        if _listed(e):  # a flight manifest (FFM): each bulk air waybill and ULD it lists, on the flight
            day = local_date(e.event_time, e.location, locode_zone)
            if day is not None:
                out.append(Boarding(ride=f"FLIGHT:{normalise_flight(e.transport.flight)}:{day}", basis="LISTED",
                                    unit=e.unit, boards=e.location, leaves=e.transport.unloading,
                                    as_of=e.event_time))  # fmt: skip
        elif e.milestone in _BOARDING and (ride := ride_of_event(e, locode_zone, after.plan)):  # type: ignore[arg-type]
            out.append(Boarding(ride=ride, basis="REPORTED", unit=e.unit, as_of=e.event_time, event=e))
    return [out_record(topic, b.ride.encode(), b.model_dump_json(exclude_none=True).encode()) for b in out]


def _listed(e: TrackingEvent) -> bool:
    return "ffm" in e.source.lower() and e.milestone in _LISTING and bool(e.transport.flight)


def _rides(plan: PlanRecord) -> dict[str, list[str]]:
    """The rides a plan books, each with its stops: consecutive legs on one train, flight or voyage are one ride
    (a block train's legs between border stations), dated by the first of them."""
    rides: dict[str, list[str]] = {}
    last: tuple[object, str | None] | None = None
    current: str | None = None
    for leg in plan.legs:
        same = last == (leg.mode, (leg.reference or "").strip().upper() or None) and current is not None
        if not same:
            current = ride_of_leg(leg, locode_zone)  # type: ignore[arg-type]
            if current is not None:
                rides[current] = [leg.origin]
        if current is not None:
            rides[current].append(leg.destination)
        last = (leg.mode, (leg.reference or "").strip().upper() or None)
    return rides


def apply_feed(engine: Engine, topic: str, partition: int, offset: int | None, key: bytes | None,
               value: bytes | None) -> list[OutRecord]:  # fmt: skip
    """Apply a fan-out record to each unit it lists; a record that cannot be read, or that was routed for another
    partition count, is a dead letter; a unit that refuses an event gets a dead letter of its own."""

    def refuse(reason: str) -> OutRecord:
        return engine.dead_letter(topic, partition, offset, key, value, reason)

    try:
        units, templates, size = _decode(value if value is not None else b"", partition)
    except DecodeError as exc:
        return [refuse(str(exc))]
    try:
        engine.at_partition(partition)  # its units, clock and learning (a unit stepped here may complete a leg)
        clock = PartitionClock(engine._clock, partition, engine._fine_watermarks, engine._due_earliest)
        wm, moved = clock.advance(watermark_candidate(templates))
        out: list[OutRecord] = []
        policy, inc = engine.policy, engine.incremental
        news = [_News(t) for t in templates]
        for unit in units:
            for item in news:
                ev, rec = item.of(unit)
                try:
                    out += engine._step(unit.id, clock, lambda s, ev=ev, rec=rec, unit=unit: apply_event(
                        s, ev, wm, policy, incremental=inc, record=rec, unit=unit), size)  # fmt: skip
                except Refused as exc:
                    out.append(refuse(f"{unit.id} refused {ev.event_id}: {exc}"))
                except TooLarge as exc:
                    out.append(refuse(f"{unit.id}: {exc}: refused, the unit is unchanged"))
        if moved and wm is not None:
            out += engine._sweep(clock, wm, (topic, partition, offset))
    except Exception as exc:  # a bug must not crash the worker or lose the record
        return [refuse(f"processing failed: {exc!r}")]
    if engine.coalesce:
        engine._supersede(out)
    return out


class _News:
    """One event of a fan-out record, for each unit it lists in turn: the event to apply and the unit's
    `EventRecord`, with the digest of the bytes of the unit's copy of the event, spliced from the template's
    (encoded once) and the unit's: per unit, the same record as `EventRecord.of(copy)`, without encoding the whole
    event again (a vessel's news reaches thousands of units), and from the template's fields (the same for every
    copy but the digest). The event is the template itself: the tracker is told the unit (`apply_event`'s `unit`),
    and nothing else it reads of the event differs between copies, so none is made."""

    __slots__ = ("_fields", "_hashed", "_head", "_tail", "template")

    def __init__(self, template: TrackingEvent) -> None:
        self.template = template
        raw = dumps(template)
        unit = b'"unit":' + _unit_bytes(template.unit)
        at = raw.find(unit)
        if at < 0 or raw.find(unit, at + 1) >= 0:  # not found once (cannot be, but then: encode per unit)
            self._head = self._tail = self._hashed = None
        else:
            self._head, self._tail = raw[:at + 7], raw[at + len(unit):]
            self._hashed = blake2b(self._head, digest_size=8)  # the head's bytes, hashed once for every unit
        r = EventRecord.of(template, raw)
        self._fields = (r.event_id, r.source, r.milestone, r.classifier, r.mode, r.location, r.event_time,
                        r.received_time, r.retracted)  # fmt: skip

    def of(self, unit: TrackedUnit) -> tuple[TrackingEvent, EventRecord]:
        """The event to apply for `unit` (with `unit=unit`), and the unit's record."""
        t = self.template
        if self._head is None:
            return t, EventRecord.of(t.model_copy(update={"unit": unit}))
        h = self._hashed.copy()  # type: ignore[union-attr]  # the digest of head + unit + tail
        h.update(_unit_bytes(unit))
        h.update(self._tail)  # type: ignore[arg-type]
        return t, EventRecord(*self._fields, h.hexdigest())


@lru_cache(maxsize=1 << 16)
def _unit_bytes(unit: TrackedUnit) -> bytes:
    return dumps(unit)


@lru_cache(maxsize=1 << 16)  # a ride's fan-out lists the same thousands of units change after change
def _listed_unit(kind: str, unit_id: str) -> TrackedUnit:
    return TrackedUnit(kind=kind, id=unit_id)  # type: ignore[arg-type]


def _decode(data: bytes, partition: int) -> tuple[list[TrackedUnit], list[TrackingEvent], int]:
    obj = loads(data)
    if not isinstance(obj, dict) or obj.get("record") != "conveyance_fanout":
        raise DecodeError("expected a conveyance_fanout record")
    try:
        partitions = int(obj["partitions"])
        units = [_listed_unit(k, i) for k, i in obj["units"]]
        if not units or partitions < 1:
            raise DecodeError("a conveyance_fanout record lists no unit")
        templates = [TrackingEvent.model_validate({**e, "unit": units[0]}) for e in obj["events"]]
    except ValidationError as exc:
        raise DecodeError(f"invalid conveyance_fanout: {explain(exc)}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(f"invalid conveyance_fanout: {exc!r}") from None
    stray = [u.id for u in units if partition_for(u.id.encode(), partitions) != partition]
    if stray:
        raise DecodeError(f"conveyance_fanout for {partitions} partitions lists units of other partitions than "
                          f"{partition} ({', '.join(stray[:3])}): the unit topics' partition count changed?")
    return units, templates, max(len(orjson.dumps(e)) for e in obj["events"]) if obj["events"] else 0


def watermark_candidate(events: list[TrackingEvent]) -> datetime | None:
    """As the unit job's: only what actually happened moves event time (clamped to its receipt)."""
    times = [min(e.event_time, e.received_time) for e in events if e.classifier is Classifier.ACTUAL]
    return max(times) if times else None
