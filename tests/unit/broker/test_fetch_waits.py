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


class _Fetcher:
    def __init__(self, answers: list[bool]) -> None:
        self._fetch_max_wait_ms = 5
        self.answers = answers
        self.asked: list[int] = []

    async def _proc_fetch_request(self, assignment, node_id, request) -> bool:  # type: ignore[no-untyped-def]
        self.asked.append(self._fetch_max_wait_ms)
        return self.answers.pop(0)


async def test_a_consumer_whose_fetches_come_back_empty_waits_longer_and_short_again_once_records_come() -> None:
    from streams.broker.tansu import _back_off_when_idle

    fetcher = _Fetcher([False, False, False, False, False, True, False, True])
    _back_off_when_idle(fetcher, 5, 50)
    for _ in range(8):
        await fetcher._proc_fetch_request(None, 0, None)
    assert fetcher.asked == [5, 10, 20, 40, 50, 50, 5, 10]
    assert fetcher._fetch_max_wait_ms == 5
    long_runs = _Fetcher([False])
    long_runs._fetch_max_wait_ms = 500
    _back_off_when_idle(long_runs, 500, 500)  # a long wait already: nothing to back off to
    assert "_proc_fetch_request" not in vars(long_runs)
