"""Writing to the raw topics and the dead-letter topic, and finding out whether a record already was.

Every connector record is keyed by its source (a gateway source, a polled carrier, a drop folder), so one
sender's messages stay in order on one partition, and it carries two headers: `corridor-source` and
`corridor-digest` (SHA-256 of the value). The partition is computed here, as the default partitioner would, so
that a connector that crashed between sending and recording it can look for its record (`find`) from the end
offset it noted before sending: recovery then neither loses nor repeats it, without Kafka transactions (which
the embedded broker lacks)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2

from schemas import DeadLetter
from schemas.topics import TopicNames
from streams.connectors.idempotency import Ack
from streams.kafka_security import KafkaSecurity, client_kwargs
from streams.processing.limits import DEFAULT_MAX_RECORD_BYTES, dead_letter_bytes

log = logging.getLogger(__name__)
SOURCE_HEADER = "corridor-source"
DIGEST_HEADER = "corridor-digest"


class Unavailable(Exception):
    """Kafka did not acknowledge in time (down, unreachable, or the topic is missing): nothing was accepted."""


def digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def partition_of(key: bytes, partitions: int) -> int:
    """The default partitioner's choice (murmur2, as Java clients and Faust), for a known partition count."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class RawSink:
    def __init__(self, bootstrap: str, topics: TopicNames, *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
                 timeout: float = 10.0, security: KafkaSecurity | None = None) -> None:  # fmt: skip
        self.bootstrap = bootstrap
        self.security = security
        self.topics = topics
        self.max_record_bytes = max_record_bytes
        self.timeout = timeout
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._reader: AIOKafkaConsumer | None = None
        self._consumer_lock = asyncio.Lock()

    async def __aenter__(self) -> RawSink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
        reader, self._reader = self._reader, None
        if reader is not None:
            await reader.stop()

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def _ready(self) -> AIOKafkaProducer:
        """The producer, started on first use and again after a failed start: a connector starts (and answers
        503) while Kafka is down, and recovers when it is back."""
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap, acks="all", linger_ms=1,
                    max_request_size=self.max_record_bytes + 64 * 1024,  # headers and batch overhead
                    request_timeout_ms=max(1000, int(self.timeout * 1000)), **client_kwargs(self.security),
                )
                try:
                    await asyncio.wait_for(producer.start(), self.timeout)
                except (KafkaError, OSError, TimeoutError) as exc:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    raise Unavailable(f"Kafka at {self.bootstrap} is unavailable: {exc or type(exc).__name__}") from exc
                self._producer = producer
            return self._producer

    async def partition_for(self, topic: str, key: bytes) -> int:
        producer = await self._ready()
        try:
            parts = await asyncio.wait_for(producer.partitions_for(topic), self.timeout)
        except (KafkaError, TimeoutError) as exc:
            raise Unavailable(f"no metadata for {topic}: {exc or type(exc).__name__}") from exc
        if not parts:
            raise Unavailable(f"topic {topic} does not exist (run `corridor topics`)")
        return partition_of(key, len(parts))

    async def send(self, topic: str, value: bytes, key: bytes, source: str,
                   on_late_ack: Callable[[Ack], None] | None = None) -> Ack:  # fmt: skip
        """Send and wait for the acknowledgement (acks=all). Raises `Unavailable` if it does not come in time; the
        record may then still be written later, and `on_late_ack` is told so (the gateway remembers it for the
        sender's retry)."""
        producer = await self._ready()
        partition = await self.partition_for(topic, key)
        headers = [(SOURCE_HEADER, source.encode()), (DIGEST_HEADER, digest(value).encode())]
        try:
            fut = await asyncio.wait_for(
                producer.send(topic, value=value, key=key, partition=partition, headers=headers), self.timeout)
        except (KafkaError, TimeoutError) as exc:
            raise Unavailable(f"Kafka did not take the record: {exc or type(exc).__name__}") from exc
        try:
            meta = await asyncio.wait_for(asyncio.shield(fut), self.timeout)
        except (KafkaError, TimeoutError) as exc:
            def late(f: asyncio.Future) -> None:  # also retrieves a late failure (no "never retrieved" noise)
                if not f.cancelled() and f.exception() is None and on_late_ack is not None:
                    m = f.result()
                    on_late_ack(Ack(m.topic, m.partition, m.offset))

            fut.add_done_callback(late)
            raise Unavailable(f"Kafka did not acknowledge within {self.timeout:g}s: "
                              f"{exc or type(exc).__name__}") from exc
        return Ack(meta.topic, meta.partition, meta.offset)

    async def dead_letter(self, where: str, key: bytes, original: bytes, reason: str, source: str) -> Ack:
        """A refused input to the dead-letter topic, with the reason and the bytes (cut to fit a record: the
        reason should then say where the whole input is kept)."""
        letter = DeadLetter(source_topic=where, key=key, reason=reason, original=original)
        value = dead_letter_bytes(letter, self.max_record_bytes)
        return await self.send(self.topics.name("dead_letter"), value, key, source)

    async def end_offset(self, topic: str, partition: int) -> int:
        """The partition's next offset now: what a record sent after this call will have at least."""
        async with self._consumer() as consumer:
            tp = TopicPartition(topic, partition)
            return (await consumer.end_offsets([tp]))[tp]

    async def find(self, topic: str, partition: int, start: int, value_digest: str) -> Ack | None:
        """The record with this digest on `partition` at or after `start`, if there is one."""
        async with self._consumer() as consumer:
            tp = TopicPartition(topic, partition)
            end = (await consumer.end_offsets([tp]))[tp]
            if end <= start:
                return None
            consumer.assign([tp])
            consumer.seek(tp, start)
            want = value_digest.encode()
            try:
                while await consumer.position(tp) < end:
                    for msgs in (await consumer.getmany(tp, timeout_ms=1000)).values():
                        for m in msgs:
                            if dict(m.headers or ()).get(DIGEST_HEADER) == want:
                                return Ack(m.topic, m.partition, m.offset)
                return None
            finally:
                consumer.unsubscribe()

    @contextlib.asynccontextmanager
    async def _consumer(self):  # type: ignore[no-untyped-def]
        """One consumer (no group) for offsets and look-ups, kept between calls: a drop folder asks for an end
        offset per file."""
        async with self._consumer_lock:
            if self._reader is None:
                reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                          **client_kwargs(self.security),
                                          request_timeout_ms=max(1000, int(self.timeout * 1000)))  # fmt: skip
                try:
                    await asyncio.wait_for(reader.start(), self.timeout)
                except (KafkaError, OSError, TimeoutError) as exc:
                    with contextlib.suppress(Exception):
                        await reader.stop()
                    raise Unavailable(f"Kafka at {self.bootstrap} is unavailable: {exc or type(exc).__name__}") from exc
                self._reader = reader
            try:
                yield self._reader
            except KafkaError as exc:
                raise Unavailable(f"Kafka look-up failed: {exc or type(exc).__name__}") from exc
