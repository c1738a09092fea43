"""Road telematics: truck position pings -> ARRIVED / DEPARTED at hub geofences.

Three pieces, all pure:
- `parse_pings(data)`: JSON {"pings": [...]}, a list, or one ping object, each {vehicle, trailer | container,
  latitude, longitude, speed (km/h, optional), time (ISO 8601 with offset)} -> (pings, rejections).
- `step(state, ping, fences)`: the per-vehicle geofence state machine. Entering a fence (within radius) gives
  ARRIVED at its UN/LOCODE, leaving it (beyond radius x EXIT_FACTOR: hysteresis against GPS jitter on the edge)
  gives DEPARTED. A change needs CONFIRM consecutive pings on the new side (debounce); the event time is the
  first of those pings. Pings not newer than the state's last ping are ignored (late or duplicate deliveries).
  `GeofenceState` is a small frozen dataclass with `to_dict`/`from_dict`, meant for a Faust table keyed by vehicle.
- `RoadPings` ("road-pings"): the FeedFormat. Its parse() is stateless across messages: it runs the state machine
  from an empty state over each vehicle's pings inside one message (in time order). A worker that keeps
  GeofenceState per vehicle between messages (the topology's job) should call parse_pings + step instead.

Events need a unit: the container, else the trailer of the ping; pings of a tractor alone move the state but emit
nothing. Ids hash vehicle, unit, milestone, place and time, so replaying the same pings gives the same events.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from schemas import TrackingEvent
from schemas.events import Classifier, Milestone, TransportRef
from schemas.refs import Mode, TrackedUnit, UnitKind
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.ids import IdError, container, event_id
from streams.feeds.locations import locode_position
from streams.feeds.timeparse import TimeError, parse_iso

EXIT_FACTOR = 1.25  # leave only beyond 125 % of the radius: a truck parked on the fence edge does not flap
CONFIRM = 2  # pings on the new side before the state changes


@dataclass(frozen=True, slots=True)
class Fence:
    locode: str
    lat: float
    lon: float
    radius_km: float


def _hub(locode: str, radius_km: float) -> Fence:
    pos = locode_position(locode)
    if pos is None:  # the table is built with these hubs in it; a missing one is a build error
        raise RuntimeError(f"hub {locode} is missing from streams/feeds/data/locodes.csv")
    return Fence(locode, pos[0], pos[1], radius_km)


# Hubs of the corridors in the seeds (centre from the UN/LOCODE table; radius covers the terminals around it).
DEFAULT_FENCES: tuple[Fence, ...] = (
    _hub("DEDUI", 8.0),  # Duisburg: duisport terminals, rail hub of the Chongqing trains
    _hub("BELGG", 6.0),  # Liege airport cargo hub (eWTP)
    _hub("ESMAD", 12.0),  # Madrid: Coslada dry port, airport cargo
    _hub("CNCKG", 20.0),  # Chongqing: Tuanjiecun rail hub, Guoyuan port
    _hub("VNHAN", 15.0),  # Hanoi: Yen Vien rail, ICDs
    _hub("NLRTM", 25.0),  # Rotterdam: Maasvlakte to Waalhaven
    _hub("HUBUD", 12.0),  # Budapest: BILK terminal
    _hub("DEHAM", 15.0),  # Hamburg
    _hub("HKHKG", 10.0),  # Hong Kong airport and Kwai Tsing
    _hub("PLGDN", 10.0),  # Gdansk
)


@dataclass(frozen=True, slots=True)
class Ping:
    vehicle: str
    unit: TrackedUnit | None
    lat: float
    lon: float
    speed_kmh: float | None
    time: datetime


@dataclass(frozen=True, slots=True)
class GeofenceState:
    """Where one vehicle is. JSON-friendly through to_dict/from_dict (times as ISO strings)."""

    vehicle: str = ""
    last_time: str | None = None  # time of the newest ping applied
    inside: str | None = None  # UN/LOCODE of the fence the vehicle is in, confirmed
    pending: str | None = None  # "IN:<locode>" or "OUT:<locode>" being confirmed
    pending_since: str | None = None  # time of the first ping of the pending change
    pending_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GeofenceState:
        fields = {k: data.get(k) for k in cls.__dataclass_fields__ if k in data}
        fields["pending_count"] = int(fields.get("pending_count") or 0)
        return cls(**fields)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 6371.0088 * 2 * math.asin(min(1.0, math.sqrt(a)))


def _nearest_inside(ping: Ping, fences: Sequence[Fence]) -> Fence | None:
    best: tuple[float, Fence] | None = None
    for f in fences:
        d = distance_km(ping.lat, ping.lon, f.lat, f.lon)
        if d <= f.radius_km and (best is None or d < best[0]):
            best = (d, f)
    return best[1] if best else None


def step(state: GeofenceState, ping: Ping, fences: Sequence[Fence], source: str = "road",
         received: datetime | None = None) -> tuple[GeofenceState, list[TrackingEvent]]:  # fmt: skip
    """Apply one ping. Returns the new state and the ARRIVED/DEPARTED events it confirms (0 or 1)."""
    now = ping.time.isoformat()
    if state.last_time is not None and ping.time <= datetime.fromisoformat(state.last_time):
        return state, []  # older than (or same as) what we have: a late or duplicate ping
    state = replace(state, vehicle=state.vehicle or ping.vehicle, last_time=now)
    if state.inside is None:
        fence = _nearest_inside(ping, fences)
        wanted = f"IN:{fence.locode}" if fence else None
    else:
        current = next((f for f in fences if f.locode == state.inside), None)
        far = current is None or (
            distance_km(ping.lat, ping.lon, current.lat, current.lon) > current.radius_km * EXIT_FACTOR
        )
        wanted = f"OUT:{state.inside}" if far else None
    if wanted is None:  # no change in sight: forget a half-confirmed one (jitter)
        return replace(state, pending=None, pending_since=None, pending_count=0), []
    if state.pending != wanted:
        state = replace(state, pending=wanted, pending_since=now, pending_count=1)
    else:
        state = replace(state, pending_count=state.pending_count + 1)
    if state.pending_count < CONFIRM:
        return state, []
    direction, locode = wanted.split(":", 1)
    when = datetime.fromisoformat(state.pending_since or now)
    confirmed = replace(state, inside=locode if direction == "IN" else None, pending=None, pending_since=None,
                        pending_count=0)  # fmt: skip
    if ping.unit is None:
        return confirmed, []
    milestone = Milestone.ARRIVED if direction == "IN" else Milestone.DEPARTED
    event = TrackingEvent(
        event_id=event_id(source, ping.vehicle, ping.unit.id, milestone.value, locode, when.strftime("%Y%m%dT%H%M%SZ")),
        source=source, unit=ping.unit, mode=Mode.ROAD, milestone=milestone, classifier=Classifier.ACTUAL,
        location=locode, event_time=when, received_time=received or ping.time,
        transport=TransportRef(truck=ping.vehicle[:32]),
    )  # fmt: skip
    return confirmed, [event]


def _num(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{name} missing or not a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a number") from None
    if not (low <= number <= high) or math.isnan(number):
        raise ValueError(f"{name} {number} is outside {low}..{high}")
    return number


def _ping(raw: Any) -> Ping:
    if not isinstance(raw, Mapping):
        raise ValueError("ping is not a JSON object")
    vehicle = raw.get("vehicle")
    if not isinstance(vehicle, str) or not vehicle.strip():
        raise ValueError("no vehicle")
    unit: TrackedUnit | None = None
    if raw.get("container"):
        unit = container(raw.get("container"))
    elif isinstance(raw.get("trailer"), str) and raw["trailer"].strip():
        unit = TrackedUnit(kind=UnitKind.TRAILER, id=raw["trailer"])
    speed = raw.get("speed")
    return Ping(
        vehicle=vehicle.strip()[:64], unit=unit,
        lat=_num(raw.get("latitude", raw.get("lat")), "latitude", -90, 90),
        lon=_num(raw.get("longitude", raw.get("lon")), "longitude", -180, 180),
        speed_kmh=None if speed is None else _num(speed, "speed", 0, 400),
        time=parse_iso(raw.get("time"), field="time"),
    )  # fmt: skip


def parse_pings(data: bytes) -> tuple[list[Ping], list[Rejection]]:
    """Decode a message of pings; bad pings become Rejections, the good ones are returned (message order)."""
    try:
        doc = orjson.loads(data)
    except (orjson.JSONDecodeError, TypeError):
        return [], [Rejection("road-pings: not JSON (or not UTF-8)", data[:200])]
    items = doc.get("pings") if isinstance(doc, Mapping) and "pings" in doc else doc
    items = items if isinstance(items, list) else [items]
    pings, rejections = [], []
    for index, raw in enumerate(items):
        try:
            pings.append(_ping(raw))
        except (ValueError, TimeError, IdError, ValidationError, TypeError) as exc:
            who = raw.get("vehicle") if isinstance(raw, Mapping) else None
            reason = f"ping {index}{f' of {who}' if isinstance(who, str) else ''}: {exc}"
            try:
                frag = orjson.dumps(raw)[:500]
            except (TypeError, orjson.JSONEncodeError):
                frag = None
            rejections.append(Rejection(reason[:400], frag, index))
    return pings, rejections


def run(
    pings: Iterable[Ping],
    fences: Sequence[Fence],
    states: Mapping[str, GeofenceState] | None = None,
    source: str = "road",
    received: datetime | None = None,
) -> tuple[dict[str, GeofenceState], list[TrackingEvent]]:
    """Run the state machine over pings of many vehicles (each vehicle in time order)."""
    out = dict(states or {})
    events: list[TrackingEvent] = []
    for ping in sorted(pings, key=lambda p: (p.vehicle, p.time)):
        new, emitted = step(out.get(ping.vehicle, GeofenceState(vehicle=ping.vehicle)), ping, fences, source, received)
        out[ping.vehicle] = new
        events.extend(emitted)
    return out, events


class RoadPings:
    name = "road-pings"
    description = "Truck telematics position pings (JSON); hub geofences give ARRIVED/DEPARTED per message"

    def __init__(self, fences: Sequence[Fence] = DEFAULT_FENCES) -> None:
        self.fences = tuple(fences)

    def sniff(self, data: bytes) -> bool:
        head = data[:4096].lstrip()
        return head[:1] in (b"{", b"[") and b'"vehicle"' in head and b'"latitude"' in head

    def parse(self, data: bytes, received: datetime, source: str | None = None) -> ParseResult:
        pings, rejections = parse_pings(data)
        try:
            _, events = run(pings, self.fences, source=source or "road", received=received)
        except (ValidationError, ValueError) as exc:  # e.g. a plate the schema refuses
            return ParseResult([], [*rejections, Rejection(f"road-pings: {exc}"[:400], data[:200])])
        return ParseResult(events, rejections)
