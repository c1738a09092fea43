"""Small builders for plans, events and clock ticks, with fixed times so tests can assert exact values.

The reference plan (`corridor_plan`) is a sea -> rail -> road itinerary for container CSQU3054383:

    0 DEP:CNSHA:1  SEA   2024-03-01 00:00
    1 ARR:NLRTM:1  SEA   2024-03-31 00:00   (30 days at sea)
    2 DEP:NLRTM:1  RAIL  2024-04-02 00:00   (48 h dwell)
    3 ARR:DEDUI:1  RAIL  2024-04-03 00:00   (24 h by rail)
    4 DEP:DEDUI:1  ROAD  2024-04-03 12:00   (12 h dwell)
    5 ARR:DEHAM:1  ROAD  2024-04-03 20:00   (8 h by road)
    6 DLV:DEHAM:1  ROAD  2024-04-04 08:00   (promised delivery)
"""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import (
    Classifier,
    ClockTick,
    Leg,
    Milestone,
    Mode,
    Plan,
    TrackedUnit,
    TrackingEvent,
    dumps,
)
from streams.core.policy import TrackingPolicy

CONTAINER = "CSQU3054383"
UNIT = TrackedUnit.container(CONTAINER)
# The 30-minute rule alone: these tests move ETAs by minutes days ahead (the relative rule is tested apart).
POLICY = TrackingPolicy(eta_relative_shift=0.0)

KEYS = ["DEP:CNSHA:1", "ARR:NLRTM:1", "DEP:NLRTM:1", "ARR:DEDUI:1", "DEP:DEDUI:1", "ARR:DEHAM:1", "DLV:DEHAM:1"]


def t(text: str) -> datetime:
    """'2024-03-01 10:00' -> an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def corridor_plan(revision: int = 1, *, unit: TrackedUnit = UNIT, issued: str = "2024-02-20 00:00",
                  delivery: str | None = "2024-04-04 08:00", rail_departure: str = "2024-04-02 00:00",
                  rail_arrival: str = "2024-04-03 00:00", road_departure: str = "2024-04-03 12:00",
                  road_arrival: str = "2024-04-03 20:00") -> Plan:
    return Plan(
        unit=unit,
        revision=revision,
        issued_time=t(issued),
        lane="CNSHA-DEHAM",
        customer="ACME",
        legs=[
            Leg(mode=Mode.SEA, carrier="COSCO", origin="CNSHA", destination="NLRTM",
                planned_departure=t("2024-03-01 00:00"), planned_arrival=t("2024-03-31 00:00"), reference="AEU3"),
            Leg(mode=Mode.RAIL, carrier="DB Cargo", origin="NLRTM", destination="DEDUI",
                planned_departure=t(rail_departure), planned_arrival=t(rail_arrival)),
            Leg(mode=Mode.ROAD, carrier="Trans", origin="DEDUI", destination="DEHAM",
                planned_departure=t(road_departure), planned_arrival=t(road_arrival)),
        ],
        promised_delivery=t(delivery) if delivery else None,
    )


def loop_plan(unit: TrackedUnit = UNIT) -> Plan:
    """Calls at NLRTM twice: DEDUI -> NLRTM -> GBFXT -> NLRTM.

    DEP:DEDUI:1 05-01 00:00, ARR:NLRTM:1 05-01 06:00, DEP:NLRTM:1 05-02 00:00, ARR:GBFXT:1 05-03 00:00,
    DEP:GBFXT:1 05-04 00:00, ARR:NLRTM:2 05-05 00:00."""
    return Plan(
        unit=unit,
        issued_time=t("2024-04-20 00:00"),
        legs=[
            Leg(mode=Mode.ROAD, carrier="Trans", origin="DEDUI", destination="NLRTM",
                planned_departure=t("2024-05-01 00:00"), planned_arrival=t("2024-05-01 06:00")),
            Leg(mode=Mode.SEA, carrier="Feeder", origin="NLRTM", destination="GBFXT",
                planned_departure=t("2024-05-02 00:00"), planned_arrival=t("2024-05-03 00:00")),
            Leg(mode=Mode.SEA, carrier="Feeder", origin="GBFXT", destination="NLRTM",
                planned_departure=t("2024-05-04 00:00"), planned_arrival=t("2024-05-05 00:00")),
        ],
    )


_MODE_AT = {"CNSHA": Mode.SEA, "NLRTM": Mode.SEA, "DEDUI": Mode.RAIL, "DEHAM": Mode.ROAD, "GBFXT": Mode.SEA}


def event(
    milestone: Milestone | str,
    location: str,
    when: str | datetime,
    *,
    classifier: Classifier = Classifier.ACTUAL,
    received: str | datetime | None = None,
    event_id: str | None = None,
    mode: Mode | None = None,
    unit: TrackedUnit = UNIT,
    source: str = "carrier",
) -> TrackingEvent:
    milestone = Milestone(milestone)
    at = t(when) if isinstance(when, str) else when
    rec = at if received is None else t(received) if isinstance(received, str) else received
    return TrackingEvent(
        event_id=event_id or f"{unit.id}-{milestone.value}-{location}-{classifier.value}-{at:%m%d%H%M}",
        source=source,
        unit=unit,
        mode=mode or _MODE_AT[location],
        milestone=milestone,
        classifier=classifier,
        location=location,
        event_time=at,
        received_time=rec,
    )


def tick(when: str) -> ClockTick:
    return ClockTick(time=t(when))


def raw(model) -> bytes:
    return dumps(model)
