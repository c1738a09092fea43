"""Corridor's contracts: the records on every topic, as pydantic models serialised with orjson.

JSON Schema files generated from these models live in `schemas/json/` (`python -m schemas`)."""

from schemas.codec import DecodeError, InputRecord, decode, decode_input, dumps, loads
from schemas.events import (
    CLASSIFIER_RANK,
    DCSA_CODES,
    Classifier,
    ClockTick,
    Milestone,
    ShipmentRefs,
    TrackingEvent,
    TransportRef,
)
from schemas.outputs import (
    AlertKind,
    DeadLetter,
    DelayAlert,
    EtaUpdate,
    MilestoneStatus,
    PlannedStopKind,
    Severity,
    StopEta,
    Timeline,
    TimelineEntry,
    UnitStatus,
)
from schemas.plans import Leg, Plan
from schemas.refs import Mode, TrackedUnit, UnitKind, UnLocode, UtcDateTime

__all__ = [
    "CLASSIFIER_RANK",
    "DCSA_CODES",
    "AlertKind",
    "Classifier",
    "ClockTick",
    "DeadLetter",
    "DecodeError",
    "DelayAlert",
    "EtaUpdate",
    "InputRecord",
    "Leg",
    "Milestone",
    "MilestoneStatus",
    "Mode",
    "Plan",
    "PlannedStopKind",
    "Severity",
    "ShipmentRefs",
    "StopEta",
    "Timeline",
    "TimelineEntry",
    "TrackedUnit",
    "TrackingEvent",
    "TransportRef",
    "UnLocode",
    "UnitKind",
    "UnitStatus",
    "UtcDateTime",
    "decode",
    "decode_input",
    "dumps",
    "loads",
]
