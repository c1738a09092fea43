"""A small CR Express story used by the integration tests: one container, Chongqing - Dostyk - Malaszewicze -
Duisburg by rail, and what its carriers report; plus the engine's expected outputs for any record order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import ClockTick, Leg, Plan, TrackedUnit, TrackingEvent, loads
from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.core.policy import DEFAULT_POLICY
from streams.processing.engine import Engine

T0 = datetime(2026, 3, 2, tzinfo=UTC)
UNIT = TrackedUnit.container("CSQU3054383")
OTHER = TrackedUnit.container("MSKU1234565")


def d(days: float, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def plan(unit: TrackedUnit = UNIT, revision: int = 1) -> Plan:
    return Plan(
        unit=unit,
        revision=revision,
        issued_time=T0,
        lane="CNCKG-DEDUI",
        legs=[
            Leg(mode="RAIL", carrier="CR Express", origin="CNCKG", destination="KZDOS",
                planned_departure=d(1), planned_arrival=d(6), reference="X8001"),
            Leg(mode="RAIL", carrier="KTZ Express", origin="KZDOS", destination="PLMAL",
                planned_departure=d(7), planned_arrival=d(14), reference="X8001"),
            Leg(mode="RAIL", carrier="PKP Cargo", origin="PLMAL", destination="DEDUI",
                planned_departure=d(15), planned_arrival=d(17), reference="X8001"),
        ],
        promised_delivery=d(18),
    )


def event(n: int, milestone: str, loc: str, at: datetime, *, unit: TrackedUnit = UNIT, classifier: str = "ACTUAL",
          lag_h: float = 1, source: str = "rail-feed") -> TrackingEvent:
    return TrackingEvent(
        event_id=f"{source}-{unit.id}-{n}", source=source, unit=unit, mode="RAIL", milestone=milestone,
        classifier=classifier, location=loc, event_time=at, received_time=at + timedelta(hours=lag_h),
    )


def journey(unit: TrackedUnit = UNIT) -> list[TrackingEvent]:
    """Departs a day late, loses two more days at the Dostyk gauge change, arrives 3 days late."""
    return [
        event(1, "DEPARTED", "CNCKG", d(2), unit=unit),
        event(2, "ARRIVED", "KZDOS", d(7), unit=unit),
        event(4, "DEPARTED", "KZDOS", d(10), unit=unit),
        event(3, "ARRIVED", "PLMAL", d(17), unit=unit, classifier="ESTIMATED", lag_h=-7 * 24 + 2),
        event(5, "ARRIVED", "PLMAL", d(17), unit=unit),
        event(6, "DEPARTED", "PLMAL", d(18), unit=unit),
        event(7, "ARRIVED", "DEDUI", d(20), unit=unit),
    ]


def tick(at: datetime) -> ClockTick:
    return ClockTick(time=at)


def expected(records: list[Plan | TrackingEvent | ClockTick], topics: TopicNames, partitions: int,
             units: dict[bytes, bytes] | None = None, **engine_options: Any) -> dict[str, list[dict]]:
    """What the engine emits for these records in this order (ticks broadcast to every partition); `units`, if
    given, receives its final unit states as stored."""
    engine = Engine({} if units is None else units, {}, topics, DEFAULT_POLICY, **engine_options)
    out: dict[str, list[dict]] = {}
    for r in records:
        role = r.record if r.record != "clock" else "clock"
        raw = r.model_dump_json().encode()
        if isinstance(r, ClockTick):
            produced = [o for p in range(partitions) for o in engine.process(topics.name("clock"), p, None, None, raw)]
        else:
            key = r.unit.id.encode()
            produced = engine.process(topics.name(role), partition_for(key, partitions), None, key, raw)
        for o in produced:
            out.setdefault(o.topic, []).append(loads(o.value))
    return out
