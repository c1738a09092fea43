"""A carrier's polling position, and how one page moves it (pure: no I/O, no clock).

A pass pages through `GET /events?<filters>&<time bound>=<since>` by cursor until the carrier gives no next page.
The next pass starts at the newest event time published (`since`, inclusive as DCSA's `:gte`), so events created
while a pass ran are not missed; the events at exactly `since` that were already published are left out when they
come back (their ids are kept in the position), so none is published twice. Times are the carrier's own event
creation (2.2) or update (3.0) times, not the poller's clock."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Position:
    cursor: str | None = None  # next page of the running pass; None: the next pass starts from `since`
    since: str | None = None
    seen_at_since: tuple[str, ...] = ()
    high: str | None = None  # newest event time published in the running pass
    high_ids: tuple[str, ...] = ()
    pages: int = 0  # pages published, all passes
    events: int = 0  # events published, all passes
    pending: dict[str, Any] | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Position:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for k in ("seen_at_since", "high_ids"):
            known[k] = tuple(known.get(k) or ())
        return cls(**known)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def event_time(event: Any, fields: tuple[str, ...]) -> str | None:
    if not isinstance(event, dict):
        return None
    for f in fields:
        if _time(event.get(f)) is not None:
            return event[f]
    return None


def step(pos: Position, events: list[Any], next_cursor: str | None,
         fields: tuple[str, ...]) -> tuple[list[Any], Position]:  # fmt: skip
    """The events of a page to publish, and the position once they are published."""
    since = _time(pos.since)
    seen = set(pos.seen_at_since)
    kept = []
    for e in events:
        t = _time(event_time(e, fields))
        eid = e.get("eventID") if isinstance(e, dict) else None
        if since is not None and t == since and isinstance(eid, str) and eid in seen:
            continue
        kept.append(e)
    high, high_ids = pos.high, list(pos.high_ids)
    for e in kept:
        ts = event_time(e, fields)
        t = _time(ts)
        if t is None:
            continue
        eid = e.get("eventID") if isinstance(e.get("eventID"), str) else None
        current = _time(high)
        if current is None or t > current:
            high, high_ids = ts, [eid] if eid else []
        elif t == current and eid and eid not in high_ids:
            high_ids.append(eid)
    moved = replace(pos, pages=pos.pages + (1 if kept else 0), events=pos.events + len(kept), pending=None)
    if next_cursor is not None:
        return kept, replace(moved, cursor=next_cursor, high=high, high_ids=tuple(high_ids))
    # the pass is over: the next one starts at the newest event time published
    if high is None:
        return kept, replace(moved, cursor=None, high=None, high_ids=())
    ids = tuple(high_ids)
    if since is not None and _time(high) == since:
        ids = tuple(dict.fromkeys((*pos.seen_at_since, *high_ids)))
    return kept, replace(moved, cursor=None, since=high, seen_at_since=ids, high=None, high_ids=())
