"""What the tracking job emits: timelines, delay alerts, ETA updates, and dead letters."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import Classifier, Milestone
from schemas.refs import Instant, Locode, Mode, TrackedUnit


class UnitStatus(StrEnum):
    PLANNED = "PLANNED"  # nothing actual yet
    IN_TRANSIT = "IN_TRANSIT"  # departed a stop, not yet arrived at the next
    AT_STOP = "AT_STOP"  # arrived at an intermediate stop (hub, border, transshipment port)
    ARRIVED = "ARRIVED"  # arrived at the final destination
    DELIVERED = "DELIVERED"


class PlannedStopKind(StrEnum):
    DEPARTURE = "DEPARTURE"
    ARRIVAL = "ARRIVAL"
    DELIVERY = "DELIVERY"


class MilestoneStatus(BaseModel):
    """One milestone of the plan and what is known of it; actual supersedes estimated supersedes planned."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="stable across plan revisions: KIND:LOCODE:occurrence")
    kind: PlannedStopKind
    leg_index: int
    mode: Mode
    location: Locode
    planned: Instant
    estimated: Instant | None = Field(default=None, description="latest carrier estimate")
    actual: Instant | None = None
    predicted: Instant | None = Field(default=None, description="corridor's prediction, until actual")
    minutes_late: int | None = Field(default=None, description="actual (or predicted) minus planned")
    predicted_p10: Instant | None = Field(default=None, description="10% of arrivals come before this (until actual)")
    predicted_p90: Instant | None = Field(default=None, description="90% of arrivals come before this (until actual)")


class TimelineEntry(BaseModel):
    """One physical event. The same event reported by several sources is one entry (the first report),
    with the other reports in `also_reported`."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    source: str
    milestone: Milestone
    classifier: Classifier
    mode: Mode
    location: Locode
    event_time: Instant
    received_time: Instant
    matched: str | None = Field(default=None, description="key of the planned milestone it evidences, if any")
    also_reported: list[str] = Field(default=[], description="event ids of the same event from other sources")


class DiversionStatus(BaseModel):
    """A unit seen, actually, at places its plan does not go through, and the route re-derived from there."""

    model_config = ConfigDict(frozen=True)

    leg_index: int = Field(description="the plan leg the unit was on when it left the plan")
    places: list[Locode] = Field(description="the unplanned places it was seen at, in event order")
    first_seen: Instant
    last_place: Locode
    last_seen: Instant
    rejoins: str | None = Field(default=None, description="key of the planned milestone where it rejoins the plan")
    rejoined: bool = False
    route: list[Locode] | None = Field(default=None, description="re-derived route from the last unplanned place")
    route_names: list[str] | None = Field(default=None, description="alternatives it takes (Cape, Khorgos...)")
    route_km: float | None = None
    route_hours: float | None = Field(default=None, description="typical transit over the re-derived route")
    earliest_rejoin: Instant | None = Field(default=None, description="predicted no earlier than this at the rejoin")
    bypassed: list[str] = Field(default=[], description="keys of planned milestones it will not pass")
    reason: str


class Co2eLeg(BaseModel):
    model_config = ConfigDict(frozen=True)

    leg_index: int
    last_leg_index: int = Field(description="a diverted stretch can span several plan legs")
    mode: Mode
    stops: list[Locode]
    km: float | None = Field(default=None, description="None when a stop's position is unknown")
    distance: str = Field(description="how the distance was found (route table, great-circle x factor...)")
    g_per_tkm: float | None = Field(default=None, description="well-to-wheel intensity, g CO2e per tonne-km")
    vehicle: str | None = None
    kg: float | None = None
    diverted: bool = False


class Co2e(BaseModel):
    """Well-to-wheel CO2e of the unit's cargo over its plan (along its diversion, if any): ISO 14083 / GLEC."""

    model_config = ConfigDict(frozen=True)

    kg: float | None = Field(default=None, description="total; None when a leg has no distance or factor")
    tonnes: float
    tonnes_source: str = Field(description="'plan', or the unit kind's default")
    basis: str
    legs: list[Co2eLeg] = []


class Timeline(BaseModel):
    model_config = ConfigDict(frozen=True, title="Timeline")

    record: Literal["timeline"] = "timeline"
    unit: TrackedUnit
    plan_revision: int | None = None
    lane: str | None = None
    status: UnitStatus
    mode: Mode | None = Field(default=None, description="mode of the current or next leg")
    location: Locode | None = Field(default=None, description="last actual location")
    last_milestone: Milestone | None = None
    destination: Locode | None = None
    planned_arrival: Instant | None = None
    predicted_arrival: Instant | None = None
    minutes_late: int | None = Field(default=None, description="predicted (or actual) minus planned arrival")
    milestones: list[MilestoneStatus] = []
    events: list[TimelineEntry] = []
    diversion: DiversionStatus | None = Field(default=None, description="set when the unit left its plan")
    co2e: Co2e | None = Field(default=None, description="well-to-wheel CO2e per leg and in total")
    as_of: Instant | None = Field(default=None, description="event-time watermark when computed")


class AlertKind(StrEnum):
    LATE = "LATE"  # a milestone happened later than planned beyond tolerance
    OVERDUE = "OVERDUE"  # a milestone has not happened by planned time plus tolerance
    DIVERTED = "DIVERTED"  # seen at a place the plan does not go through (once per plan revision)


class Severity(StrEnum):
    MINOR = "MINOR"
    MAJOR = "MAJOR"
    CRITICAL = "CRITICAL"


class DelayAlert(BaseModel):
    model_config = ConfigDict(frozen=True, title="DelayAlert")

    record: Literal["alert"] = "alert"
    alert_id: str = Field(description="stable: the same unit, milestone and kind always give the same id")
    unit: TrackedUnit
    kind: AlertKind
    severity: Severity
    milestone: str = Field(description="key of the planned milestone")
    milestone_kind: PlannedStopKind
    location: Locode
    leg_index: int
    mode: Mode
    planned: Instant
    actual: Instant | None = None
    minutes_late: int
    detected_at: Instant = Field(description="event time at which it was detected")
    plan_revision: int
    message: str


class StopEta(BaseModel):
    model_config = ConfigDict(frozen=True)

    location: Locode
    leg_index: int
    planned: Instant
    predicted: Instant
    predicted_p10: Instant | None = Field(default=None, description="10% of arrivals come before this")
    predicted_p90: Instant | None = Field(default=None, description="90% of arrivals come before this")


class EtaUpdate(BaseModel):
    model_config = ConfigDict(frozen=True, title="EtaUpdate")

    record: Literal["eta"] = "eta"
    unit: TrackedUnit
    destination: Locode
    predicted_arrival: Instant = Field(description="the median: as likely earlier as later")
    arrival_p10: Instant | None = Field(default=None, description="10% of arrivals come before this")
    arrival_p90: Instant | None = Field(default=None, description="90% of arrivals come before this")
    previous_prediction: Instant | None = None
    planned_arrival: Instant
    carrier_estimate: Instant | None = None
    stops: list[StopEta] = Field(default=[], description="remaining stops, in order")
    reason: str
    as_of: Instant = Field(description="event time of the prediction")
    plan_revision: int


class DeadLetter(BaseModel):
    """A record that could not be accepted, with the reason and the original bytes (base64 in JSON)."""

    model_config = ConfigDict(frozen=True, title="DeadLetter", ser_json_bytes="base64", val_json_bytes="base64")

    record: Literal["dead_letter"] = "dead_letter"
    source_topic: str
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None
    reason: str
    original: bytes = Field(description="the whole message as it was read (see `original_size`)")
    fragment: bytes | None = Field(default=None, description="the rejected part, when the message holds several")
    index: int | None = Field(default=None, description="position of the rejected part in the message")
    original_size: int | None = Field(
        default=None,
        description="set only when the letter was cut to fit in a record: the original's length in bytes; `original` "
        "and `fragment` then hold only their first bytes (the whole message is at `offset` of `source_topic`)",
    )
