"""One embedded broker for the session; per test: fresh topics (uuid prefix), fresh group, fresh state dir."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.broker.embedded import EmbeddedBroker
from streams.io.kafka import OutputReader
from streams.settings import Settings

PARTITIONS = 4


@pytest.fixture(scope="session")
def bootstrap() -> Iterator[str]:
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


@pytest.fixture
async def settings(bootstrap: str, tmp_path: Path) -> Settings:
    tag = uuid.uuid4().hex[:8]
    s = Settings(
        app_id=f"test-{tag}",
        topic_prefix=f"t{tag}.",
        partitions=PARTITIONS,
        store="rocksdb://",
        data_dir=tmp_path / "state",
        home=tmp_path / "home",
        embedded_broker=True,  # Tansu workarounds: streams/broker/tansu.py
    )
    await ensure_topics(bootstrap, TopicNames(s.topic_prefix).all, PARTITIONS)
    return s


@pytest.fixture
def topics(settings: Settings) -> TopicNames:
    return TopicNames(settings.topic_prefix)


@pytest.fixture
async def reader(bootstrap: str, topics: TopicNames) -> AsyncIterator[OutputReader]:
    async with OutputReader(bootstrap, topics) as r:
        yield r
