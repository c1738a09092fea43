"""The Cape risk through the real broker and a real worker: three sailings on a partition are seen at Cape Town;
a fourth, on a Suez plan, says nothing after leaving Singapore. Once its Suez passage is overdue (clock ticks
only), its p90 widens by the Cape detour, and what the worker emits equals the replay's bytes (the lane summary
is the partition's learned state, fed by the units' own events)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from stdnum import iso6346

from schemas import ClockTick, Leg, Mode, Plan, TrackedUnit, TrackingEvent
from schemas.partitioning import partition_for
from streams.core.history_order import canonical_order
from streams.core.learning.lanes import cape_lane
from streams.io.kafka import Publisher
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.story import d, expected

pytestmark = pytest.mark.integration


def _boxes(n: int) -> list[TrackedUnit]:
    """`n` containers whose records share one partition (the lane summary is per partition)."""
    out: list[TrackedUnit] = []
    for k in range(1000):
        body = f"CAPU{k:06d}"
        box = TrackedUnit.container(body + iso6346.calc_check_digit(body))
        if partition_for(box.id.encode(), PARTITIONS) == 0:
            out.append(box)
        if len(out) == n:
            return out
    raise AssertionError("no such containers")


def _plan(box: TrackedUnit, day: float) -> Plan:
    return Plan(unit=box, issued_time=d(day - 2), lane="SGSIN-NLRTM", legs=[
        Leg(mode="SEA", carrier="COSCO", origin="SGSIN", destination="NLRTM", planned_departure=d(day),
            planned_arrival=d(day + 23), reference="AEU 1W")])  # fmt: skip


def _ev(box: TrackedUnit, n: int, milestone: str, loc: str, at) -> TrackingEvent:  # type: ignore[no-untyped-def]
    return TrackingEvent(event_id=f"cosco-{box.id}-{n}", source="cosco-dcsa", unit=box, mode="SEA",
                         milestone=milestone, classifier="ACTUAL", location=loc, event_time=at,
                         received_time=at + timedelta(minutes=10))  # fmt: skip


async def test_a_silent_suez_sailing_on_a_cape_lane_widens_its_p90_as_a_replay_does(bootstrap, settings, topics,
                                                                                     reader):  # fmt: skip
    *earlier, ours = _boxes(4)
    records: list = []
    for k, box in enumerate(earlier):
        records += [_plan(box, 1 + k), _ev(box, 1, "DEPARTED", "SGSIN", d(1 + k)),
                    _ev(box, 2, "ARRIVED", "ZACPT", d(16 + k))]  # fmt: skip
    records += [_plan(ours, 12), _ev(ours, 1, "DEPARTED", "SGSIN", d(12))]
    lane = cape_lane("SGSIN", "NLRTM")
    assert lane is not None
    due = d(12) + timedelta(hours=lane.canal_hours) + settings.tracking_policy().tolerance(Mode.SEA)
    records += [ClockTick(time=d(12) + timedelta(hours=h)) for h in range(24, 24 * 20, 24)]
    history = canonical_order(records)
    async with Publisher(bootstrap, topics, PARTITIONS, stamped=True) as pub:
        await pub.send_all(history)
    want = expected(history, topics, PARTITIONS)
    etas_wanted = [e for e in want[topics.name("eta")] if e["unit"]["id"] == ours.id]
    async with running(settings, bootstrap):
        await reader.wait_for(lambda r: len([e for e in r.of("eta") if e["unit"]["id"] == ours.id])
                              >= len(etas_wanted), timeout=120)  # fmt: skip
        await reader.settle()

    for role in ("timeline", "alert", "eta"):
        for box in (*earlier, ours):
            assert [r for r in reader.of(role) if r["unit"]["id"] == box.id] == [
                r for r in want[topics.name(role)] if r["unit"]["id"] == box.id], (role, box.id)
    etas = [e for e in reader.of("eta") if e["unit"]["id"] == ours.id]
    widened = [e for e in etas if "went round the Cape" in e["reason"]]
    assert widened and all(_t(e["as_of"]) >= due for e in widened)  # not before its Suez passage was due
    first = etas[0]
    spread = lambda e: _t(e["arrival_p90"]) - _t(e["predicted_arrival"])  # noqa: E731
    assert spread(widened[0]) - spread(first) >= timedelta(hours=lane.detour_hours - 1)
    assert not [e for e in etas if e not in widened and _t(e["as_of"]) >= due + timedelta(days=1)]


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))
