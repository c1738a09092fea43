"""On the embedded broker, consumers poll with the configured short fetch wait; the latest setting holds."""

from __future__ import annotations

import aiokafka

from streams.broker.tansu import shorten_fetch_waits


def _unpatched() -> type:
    cls = aiokafka.AIOKafkaConsumer
    while getattr(cls, "corridor_short_wait", None) is not None:
        cls = cls.__mro__[1]
    return cls


async def test_consumers_wait_at_most_the_setting_and_the_latest_call_wins(monkeypatch):
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", _unpatched())  # restored after the test
    shorten_fetch_waits(7)
    assert aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")._fetch_max_wait_ms == 7
    shorten_fetch_waits(40)
    assert aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")._fetch_max_wait_ms == 40
    asked = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", fetch_max_wait_ms=20)
    assert asked._fetch_max_wait_ms == 20  # a shorter wait asked for is kept
    assert _unpatched().__mro__[0] is not aiokafka.AIOKafkaConsumer
