"""`python -m bench engine --units N`: the throughput benchmark's input through the engine, in the worker's
batches. The same input written through gives the same outputs (with timelines coalesced, but for those: one per
unit per batch)."""

from __future__ import annotations

import orjson

from bench.engine import _workload_inputs, engine, main
from schemas.topics import TopicNames
from streams.core.policy import DEFAULT_POLICY
from streams.processing.engine import Engine


def test_the_workload_input_is_the_plans_then_the_events_on_their_units_partitions():
    topics = TopicNames()
    inputs = _workload_inputs(40)
    roles = [topics.role_of(topic) for topic, _, _, _ in inputs]
    assert roles == sorted(roles, key=["plan", "event"].index) and roles[0] == "plan" and roles[-1] == "event"
    assert len({key for _, _, key, _ in inputs}) == 40
    by_key: dict[bytes, set[int]] = {}
    for _, partition, key, _ in inputs:
        by_key.setdefault(key, set()).add(partition)
    assert all(len(parts) == 1 for parts in by_key.values())


def test_batches_flushed_give_the_outputs_written_through():
    inputs = _workload_inputs(40)
    assert engine(inputs, 7)[1] == engine(inputs, 0)[1] > len(inputs)


def test_with_timelines_coalesced_each_batch_writes_each_units_latest_and_every_other_output():
    inputs = _workload_inputs(40)
    assert engine(inputs, 0)[1] > engine(inputs, 50, coalesce=True)[1] > len(inputs)

    def outputs(batch: int) -> list:
        eng = Engine({}, {}, TopicNames(), DEFAULT_POLICY, write_behind=batch > 0, coalesce=True)
        lists = []
        for i, (topic, p, key, raw) in enumerate(inputs, 1):
            lists.append(eng.process(topic, p, None, key, raw))
            if batch and i % batch == 0:
                eng.flush()
        return [o for out in lists for o in out]

    through, batched = outputs(0), outputs(50)
    timeline = TopicNames().name("timeline")
    assert [o for o in batched if o.topic != timeline] == [o for o in through if o.topic != timeline]
    assert {o.key: o for o in batched if o.topic == timeline} == {o.key: o for o in through if o.topic == timeline}


def test_the_last_line_is_json(capsys):
    main(["--units", "40", "--rounds", "1"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert "flushed every 1000" in lines[0]
    report = orjson.loads(lines[-1])
    assert report["records"] == len(_workload_inputs(40)) and report["engine_rps"] > 0


def test_the_throughput_benchmark_measures_the_engine_on_its_own_input():
    """`python -m bench` reports `engine_eps`: the engine alone on the very records phase (c) reads."""
    from bench.engine import engine_rate, workload_inputs
    from bench.workload import build

    inputs = workload_inputs(build(40))
    assert inputs == _workload_inputs(40)
    assert engine_rate(inputs) > 0


def test_learning_can_be_switched_off_to_measure_what_it_costs(capsys):
    """`--no-learning`: the same input through the plan-only ETA (issue #25's per-record cost is the difference)."""
    main(["--units", "40", "--rounds", "1", "--no-learning", "--cpu"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert "learning off" in lines[2] and orjson.loads(lines[-1])["engine_rps"] > 0
    inputs = _workload_inputs(40)
    assert engine(inputs, 0, learning=False)[1] > len(inputs)
