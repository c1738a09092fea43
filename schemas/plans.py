"""A unit's plan: its itinerary as ordered legs and the promised delivery."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.refs import Mode, TrackedUnit, UnLocode, UtcDateTime


class Leg(BaseModel):
    model_config = ConfigDict(frozen=True)

    mode: Mode
    carrier: str
    origin: UnLocode
    destination: UnLocode
    planned_departure: UtcDateTime
    planned_arrival: UtcDateTime
    reference: str | None = Field(default=None, description="service, voyage, train or flight number")

    @model_validator(mode="after")
    def _ordered(self) -> Leg:
        if self.planned_arrival <= self.planned_departure:
            raise ValueError(f"leg {self.origin}->{self.destination} arrives before it departs")
        if self.origin == self.destination:
            raise ValueError(f"leg starts and ends at {self.origin}")
        return self


def check_connected(legs: Sequence[Any], promised: datetime | None, last: str) -> None:
    """Legs in order: each starts where the previous ended, not before it arrives; the promise is not earlier
    than the last arrival (`last` says what that arrival is)."""
    for prev, nxt in pairwise(legs):
        if prev.destination != nxt.origin:
            raise ValueError(f"legs do not connect: {prev.destination} then {nxt.origin}")
        if nxt.planned_departure < prev.planned_arrival:
            raise ValueError(f"leg from {nxt.origin} departs before the previous leg arrives")
    if promised and promised < legs[-1].planned_arrival:
        raise ValueError(f"promised delivery is before {last}")


class Plan(BaseModel):
    """The itinerary in force for a unit. A later `revision` replaces an earlier one."""

    model_config = ConfigDict(frozen=True, title="Plan")

    record: Literal["plan"] = "plan"
    unit: TrackedUnit
    revision: int = Field(default=1, ge=1)
    issued_time: UtcDateTime = Field(description="when the plan was issued (event time)")
    lane: str | None = Field(default=None, description="commercial lane, e.g. CNCKG-DEDUI")
    customer: str | None = None
    legs: list[Leg] = Field(min_length=1, max_length=32)
    promised_delivery: UtcDateTime | None = None
    cargo_tonnes: float | None = Field(
        default=None, gt=0, le=1000,
        description="gross mass of the cargo in the unit, tonnes (for CO2e); absent: the unit kind's default",
    )

    @model_validator(mode="after")
    def _connected(self) -> Plan:
        check_connected(self.legs, self.promised_delivery, "the planned arrival at destination")
        return self

    @property
    def key(self) -> str:
        return self.unit.id

    @property
    def destination(self) -> str:
        return self.legs[-1].destination
