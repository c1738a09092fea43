"""Raw carrier messages in, canonical events and dead letters out: the ingest stage, Faust-free.

Every format has its raw topic (corridor.raw.<format>). A message's Kafka timestamp is its time received.
Truck pings are stateful (a geofence per vehicle), so they are re-keyed by vehicle onto an internal topic and
applied there against per-vehicle state, which lives in a table co-partitioned with that topic."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from datetime import UTC, datetime

import orjson

from schemas import ConveyanceEvent, DeadLetter, TrackedUnit, TrackingEvent, dumps
from schemas.topics import TopicNames
from streams.core.conveyance import Boarding
from streams.core.manifest import ride_of_conveyance
from streams.feeds import registry
from streams.feeds.base import Listing, Rejection
from streams.feeds.road import DEFAULT_FENCES, Fence, GeofenceState, Ping, parse_pings, step
from streams.processing.engine import OutRecord
from streams.processing.limits import DEFAULT_MAX_RECORD_BYTES, dead_letter_bytes

ROAD = "road-pings"


def _received(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else None


class Ingestor:
    def __init__(self, topics: TopicNames, fences: Sequence[Fence] = DEFAULT_FENCES,
                 max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:  # fmt: skip
        """`max_record_bytes`: a canonical event bigger than this is a dead letter, and a dead letter is cut to
        fit (`streams.processing.limits`)."""
        self.topics = topics
        self.max_record_bytes = max_record_bytes
        self.fences = tuple(fences)
        self._events = topics.name("event")
        self._dead = topics.name("dead_letter")
        self._pings = topics.name("road_ping")
        self._conveyances = topics.name("conveyance")
        self._boardings = topics.name("boarding")

    def process_raw(
        self, topic: str, partition: int, offset: int | None, key: bytes | None, value: bytes | None,
        timestamp: float | None,
    ) -> list[OutRecord]:
        fmt = self.topics.format_of(topic)
        data = value or b""
        received = _received(timestamp)
        if fmt is None or (fmt not in registry.FORMATS):
            return [self._letter(topic, partition, offset, key, data, f"{topic} is not a raw feed topic")]
        if received is None:
            return [self._letter(topic, partition, offset, key, data, "message has no timestamp (time received)")]
        if fmt == ROAD:
            return self._rekey_pings(topic, partition, offset, key, data, received)
        result = registry.parse(data, fmt, received)
        out = [self._event(e, topic, partition, offset, key, data) for e in result.events]
        out += [self._conveyance(c, topic, partition, offset, key, data) for c in result.conveyances]
        out += [self._boarding(b) for b in result.listings]
        out += [self._letter(topic, partition, offset, key, data, _reason(fmt, r), r.fragment, r.index)
                for r in result.rejections]
        return out

    def process_ping(
        self, states: MutableMapping[bytes, bytes], topic: str, partition: int, offset: int | None,
        key: bytes | None, value: bytes | None,
    ) -> list[OutRecord]:
        """One ping of one vehicle, against that vehicle's geofence state."""
        try:
            ping, received = _ping_in(value or b"")
        except (ValueError, KeyError, TypeError) as exc:
            return [self._letter(topic, partition, offset, key, value or b"", f"not a re-keyed ping: {exc}")]
        vkey = ping.vehicle.encode()
        raw = states.get(vkey)
        state = GeofenceState.from_dict(orjson.loads(raw)) if raw else GeofenceState(vehicle=ping.vehicle)
        try:
            new, events = step(state, ping, self.fences, source="road", received=received)
        except ValueError as exc:  # e.g. an id the schema refuses
            return [self._letter(topic, partition, offset, key, value or b"", f"{ROAD}: {exc}")]
        if new != state:
            states[vkey] = orjson.dumps(new.to_dict())
        return [self._event(e, topic, partition, offset, key, value or b"") for e in events]

    def _event(self, event: TrackingEvent, topic: str, partition: int, offset: int | None, key: bytes | None,
               original: bytes) -> OutRecord:  # fmt: skip
        ukey, raw = event.unit.id.encode(), dumps(event)
        if len(ukey) + len(raw) > self.max_record_bytes:
            return self._letter(topic, partition, offset, key, original,
                                f"the canonical event {event.event_id} would be {len(ukey) + len(raw):,} bytes, "
                                f"over the {self.max_record_bytes:,} a record may hold")  # fmt: skip
        return OutRecord(self._events, ukey, raw)

    def _conveyance(self, event: ConveyanceEvent, topic: str, partition: int, offset: int | None, key: bytes | None,
                    original: bytes) -> OutRecord:  # fmt: skip
        ckey, raw = event.conveyance.id.encode(), dumps(event)
        if len(ckey) + len(raw) > self.max_record_bytes:
            return self._letter(topic, partition, offset, key, original,
                                f"the conveyance event {event.event_id} would be {len(ckey) + len(raw):,} bytes, "
                                f"over the {self.max_record_bytes:,} a record may hold")  # fmt: skip
        return OutRecord(self._conveyances, ckey, raw)

    def _boarding(self, listing: Listing) -> OutRecord:
        """A bay plan's unit straight to the conveyance job: it tells who is aboard, not what a unit did."""
        b = boarding_of(listing)
        return OutRecord(self._boardings, b.ride.encode(), b.model_dump_json(exclude_none=True).encode())

    def _rekey_pings(self, topic: str, partition: int, offset: int | None, key: bytes | None, data: bytes,
                     received: datetime) -> list[OutRecord]:  # fmt: skip
        pings, rejections = parse_pings(data)
        out = [OutRecord(self._pings, p.vehicle.encode(), _ping_out(p, received)) for p in pings]
        out += [self._letter(topic, partition, offset, key, data, f"{ROAD}: {r.reason}", r.fragment, r.index)
                for r in rejections]
        return out

    def _letter(self, topic: str, partition: int, offset: int | None, key: bytes | None, original: bytes,
                reason: str, fragment: bytes | None = None, index: int | None = None) -> OutRecord:  # fmt: skip
        letter = DeadLetter(source_topic=topic, partition=partition, offset=offset, key=key, reason=reason,
                            original=original, fragment=fragment, index=index)  # fmt: skip
        return OutRecord(self._dead, key, dead_letter_bytes(letter, self.max_record_bytes))


def boarding_of(listing: Listing) -> Boarding:
    """The LISTED boarding a loading list's unit is, on its conveyance's ride (`corridor.boardings`)."""
    return Boarding(ride=ride_of_conveyance(listing.conveyance), basis="LISTED", unit=listing.unit,
                    boards=listing.boards, leaves=listing.leaves, as_of=listing.as_of)  # fmt: skip


def _reason(fmt: str, rejection: Rejection) -> str:
    return f"{fmt}: warning: {rejection.reason}" if rejection.warning else f"{fmt}: {rejection.reason}"


def _ping_out(p: Ping, received: datetime) -> bytes:
    unit = {"kind": p.unit.kind.value, "id": p.unit.id} if p.unit else None
    return orjson.dumps({"vehicle": p.vehicle, "unit": unit, "lat": p.lat, "lon": p.lon, "speed_kmh": p.speed_kmh,
                         "time": p.time, "received": received})


def _ping_in(data: bytes) -> tuple[Ping, datetime]:
    d = orjson.loads(data)
    unit = TrackedUnit(kind=d["unit"]["kind"], id=d["unit"]["id"]) if d["unit"] else None
    ping = Ping(d["vehicle"], unit, float(d["lat"]), float(d["lon"]), d["speed_kmh"],
                datetime.fromisoformat(d["time"]))
    return ping, datetime.fromisoformat(d["received"])
