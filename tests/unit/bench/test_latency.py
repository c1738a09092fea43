"""The latency benchmark's probe: which events it sends, in what order, and how it tells what an event caused."""

from __future__ import annotations

import orjson

from bench.latency import event_ids, probe_order


def _ev(unit: str, n: int) -> tuple[bytes, bytes]:
    return unit.encode(), f"{unit}-{n}".encode()


def test_arrival_order_is_kept_when_units_do_not_crowd() -> None:
    events = [_ev(u, n) for n in range(3) for u in "abcd"]
    assert probe_order(events, 12, spacing=4) == events


def test_a_units_next_event_waits_for_the_spacing_and_others_go_ahead() -> None:
    events = [_ev("a", 0), _ev("a", 1), _ev("a", 2), _ev("b", 0), _ev("c", 0), _ev("d", 0)]
    order = probe_order(events, 6, spacing=2)
    assert order == [_ev("a", 0), _ev("b", 0), _ev("a", 1), _ev("c", 0), _ev("a", 2), _ev("d", 0)]
    for i, (key, _) in enumerate(order):  # never two of a unit's events within the spacing
        assert all(k != key for k, _ in order[max(0, i - 1) : i])
    assert [v for k, v in order if k == b"a"] == [b"a-0", b"a-1", b"a-2"]  # a unit's own order is kept


def test_it_stops_at_the_count_or_when_only_held_back_events_are_left() -> None:
    events = [_ev(u, n) for n in range(5) for u in "ab"]
    assert len(probe_order(events, 4, spacing=2)) == 4
    assert probe_order([_ev("a", n) for n in range(3)], 10, spacing=2) == [_ev("a", 0)]


def test_a_timeline_names_its_events_and_the_reports_it_merged() -> None:
    timeline = orjson.dumps({"record": "timeline", "events": [
        {"event_id": "e1", "also_reported": []}, {"event_id": "e2", "also_reported": ["e3", "e4"]}]})
    assert event_ids(timeline) == {"e1", "e2", "e3", "e4"}
    assert event_ids(orjson.dumps({"record": "timeline"})) == set()
