"""The conveyance job: conveyance events and boardings in (keyed by ride), fan-out records for the unit job out.

Conveyance events arrive keyed by conveyance id (`corridor.conveyances`); the job re-keys each by its ride
(`corridor.boardings`, where the unit job's boardings also go), so a ride's manifest and its calls have one
writer. For each change it writes one record per unit partition (`corridor.conveyance-feed`) listing the units
of that partition that hear it: its key is the ride plus a number chosen so that the default partitioner puts the
record on the partition those units' own records are on (`feed_key`). See docs/design/conveyances.md.

State: a ride's calls under the ride key; its manifest in 64 buckets (`ride` + 0x1f + bucket), so a boarding
rewrites one small bucket (encoded once per batch, at `flush`), and a ride of 24,000 units stays far below the
record size limit. Without `write_behind` (replay, tests) every record is flushed as it is processed."""

from __future__ import annotations

import itertools
import logging
import zlib
from collections.abc import MutableMapping
from datetime import datetime

import orjson
from pydantic import ValidationError

from schemas import DecodeError, loads
from schemas.codec import explain
from schemas.conveyances import ConveyanceEvent
from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.core.conveyance import Boarding, Delivery, Ride, ride_of
from streams.processing.cache import Scope, StateCache
from streams.processing.engine import OutRecord, dead_letter
from streams.processing.limits import DEFAULT_MAX_RECORD_BYTES

log = logging.getLogger(__name__)
BUCKETS = 64
FEED_CHUNK = 4_000  # units per fan-out record: 4,000 ids of 11 characters stay well inside a record


def bucket_of(unit: str) -> int:
    return zlib.crc32(unit.encode()) % BUCKETS


def _bucket_key(ride: str, bucket: int) -> bytes:
    return f"{ride}\x1f{bucket:02d}".encode()


def feed_key(ride: str, partition: int, partitions: int) -> bytes:
    """A key for `ride` that Kafka's default partitioner (murmur2) puts on `partition`."""
    n = 0
    while True:
        key = f"{ride}#{n}".encode()
        if partition_for(key, partitions) == partition:
            return key
        n += 1


def feed_records(topic: str, ride: str, deliveries: list[Delivery], partitions: int) -> list[OutRecord]:
    """One record per unit partition (and chunk) for each delivery, listing the units and the events they hear."""
    out: list[OutRecord] = []
    for d in deliveries:
        by_partition: dict[int, list] = {}
        for u in d.units:
            by_partition.setdefault(partition_for(u.id.encode(), partitions), []).append([u.kind.value, u.id])
        events = [e.model_dump(mode="json", exclude={"unit"}) for e in d.events]
        for p in sorted(by_partition):
            units = by_partition[p]
            key = feed_key(ride, p, partitions)
            for i in range(0, len(units), FEED_CHUNK):
                value = orjson.dumps({"record": "conveyance_fanout", "ride": ride, "partitions": partitions,
                                      "events": events, "units": units[i:i + FEED_CHUNK]})  # fmt: skip
                out.append(OutRecord(topic, key, value))
    return out


class ConveyanceEngine:
    """Rides for the partitions it is given. `rides` is a key-value store: a Faust table in a worker, a dict in
    replay and tests. With `write_behind`, changes stay in memory until `flush()`."""

    def __init__(self, rides: MutableMapping[bytes, bytes], topics: TopicNames, partitions: int, *,
                 write_behind: bool = False, cached_rides: int = 2_000,
                 max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:  # fmt: skip
        """`partitions`: of the unit job's input topics, to route fan-out records to its units' partitions."""
        self.rides = rides
        self.write_behind = write_behind
        # Only a write buffer: what a ride's keys hold is kept decoded in `_loaded` (a ride is read from the store
        # once, when it is loaded), so bytes kept after the flush would be a second copy of the loaded rides, and
        # of rides long finished: at up to 64 keys a ride, up to 128,000 encoded buckets (and the keys of absent
        # ones) once 2,000 rides had been seen, 4 KB each in orjson's buffers (docs/soak.md).
        self._store: StateCache[bytes] = StateCache(rides, max_items=0, write_behind=write_behind)
        self._loaded: dict[str, Ride] = {}
        self._members: dict[str, dict[int, set[str]]] = {}  # each loaded ride's units by bucket
        self._dirty: dict[tuple[str, int], int] = {}  # manifest buckets changed since the flush -> their partition
        self.cached_rides = cached_rides
        self.topics = topics
        self.partitions = partitions
        self.max_record_bytes = max_record_bytes
        self._boarding = topics.name("boarding")
        self._feed = topics.name("conveyance_feed")
        self._dead = topics.name("dead_letter")
        self.fine_watermarks: dict[int, datetime] = {}  # no watermark of its own: for the metrics collector

    def flush(self, scope: Scope | None = None) -> int:
        self._write_buckets()
        self._trim()
        return self._store.flush(scope)

    def _trim(self) -> None:
        """Keep at most `cached_rides` loaded, the oldest loads going first. A load makes room for itself only
        among rides without changes waiting for the flush, so a batch touching more rides than the bound left them
        all loaded, and the count stayed at that mark (the soak: 559 rides kept against a bound of 200)."""
        over = len(self._loaded) - self.cached_rides
        if over > 0:
            for key in list(itertools.islice(self._loaded, over)):
                del self._loaded[key], self._members[key]

    def _write_buckets(self) -> None:
        for (ride_key, bucket), partition in self._dirty.items():
            ride, members = self._loaded[ride_key], self._members[ride_key].get(bucket, set())
            self._store.partition = partition
            self._store[_bucket_key(ride_key, bucket)] = orjson.dumps(sorted(
                r for u in members if (r := ride.passage_data(u)) is not None))  # written at this flush, not kept
        self._dirty.clear()

    def forget(self) -> None:
        self._store.clear()
        self._loaded.clear()
        self._members.clear()
        self._dirty.clear()

    def process(self, topic: str, partition: int, offset: int | None, key: bytes | None,
                value: bytes | None) -> list[OutRecord]:  # fmt: skip
        role = self.topics.role_of(topic)
        data = value if value is not None else b""
        try:
            if role == "conveyance":
                ev = _conveyance_event(data)
                if key != ev.conveyance.id.encode():
                    raise DecodeError(f"record key {key!r} is not the conveyance id {ev.conveyance.id!r}: the "
                                      "conveyance topic is keyed by conveyance")  # fmt: skip
                ride = ride_of(ev)
                return [OutRecord(self._boarding, ride.encode(), data)]  # re-keyed by ride
            if role != "boarding":
                raise DecodeError(f"topic {topic!r} is not an input of the conveyance job")
            obj = loads(data)
            kind = obj.get("record") if isinstance(obj, dict) else None
            if kind == "conveyance_event":
                record: ConveyanceEvent | Boarding = _conveyance_event(data)
                ride = ride_of(record)
            elif kind == "boarding":
                try:
                    record = Boarding.model_validate(obj)
                except ValidationError as exc:
                    raise DecodeError(f"invalid boarding: {explain(exc)}") from None
                ride = record.ride
            else:
                raise DecodeError(f"expected a conveyance_event or a boarding record, got {kind!r}")
            if key != ride.encode():
                raise DecodeError(f"record key {key!r} is not the ride {ride!r}: the boardings topic is keyed by ride")
        except DecodeError as exc:
            return [self.dead_letter(topic, partition, offset, key, value, str(exc))]
        try:
            return self._apply(ride, record, partition,
                               lambda reason: self.dead_letter(topic, partition, offset, key, value, reason))
        except Exception as exc:  # a bug must not crash the worker or lose the record
            log.exception("failed to process %s[%s]@%s", topic, partition, offset)
            return [self.dead_letter(topic, partition, offset, key, value, f"processing failed: {exc!r}")]

    def _apply(self, ride_key: str, record: ConveyanceEvent | Boarding, partition: int, refuse) -> list[OutRecord]:
        self._store.partition = partition
        ride = self._ride(ride_key)
        if isinstance(record, ConveyanceEvent):
            before = ride.calls_data()
            deliveries = ride.on_conveyance(record)
            if ride.calls_data() != before:
                self._store[ride_key.encode()] = orjson.dumps({"calls": ride.calls_data()})
        else:
            deliveries, problem = ride.on_boarding(record)
            if problem is not None:
                return [refuse(f"contradictory manifest: {problem.reason}")]
            unit, bucket = record.unit.id, bucket_of(record.unit.id)
            members = self._members[ride_key].setdefault(bucket, set())
            if unit in ride.manifest.passages:
                members.add(unit)
            else:
                members.discard(unit)  # unbooked: it leaves its bucket
            self._dirty[(ride_key, bucket)] = partition  # encoded once per batch, at `flush`
            if not self.write_behind:
                self._write_buckets()
        return feed_records(self._feed, ride_key, deliveries, self.partitions)

    def _ride(self, key: str) -> Ride:
        ride = self._loaded.get(key)
        if ride is not None:
            return ride
        ride = Ride.new(key)
        members: dict[int, set[str]] = {}
        head = self._store.get(key.encode())
        if head is not None:
            ride.load_calls(orjson.loads(head)["calls"])
        for b in range(BUCKETS):
            rows = self._store.get(_bucket_key(key, b))
            for row in orjson.loads(rows) if rows is not None else ():
                ride.load_passage(row)
                members.setdefault(b, set()).add(row[0])
        if len(self._loaded) >= self.cached_rides:
            gone = next((k for k in self._loaded if all(d[0] != k for d in self._dirty)), None)
            if gone is not None:  # not one with changes waiting for the flush
                del self._loaded[gone], self._members[gone]
        self._loaded[key], self._members[key] = ride, members
        return ride

    def dead_letter(self, topic: str, partition: int, offset: int | None, key: bytes | None, value: bytes | None,
                    reason: str) -> OutRecord:  # fmt: skip
        return dead_letter(self._dead, topic, partition, offset, key, value, reason, self.max_record_bytes)


def _conveyance_event(data: bytes) -> ConveyanceEvent:
    try:
        obj = loads(data)
    except DecodeError:
        raise
    if not isinstance(obj, dict):
        raise DecodeError(f"expected a JSON object, got {type(obj).__name__}")
    try:
        return ConveyanceEvent.model_validate(obj)
    except ValidationError as exc:
        raise DecodeError(f"invalid conveyance_event: {explain(exc)}") from None

