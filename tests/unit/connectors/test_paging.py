from datetime import UTC, datetime

from streams.connectors.backoff import delay, retry_after
from streams.connectors.paging import Position, step

F = ("eventCreatedDateTime",)


def ev(i: str, t: str) -> dict:
    return {"eventID": i, "eventCreatedDateTime": t}


def test_a_pass_pages_by_cursor_then_restarts_from_the_newest_time():
    pos = Position(since="2026-01-01T00:00:00Z")
    kept, pos = step(pos, [ev("a", "2026-01-01T01:00:00Z"), ev("b", "2026-01-01T02:00:00Z")], "c2", F)
    assert [e["eventID"] for e in kept] == ["a", "b"] and pos.cursor == "c2"
    assert pos.since == "2026-01-01T00:00:00Z"  # unchanged while the pass runs
    kept, pos = step(pos, [ev("c", "2026-01-01T03:00:00Z"), ev("d", "2026-01-01T03:00:00Z")], None, F)
    assert pos.cursor is None and pos.since == "2026-01-01T03:00:00Z" and set(pos.seen_at_since) == {"c", "d"}
    assert (pos.pages, pos.events) == (2, 4)


def test_events_at_the_inclusive_bound_are_not_published_twice():
    pos = Position(since="2026-01-01T03:00:00+00:00", seen_at_since=("c", "d"))
    page = [ev("c", "2026-01-01T03:00:00Z"), ev("d", "2026-01-01T03:00:00Z"), ev("e", "2026-01-01T03:00:00Z")]
    kept, after = step(pos, page, None, F)
    assert [e["eventID"] for e in kept] == ["e"]  # same instant, new id: kept
    assert set(after.seen_at_since) == {"c", "d", "e"} and after.since == "2026-01-01T03:00:00Z"
    kept, again = step(after, page, None, F)
    assert kept == [] and again.pages == after.pages


def test_a_pass_with_nothing_new_keeps_its_bound():
    pos = Position(since="2026-01-01T00:00:00Z", seen_at_since=("x",))
    kept, after = step(pos, [], None, F)
    assert kept == [] and after.since == pos.since and after.seen_at_since == ("x",)


def test_position_round_trips_through_json_shape():
    pos = Position(cursor="c", since="s", seen_at_since=("a",), pages=3,
                   pending={"digest": "d", "partition": 1, "start": 5, "after": Position().to_dict()})
    assert Position.from_dict(pos.to_dict()) == pos


def test_retry_after_seconds_or_date_and_backoff():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after("7", now) == 7
    assert retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30
    assert retry_after("soon", now) is None and retry_after(None, now) is None
    assert delay(0, 1, 60, None) == 1 and delay(3, 1, 60, None) == 8 and delay(10, 1, 60, None) == 60
    assert delay(0, 1, 60, 120) == 60 and delay(5, 1, 60, 2) == 2  # the server's wish, within the cap
