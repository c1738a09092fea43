"""Which shipments a unit reports its timeline to: the links between a unit and the shipments whose cargo went into
or out of it, and the rules that say whether that cargo is aboard (or left recently enough to still count).

A unit's state keeps its links compactly, as positional lists (`UnitState.links`, and the `links` field of a unit
report); `streams.core.links.Link` names their fields. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas import Classifier, Milestone, UnitKind
from streams.core.links import Link
from streams.core.state import UnitState, to_micros

RECENT = 14 * 86_400 * 1_000_000  # microseconds: a late report of something that happened during the ride counts


def report_targets(state: UnitState, linked: Sequence[str], timeline_changed: bool) -> tuple[list[str], bool]:
    """The shipment keys ("KIND:id") to send the unit's timeline to, and whether it goes to the shipment the unit
    is (an air waybill's own timeline). `linked`: the shipments whose links to the unit changed with this step,
    which hear of it whatever its timeline did; with `timeline_changed`, also every shipment whose cargo is
    aboard or left recently."""
    assert state.unit is not None
    targets = list(linked)
    if timeline_changed:
        newest = max((to_micros(e.event_time) for e in state.events.values()), default=0)
        uld = state.unit.kind is UnitKind.ULD
        landed, builds = (landings(state), builds_of(state)) if uld else ((), ())
        targets += [k for k, links in state.links.items()
                    if k not in targets and aboard(links, newest - RECENT, landed, builds)]  # fmt: skip
    own = state.unit.kind is UnitKind.AWB and timeline_changed
    return targets, own


def aboard(links: Sequence[Sequence[Any]], since: int, landed: Sequence[int] = (),
           builds: Sequence[tuple[int, str]] = ()) -> bool:  # fmt: skip
    """The shipment's cargo is (partly) in the unit (its latest link, in event time, is a stuffing), or left
    it after `since`. For a ULD, IATA feeds report no breakdown, so without the rest a ULD forwarded its
    timeline to every shipment it ever carried. `landed`: its actual arrivals (ascending): the cargo left it at
    the first one after it was built up. `builds`: its build-ups (time, place; ascending, any shipment's), for
    feeds that report no ULD arrival either (FFM and FSU alone): a build-up somewhere else lists what the ULD
    holds on its next flight, so cargo it does not list had left by then. Cargo that flies on in the same ULD
    is listed again (a new build-up link of its own)."""
    live = [link for link in map(Link.of, links) if not link.retracted]
    if not live:
        return False
    last = max(live, key=lambda x: (x.time, x.stuffed))
    if last.stuffed != 1:
        return last.time >= since
    left = next((t for t in landed if t > last.time), None)
    moved = next((t for t, where in builds if t > last.time and where != last.location), None)
    if moved is not None and (left is None or moved < left):
        left = moved
    return left is None or left >= since


def landings(state: UnitState) -> list[int]:
    """The unit's actual arrivals (event time, microseconds), ascending."""
    return sorted(to_micros(e.event_time) for e in state.events.values()
                  if e.milestone is Milestone.ARRIVED and e.classifier is Classifier.ACTUAL and not e.retracted)


def builds_of(state: UnitState) -> list[tuple[int, str]]:
    """The unit's build-ups (event time, place), any shipment's, ascending."""
    return sorted({(link.time, link.location) for links in state.links.values() for link in map(Link.of, links)
                   if link.stuffed == 1 and not link.retracted})  # fmt: skip
