"""The simulator's shipment flows through replay: every shipment is followed through the units the ground truth
says it used, and delivered when the ground truth says it was."""

from __future__ import annotations

import orjson
import pytest

from schemas import dumps
from schemas.topics import TopicNames
from streams.core.policy import DEFAULT_POLICY
from streams.processing.replay import replay
from streams.sim.scenario import generate

TOPICS = TopicNames()


@pytest.mark.parametrize("seed", [7, 11])
def test_every_simulated_shipment_is_followed_door_to_door(seed: int) -> None:
    scenario = generate(seed=seed, units_per_corridor=2, shipments=2)
    assert {o.flow for o in scenario.shipment_outcomes} >= {"asean-consolidation", "chongqing-local", "air",
                                                           "air-split"}  # fmt: skip
    out = replay([dumps(r.record) for r in scenario.records], TOPICS, DEFAULT_POLICY, 4).outputs
    assert [o for o in out if o.topic == TOPICS.name("dead_letter")] == []
    latest: dict[str, dict] = {}
    alerts: dict[str, list[dict]] = {}
    for o in out:
        if o.topic == TOPICS.name("shipment_timeline"):
            latest[o.key.decode()] = orjson.loads(o.value)
        elif o.topic == TOPICS.name("shipment_alert"):
            alerts.setdefault(o.key.decode(), []).append(orjson.loads(o.value))
    for truth in scenario.shipment_outcomes:
        tl = latest[truth.shipment]
        assert tl["status"] == "DELIVERED", truth.shipment
        assert tl["delivered_at"] == truth.delivered.isoformat().replace("+00:00", "Z"), truth.shipment
        assert tuple(dict.fromkeys(p["unit"]["id"] for p in tl["parts"])) == truth.units, truth.shipment
        assert all(leg["pieces_arrived"] == truth.pieces for leg in tl["legs"]), truth.shipment
        late_h = (truth.delivered - truth.planned_delivery).total_seconds() / 3600
        raised = {a["kind"] for a in alerts.get(truth.shipment, [])}
        if late_h > 6:  # beyond the delivery tolerance: the shipment must have been flagged LATE
            assert "LATE" in raised, truth.shipment
        elif late_h <= 0:
            assert "LATE" not in raised or any(a["kind"] == "LATE" and a["detected_at"] < tl["delivered_at"]
                                               for a in alerts[truth.shipment]), truth.shipment  # fmt: skip
    splits = [t for t in scenario.shipment_outcomes if t.flow == "air-split"]
    assert splits and all(len({p["unit"]["id"] for p in latest[t.shipment]["parts"]
                               if p["unit"]["kind"] == "ULD"}) == 2 for t in splits)  # fmt: skip
