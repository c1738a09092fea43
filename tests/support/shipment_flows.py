"""Hand-written shipment flows for the shipment core and replay tests: a split air waybill flown in two ULDs
and trucked on from Liège, and an ASEAN consolidation stripped and re-stuffed at Chongqing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import (
    Classifier,
    ClockTick,
    Leg,
    Milestone,
    Mode,
    Plan,
    ShipmentLeg,
    ShipmentPlan,
    ShipmentRef,
    ShipmentRefs,
    TrackedUnit,
    TrackingEvent,
    UnitKind,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)
H = timedelta(hours=1)
AWB = "580-12345675"
ULD1, ULD2 = TrackedUnit(kind=UnitKind.ULD, id="AKE10001RU"), TrackedUnit(kind=UnitKind.ULD, id="AKE10002RU")
TRUCK = TrackedUnit(kind=UnitKind.TRAILER, id="LGG-MAD 7")


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def event(unit: TrackedUnit, milestone: Milestone, where: str, hours: float, mode: Mode, *, pieces: int | None = None,
          refs: dict[str, str] | None = None, late: float = 0.5, source: str = "test") -> TrackingEvent:  # fmt: skip
    return TrackingEvent(
        event_id=f"{unit.id}-{milestone.value}-{where}-{hours}", source=source, unit=unit, mode=mode,
        milestone=milestone, classifier=Classifier.ACTUAL, location=where, event_time=at(hours),
        received_time=at(hours + late), shipment=ShipmentRefs(**(refs or {}), pieces=pieces),
    )


def unit_plan(unit: TrackedUnit, legs: list[tuple[Mode, str, str, float, float]]) -> Plan:
    return Plan(unit=unit, issued_time=T0 - 48 * H, legs=[
        Leg(mode=m, carrier="c", origin=o, destination=d, planned_departure=at(a), planned_arrival=at(b))
        for m, o, d, a, b in legs
    ])  # fmt: skip


def ticks(until_hours: int, every: int = 1) -> list[ClockTick]:
    return [ClockTick(time=at(h)) for h in range(0, until_hours + 1, every)]


def split_awb(second_flight_hours: float = 56.0) -> list:
    """10 pieces: 6 fly on the planned flight in ULD1, 4 are left behind and fly `second_flight_hours` later
    in ULD2; one truck takes all 10 from Liège to Madrid once both parts are in."""
    ref = {"air_waybill": AWB}
    s = second_flight_hours
    plan = ShipmentPlan(
        shipment=ShipmentRef(kind="AIR_WAYBILL", id=AWB), issued_time=T0 - 24 * H, lane="HKHKG-ESMAD", pieces=10,
        customer="e-shop",
        legs=[
            ShipmentLeg(mode=Mode.AIR, carrier="RU", origin="HKHKG", destination="BELGG", planned_departure=at(15),
                        planned_arrival=at(29), reference="RU476"),
            ShipmentLeg(mode=Mode.ROAD, carrier="line-haul", origin="BELGG", destination="ESMAD",
                        planned_departure=at(49), planned_arrival=at(79)),
        ],
        promised_delivery=at(103),
    )  # fmt: skip
    truck_dep = 15 + s + 14 + 6
    return [
        plan,
        unit_plan(ULD1, [(Mode.AIR, "HKHKG", "BELGG", 15, 29)]),
        unit_plan(ULD2, [(Mode.AIR, "HKHKG", "BELGG", 15 + s, 29 + s)]),
        unit_plan(TRUCK, [(Mode.ROAD, "BELGG", "ESMAD", truck_dep, truck_dep + 30)]),
        event(ULD1, Milestone.STUFFED, "HKHKG", 10, Mode.AIR, pieces=6, refs=ref),
        event(ULD1, Milestone.DEPARTED, "HKHKG", 15.3, Mode.AIR),
        event(ULD1, Milestone.ARRIVED, "BELGG", 29.2, Mode.AIR),
        event(ULD1, Milestone.STRIPPED, "BELGG", 32, Mode.AIR, pieces=6, refs=ref),
        event(ULD2, Milestone.STUFFED, "HKHKG", 10 + s, Mode.AIR, pieces=4, refs=ref),
        event(ULD2, Milestone.DEPARTED, "HKHKG", 15 + s, Mode.AIR),
        event(ULD2, Milestone.ARRIVED, "BELGG", 29 + s, Mode.AIR),
        event(ULD2, Milestone.STRIPPED, "BELGG", 31 + s, Mode.AIR, pieces=4, refs=ref),
        event(TRUCK, Milestone.STUFFED, "BELGG", truck_dep - 1, Mode.ROAD, pieces=10, refs=ref),
        event(TRUCK, Milestone.DEPARTED, "BELGG", truck_dep, Mode.ROAD),
        event(TRUCK, Milestone.ARRIVED, "ESMAD", truck_dep + 30, Mode.ROAD),
        event(TRUCK, Milestone.DELIVERED, "ESMAD", truck_dep + 31, Mode.ROAD),
        event(TRUCK, Milestone.STRIPPED, "ESMAD", truck_dep + 31, Mode.ROAD, pieces=10, refs=ref),
        *ticks(int(truck_dep + 40), every=3),
    ]


CKG_IN = TrackedUnit(kind=UnitKind.CONTAINER, id="FCIU1234560")  # ASEAN Express, Hanoi -> Chongqing
CKG_OUT = TrackedUnit(kind=UnitKind.CONTAINER, id="TGHU1234567")  # CR Express, Chongqing -> Duisburg
DUI_TRUCK = TrackedUnit(kind=UnitKind.TRAILER, id="DU-CX 101")


def consolidation(train_hours: float = 110.0, hold_hours: float | None = None) -> list:
    """BK-ASX-1 (ASEAN, Hanoi) and BK-CKG-2 (local, Chongqing) consolidated into one CR Express container at
    Chongqing, stripped at Duisburg, BK-ASX-1 trucked to Düsseldorf. The train leaves Chongqing at
    `train_hours` (planned 110 h); customs at Duisburg may hold the container for `hold_hours`."""
    asx, ckg = {"booking": "BK-ASX-1"}, {"booking": "BK-CKG-2"}
    plan = ShipmentPlan(
        shipment=ShipmentRef(kind="BOOKING", id="BK-ASX-1"), issued_time=T0 - 24 * H, lane="VNHAN-DEDUS",
        pieces=12, customer="Hanoi electronics",
        legs=[
            ShipmentLeg(mode=Mode.RAIL, carrier="ILSTC", origin="VNHAN", destination="CNCKG",
                        planned_departure=at(0), planned_arrival=at(62)),
            ShipmentLeg(mode=Mode.RAIL, carrier="CR Express", origin="CNCKG", destination="DEDUI",
                        planned_departure=at(110), planned_arrival=at(110 + 360)),
            ShipmentLeg(mode=Mode.ROAD, carrier="ML Logistics", origin="DEDUI", destination="DEDUS",
                        planned_departure=at(110 + 384), planned_arrival=at(110 + 388), unit=DUI_TRUCK),
        ],
        promised_delivery=at(110 + 420),
    )  # fmt: skip
    local = plan.model_copy(update={
        "shipment": ShipmentRef(kind="BOOKING", id="BK-CKG-2"), "pieces": 30, "lane": "CNCKG-DEDUI",
        "legs": [plan.legs[1]],
    })  # fmt: skip
    d = train_hours
    arr = d + 360
    rail = Mode.RAIL
    records = [
        plan, local,
        unit_plan(CKG_IN, [(rail, "VNHAN", "CNCKG", 0, 62)]),
        unit_plan(CKG_OUT, [(rail, "CNCKG", "DEDUI", 110, 470)]),
        unit_plan(DUI_TRUCK, [(Mode.ROAD, "DEDUI", "DEDUS", 494, 498)]),
        event(CKG_IN, Milestone.STUFFED, "VNHAN", -4, rail, pieces=12, refs=asx),
        event(CKG_IN, Milestone.DEPARTED, "VNHAN", 0, rail),
        event(CKG_IN, Milestone.ARRIVED, "CNCKG", 63, rail),
        event(CKG_IN, Milestone.STRIPPED, "CNCKG", 70, rail, pieces=12, refs=asx),
        event(CKG_OUT, Milestone.STUFFED, "CNCKG", d - 20, rail, pieces=30, refs=ckg),
        event(CKG_OUT, Milestone.STUFFED, "CNCKG", d - 18, rail, pieces=12, refs=asx),
        event(CKG_OUT, Milestone.DEPARTED, "CNCKG", d, rail),
        event(CKG_OUT, Milestone.ARRIVED, "DEDUI", arr, rail),
    ]
    release = arr + 2
    if hold_hours is not None:
        records += [event(CKG_OUT, Milestone.CUSTOMS_HOLD, "DEDUI", arr + 1, rail)]
        release = arr + 1 + hold_hours
        records += [event(CKG_OUT, Milestone.CUSTOMS_RELEASED, "DEDUI", release, rail)]
    records += [
        event(CKG_OUT, Milestone.STRIPPED, "DEDUI", release + 4, rail, pieces=42, refs={**asx}),
        event(DUI_TRUCK, Milestone.STUFFED, "DEDUI", release + 6, Mode.ROAD, pieces=12, refs=asx),
        event(DUI_TRUCK, Milestone.DEPARTED, "DEDUI", release + 7, Mode.ROAD),
        event(DUI_TRUCK, Milestone.ARRIVED, "DEDUS", release + 10, Mode.ROAD),
        event(DUI_TRUCK, Milestone.DELIVERED, "DEDUS", release + 10.5, Mode.ROAD),
        event(DUI_TRUCK, Milestone.STRIPPED, "DEDUS", release + 10.5, Mode.ROAD, pieces=12, refs=asx),
        *ticks(int(release + 40), every=6),
    ]
    return records
