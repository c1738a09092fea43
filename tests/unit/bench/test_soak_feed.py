"""The soak's endless feed: units start all the time, each with one plan read before its events, in the order
the records became known, so event time moves on as it does live."""

from __future__ import annotations

import itertools
from datetime import timedelta

import orjson

from bench.soak import feed
from schemas.topics import TopicNames


def test_feed_is_an_endless_live_like_stream() -> None:
    topics = TopicNames("t.")
    # Small chunks, as often (the soak's: 400 units every 14 h), so that the test is quick.
    records = list(itertools.islice(feed(topics, units_per_chunk=40, spacing=timedelta(hours=1, minutes=24)), 4_000))
    planned: set[bytes] = set()
    started_units = 0
    known_at: list[str] = []
    for topic, key, value in records:
        record = orjson.loads(value)
        assert key == record["unit"]["id"].encode()
        if topic == topics.name("plan"):
            assert key not in planned  # one plan per unit: ids met again in a later chunk are left out
            planned.add(key)
            started_units += 1
        else:
            assert topic == topics.name("event")
            assert key in planned  # a unit's plan is known before its events
            known_at.append(record.get("received_time") or record["event_time"])
    assert started_units > 200  # many chunks of 40 units have started
    # Events arrive in the order they became known: received times move forward (a few late reports aside).
    in_order = sum(a <= b for a, b in itertools.pairwise(known_at))
    assert in_order / (len(known_at) - 1) > 0.9
    assert known_at[-1][:10] > known_at[0][:10]  # event time moved on by days


def test_the_soak_reports_how_full_the_bounded_caches_are() -> None:
    from bench.soak import Scrape, cache_fill, caches_summary

    s = Scrape(cache_entries={"a": 50, "b": 10, "c": 7, "d": 0}, cache_bounds={"a": 100, "b": 1000, "d": 10})
    assert caches_summary(s) == "  caches 60 of 1,110 entries"  # `c` has no bound (a table loaded once)
    assert cache_fill(s) == ["  a: 50 of 100 (50%)", "  b: 10 of 1,000 (1%)"]
    assert caches_summary(Scrape()) == "" and cache_fill(Scrape()) == []


def test_growth_against_the_records_committed_is_fitted_on_the_second_half() -> None:
    from bench.soak import kb_per_record

    # 10 MB in the first half (warm-up), then 2 KB a record over 1,000 records a sample.
    samples = [(float(r), 200.0 + (10 if r else 0)) for r in range(0, 5000, 1000)]
    samples += [(r, 210 + (r - 5000) * 2 / 1024) for r in range(5000, 10000, 1000)]
    f = kb_per_record(samples)
    assert f is not None and abs(f.slope - 2.0) < 1e-9
    assert kb_per_record(samples[:4]) is None  # too few in its second half
    assert kb_per_record([(5.0, 1.0)] * 8) is None  # nothing committed: no slope
