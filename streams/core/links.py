"""Links: cargo of a shipment going into (a stuffing, a ULD build-up) or out of (a stripping, a breakdown) a unit.

A unit's state keeps them compactly, per shipment key ("KIND:id"), as positional lists (`UnitState.links`), and a
unit report carries the same lists to the shipment job (its `links` field, kept by the shipment state as received).
That encoding is stored (RocksDB, changelogs) and sent (the shipment feed), so it does not change: `Link` names its
fields for the rules that read it (`streams.core.reports`, `streams.core.shipments.parts`), and `Link.row` writes
it. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple


class Link(NamedTuple):
    """One link event, as stored: `[event_id, stuffed, time, location, pieces, retracted]`."""

    event_id: str
    stuffed: int  # 1: into the unit; 0: out of it
    time: int  # event time, microseconds since the epoch
    location: str
    pieces: int | None
    retracted: int  # 1: the event was withdrawn (it links nothing)

    @classmethod
    def of(cls, raw: Sequence[Any]) -> Link:
        return cls(*raw)

    def row(self) -> list[Any]:
        """The stored (and reported) form: a plain list, as JSON arrays decode."""
        return list(self)


def live(rows: Iterable[Sequence[Any]]) -> list[Link]:
    """The links that were not withdrawn."""
    return [link for link in map(Link.of, rows) if not link.retracted]


def with_link(links: Mapping[str, list[list[Any]]], keys: Iterable[str], link: Link) -> dict[str, list[list[Any]]]:
    """`links` with `link` recorded for each shipment key, in place of an earlier version of its event."""
    out = dict(links)
    entry = link.row()
    for key in keys:
        current = [x for x in out.get(key, []) if Link.of(x).event_id != link.event_id]
        out[key] = [*current, entry]
    return out


def since(links: Mapping[str, list[list[Any]]], cut: int) -> dict[str, list[list[Any]]]:
    """The shipments with a link (withdrawn or not) at or after `cut` (event time, microseconds), with all theirs."""
    return {k: v for k, v in links.items() if max((Link.of(x).time for x in v), default=0) >= cut}
