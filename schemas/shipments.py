"""Shipments: the cargo a shipper booked (booking, bill of lading, air waybill, CMR consignment), followed
door to door across every unit it rides in (containers, wagons, ULDs, trucks).

A shipment plan says how the cargo should move: legs with their modes, and the hubs between them where it is
re-sorted, consolidated or cleared. Which units actually carry it is learnt from STUFFED / STRIPPED events
(stuffing and stripping, ULD build-up and breakdown, transloads) that name the shipment in `shipment`."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events import Classifier, Milestone
from schemas.outputs import Severity
from schemas.plans import Leg, check_connected
from schemas.refs import Instant, Locode, Mode, TrackedUnit, UtcDateTime, ascii_id, normalise_awb

_REFERENCE = re.compile(r"^[A-Z0-9][A-Z0-9/-]{2,34}$")


class ShipmentKind(StrEnum):
    BOOKING = "BOOKING"  # carrier or forwarder booking number
    BILL_OF_LADING = "BILL_OF_LADING"  # ocean or rail (CIM/SMGS) transport document number
    AIR_WAYBILL = "AIR_WAYBILL"  # IATA master or house air waybill, NNN-NNNNNNNN
    CONSIGNMENT = "CONSIGNMENT"  # road CMR consignment note


class ShipmentRef(BaseModel):
    """A shipment's reference. Its `id` is the Kafka key of every per-shipment topic, and what events name
    in their `shipment` field (booking, bill_of_lading, air_waybill or consignment)."""

    model_config = ConfigDict(frozen=True)

    kind: ShipmentKind
    id: str

    @model_validator(mode="after")
    def _check_id(self) -> ShipmentRef:
        value = ascii_id(self.id).strip().upper()
        if self.kind is ShipmentKind.AIR_WAYBILL:
            value = normalise_awb(value)
        elif not _REFERENCE.match(value):
            raise ValueError(f"not a shipment reference (3-35 letters, digits, '-' or '/'): {self.id!r}")
        object.__setattr__(self, "id", value)
        return self


class ShipmentLeg(Leg):
    """One leg of the shipment's journey: a unit leg's fields, plus the unit booked for it when that is known in
    advance (a rail container, a truck); for consolidated or air cargo it is learnt from stuffing / build-up."""

    unit: TrackedUnit | None = None


class ShipmentPlan(BaseModel):
    """How a shipment should move door to door. The last leg ends at the consignee (last mile included).
    A later `revision` replaces an earlier one."""

    model_config = ConfigDict(frozen=True, title="ShipmentPlan")

    record: Literal["shipment_plan"] = "shipment_plan"
    shipment: ShipmentRef
    revision: int = Field(default=1, ge=1)
    issued_time: UtcDateTime = Field(description="when the plan was issued (event time)")
    lane: str | None = None
    customer: str | None = None
    pieces: int = Field(ge=1, le=1_000_000, description="pieces booked; parts of the shipment add up to it")
    legs: list[ShipmentLeg] = Field(min_length=1, max_length=16)
    promised_delivery: UtcDateTime | None = None

    @model_validator(mode="after")
    def _connected(self) -> ShipmentPlan:
        check_connected(self.legs, self.promised_delivery, "the planned delivery")
        return self

    @property
    def key(self) -> str:
        return self.shipment.id


# -- outputs ---------------------------------------------------------------------------------------------


class ShipmentStatus(StrEnum):
    PLANNED = "PLANNED"  # no cargo movement yet
    IN_TRANSIT = "IN_TRANSIT"  # some cargo is moving on a leg
    AT_HUB = "AT_HUB"  # all cargo under way is at a hub (or origin) between legs
    HELD = "HELD"  # some cargo is held by customs
    PARTLY_DELIVERED = "PARTLY_DELIVERED"
    DELIVERED = "DELIVERED"


class ShipmentPart(BaseModel):
    """Some (or all) pieces of the shipment in one unit, from stuffing / build-up to stripping / breakdown."""

    model_config = ConfigDict(frozen=True)

    unit: TrackedUnit
    pieces: int | None = Field(default=None, description="None: the whole shipment or not reported")
    leg_index: int | None = Field(default=None, description="the plan leg this part travelled on")
    loaded_at: Instant | None = None
    loaded_location: Locode | None = None
    unloaded_at: Instant | None = None
    unloaded_location: Locode | None = None


class ShipmentEntry(BaseModel):
    """One thing that happened to the shipment's cargo: a unit's event while the cargo was in it, the cargo
    going into or out of a unit, or a status reported for the shipment itself (an air waybill's FSU)."""

    model_config = ConfigDict(frozen=True)

    event_time: Instant
    milestone: Milestone
    classifier: Classifier
    location: Locode
    mode: Mode
    unit: TrackedUnit | None = Field(default=None, description="None: reported for the shipment itself")
    pieces: int | None = None
    source: str
    event_id: str


class LegStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    leg_index: int
    mode: Mode
    origin: Locode
    destination: Locode
    planned_departure: Instant
    planned_arrival: Instant
    units: list[str] = Field(default=[], description="units carrying the shipment's cargo on this leg")
    pieces_departed: int = 0
    pieces_arrived: int = 0
    actual_departure: Instant | None = Field(default=None, description="when the last piece departed")
    actual_arrival: Instant | None = Field(default=None, description="when the last piece arrived")
    predicted_arrival: Instant | None = Field(default=None, description="until actual: when the last piece will")
    minutes_late: int | None = None
    predicted_arrival_p10: Instant | None = Field(default=None, description="the band of the leg's arrival: the "
                                                  "latest part's, quantile by quantile (until actual)")
    predicted_arrival_p90: Instant | None = None


class HubStay(BaseModel):
    """Time the cargo spent at a hub between two legs, and customs holds there."""

    model_config = ConfigDict(frozen=True)

    location: Locode
    arrived: Instant | None = Field(default=None, description="first piece in")
    departed: Instant | None = Field(default=None, description="last piece out")
    dwell_minutes: int | None = Field(default=None, description="so far, while the cargo is still there")
    normal_minutes: int = Field(description="what is normal at this hub; longer raises a DWELL alert")
    held_since: Instant | None = Field(default=None, description="an unreleased customs hold")
    released_at: Instant | None = None


class ShipmentTimeline(BaseModel):
    model_config = ConfigDict(frozen=True, title="ShipmentTimeline")

    record: Literal["shipment_timeline"] = "shipment_timeline"
    shipment: ShipmentRef
    plan_revision: int | None = None
    lane: str | None = None
    customer: str | None = None
    status: ShipmentStatus
    pieces: int | None = None
    location: Locode | None = Field(default=None, description="last actual location of the cargo")
    destination: Locode | None = None
    planned_delivery: Instant | None = None
    promised_delivery: Instant | None = None
    predicted_delivery: Instant | None = None
    delivered_at: Instant | None = None
    minutes_late: int | None = Field(default=None, description="predicted (or actual) minus planned delivery")
    predicted_delivery_p10: Instant | None = Field(default=None, description="door to door: 10% of deliveries "
                                                   "come before this; the last leg's band (until delivered)")
    predicted_delivery_p90: Instant | None = Field(default=None, description="90% of deliveries come before this")
    parts: list[ShipmentPart] = []
    legs: list[LegStatus] = []
    hubs: list[HubStay] = []
    events: list[ShipmentEntry] = []
    as_of: Instant | None = None


class ShipmentAlertKind(StrEnum):
    LATE = "LATE"  # the door delivery will be (or was) later than planned beyond tolerance
    OVERDUE = "OVERDUE"  # cargo has not left a leg's origin by its planned departure plus tolerance
    DWELL = "DWELL"  # cargo has stayed at a hub longer than is normal there
    CUSTOMS_HOLD = "CUSTOMS_HOLD"  # a customs hold was not released in time


class ShipmentAlert(BaseModel):
    model_config = ConfigDict(frozen=True, title="ShipmentAlert")

    record: Literal["shipment_alert"] = "shipment_alert"
    alert_id: str = Field(description="stable: the same shipment, cause and level always give the same id")
    shipment: ShipmentRef
    kind: ShipmentAlertKind
    severity: Severity
    leg_index: int | None = Field(default=None, description="the leg that caused it")
    unit: TrackedUnit | None = Field(default=None, description="the unit that caused it, when known")
    location: Locode
    minutes: int = Field(description="minutes late, dwelling or held")
    detected_at: Instant = Field(description="event time at which it was detected")
    plan_revision: int
    message: str


class LegEta(BaseModel):
    model_config = ConfigDict(frozen=True)

    leg_index: int
    destination: Locode
    planned: Instant
    predicted: Instant


class ShipmentEta(BaseModel):
    model_config = ConfigDict(frozen=True, title="ShipmentEta")

    record: Literal["shipment_eta"] = "shipment_eta"
    shipment: ShipmentRef
    destination: Locode
    predicted_delivery: Instant
    predicted_delivery_p10: Instant | None = Field(default=None, description="door to door, as the timeline's")
    predicted_delivery_p90: Instant | None = None
    previous_prediction: Instant | None = None
    planned_delivery: Instant
    promised_delivery: Instant | None = None
    cause_leg: int | None = Field(default=None, description="the leg whose delay moved it most")
    cause_unit: TrackedUnit | None = Field(default=None, description="the unit on that leg, when known")
    legs: list[LegEta] = Field(default=[], description="remaining legs, in order")
    reason: str
    as_of: Instant
    plan_revision: int


class UnitReport(BaseModel):
    """Internal (unit job -> shipment job): a unit's timeline for a shipment it carries, with the events that
    put the shipment's cargo into or out of it. Keyed by shipment id."""

    model_config = ConfigDict(frozen=True, title="UnitReport")

    record: Literal["unit_report"] = "unit_report"
    shipment_id: str
    shipment_kind: ShipmentKind
    links: list[list] = Field(
        default=[], description="[event_id, milestone, event_time, location, pieces, retracted] per link event"
    )
    own: bool = Field(default=False, description="the unit is the shipment itself (an air waybill's statuses)")
    timeline: dict = Field(description="the unit's Timeline, as published on the timelines topic")
