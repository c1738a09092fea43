"""The tracking job on the real embedded broker with a real Faust worker and RocksDB tables: exact outputs,
duplicates, out-of-order input, malformed records, overdue detection by event time, restarts."""

from __future__ import annotations

import base64
import shutil

import pytest

from schemas import ClockTick
from streams.io.kafka import OutputReader, Publisher
from streams.settings import Settings
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.story import OTHER, UNIT, d, event, expected, journey, plan, tick

pytestmark = pytest.mark.integration


def _for(records: list[dict], unit: str) -> list[dict]:
    return [r for r in records if r.get("unit", {}).get("id") == unit]


async def _publish_in_steps(pub: Publisher, reader: OutputReader, records: list, before: list | None = None) -> None:
    """Publish one record at a time and wait until the worker has emitted what the engine says it should, so
    plans, events and ticks (three topics with no order between them) are applied in exactly this order."""
    done = list(before or [])
    for r in records:
        done.append(r)
        want = expected(done, reader.topics, PARTITIONS)
        await pub.send(r)
        await pub.flush()
        await reader.wait_for(lambda rd, want=want: all(len(rd.records[t]) >= len(v) for t, v in want.items()))


async def test_plan_and_events_give_exact_timeline_alerts_and_etas(bootstrap, settings, topics, reader):
    records = [plan(), *journey()]
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        await _publish_in_steps(pub, reader, records[:1])
        await pub.send_all(records[1:])  # one topic, one key: Kafka keeps their order
        await reader.wait_for(lambda r: any(t["status"] == "ARRIVED" for t in r.of("timeline")))
        await reader.settle()

    want = expected(records, topics, PARTITIONS)
    assert reader.of("timeline") == want[topics.name("timeline")]
    assert reader.of("alert") == want[topics.name("alert")]
    assert reader.of("eta") == want[topics.name("eta")]
    assert reader.of("dead_letter") == []

    # And what those outputs say, spelled out.
    alerts = reader.of("alert")
    assert [(a["kind"], a["milestone"], a["minutes_late"], a["severity"]) for a in alerts] == [
        ("LATE", "DEP:CNCKG:1", 1440, "MAJOR"),
        ("LATE", "DEP:KZDOS:1", 4320, "CRITICAL"),
    ]
    final = reader.of("timeline")[-1]
    assert final["status"] == "ARRIVED" and final["location"] == "DEDUI"
    assert final["minutes_late"] == 3 * 24 * 60
    etas = reader.of("eta")
    assert etas[0]["predicted_arrival"] == "2026-03-19T00:00:00Z"  # the plan
    assert etas[-1]["predicted_arrival"] == "2026-03-22T00:00:00Z" and etas[-1]["reason"] == "arrived at DEDUI"
    # After leaving Dostyk 3 days late, the ETA carried the delay through the remaining legs.
    after_dostyk = next(e for e in etas if e["reason"].startswith("DEPARTED KZDOS"))
    assert after_dostyk["predicted_arrival"] == "2026-03-21T08:00:00Z"


async def test_duplicates_and_out_of_order_events_change_nothing(bootstrap, settings, topics, reader):
    events = journey()
    shuffled = [events[3], events[0], events[6], events[1], events[0], events[4], events[2], events[6], events[5]]
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        await _publish_in_steps(pub, reader, [plan()])
        await pub.send_all(shuffled)
        await reader.settle()
        n_alerts, n_timelines = len(reader.of("alert")), len(reader.of("timeline"))
        await pub.send_all(events)  # the whole history again, as a webhook retry storm would
        await reader.settle()
        assert len(reader.of("alert")) == n_alerts and len(reader.of("timeline")) == n_timelines

    want = expected([plan(), *shuffled], topics, PARTITIONS)
    assert reader.of("timeline") == want[topics.name("timeline")]
    assert reader.of("alert") == want[topics.name("alert")]
    in_order = expected([plan(), *events], topics, PARTITIONS)
    # Whatever the arrival order, the timeline ends the same: events sorted by event time, same milestones.
    final, final_in_order = reader.of("timeline")[-1], in_order[topics.name("timeline")][-1]
    assert final["milestones"] == final_in_order["milestones"]
    assert [e["event_id"] for e in final["events"]] == [e["event_id"] for e in final_in_order["events"]]
    ids = [a["alert_id"] for a in reader.of("alert")]
    assert len(ids) == len(set(ids))


async def test_malformed_records_go_to_dead_letters_and_the_worker_keeps_going(bootstrap, settings, topics, reader):
    bad = [
        (topics.name("event"), b"{not json", b"CSQU3054383", "not JSON"),
        (topics.name("event"), b'{"event_id": "x"}', b"CSQU3054383", "invalid event"),
        (topics.name("event"), event(1, "DEPARTED", "CNCKG", d(2)).model_dump_json().encode().replace(
            b"CSQU3054383", b"CSQU3054384"), b"CSQU3054384", "check digit"),
        (topics.name("event"), event(1, "DEPARTED", "CNCKG", d(2)).model_dump_json().encode(), b"WRONGKEY",
         "is not the unit id"),
        (topics.name("plan"), b"[1, 2, 3]", b"CSQU3054383", "expected a JSON object"),
        (topics.name("plan"), plan().model_dump_json().encode().replace(b'"KZDOS","planned_departure"',
                                                                       b'"PLMAL","planned_departure"'),
         b"CSQU3054383", "legs do not connect"),
        (topics.name("clock"), b'{"record": "clock", "time": "2026-03-04T10:00:00"}', None, "timezone"),
        (topics.name("event"), None, b"CSQU3054383", "not JSON"),
    ]
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        for topic, value, key, _ in bad:
            await pub.send_raw(topic, value, key)
        await pub.send_all([plan(), event(1, "DEPARTED", "CNCKG", d(1, 1))])
        await reader.wait_for(lambda r: len(r.of("dead_letter")) == len(bad) and len(r.of("timeline")) >= 2)
        await reader.settle()

    letters = reader.of("dead_letter")
    by_original = {base64.b64decode(x["original"]): x for x in letters}
    for topic, value, key, reason in bad:
        letter = by_original[value or b""]
        assert letter["key"] == (base64.b64encode(key).decode() if key else None)
        assert letter["source_topic"] == topic
        assert reason in letter["reason"], letter["reason"]
        assert letter["offset"] is not None
    # the good records after the bad ones were tracked
    assert reader.of("timeline")[-1]["status"] == "IN_TRANSIT"


async def test_overdue_alert_is_driven_by_event_time_ticks(bootstrap, settings, topics, reader):
    records = [plan(), plan(OTHER), event(1, "DEPARTED", "CNCKG", d(1, 2))]
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        await _publish_in_steps(pub, reader, records)
        assert reader.of("alert") == []
        # Event time passes: OTHER never departs, UNIT never reaches Dostyk.
        await _publish_in_steps(pub, reader, [tick(d(1, 5)), tick(d(1, 8)), tick(d(6, 7))], before=records)

    alerts = reader.of("alert")
    assert [(a["unit"]["id"], a["kind"], a["milestone"], a["minutes_late"]) for a in alerts] == [
        (OTHER.id, "OVERDUE", "DEP:CNCKG:1", 480),
        (UNIT.id, "OVERDUE", "ARR:KZDOS:1", 7 * 60),
    ]
    assert all(a["detected_at"] in ("2026-03-03T08:00:00Z", "2026-03-08T07:00:00Z") for a in alerts)
    want = expected([*records, tick(d(1, 5)), tick(d(1, 8)), tick(d(6, 7))], topics, PARTITIONS)
    assert alerts == want[topics.name("alert")]


@pytest.mark.parametrize("wipe_local_state", [False, True], ids=["same-disk", "rebuilt-from-changelog"])
async def test_worker_restart_mid_stream_loses_nothing_and_repeats_no_alert(
    bootstrap, settings: Settings, topics, reader, wipe_local_state
):
    units = [UNIT, OTHER]
    plans = [plan(u) for u in units]
    histories = {u.id: journey(u) for u in units}
    first = [e for u in units for e in histories[u.id][:3]]
    second = [e for u in units for e in histories[u.id][3:]]

    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        await _publish_in_steps(pub, reader, plans)
        await pub.send_all(first)
        await reader.settle()
    before = {k: len(v) for k, v in reader.records.items()}
    assert before[topics.name("alert")] >= 2

    if wipe_local_state:
        shutil.rmtree(settings.data_dir)
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        await pub.send_all(first)  # re-delivered after the restart: must change nothing
        await pub.send_all(second)
        await reader.wait_for(lambda r: sum(t["status"] == "ARRIVED" for t in r.of("timeline")) == 2)
        await reader.settle()

    alerts = reader.of("alert")
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
    # Exactly what an uninterrupted worker would have emitted (per unit: one partition, one order).
    want = expected([*plans, *first, *second], topics, PARTITIONS)
    for u in units:
        for role in ("timeline", "alert", "eta"):
            assert _for(reader.of(role), u.id) == _for(want[topics.name(role)], u.id), (u.id, role)


async def test_clock_ticks_reach_every_partition(bootstrap, settings, topics, reader):
    async with Publisher(bootstrap, topics, PARTITIONS) as pub:
        await pub.send_all([ClockTick(time=d(1))])
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topics.name("clock"), bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=None)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=3000)
        parts = sorted(tp.partition for tp, msgs in batch.items() for _ in msgs)
    finally:
        await consumer.stop()
    assert parts == list(range(PARTITIONS))
