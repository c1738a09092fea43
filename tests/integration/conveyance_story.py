"""Carrier messages for the conveyance join's integration tests (tests/integration/test_conveyance_join.py): a vessel
voyage told in DCSA 3.0, a block train told by a rail feed, a flight told in Cargo-IMP; and the plans of the units
on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import orjson
from stdnum import iso6346

from schemas import Leg, Plan, TrackedUnit

T0 = datetime(2026, 3, 2, tzinfo=UTC)
VOYAGE = "2103N"
IMO = "9321483"


def d(days: float, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def containers(owner: str, n: int, start: int = 0) -> list[str]:
    return [f"{owner}{i:06d}{iso6346.calc_check_digit(f'{owner}{i:06d}')}" for i in range(start, start + n)]


def _call(place: str) -> dict:
    return {"transportCallID": f"tc-{place}", "carrierServiceCode": "AE1", "exportVoyageNumber": VOYAGE,
            "importVoyageNumber": VOYAGE, "UNLocationCode": place, "modeOfTransport": "VESSEL",
            "vessel": {"vesselIMONumber": IMO, "vesselName": "MAERSK KOWLOON", "vesselCallSignNumber": "9V2345"}}


def dcsa_equipment(unit: str, code: str, place: str, at: datetime, n: int = 0) -> dict:
    """A DCSA 3.0 EQUIPMENT event (LOAD, DISC) naming the vessel and voyage in its transport call."""
    return {"eventID": f"eq-{unit}-{code}-{n}", "eventDateTime": iso(at), "eventUpdatedDateTime": iso(at),
            "eventLocation": {"UNLocationCode": place},
            "eventClassification": {"eventTypeCode": "EQUIPMENT", "eventClassifierCode": "ACT",
                                    "equipmentEventTypeCode": code},
            "equipmentDetails": {"equipmentReference": unit, "ISOEquipmentCode": "45G1",
                                 "emptyIndicatorCode": "LADEN"},
            "transportDetails": {"transportCall": _call(place)}}  # fmt: skip


def dcsa_transport(n: str, code: str, clf: str, place: str, at: datetime, updated: datetime) -> dict:
    """A DCSA 3.0 TRANSPORT event (ARRI, DEPA) of the vessel, naming no container."""
    return {"eventID": f"tr-{n}", "eventDateTime": iso(at), "eventUpdatedDateTime": iso(updated),
            "eventLocation": {"UNLocationCode": place},
            "eventClassification": {"eventTypeCode": "TRANSPORT", "eventClassifierCode": clf,
                                    "transportEventTypeCode": code},
            "transportDetails": {"transportCall": _call(place)}}  # fmt: skip


def message(*events: dict) -> bytes:
    return orjson.dumps({"events": list(events)})


def sea_plan(unit: str, dest: str) -> Plan:
    return Plan(unit=TrackedUnit.container(unit), revision=1, issued_time=T0, lane=f"CNSHA-{dest}", legs=[
        Leg(mode="SEA", carrier="MAEU", origin="CNSHA", destination=dest, planned_departure=d(1),
            planned_arrival=d(30) if dest == "NLRTM" else d(10), reference=VOYAGE)])  # fmt: skip


TRAIN = "X8017"
RAIL_STOPS = ["CNCKG", "CNAKL", "KZDOS", "PLMAL", "DEDUI"]


def rail_plan(unit: str) -> Plan:
    days = [1, 6, 8, 16, 18]
    return Plan(unit=TrackedUnit.container(unit), revision=1, issued_time=T0, lane="CNCKG-DEDUI", legs=[
        Leg(mode="RAIL", carrier="YXO", origin=a, destination=b, planned_departure=d(days[i], 2),
            planned_arrival=d(days[i + 1]), reference=TRAIN)
        for i, (a, b) in enumerate(pairwise(RAIL_STOPS))])  # fmt: skip
