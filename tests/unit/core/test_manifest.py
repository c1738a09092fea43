"""The manifest (streams/core/manifest.py): who is aboard a voyage, train or flight, from plans, loading lists and
the units' own events, in event time."""

from __future__ import annotations

from datetime import UTC, date, datetime

from schemas import (
    Classifier,
    Conveyance,
    ConveyanceKind,
    Leg,
    Milestone,
    Mode,
    Plan,
    TrackedUnit,
    TrackingEvent,
    TransportRef,
)
from streams.core.manifest import (
    Basis,
    Contradiction,
    Manifest,
    apply_plan,
    ride_of_conveyance,
    ride_of_event,
    ride_of_leg,
)
from streams.feeds.locations import locode_zone

A, B, C, D = "TGHU1643396", "CSQU3054383", "MSKU0308961", "APZU4812090"  # valid ISO 6346 numbers
VOYAGE = "VOYAGE:0AB3NE1"


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sea(origin: str, destination: str, reference: str | None = "0AB3NE1") -> Leg:
    return Leg(mode=Mode.SEA, carrier="CMA", origin=origin, destination=destination, reference=reference,
               planned_departure=t("2024-05-02 10:00"), planned_arrival=t("2024-06-08 04:00"))  # fmt: skip


def plan(unit: str, *legs: Leg, revision: int = 1, issued: str = "2024-04-20 00:00") -> Plan:
    return Plan(unit=TrackedUnit.container(unit), revision=revision, issued_time=t(issued), legs=list(legs))


def unit_event(unit: str, milestone: Milestone, place: str, when: str, *, mode: Mode = Mode.SEA,
               classifier: Classifier = Classifier.ACTUAL, **transport: str) -> TrackingEvent:  # fmt: skip
    ref = TransportRef(**(transport or {"voyage": "0AB3NE1"}))
    return TrackingEvent(event_id=f"e:{unit}:{milestone}:{when}", source="test", unit=TrackedUnit.container(unit),
                         mode=mode, milestone=milestone, classifier=classifier, location=place, event_time=t(when),
                         received_time=t(when), transport=ref)  # fmt: skip


def test_ride_keys_agree_across_the_three_sources() -> None:
    vessel = Conveyance(kind=ConveyanceKind.VESSEL, vessel_imo="9839179", voyage="0AB3NE1")
    assert ride_of_conveyance(vessel) == ride_of_leg(sea("CNSHA", "NLRTM"), locode_zone) == VOYAGE
    assert ride_of_event(unit_event(A, Milestone.LOADED, "CNSHA", "2024-05-01 10:00", voyage="0ab3 ne1"),
                         locode_zone) == VOYAGE  # fmt: skip
    # A flight leaving Hong Kong at 23:30 local on 5 June is dated 5 June, though it is 15:30 UTC.
    flight_leg = Leg(mode=Mode.AIR, carrier="CV", origin="HKHKG", destination="BELGG", reference="CV 7301",
                     planned_departure=t("2024-06-05 15:30"), planned_arrival=t("2024-06-06 05:00"))  # fmt: skip
    flight = Conveyance(kind=ConveyanceKind.FLIGHT, number="CV7301", departure_date=date(2024, 6, 5))
    assert ride_of_leg(flight_leg, locode_zone) == ride_of_conveyance(flight) == "FLIGHT:CV7301:2024-06-05"
    train_leg = Leg(mode=Mode.RAIL, carrier="YXO", origin="CNCKG", destination="DEDUI", reference="X8017",
                    planned_departure=t("2024-05-01 02:30"), planned_arrival=t("2024-05-17 16:00"))  # fmt: skip
    assert ride_of_leg(train_leg, locode_zone) == "TRAIN:X8017:2024-05-01"
    # A border arrival of the train is dated by the unit's plan, not by its own (later) date.
    border = unit_event(A, Milestone.ARRIVED, "BYBQT", "2024-05-12 19:05", mode=Mode.RAIL, train="x8017")
    assert ride_of_event(border, locode_zone, plan(A, train_leg)) == "TRAIN:X8017:2024-05-01"
    assert ride_of_event(border, locode_zone) is None  # no plan: an arrival cannot date the train
    assert ride_of_leg(sea("CNSHA", "NLRTM", reference=None), locode_zone) is None


def test_booked_listed_and_loaded_units_hear_their_own_calls_only() -> None:
    manifests: dict[str, Manifest] = {}
    apply_plan(manifests, plan(A, sea("CNSHA", "NLRTM")), None, locode_zone)
    apply_plan(manifests, plan(B, sea("CNSHA", "SGSIN")), None, locode_zone)
    manifest = manifests[VOYAGE]
    assert manifest.listed([(C, "NLRTM"), (D, None)], "CNSHA", t("2024-05-02 08:00")) is None
    for unit in (A, B):
        manifest.reported(unit_event(unit, Milestone.LOADED, "CNSHA", "2024-05-02 06:00"))
    assert [(p.unit, p.boards, p.leaves, p.basis) for p in manifest.aboard()] == [
        (D, "CNSHA", None, Basis.LISTED), (B, "CNSHA", "SGSIN", Basis.REPORTED),
        (C, "CNSHA", "NLRTM", Basis.LISTED), (A, "CNSHA", "NLRTM", Basis.REPORTED),
    ]  # fmt: skip
    manifest.reported(unit_event(B, Milestone.DISCHARGED, "SGSIN", "2024-05-10 12:00"))
    # Rotterdam matters to the units leaving there and to the one whose port of discharge is unknown, not to the
    # unit discharged at Singapore.
    assert manifest.hearing("NLRTM") == [D, C, A]
    assert manifest.hearing("SGSIN") == [D]
    assert B not in [p.unit for p in manifest.aboard()]


def test_a_booked_unit_replanned_off_the_voyage_stops_hearing_it_but_a_loaded_one_stays() -> None:
    manifests: dict[str, Manifest] = {}
    first_a, first_b = plan(A, sea("CNSHA", "NLRTM")), plan(B, sea("CNSHA", "NLRTM"))
    for p in (first_a, first_b):
        apply_plan(manifests, p, None, locode_zone)
    manifests[VOYAGE].reported(unit_event(B, Milestone.LOADED, "CNSHA", "2024-05-02 06:00"))
    other = sea("CNSHA", "NLRTM", reference="0AB3PE1")
    apply_plan(manifests, plan(A, other, revision=2, issued="2024-04-25 00:00"), first_a, locode_zone)
    apply_plan(manifests, plan(B, other, revision=2, issued="2024-05-03 00:00"), first_b, locode_zone)
    assert manifests[VOYAGE].hearing("NLRTM") == [B]  # loaded: aboard until it is discharged
    assert manifests["VOYAGE:0AB3PE1"].hearing("NLRTM") == [B, A]


def test_events_out_of_order_and_estimates_do_not_move_units() -> None:
    manifest = Manifest(VOYAGE)
    manifest.reported(unit_event(A, Milestone.DISCHARGED, "NLRTM", "2024-06-08 10:00"))
    manifest.reported(unit_event(A, Milestone.LOADED, "CNSHA", "2024-05-02 06:00"))  # older news, arriving late
    assert manifest.aboard() == []
    manifest.reported(unit_event(C, Milestone.LOADED, "CNSHA", "2024-05-02 06:00", classifier=Classifier.ESTIMATED))
    assert manifest.aboard() == []
    manifest.reported(unit_event(A, Milestone.LOADED, "NLRTM", "2024-07-01 06:00"))  # loaded again, later
    assert [(p.unit, p.boards) for p in manifest.aboard()] == [(A, "NLRTM")]


def test_self_contradicting_inputs_are_refused() -> None:
    manifest = Manifest(VOYAGE)
    refused = manifest.listed([(A, "NLRTM"), (A, "SGSIN")], "CNSHA", t("2024-05-02 08:00"))
    assert refused == Contradiction(
        "loading list for VOYAGE:0AB3NE1 at CNSHA lists TGHU1643396 twice, to be discharged at NLRTM and at SGSIN")
    assert manifest.passages == {}
    manifest.reported(unit_event(A, Milestone.LOADED, "CNSHA", "2024-05-02 06:00"))
    clash = manifest.reported(unit_event(A, Milestone.DISCHARGED, "CNSHA", "2024-05-02 06:00"))
    assert isinstance(clash, Contradiction) and "both loaded onto and discharged" in clash.reason
    assert [p.unit for p in manifest.aboard()] == [A]
