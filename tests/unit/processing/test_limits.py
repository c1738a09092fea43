"""Records too big for Kafka: the engines refuse what would not fit, and dead letters are cut to fit.

Before, a unit's or shipment's state or timeline over the producer's limit failed its batch's write, which
stops the worker, and the restarted worker stopped again at the same input, for ever."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from schemas import DeadLetter, TrackingEvent, decode, dumps, loads
from schemas.topics import TopicNames
from streams.core.policy import DEFAULT_POLICY
from streams.core.shipments.policy import DEFAULT_SHIPMENT_POLICY
from streams.core.shipments.state import ShipmentState
from streams.core.state import UnitState
from streams.processing.cache import StateCache
from streams.processing.engine import Engine
from streams.processing.ingest import Ingestor
from streams.processing.limits import TooLarge, dead_letter_bytes, save
from streams.processing.replay import replay
from streams.processing.shipments import ShipmentEngine
from tests.support.factories import CONTAINER, POLICY, corridor_plan, event, raw, tick
from tests.support.shipment_flows import AWB, split_awb

TOPICS = TopicNames()
PLANS, EVENTS, CLOCK, DEAD = (TOPICS.name(r) for r in ("plan", "event", "clock", "dead_letter"))
KEY = CONTAINER.encode()


def _letters(out) -> list[DeadLetter]:
    return [decode(o.value, DeadLetter) for o in out if o.topic == DEAD]


# -- dead letters cut to fit -----------------------------------------------------------------------------


def _letter(original: bytes, fragment: bytes | None = None, reason: str = "bad", key: bytes | None = b"k1"):
    return DeadLetter(source_topic="corridor.raw.dcsa", partition=3, offset=41, key=key, reason=reason,
                      original=original, fragment=fragment, index=None if fragment is None else 2)  # fmt: skip


def test_a_letter_that_fits_is_written_whole() -> None:
    letter = _letter(b"x" * 5_000, b"y" * 100)
    assert dead_letter_bytes(letter, 10_000) == dumps(letter)
    assert decode(dead_letter_bytes(letter, 10_000), DeadLetter).original_size is None


@pytest.mark.parametrize("size", [7_400, 7_600, 9_000, 20_000, 250_000])
@pytest.mark.parametrize("key", [None, b"k" * 300])
def test_a_letter_too_big_keeps_the_first_bytes_of_its_original_and_says_how_long_it_was(size, key) -> None:
    original = bytes(range(256)) * (size // 256) + b"\x00" * (size % 256)
    data = dead_letter_bytes(_letter(original, key=key), 10_000)
    assert len(data) + len(key or b"") <= 10_000
    got = decode(data, DeadLetter)
    assert got.original_size == size and original.startswith(got.original)
    assert len(got.original) > 7_000 - len(key or b"")  # the room is used, not thrown away
    assert (got.source_topic, got.partition, got.offset, got.key, got.reason) == ("corridor.raw.dcsa", 3, 41, key,
                                                                                   "bad")  # fmt: skip


def test_the_rejected_fragment_is_kept_before_the_original() -> None:
    original = b"A" * 30_000 + b"B" * 2_000 + b"C" * 30_000
    got = decode(dead_letter_bytes(_letter(original, b"B" * 2_000), 10_000), DeadLetter)
    assert got.fragment == b"B" * 2_000 and got.index == 2
    assert got.original_size == 62_000 and got.original == b"A" * len(got.original) and len(got.original) > 4_000
    huge = decode(dead_letter_bytes(_letter(original, b"B" * 50_000), 10_000), DeadLetter)
    assert huge.original == b"" and 7_000 < len(huge.fragment or b"") < 7_500


def test_a_reason_quoting_a_huge_exception_is_cut() -> None:
    got = decode(dead_letter_bytes(_letter(b"raw", reason="processing failed: " + "x" * 50_000), 1_000_000),
                 DeadLetter)  # fmt: skip
    assert got.original == b"raw" and got.original_size is None
    assert got.reason.startswith("processing failed: xxx") and got.reason.endswith("...") and len(got.reason) < 2_100


# -- the unit job ----------------------------------------------------------------------------------------


def _long_event(at: str, milestone: str = "DEPARTED", location: str = "CNSHA", n: int = 0) -> TrackingEvent:
    """An event whose id and source are as long as the schema allows: what a unit keeps of it is largest."""
    e = event(milestone, location, at, source="S" * 64)
    return e.model_copy(update={"event_id": f"{n:04d}" + "E" * 124})


def _biggest(out) -> int:
    return max(len(o.value) + len(o.key or b"") for o in out)


def test_an_event_whose_results_would_not_fit_is_refused_and_the_unit_is_unchanged() -> None:
    plan, first, second = raw(corridor_plan()), raw(_long_event("2024-03-01 10:00")), raw(
        _long_event("2024-03-02 10:00", "GATE_IN", n=1))  # fmt: skip
    probe = Engine({}, {}, TOPICS, POLICY)
    probe.process(PLANS, 0, 0, KEY, plan)
    probe.process(EVENTS, 0, 1, KEY, first)
    limit = _biggest(probe.process(EVENTS, 0, 2, KEY, second)) - 1  # the second event's timeline no longer fits

    units: dict[bytes, bytes] = {}
    eng = Engine(units, {}, TOPICS, POLICY, max_record_bytes=limit)
    eng.process(PLANS, 0, 0, KEY, plan)
    assert TOPICS.name("timeline") in [o.topic for o in eng.process(EVENTS, 0, 1, KEY, first)]
    before = units[KEY]
    out = eng.process(EVENTS, 0, 2, KEY, second)
    assert [o.topic for o in out] == [DEAD]
    (letter,) = _letters(out)
    assert (letter.offset, letter.key, letter.original, letter.original_size) == (2, KEY, second, None)
    assert f"over the {limit:,} a record may hold: refused, the unit is unchanged" in letter.reason
    assert units[KEY] == before
    # Re-delivered after the limit is raised (a restart with a bigger setting), it is taken.
    eng.max_record_bytes = limit + 1
    assert TOPICS.name("timeline") in [o.topic for o in eng.process(EVENTS, 0, 2, KEY, second)]
    assert units[KEY] != before


def test_a_unit_grows_up_to_the_limit_and_no_record_it_writes_is_over_it() -> None:
    limit = 12_000
    units: dict[bytes, bytes] = {}
    eng = Engine(units, {}, TOPICS, POLICY, max_record_bytes=limit)
    eng.process(PLANS, 0, 0, KEY, raw(corridor_plan()))
    refused = taken = 0
    for i in range(60):
        at = f"2024-03-{1 + i // 24:02d} {i % 24:02d}:00"
        out = eng.process(EVENTS, 0, i + 1, KEY, raw(_long_event(at, "GATE_IN" if i % 2 else "LOADED", n=i)))
        assert _biggest(out) <= limit
        letters = _letters(out)
        refused += bool(letters)
        taken += not letters
        assert len(units[KEY]) + len(KEY) <= limit
    assert taken >= 5 and refused >= 20
    assert len(UnitState.decode(units[KEY]).events) == taken


def test_a_unit_swept_into_a_record_too_big_is_a_dead_letter_and_the_ticks_other_effects_stand() -> None:
    units: dict[bytes, bytes] = {}
    eng = Engine(units, {}, TOPICS, POLICY)
    other = corridor_plan(unit=corridor_plan().unit.model_copy(update={"id": "MSKU1234565"}))
    eng.process(PLANS, 0, 0, KEY, raw(corridor_plan()))
    eng.process(PLANS, 0, 1, b"MSKU1234565", raw(other))
    for i in range(20):
        eng.process(EVENTS, 0, 2, KEY, raw(_long_event(f"2024-03-01 {i:02d}:00", "GATE_IN", n=i)))
    eng.process(EVENTS, 0, 3, b"MSKU1234565", raw(event("DEPARTED", "CNSHA", "2024-03-01 10:00", unit=other.unit)))
    before = units[KEY]
    eng.max_record_bytes = 8_000  # lowered (by a restart with a smaller setting): the big unit no longer fits
    out = eng.process(CLOCK, 0, 9, None, raw(tick("2024-04-20 00:00")))  # both units long overdue at Rotterdam
    (letter,) = _letters(out)
    assert (letter.source_topic, letter.offset, letter.key, letter.original) == (CLOCK, 9, KEY, b"")
    assert "when the watermark reached 2024-04-20T00:00:00+00:00" in letter.reason
    assert "not re-evaluated until its next record" in letter.reason
    assert units[KEY] == before
    assert any(o.key == b"MSKU1234565" and o.topic == TOPICS.name("alert") for o in out)  # the other unit's alert


# -- the shipment job ------------------------------------------------------------------------------------


def test_a_shipment_too_big_refuses_the_report_that_would_outgrow_the_record_and_replay_says_so() -> None:
    records = [dumps(r) for r in split_awb()]
    whole = replay(records, TOPICS, DEFAULT_POLICY, 4)
    ship_outputs = [o for o in whole.outputs if o.key == AWB.encode() and o.topic != TOPICS.name("shipment_feed")]
    biggest = max(len(o.value) for o in ship_outputs)
    limit = biggest - 1_000  # the last, fullest shipment timelines no longer fit
    cut = replay(records, TOPICS, DEFAULT_POLICY, 4, max_record_bytes=limit)
    letters = [loads(o.value) for o in cut.outputs if o.topic == DEAD]
    assert letters and all(t["source_topic"] == TOPICS.name("shipment_feed") and t["key"] for t in letters)
    assert all("refused, the shipment is unchanged" in t["reason"] for t in letters)
    assert all(len(o.value) + len(o.key or b"") <= limit for o in cut.outputs)
    timelines = [loads(o.value) for o in cut.outputs if o.topic == TOPICS.name("shipment_timeline")]
    assert timelines and len(timelines) < len([o for o in ship_outputs if o.topic == TOPICS.name("shipment_timeline")])


def test_a_report_that_would_outgrow_the_shipment_state_alone_is_refused() -> None:
    """The state holds each unit's latest timeline as reported; what the shipment's view ignores of it still
    counts."""
    whole = replay([dumps(r) for r in split_awb()], TOPICS, DEFAULT_POLICY, 4)
    feed = TOPICS.name("shipment_feed")
    first = next(o for o in whole.outputs if o.topic == feed and o.key == AWB.encode())
    report = loads(first.value)
    report["timeline"]["remarks"] = "r" * 30_000  # not read by the shipment's view: its outputs stay small
    big = orjson.dumps(report)
    shipments: dict[bytes, bytes] = {}
    eng = ShipmentEngine(shipments, {}, TOPICS, DEFAULT_SHIPMENT_POLICY, max_record_bytes=20_000)
    out = eng.process(feed, 0, 3, first.key, big)
    (letter,) = _letters(out)
    assert f"{AWB}'s state would be" in letter.reason and "refused, the shipment is unchanged" in letter.reason
    assert letter.original_size == len(big) and shipments == {}
    taken = eng.process(feed, 0, 4, first.key, first.value)  # as the unit job really reports it
    assert not _letters(taken) and len(ShipmentState.decode(shipments[AWB.encode()]).rides) == 1


# -- ingest ------------------------------------------------------------------------------------------------


def test_ingest_cuts_a_dead_letter_of_a_big_message_to_fit() -> None:
    ing = Ingestor(TOPICS, max_record_bytes=50_000)
    data = b"{" + b"x" * 200_000
    (out,) = ing.process_raw(TOPICS.raw("dcsa-tnt-3.0"), 1, 5, b"k", data, 1_700_000_000.0)
    assert out.topic == DEAD and len(out.value) + 1 <= 50_000
    letter = decode(out.value, DeadLetter)
    assert letter.original_size == 200_001 and data.startswith(letter.original) and letter.offset == 5
    assert letter.reason.startswith("dcsa-tnt-3.0: ")


def test_cache_writes_the_bytes_it_was_given_and_encodes_otherwise() -> None:
    backing: dict[bytes, bytes] = {}
    cache: StateCache[dict] = StateCache(backing, orjson.loads, orjson.dumps, write_behind=True)
    cache.put(b"a", {"n": 1}, b'{"n":1,"given":true}')
    cache.put(b"b", {"n": 2}, b"given")
    cache[b"b"] = {"n": 3}  # a later value without bytes is encoded
    cache.flush()
    assert backing == {b"a": b'{"n":1,"given":true}', b"b": b'{"n":3}'}


def test_ingest_refuses_a_canonical_event_too_big_for_a_record() -> None:
    sample = (Path(__file__).parents[1] / "feeds" / "samples" / "dcsa-tnt-300-request-equipment.json").read_bytes()
    data = sample.replace(b"CARRIER_BOOKING_REFERENCE_PLACEHOLDER", b"B" * 40_000)
    ing = Ingestor(TOPICS, max_record_bytes=30_000)
    (out,) = ing.process_raw(TOPICS.raw("dcsa-tnt-3.0"), 0, 9, b"k", data, 1_700_000_000.0)
    assert out.topic == DEAD and len(out.value) + 1 <= 30_000
    letter = decode(out.value, DeadLetter)
    assert letter.reason.startswith("the canonical event dcsa:evt-equip-001-2026-01-20T14:15:00Z would be 40,")
    assert letter.original_size == len(data)
    (taken,) = Ingestor(TOPICS, max_record_bytes=50_000).process_raw(TOPICS.raw("dcsa-tnt-3.0"), 0, 9, b"k", data,
                                                                      1_700_000_000.0)  # fmt: skip
    assert taken.topic == TOPICS.name("event")


# -- the size bound that spares encoding every new state -------------------------------------------------


class _Counted:
    encodes = 0

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def encode(self) -> bytes:
        _Counted.encodes += 1
        return self.payload


def test_a_state_far_under_the_limit_is_encoded_once_at_the_flush_and_one_near_it_at_once() -> None:
    backing: dict[bytes, bytes] = {b"u": b"x" * 1_000}
    cache: StateCache[_Counted] = StateCache(backing, _Counted, _Counted.encode, write_behind=True)
    _Counted.encodes = 0
    cache.get(b"u")
    assert cache.size(b"u") == 1_000 and cache.size(b"new") is None
    save(cache, b"u", _Counted(b"y" * 2_000), 3_000, 10_000, "u's state")  # bound 4,000
    save(cache, b"u", _Counted(b"z" * 3_000), 3_000, 10_000, "u's state")  # bound 7,000
    assert _Counted.encodes == 0 and cache.size(b"u") == 7_000
    save(cache, b"u", _Counted(b"w" * 4_000), 3_000, 10_000, "u's state")  # bound 10,001 with the key: measured
    assert _Counted.encodes == 1 and cache.size(b"u") == 4_000
    with pytest.raises(TooLarge, match="u's state would be 10,001 bytes, over the 10,000"):
        save(cache, b"u", _Counted(b"v" * 10_000), 7_000, 10_000, "u's state")
    assert cache[b"u"].payload == b"w" * 4_000  # refused: the last state stays
    cache.flush()
    assert backing[b"u"] == b"w" * 4_000 and _Counted.encodes == 2  # written as measured, not encoded again
    assert cache.get(b"gone") is None and cache.size(b"gone") == 0


def _batched(engine: type, every: int) -> type:
    class Batched(engine):  # type: ignore[misc, valid-type]
        """The worker's way: changes stay in memory and are flushed every few records."""

        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, write_behind=True, **kwargs)
            self.n = 0

        def process(self, *args):  # type: ignore[no-untyped-def]
            out = super().process(*args)
            self.n += 1
            if self.n % every == 0:
                self.flush()
            return out

    return Batched


def test_the_size_bound_is_never_below_what_the_state_encodes_to(monkeypatch) -> None:
    """Over the simulator's corridors with shipments, both jobs batched: every state written at a flush is
    no bigger than the bound the engine kept for it (an input's size plus STEP_SLACK per step)."""
    import streams.processing.replay as replay_module
    from streams.sim.scenario import generate

    checked: list[int] = []
    write = StateCache._write

    def checking(self, keys) -> None:  # type: ignore[no-untyped-def]
        keys = list(keys)
        bounds = {k: self._sizes.get(k) for k in keys}
        write(self, keys)
        for k in keys:
            if bounds[k] is not None and k in self.backing:
                assert len(self.backing[k]) <= bounds[k], k
                checked.append(bounds[k] - len(self.backing[k]))

    monkeypatch.setattr(StateCache, "_write", checking)
    monkeypatch.setattr(replay_module, "Engine", _batched(Engine, 7))
    monkeypatch.setattr(replay_module, "ShipmentEngine", _batched(ShipmentEngine, 5))
    scenario = generate(seed=3, units_per_corridor=8)
    replay([dumps(r.record) for r in scenario.records], TOPICS, DEFAULT_POLICY, 4)
    assert len(checked) > 400
