"""The canonical tracking event every feed is normalised into, and the event-time clock tick."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.refs import Mode, TrackedUnit, UnLocode, UtcDateTime


class Milestone(StrEnum):
    """Canonical milestone codes. The DCSA Track & Trace code each maps from is in DCSA_CODES."""

    GATE_IN = "GATE_IN"
    GATE_OUT = "GATE_OUT"
    LOADED = "LOADED"
    DISCHARGED = "DISCHARGED"
    DEPARTED = "DEPARTED"
    ARRIVED = "ARRIVED"
    STUFFED = "STUFFED"
    STRIPPED = "STRIPPED"
    PICKED_UP = "PICKED_UP"
    DROPPED_OFF = "DROPPED_OFF"
    INSPECTED = "INSPECTED"
    RESEALED = "RESEALED"
    REMOVED = "REMOVED"
    CUSTOMS_SELECTED_FOR_SCAN = "CUSTOMS_SELECTED_FOR_SCAN"
    CUSTOMS_SELECTED_FOR_INSPECTION = "CUSTOMS_SELECTED_FOR_INSPECTION"
    CUSTOMS_HOLD = "CUSTOMS_HOLD"
    CUSTOMS_RELEASED = "CUSTOMS_RELEASED"
    DELIVERED = "DELIVERED"


# DCSA Track & Trace 2.2 equipment/transport event codes and 3.0 customs codes -> canonical milestone.
DCSA_CODES: dict[str, Milestone] = {
    "GTIN": Milestone.GATE_IN,
    "GTOT": Milestone.GATE_OUT,
    "LOAD": Milestone.LOADED,
    "DISC": Milestone.DISCHARGED,
    "DEPA": Milestone.DEPARTED,
    "ARRI": Milestone.ARRIVED,
    "STUF": Milestone.STUFFED,
    "STRP": Milestone.STRIPPED,
    "PICK": Milestone.PICKED_UP,
    "DROP": Milestone.DROPPED_OFF,
    "INSP": Milestone.INSPECTED,
    "RSEA": Milestone.RESEALED,
    "RMVD": Milestone.REMOVED,
    "CUSS": Milestone.CUSTOMS_SELECTED_FOR_SCAN,
    "CUSI": Milestone.CUSTOMS_SELECTED_FOR_INSPECTION,
    "CUSR": Milestone.CUSTOMS_RELEASED,
}


class Classifier(StrEnum):
    """DCSA eventClassifierCode: PLN / EST / ACT. Actual supersedes estimated supersedes planned."""

    PLANNED = "PLANNED"
    ESTIMATED = "ESTIMATED"
    ACTUAL = "ACTUAL"


CLASSIFIER_RANK = {Classifier.PLANNED: 0, Classifier.ESTIMATED: 1, Classifier.ACTUAL: 2}


class TransportRef(BaseModel):
    """What the unit moves on. Fields that do not apply to the mode stay empty."""

    model_config = ConfigDict(frozen=True)

    carrier: str | None = None
    vessel_imo: str | None = Field(default=None, pattern=r"^\d{7}$")
    vessel_name: str | None = None
    voyage: str | None = None
    train: str | None = None
    flight: str | None = None
    truck: str | None = None
    unloading: UnLocode | None = Field(
        default=None, description="where the unit is to leave this conveyance, when the report says: the point of "
        "unloading of a flight manifest (FFM), the port of discharge of a loading list",
    )


class ShipmentRefs(BaseModel):
    """The shipment(s) an event concerns. On a STUFFED or STRIPPED event (stuffing, stripping, ULD build-up
    or breakdown) they say which cargo went into or out of the unit, and `pieces` how much of it."""

    model_config = ConfigDict(frozen=True)

    booking: str | None = None
    bill_of_lading: str | None = None
    air_waybill: str | None = None
    consignment: str | None = Field(default=None, description="road consignment note (CMR) number")
    pieces: int | None = Field(default=None, ge=1, description="pieces of the shipment concerned, when partial")


class TrackingEvent(BaseModel):
    """One thing that happened (or is planned or estimated to happen) to one unit at one place."""

    model_config = ConfigDict(frozen=True, title="TrackingEvent")

    record: Literal["event"] = "event"
    event_id: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=64, description="feed or party that reported it")
    unit: TrackedUnit
    mode: Mode
    milestone: Milestone
    classifier: Classifier
    location: UnLocode
    event_time: UtcDateTime
    received_time: UtcDateTime = Field(description="when corridor (or its feed) received the report")
    transport: TransportRef = TransportRef()
    shipment: ShipmentRefs = ShipmentRefs()
    retracted: bool = Field(
        default=False, description="the source withdrew the event with this event_id (DCSA 3.0 isRetracted)"
    )

    @property
    def key(self) -> str:
        return self.unit.id


class ClockTick(BaseModel):
    """Event-time punctuation: "every source has reported up to `time`". Sent to every partition of the
    clock topic so overdue milestones are noticed on partitions that see no events."""

    model_config = ConfigDict(frozen=True, title="ClockTick")

    record: Literal["clock"] = "clock"
    time: UtcDateTime
    source: str = "clock"
