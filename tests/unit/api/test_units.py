"""What the API says about units, computed from the engine's own outputs (no broker): open and closed
alerts, the ETA history, delayed units, hubs; and the index tables' de-duplication."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas import ClockTick, dumps, loads
from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.api.index import MAX_ETA_HISTORY, add_alert, add_eta
from streams.api.models import DelayedUnits, HubUnits, UnitDetail
from streams.api.store import LocalStore, NotFound
from streams.api.units import delayed_order, hub_order
from streams.core.policy import DEFAULT_POLICY
from streams.processing.engine import Engine
from tests.integration.story import OTHER, UNIT, d, event, journey, plan, tick

TOPICS = TopicNames("corridor.")
PARTITIONS = 4


class World:
    """The engine over dict stores, and the API's index fed from its outputs, as the api-index agent does."""

    def __init__(self) -> None:
        self.units: dict[bytes, bytes] = {}
        self.clock: dict[bytes, bytes] = {}
        self.alerts: dict[bytes, bytes] = {}
        self.etas: dict[bytes, bytes] = {}
        self.engine = Engine(self.units, self.clock, TOPICS, DEFAULT_POLICY)
        self.store = _AllLocal(None, self.units, self.clock, self.alerts, self.etas, PARTITIONS, DEFAULT_POLICY,
                               getattr(self.engine, "_fine_watermarks", None))

    def feed(self, *records: Any) -> None:
        for r in records:
            raw = r.model_dump_json().encode()
            if isinstance(r, ClockTick):
                clock = TOPICS.name("clock")
                outs = [o for p in range(PARTITIONS) for o in self.engine.process(clock, p, 0, None, raw)]
            else:
                key = r.unit.id.encode()
                outs = self.engine.process(TOPICS.name(r.record), partition_for(key, PARTITIONS), 0, key, raw)
            for o in outs:
                table, add = {TOPICS.name("alert"): (self.alerts, add_alert), TOPICS.name("eta"): (self.etas, add_eta)
                              }.get(o.topic, (None, None))
                if table is not None and o.key is not None:
                    new = add(table.get(o.key), o.value)
                    if new is not None:
                        table[o.key] = new

    def detail(self, unit=UNIT) -> dict:
        return UnitDetail.model_validate(self.store.unit_detail(unit)).model_dump(mode="json")


class _AllLocal(LocalStore):
    def local_partitions(self) -> set[int]:
        return set(range(self.partitions))


@pytest.fixture
def world() -> World:
    return World()


def test_unit_detail_is_the_timeline_plan_eta_history_and_alerts(world):
    world.feed(plan(), *journey()[:3])  # departed Dostyk 3 days late
    body = world.detail()
    assert body["timeline"]["status"] == "IN_TRANSIT" and body["timeline"]["location"] == "KZDOS"
    assert body["timeline"]["predicted_arrival"] == "2026-03-21T08:00:00Z"
    assert body["watermark"] == "2026-03-12T00:00:00Z"
    assert body["plan"]["lane"] == "CNCKG-DEDUI" and len(body["plan"]["legs"]) == 3
    history = body["eta"]["history"]
    assert [e["predicted_arrival"] for e in history] == ["2026-03-19T00:00:00Z", "2026-03-19T00:00:00Z",
                                                          "2026-03-21T08:00:00Z"]
    assert body["eta"]["current"] == history[-1]
    # The delay grew at Dostyk: the newer LATE alert is open, the first one superseded by it.
    assert [(a["milestone"], a["minutes_late"]) for a in body["open_alerts"]] == [("DEP:KZDOS:1", 4320)]
    (closed,) = body["closed_alerts"]
    assert closed["alert"]["milestone"] == "DEP:CNCKG:1"
    assert closed["closed_because"] == f"superseded by the later alert {body['open_alerts'][0]['alert_id']}"
    assert {p["locode"] for p in body["places"]} == {"CNCKG", "DEDUI"}  # KZDOS, PLMAL: not in the table


def test_alerts_close_on_arrival(world):
    world.feed(plan(), *journey())
    body = world.detail()
    assert body["timeline"]["status"] == "ARRIVED"
    assert body["open_alerts"] == []
    assert {c["closed_because"] for c in body["closed_alerts"]} == {"the unit arrived at DEDUI"}
    assert world.store.delayed() == []


def test_overdue_alert_closes_when_its_milestone_happens(world):
    world.feed(plan(OTHER), tick(d(1, 8)))  # OTHER should have left Chongqing at d(1)
    (overdue,) = world.store.alerts_list(True, None)
    assert (overdue["kind"], overdue["milestone"]) == ("OVERDUE", "DEP:CNCKG:1")
    world.feed(event(1, "DEPARTED", "CNCKG", d(1, 9), unit=OTHER))
    # 9 h late is within a tolerance of the 8 h already alerted: no LATE alert, and nothing open any more.
    assert world.store.alerts_list(True, None) == []
    closed = world.detail(OTHER)["closed_alerts"]
    assert closed[0]["alert"]["alert_id"] == overdue["alert_id"]
    assert closed[0]["closed_because"] == "it happened at 2026-03-03T09:00:00Z"


def test_a_late_alert_closes_when_the_delay_is_made_up(world):
    world.feed(plan(), event(1, "DEPARTED", "CNCKG", d(1, 10)))  # 10 h late, rail tolerance 6 h
    assert len(world.store.alerts_list(True, None)) == 1
    world.feed(event(2, "ARRIVED", "KZDOS", d(5, 23)))  # a fast run: arrives an hour early
    assert world.store.alerts_list(True, None) == []
    (closed,) = world.detail()["closed_alerts"]
    assert closed["closed_because"] == "the delay was made up: ARR:KZDOS:1 was within tolerance"


def test_a_new_plan_revision_closes_the_old_plans_alerts(world):
    world.feed(plan(), event(1, "DEPARTED", "CNCKG", d(2)))
    world.feed(plan(revision=2))
    body = world.detail()
    assert body["open_alerts"] == []
    assert body["closed_alerts"][0]["closed_because"] == "superseded by plan revision 2"


def test_lists_filter_and_order(world):
    world.feed(plan(), plan(OTHER), *journey()[:3], tick(d(6, 7)))
    open_ = world.store.alerts_list(True, None)
    assert {(a["unit"]["id"], a["kind"]) for a in open_} == {(UNIT.id, "LATE"), (OTHER.id, "OVERDUE")}
    assert world.store.alerts_list(True, frozenset({"MINOR"})) == []
    assert [a["milestone"] for a in world.store.alerts_list(False, None)] == ["DEP:CNCKG:1"]
    rows = sorted(world.store.delayed(), key=delayed_order)
    body = DelayedUnits.model_validate({"items": rows, "total": 2,
                                        "coverage": {"partitions": [0, 1, 2, 3], "missing": [], "complete": True}})
    assert [(r.unit.id, r.attention) for r in body.items] == [(OTHER.id, "OVERDUE"), (UNIT.id, "DELAYED")]
    assert body.items[1].minutes_late == 3360 and body.items[1].location == "KZDOS"


def test_units_at_and_bound_for_a_hub(world):
    world.feed(plan(), plan(OTHER), *journey()[:2])  # UNIT arrived at Dostyk; OTHER not departed
    at, bound = world.store.hub("KZDOS")
    assert [r["unit"]["id"] for r in at] == [UNIT.id]
    assert [(r["unit"]["id"], r["next_stop"]) for r in bound] == [(OTHER.id, True)]
    at, bound = world.store.hub("DEDUI")
    assert at == [] and [r["unit"]["id"] for r in sorted(bound, key=hub_order)] == [UNIT.id, OTHER.id]
    assert bound[0]["planned_at_hub"].isoformat() == "2026-03-19T00:00:00+00:00"
    HubUnits.model_validate({"hub": {"locode": "DEDUI", "lat": 51.4, "lon": 6.7}, "at": at, "bound": bound,
                             "coverage": {"partitions": [0], "missing": [], "complete": True}})
    assert world.store.hub("CNCKG") == ([], [])  # departed, and no arrival planned there


def test_unknown_unit(world):
    with pytest.raises(NotFound, match="no container CSQU3054383 is tracked"):
        world.store.unit_detail(UNIT)


def test_index_de_duplicates_redelivered_outputs():
    alert = dumps({"alert_id": "al-1", "kind": "LATE"})
    one = add_alert(None, alert)
    assert one is not None and add_alert(one, alert) is None
    assert len(loads(add_alert(one, dumps({"alert_id": "al-2"})))) == 2
    history = None
    for i in range(MAX_ETA_HISTORY + 5):
        update = orjson.dumps({"as_of": f"t{i}", "predicted_arrival": "p", "plan_revision": 1, "reason": "r"})
        history = add_eta(history, update) or history
        assert add_eta(history, update) is None  # the same update delivered again
    assert len(loads(history)) == MAX_ETA_HISTORY and loads(history)[-1]["as_of"] == f"t{MAX_ETA_HISTORY + 4}"
