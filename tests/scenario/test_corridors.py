"""The simulator's whole history for the four seed corridors through `corridor replay`'s engine: the story
of every unit, checked against the simulator's ground truth."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from schemas import dumps, loads
from schemas.topics import TopicNames
from streams.core.policy import DEFAULT_POLICY
from streams.interfaces.summary import eta_accuracy, latest_timelines
from streams.processing.replay import as_json_lines, replay
from streams.sim.scenario import generate

TOPICS = TopicNames()


@pytest.fixture(scope="module")
def scenario():
    return generate(seed=7, units_per_corridor=6)


@pytest.fixture(scope="module")
def outputs(scenario):
    result = replay([dumps(r.record) for r in scenario.records], TOPICS, DEFAULT_POLICY, partitions=4)
    assert result.rejected == 0
    by_topic: dict[str, list[dict]] = defaultdict(list)
    for o in result.outputs:
        by_topic[o.topic].append(loads(o.value))
    return by_topic


def test_every_unit_is_tracked_to_its_destination(scenario, outputs):
    timelines = latest_timelines(outputs[TOPICS.name("timeline")])
    assert set(timelines) == {p.unit.id for p in scenario.plans}
    for outcome in scenario.outcomes:
        tl = timelines[outcome.unit]
        assert tl["status"] == "DELIVERED", outcome.unit
        assert tl["milestones"][-1]["actual"] is not None
    assert outputs[TOPICS.name("dead_letter")] == []


def test_alerts_match_what_really_happened(scenario, outputs):
    alerts = outputs[TOPICS.name("alert")]
    ids = [a["alert_id"] for a in alerts]
    assert len(ids) == len(set(ids)), "an alert was emitted twice"
    late_units = {a["unit"]["id"] for a in alerts if a["kind"] == "LATE"}
    critical = {a["unit"]["id"] for a in alerts if a["severity"] == "CRITICAL"}
    for outcome in scenario.outcomes:
        if "cape-diversion" in outcome.disruptions:
            assert outcome.unit in critical, f"{outcome.unit} went round the Cape without a critical alert"
    # Undisrupted units delivered on time are never seriously late (minor: normal variation near the
    # tolerance). They may still be OVERDUE: a report that comes a day late is a missed milestone until it comes.
    serious = {a["unit"]["id"] for a in alerts if a["kind"] == "LATE" and a["severity"] != "MINOR"}
    for outcome in scenario.outcomes:
        if not outcome.disruptions and outcome.on_time:
            assert outcome.unit not in serious, outcome.unit
    assert late_units, "the scenario has disruptions, so some unit must be late"


def test_corridor_eta_beats_the_schedule_at_mid_journey(outputs):
    timelines = latest_timelines(outputs[TOPICS.name("timeline")])
    acc = eta_accuracy(timelines, outputs[TOPICS.name("eta")], fraction=0.5)
    assert acc is not None and acc.units == len(timelines)
    assert acc.corridor_mae_h < acc.schedule_mae_h
    assert acc.corridor_mae_h <= acc.carrier_mae_h


def test_replay_is_byte_identical_whatever_the_input_order(scenario):
    lines = [dumps(r.record) for r in scenario.records]
    first = list(as_json_lines(replay(lines, TOPICS, DEFAULT_POLICY, 4).outputs))
    shuffled = lines[:]
    random.Random(3).shuffle(shuffled)
    again = list(as_json_lines(replay(shuffled, TOPICS, DEFAULT_POLICY, 4).outputs))
    assert first == again


def test_replay_rejects_bad_lines_with_their_line_number():
    result = replay([b"{oops", b"", b'{"record": "event"}'], TOPICS, DEFAULT_POLICY, 4)
    reasons = [loads(o.value)["reason"] for o in result.outputs]
    assert result.rejected == 2
    assert reasons[0].startswith("line 1: not JSON") and reasons[1].startswith("line 3: invalid event")
