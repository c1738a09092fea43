"""The shape both jobs share (`streams.processing.keyed`): one dead-letter path, each job's own reasons and logger."""

from __future__ import annotations

import logging

import pytest

from schemas import DeadLetter, decode
from schemas.topics import TopicNames
from streams.core.policy import DEFAULT_POLICY
from streams.core.shipments.policy import DEFAULT_SHIPMENT_POLICY
from streams.processing.engine import Engine
from streams.processing.keyed import KeyedEngine
from streams.processing.shipments import ShipmentEngine

TOPICS = TopicNames()
DEAD, FEED, CLOCK = (TOPICS.name(r) for r in ("dead_letter", "shipment_feed", "clock"))


def jobs() -> tuple[Engine, ShipmentEngine]:
    return (Engine({}, {}, TOPICS, DEFAULT_POLICY),
            ShipmentEngine({}, {}, TOPICS, DEFAULT_SHIPMENT_POLICY))  # fmt: skip


def letter(out: list) -> DeadLetter:
    (only,) = out
    assert only.topic == DEAD
    return decode(only.value, DeadLetter)


def test_both_jobs_have_the_one_shape() -> None:
    units, shipments = jobs()
    assert isinstance(units, KeyedEngine) and isinstance(shipments, KeyedEngine)
    assert (units.kind, shipments.kind) == ("unit", "shipment")


def test_a_topic_that_is_not_a_job_s_input_is_a_dead_letter_naming_the_job() -> None:
    units, shipments = jobs()
    got = [letter(job.process("elsewhere", 2, 9, b"k", b"{}")) for job in (units, shipments)]
    assert [g.reason for g in got] == ["topic 'elsewhere' is not an input of the tracking job",
                                       "topic 'elsewhere' is not an input of the shipment job"]  # fmt: skip
    assert all((g.source_topic, g.partition, g.offset, g.key, g.original) == ("elsewhere", 2, 9, b"k", b"{}")
               for g in got)  # fmt: skip


def test_a_bad_clock_tick_is_dead_lettered_once_by_the_unit_job() -> None:
    units, shipments = jobs()
    assert letter(units.process(CLOCK, 0, 1, None, b"junk")).reason.startswith("not JSON")
    assert shipments.process(CLOCK, 0, 1, None, b"junk") == []


def test_a_bug_in_the_shipment_job_is_a_dead_letter_logged_by_its_own_logger(caplog: pytest.LogCaptureFixture) -> None:
    _, shipments = jobs()
    report = b'{"record":"unit_report","shipment_id":"S1"}'  # no timeline: the core fails on it
    with caplog.at_level(logging.ERROR):
        got = letter(shipments.process(FEED, 3, 4, b"S1", report))
    assert got.reason == "processing failed: KeyError('timeline')" and got.original == report
    assert [r.name for r in caplog.records] == ["streams.processing.shipments"]
    assert shipments.shipments == {} and shipments.clock == {}
