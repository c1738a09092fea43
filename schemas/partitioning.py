"""Which partition a key goes to: part of every topic's contract, since a unit's plan, events and state must
meet on one partition number across topics (replay, the API's forwarding and the conveyance fan-out compute it)."""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=1 << 17)  # asked for each unit of each fan-out record, and by the API for each forwarded read
def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2, as the Java client, aiokafka and Faust use)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
