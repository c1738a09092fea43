"""The canonical conveyance event: a vessel, train, flight or truck trip departing, arriving at, or leaving out a
call, with no unit named. Carriers report these apart from unit events (DCSA TRANSPORT events, EDIFACT TDT/LOC/DTM,
Cargo-IMP flight lines, train-running reports); corridor keys them by the conveyance's normalised id so every feed
about one conveyance lands on one key."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from schemas.events import Classifier
from schemas.refs import Mode, UnLocode, UtcDateTime

_SPACES = re.compile(r"\s+")
_IMO = re.compile(r"^\d{7}$", re.ASCII)
_FLIGHT = re.compile(r"^([A-Z0-9]{2}[A-Z]?)0*(\d{1,4}[A-Z]?)$", re.ASCII)


class ConveyanceKind(StrEnum):
    VESSEL = "VESSEL"  # sea-going vessel or barge
    TRAIN = "TRAIN"
    FLIGHT = "FLIGHT"
    TRUCK = "TRUCK"


class ConveyanceMilestone(StrEnum):
    """What happened at the call. OMITTED: the conveyance skips a call it had scheduled (DCSA OMIT); CANCELLED:
    the call, or the whole trip, will not happen (DCSA CANC)."""

    DEPARTED = "DEPARTED"
    ARRIVED = "ARRIVED"
    OMITTED = "OMITTED"
    CANCELLED = "CANCELLED"


def imo_check_digit_ok(imo: str) -> bool:
    """IMO ship identification number: the 7th digit is the sum of the first six weighted 7..2, mod 10."""
    if not _IMO.match(imo):
        return False
    return sum(int(d) * w for d, w in zip(imo[:6], range(7, 1, -1), strict=True)) % 10 == int(imo[6])


def _token(value: str | None) -> str | None:
    """Upper case, inner whitespace collapsed to one space, ends trimmed; '' -> None."""
    if value is None:
        return None
    text = _SPACES.sub(" ", value).strip().upper()
    return text or None


def _compact(value: str | None) -> str | None:
    text = _token(value)
    return text.replace(" ", "").replace("-", "") if text else None


def normalise_flight(value: str | None) -> str | None:
    """Airline designator + flight number without leading zeros: 'LH 0400' -> 'LH400', 'cv7301' -> 'CV7301'."""
    text = _compact(value)
    if not text:
        return None
    m = _FLIGHT.match(text)
    return f"{m.group(1)}{m.group(2)}" if m else text


class Conveyance(BaseModel):
    """A conveyance's identity. Only the fields of its kind are set; `id` is derived from them, so two feeds
    naming one conveyance give one id:

    - VESSEL: `VESSEL:IMO<imo>:<voyage>`; without an IMO number (or with one failing its check digit) the call
      sign, else the name: `VESSEL:CS-<call sign>:<voyage>`, `VESSEL:NAME-<NAME>:<voyage>`. The voyage is the
      carrier voyage number; without it, the universal service and voyage references (`<service>/<voyage>`).
    - TRAIN: `TRAIN:<operator>:<train number>:<departure date>`.
    - FLIGHT: `FLIGHT:<designator+number>:<scheduled departure date>` (the designator is the carrier).
    - TRUCK: `TRUCK:<plate>` or `TRUCK:TRIP-<trip id>`.
    """

    model_config = ConfigDict(frozen=True)

    kind: ConveyanceKind
    carrier: str | None = Field(default=None, max_length=35,
                                description="vessel operator, rail operator or airline code (SMDG/NMFTA/IATA)")
    vessel_imo: str | None = Field(default=None, description="IMO number, 7 digits with a valid check digit")
    call_sign: str | None = Field(default=None, max_length=35)
    vessel_name: str | None = Field(default=None, max_length=70)
    voyage: str | None = Field(default=None, max_length=50, description="carrier voyage number")
    service: str | None = Field(default=None, max_length=50, description="carrier or universal service code")
    universal_voyage: str | None = Field(default=None, max_length=50, description="DCSA universal voyage reference")
    number: str | None = Field(default=None, max_length=35, description="train number, or flight (designator+number)")
    departure_date: date | None = Field(default=None, description="train: departure date; flight: scheduled date")
    plate: str | None = Field(default=None, max_length=35, description="truck licence plate")
    trip: str | None = Field(default=None, max_length=64, description="truck trip id")

    @field_validator("carrier", "call_sign", "vessel_name", "service", "plate", "trip")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return _token(value)

    @field_validator("voyage", "universal_voyage")
    @classmethod
    def _voyage(cls, value: str | None) -> str | None:
        return _compact(value)

    @field_validator("vessel_imo")
    @classmethod
    def _imo(cls, value: str | None) -> str | None:
        if value is None:
            return None
        imo = value.strip().upper().removeprefix("IMO").strip()
        if not imo_check_digit_ok(imo):
            raise ValueError(f"{value!r} is not an IMO number (7 digits, the last a check digit)")
        return imo

    @model_validator(mode="after")
    def _normalise(self) -> Conveyance:
        if self.kind is ConveyanceKind.FLIGHT:
            object.__setattr__(self, "number", normalise_flight(self.number))
        elif self.number is not None:
            object.__setattr__(self, "number", _token(self.number))
        self.id  # noqa: B018 - raises ValueError when the identity is incomplete
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """The Kafka key of the conveyance topic (see the class docstring)."""
        if self.kind is ConveyanceKind.VESSEL:
            vessel = (f"IMO{self.vessel_imo}" if self.vessel_imo else f"CS-{self.call_sign}" if self.call_sign
                      else f"NAME-{self.vessel_name}" if self.vessel_name else None)  # fmt: skip
            if vessel is None:
                raise ValueError("a vessel needs an IMO number, a call sign or a name")
            voyage = self.voyage or (f"{self.service}/{self.universal_voyage}"
                                     if self.service and self.universal_voyage else None)  # fmt: skip
            if voyage is None:
                raise ValueError(f"vessel {vessel} names no voyage (carrier voyage number, or service and universal "
                                 "voyage reference): its voyages cannot be told apart")  # fmt: skip
            return f"VESSEL:{vessel}:{voyage}"
        if self.kind is ConveyanceKind.TRAIN:
            missing = [n for n, v in (("operator", self.carrier), ("train number", self.number),
                                      ("departure date", self.departure_date)) if not v]  # fmt: skip
            if missing:
                raise ValueError(f"a train needs its operator, number and departure date: no {', '.join(missing)}")
            return f"TRAIN:{self.carrier}:{self.number}:{self.departure_date}"
        if self.kind is ConveyanceKind.FLIGHT:
            if not self.number or not self.departure_date:
                raise ValueError("a flight needs its flight number (with the airline designator) and its scheduled "
                                 "departure date")  # fmt: skip
            return f"FLIGHT:{self.number}:{self.departure_date}"
        if self.plate:
            return f"TRUCK:{self.plate}"
        if self.trip:
            return f"TRUCK:TRIP-{self.trip}"
        raise ValueError("a truck trip needs a licence plate or a trip id")

    @property
    def label(self) -> str:
        """Short, for people: 'KING OF THE SEAS 2103N', 'train X8017 of 2024-05-01', 'flight LH400 of 2024-06-05'."""
        if self.kind is ConveyanceKind.VESSEL:
            return f"{self.vessel_name or self.vessel_imo or self.call_sign} {self.voyage or self.universal_voyage}"
        if self.kind in (ConveyanceKind.TRAIN, ConveyanceKind.FLIGHT):
            return f"{self.kind.value.lower()} {self.number} of {self.departure_date}"
        return f"truck {self.plate or self.trip}"


class ConveyanceCall(BaseModel):
    """Where: the port, station or airport, the facility (terminal) when given, and the call's position in the
    rotation (DCSA transportCallSequenceNumber) when given."""

    model_config = ConfigDict(frozen=True)

    location: UnLocode
    facility: str | None = Field(default=None, max_length=35, description="terminal or facility code (e.g. SMDG)")
    sequence: int | None = Field(default=None, ge=0, description="call sequence number in the rotation")


class ConveyanceEvent(BaseModel):
    """One thing that happened (or is planned or estimated to happen) to one conveyance at one call."""

    model_config = ConfigDict(frozen=True, title="ConveyanceEvent")

    record: Literal["conveyance_event"] = "conveyance_event"
    event_id: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=64, description="feed or party that reported it")
    conveyance: Conveyance
    mode: Mode
    call: ConveyanceCall
    milestone: ConveyanceMilestone
    classifier: Classifier
    event_time: UtcDateTime = Field(description="when the milestone happened, or is planned or estimated to")
    received_time: UtcDateTime = Field(description="when corridor (or its feed) received the report")
    delay_reason: str | None = Field(default=None, max_length=35,
                                     description="the feed's delay reason code (DCSA/SMDG delayReasonCode)")
    remark: str | None = Field(default=None, max_length=250, description="free text the feed gave with the change")
    retracted: bool = Field(default=False, description="the source withdrew the event with this event_id")

    @property
    def key(self) -> str:
        return self.conveyance.id
