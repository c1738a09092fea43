"""Response bodies of the query API. The records inside them (Timeline, Plan, DelayAlert, EtaUpdate, and for
shipments ShipmentTimeline, ShipmentPlan, ShipmentAlert, ShipmentEta) are the topic contracts of `schemas`,
unchanged; these models only wrap them. The OpenAPI document is generated from
them (streams/api/openapi.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas import (
    DelayAlert,
    EtaUpdate,
    Mode,
    Plan,
    Severity,
    ShipmentAlert,
    ShipmentAlertKind,
    ShipmentEta,
    ShipmentPlan,
    ShipmentRef,
    ShipmentStatus,
    ShipmentTimeline,
    Timeline,
    TrackedUnit,
    UnitStatus,
)
from schemas.refs import Instant, Locode


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ApiError(_Model):
    """Every error answer: what kind, and a message saying what was wrong."""

    model_config = ConfigDict(title="ApiError")
    error: Literal["bad_request", "not_found", "unavailable", "internal", "unauthorized", "forbidden",
                   "too_many_requests"]
    message: str


class Place(_Model):
    model_config = ConfigDict(title="Place")
    locode: Locode
    name: str | None = None
    lat: float | None = Field(default=None, description="null when the code is not in corridor's table")
    lon: float | None = None


class ClosedAlert(_Model):
    model_config = ConfigDict(title="ClosedAlert")
    alert: DelayAlert
    closed_because: str


class EtaHistory(_Model):
    model_config = ConfigDict(title="EtaHistory")
    current: EtaUpdate | None = Field(default=None, description="the latest ETA update published for the unit")
    history: list[EtaUpdate] = Field(default=[], description="ETA updates as published, oldest first")


class UnitDetail(_Model):
    model_config = ConfigDict(title="UnitDetail")
    unit: TrackedUnit
    partition: int = Field(description="partition of the unit's key (every keyed topic has the same count)")
    watermark: Instant | None = Field(default=None, description="the partition's event-time watermark")
    timeline: Timeline = Field(description="derived now, from the stored state at the watermark")
    plan: Plan | None = None
    eta: EtaHistory
    open_alerts: list[DelayAlert] = Field(description="newest first; see the API description for 'open'")
    closed_alerts: list[ClosedAlert] = Field(description="newest first, each with why it is closed")
    places: list[Place] = Field(description="positions of the plan's stops and the reported locations we know")


class ClosedShipmentAlert(_Model):
    model_config = ConfigDict(title="ClosedShipmentAlert")
    alert: ShipmentAlert
    closed_because: str


class ShipmentEtaHistory(_Model):
    model_config = ConfigDict(title="ShipmentEtaHistory")
    current: ShipmentEta | None = Field(default=None, description="the latest ETA update published for the shipment")
    history: list[ShipmentEta] = Field(default=[], description="ETA updates as published, oldest first")


class PartRoute(_Model):
    """Where one part of the shipment travelled in its unit: for maps."""

    model_config = ConfigDict(title="PartRoute")
    unit: TrackedUnit
    pieces: int | None = None
    leg_index: int | None = Field(default=None, description="the shipment plan leg the part travelled on")
    mode: Mode | None = None
    stops: list[Locode] = Field(description="the unit's stops from loading to unloading (or to its destination)")
    aboard: bool = Field(description="the pieces are still in the unit (not unloaded yet)")
    unit_status: UnitStatus | None = Field(default=None, description="the unit's status as last reported to the "
                                           "shipment job")
    unit_location: Locode | None = None


class ShipmentDetail(_Model):
    model_config = ConfigDict(title="ShipmentDetail")
    shipment: ShipmentRef
    partition: int = Field(description="partition of the shipment's key")
    watermark: Instant | None = Field(default=None, description="the partition's event-time watermark (shipment job)")
    timeline: ShipmentTimeline = Field(description="derived now, from the stored state at the watermark")
    plan: ShipmentPlan | None = None
    eta: ShipmentEtaHistory
    open_alerts: list[ShipmentAlert] = Field(description="newest first; see the API description for 'open'")
    closed_alerts: list[ClosedShipmentAlert] = Field(description="newest first, each with why it is closed")
    routes: list[PartRoute] = Field(description="one per part: the stops its unit took it through")
    places: list[Place] = Field(description="positions of the plan's stops, the parts' stops and reported locations")


AnyAlert = Annotated[DelayAlert | ShipmentAlert, Field(discriminator="record")]


class Coverage(_Model):
    """Which partitions a list was gathered from (lists are gathered from every worker)."""

    model_config = ConfigDict(title="Coverage")
    partitions: list[int]
    missing: list[int] = Field(description="partitions no worker answered for (rebalancing or unreachable)")
    complete: bool


class AlertPage(_Model):
    model_config = ConfigDict(title="AlertPage")
    open: bool = Field(description="true: open alerts; false: closed ones")
    items: list[AnyAlert] = Field(description="newest first (detection time, then alert id): unit alerts "
                                  "(record 'alert') and shipment alerts (record 'shipment_alert')")
    next_cursor: str | None = Field(default=None, description="pass as `cursor` for the next page; null at the end")
    coverage: Coverage


class UnitSummary(_Model):
    model_config = ConfigDict(title="UnitSummary")
    unit: TrackedUnit
    status: UnitStatus
    lane: str | None = None
    location: Locode | None = None
    mode: Mode | None = None
    destination: Locode | None = None
    planned_arrival: Instant | None = None
    predicted_arrival: Instant | None = Field(default=None, description="the latest published ETA")
    minutes_late: int | None = Field(default=None, description="latest published ETA minus planned arrival")
    attention: Literal["OVERDUE", "DELAYED"] | None = Field(
        default=None, description="OVERDUE: an open OVERDUE alert; DELAYED: open LATE alerts only")
    open_alerts: int = 0
    worst_severity: Severity | None = None
    latest_alert: DelayAlert | None = None


class DelayedUnits(_Model):
    model_config = ConfigDict(title="DelayedUnits")
    items: list[UnitSummary] = Field(description="overdue first, then by severity and minutes late")
    total: int = Field(description="delayed and overdue units before `limit`")
    coverage: Coverage


class ShipmentSummary(_Model):
    model_config = ConfigDict(title="ShipmentSummary")
    shipment: ShipmentRef
    status: ShipmentStatus
    lane: str | None = None
    customer: str | None = None
    location: Locode | None = Field(default=None, description="last actual location of the cargo")
    destination: Locode | None = None
    planned_delivery: Instant | None = None
    promised_delivery: Instant | None = None
    predicted_delivery: Instant | None = None
    minutes_late: int | None = Field(default=None, description="predicted (or actual) minus planned delivery")
    kinds: list[ShipmentAlertKind] = Field(description="the kinds of its open alerts")
    open_alerts: int
    worst_severity: Severity | None = None
    latest_alert: ShipmentAlert | None = None


class AtRiskItem(_Model):
    """A unit or a shipment predicted to miss its plan or promise by more than the tolerance."""

    model_config = ConfigDict(title="AtRiskItem")
    record: Literal["unit", "shipment"]
    unit: TrackedUnit | None = None
    shipment: ShipmentRef | None = None
    lane: str | None = None
    customer: str | None = None
    status: str
    location: Locode | None = None
    destination: Locode | None = None
    planned: Instant | None = Field(default=None, description="planned arrival (unit) or door delivery (shipment)")
    promised: Instant | None = Field(default=None, description="promised delivery, if any")
    predicted: Instant = Field(description="predicted arrival (unit) or door delivery (shipment), the median")
    predicted_p90: Instant | None = Field(default=None, description="the band's late end, when the ETA has one")
    minutes_late: int | None = Field(default=None, description="predicted minus planned")
    minutes_past_promise: int | None = Field(default=None, description="predicted minus promised")
    tolerance_minutes: int
    diverted: bool = False
    reason: str


class AtRiskList(_Model):
    model_config = ConfigDict(title="AtRiskList")
    items: list[AtRiskItem] = Field(description="most impact first: minutes past the promise, then past the plan")
    total: int = Field(description="units and shipments at risk before `limit`")
    coverage: Coverage


class DelayedShipments(_Model):
    model_config = ConfigDict(title="DelayedShipments")
    items: list[ShipmentSummary] = Field(
        description="cargo that has not left (OVERDUE) first, then by severity and minutes late")
    total: int = Field(description="shipments with open alerts before `limit`")
    coverage: Coverage


class HubBound(UnitSummary):
    model_config = ConfigDict(title="HubBound")
    planned_at_hub: Instant
    predicted_at_hub: Instant | None = None
    next_stop: bool = Field(description="the hub is the unit's next planned arrival")


class HubUnits(_Model):
    model_config = ConfigDict(title="HubUnits")
    hub: Place
    at: list[UnitSummary] = Field(description="units whose last actual report is at the hub, not departed yet")
    bound: list[HubBound] = Field(description="units with a planned arrival at the hub still ahead, soonest first")
    coverage: Coverage


class HubList(_Model):
    model_config = ConfigDict(title="HubList")
    items: list[Place]


class Health(_Model):
    model_config = ConfigDict(title="Health")
    status: Literal["ok"]
    worker: str


class Readiness(_Model):
    model_config = ConfigDict(title="Readiness")
    ready: bool
    worker: str
    partitions: list[int] = Field(description="partitions of the units table this worker serves")
    recovery_completed: bool
    rebalancing: bool
    reason: str | None = None
