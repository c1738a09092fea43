"""The processing engine over dict stores: bytes in, bytes out, dead letters, the event-time clock."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from schemas import (
    AlertKind,
    Classifier,
    DeadLetter,
    DelayAlert,
    EtaUpdate,
    Mode,
    Severity,
    Timeline,
    TrackedUnit,
    decode,
    dumps,
    loads,
)
from schemas.topics import TopicNames
from streams.core.policy import ModePolicy, TrackingPolicy
from streams.core.records import PlanRecord
from streams.core.schedule import PartitionClock
from streams.core.state import UnitState
from streams.processing.engine import Engine, OutRecord
from tests.support.factories import CONTAINER, POLICY, corridor_plan, event, raw, t, tick

TOPICS = TopicNames()
PLANS, EVENTS, CLOCK = TOPICS.name("plan"), TOPICS.name("event"), TOPICS.name("clock")
DEAD = "corridor.dead-letters"
KEY = CONTAINER.encode()
OTHER = TrackedUnit.container("MSKU1234565")


def engine(policy: TrackingPolicy = POLICY) -> Engine:
    return Engine({}, {}, TOPICS, policy)


def topics(out: list[OutRecord]) -> list[str]:
    return [o.topic for o in out]


def watermark(e: Engine, partition: int = 0):
    return PartitionClock(e.clock, partition).watermark


# -- dead letters ----------------------------------------------------------------------------------------

_EVENT = raw(event("DEPARTED", "CNSHA", "2024-03-01 10:00"))
_BAD_CONTAINER = _EVENT.replace(b"CSQU3054383", b"CSQU3054384")


@pytest.mark.parametrize(
    ("topic", "key", "value", "reason"),
    [
        (EVENTS, KEY, b"not json", "not JSON: "),
        (EVENTS, KEY, b"\xff\xfe\x00", "not JSON: "),
        (EVENTS, KEY, None, "not JSON: Input is a zero-length, empty document"),  # a tombstone
        (EVENTS, KEY, b"[]", "expected a JSON object, got list"),
        (EVENTS, KEY, raw(corridor_plan()), "expected an event record, got 'plan'"),
        (PLANS, KEY, _EVENT, "expected a plan record, got 'event'"),
        (CLOCK, None, _EVENT, "expected a clock record, got 'event'"),
        (EVENTS, b"CSQU3054384", _BAD_CONTAINER,
         "invalid event: unit: Value error, not a valid ISO 6346 container number"),
        (EVENTS, OTHER.id.encode(), _EVENT, "record key b'MSKU1234565' is not the unit id 'CSQU3054383'"),
        (EVENTS, None, _EVENT, "record key None is not the unit id 'CSQU3054383'"),
        (PLANS, b"csqu3054383", raw(corridor_plan()), "record key b'csqu3054383' is not the unit id"),
        ("corridor.timelines", KEY, _EVENT, "topic 'corridor.timelines' is not an input of the tracking job"),
    ],
    ids=["not-json", "not-utf8", "tombstone", "not-object", "plan-on-events", "event-on-plans", "event-on-clock",
         "invalid-container", "key-mismatch", "no-key", "key-not-normalised", "output-topic"],
)
def test_bad_input_becomes_one_dead_letter(topic: str, key: bytes | None, value: bytes | None, reason: str) -> None:
    e = engine()
    out = e.process(topic, 3, 42, key, value)
    assert len(out) == 1
    assert (out[0].topic, out[0].key) == (DEAD, key)
    letter = decode(out[0].value, DeadLetter)
    assert letter.reason.startswith(reason), letter.reason
    assert (letter.source_topic, letter.partition, letter.offset, letter.key, letter.original) == (
        topic, 3, 42, key, value or b"")
    assert (e.units, e.clock) == ({}, {})  # nothing was applied


def test_a_failure_while_processing_becomes_a_dead_letter(caplog: pytest.LogCaptureFixture) -> None:
    # a policy that knows no rail: the core raises KeyError on the rail leg
    e = engine(TrackingPolicy(modes={Mode.SEA: ModePolicy(timedelta(hours=12), timedelta(hours=24))}))
    value = raw(corridor_plan())
    with caplog.at_level(logging.ERROR, logger="streams.processing.engine"):
        out = e.process(PLANS, 0, 7, KEY, value)
    (letter,) = out
    assert letter.topic == DEAD
    assert decode(letter.value, DeadLetter) == DeadLetter(
        source_topic=PLANS, partition=0, offset=7, key=KEY,
        reason="processing failed: KeyError(<Mode.RAIL: 'RAIL'>)", original=value)
    assert e.units == {}
    assert "failed to process corridor.plans[0]@7" in caplog.text


def test_a_unit_keeps_at_most_max_events_and_refuses_more_as_dead_letters() -> None:
    # A feed re-sending one event under fresh ids: the history (and the timeline, about 230 bytes per event)
    # would grow until a message no longer fits in Kafka.
    e = engine(TrackingPolicy(max_events=3))
    e.process(PLANS, 0, 0, KEY, raw(corridor_plan()))
    spam = [event("GATE_IN", "CNSHA", f"2024-02-28 0{i}:00", event_id=f"resent-{i}") for i in range(5)]
    outs = [e.process(EVENTS, 0, i + 1, KEY, raw(x)) for i, x in enumerate(spam)]
    assert [topics(o) for o in outs[3:]] == [[DEAD], [DEAD]]
    letter = decode(outs[4][0].value, DeadLetter)
    assert letter.reason.startswith("unit CSQU3054383 already holds 3 events, the most a unit keeps")
    assert (letter.offset, letter.original) == (5, raw(spam[4]))
    held = UnitState.decode(e.units[KEY]).events
    assert sorted(held) == ["resent-0", "resent-1", "resent-2"]
    # A held event's correction and a re-delivery still apply (no dead letter): the cap is on new ids only.
    corrected = event("GATE_IN", "CNSHA", "2024-02-28 01:30", received="2024-02-28 02:00", event_id="resent-1")
    assert DEAD not in topics(e.process(EVENTS, 0, 9, KEY, raw(corrected)))
    assert DEAD not in topics(e.process(EVENTS, 0, 10, KEY, raw(spam[0])))
    assert UnitState.decode(e.units[KEY]).events["resent-1"].event_time == t("2024-02-28 01:30")


def test_the_default_cap_keeps_a_full_history_inside_one_kafka_message() -> None:
    e = engine()
    e.process(PLANS, 0, 0, KEY, raw(corridor_plan()))
    base = event("GATE_IN", "CNSHA", "2024-02-28 00:00")
    out: list[OutRecord] = []
    for i in range(POLICY.max_events + 1):
        x = base.model_copy(update={"event_id": f"resent-{i:04d}"})
        out = e.process(EVENTS, 0, i + 1, KEY, raw(x))
        if i == POLICY.max_events - 1:
            (timeline,) = [o for o in out if o.topic == "corridor.timelines"]
            assert len(timeline.value) < 500_000 and len(e.units[KEY]) < 500_000
    assert topics(out) == [DEAD]


# -- state, watermark and the due index --------------------------------------------------------------------


def test_a_plan_is_stored_and_answered_with_timeline_and_eta() -> None:
    e = engine()
    out = e.process(PLANS, 0, 0, KEY, raw(corridor_plan()))
    assert topics(out) == ["corridor.timelines", "corridor.eta"]
    assert all(o.key == KEY for o in out)
    assert decode(out[0].value, Timeline).predicted_arrival == t("2024-04-03 20:00")
    assert decode(out[1].value, EtaUpdate).reason == "first prediction (plan revision 1); model: plan"
    state = UnitState.decode(e.units[KEY])
    assert state.plan == PlanRecord.of(corridor_plan())
    assert state.next_due == t("2024-03-01 12:00")
    assert watermark(e) is None  # plans speak of the future: they do not move event time


def test_only_actual_events_move_the_watermark_clamped_to_receipt() -> None:
    e = engine()
    est = event("ARRIVED", "NLRTM", "2024-04-02 00:00", classifier=Classifier.ESTIMATED, received="2024-03-10 00:00")
    e.process(EVENTS, 0, 0, KEY, raw(est))
    assert watermark(e) is None
    # a source whose clock runs ahead: event time 10:00 but received at 09:00
    e.process(EVENTS, 0, 1, KEY, raw(event("DEPARTED", "CNSHA", "2024-03-01 10:00", received="2024-03-01 09:00")))
    assert watermark(e) == t("2024-03-01 09:00")
    e.process(EVENTS, 0, 2, KEY, raw(event("GATE_IN", "CNSHA", "2024-02-28 10:00")))  # late report: never back
    assert watermark(e) == t("2024-03-01 09:00")
    assert watermark(e, 1) is None  # each partition keeps its own clock


def test_a_clock_tick_makes_an_overdue_alert_fire_for_a_silent_unit() -> None:
    e = engine()
    e.process(PLANS, 0, 0, KEY, raw(corridor_plan()))
    assert e.process(CLOCK, 1, 0, None, raw(tick("2024-03-01 12:01"))) == []  # another partition: nothing there
    out = e.process(CLOCK, 0, 0, None, raw(tick("2024-03-01 12:01")))
    assert topics(out) == ["corridor.timelines", "corridor.alerts", "corridor.eta"]
    alert = decode(out[1].value, DelayAlert)
    assert (alert.kind, alert.milestone, alert.minutes_late, alert.severity, alert.detected_at) == (
        AlertKind.OVERDUE, "DEP:CNSHA:1", 721, Severity.MINOR, t("2024-03-01 12:01"))
    assert out[1].key == KEY
    assert decode(out[2].value, EtaUpdate).reason == "no report: NLRTM +12.0 h, DEHAM unchanged; model: plan"
    assert watermark(e) == t("2024-03-01 12:01")
    # the same tick again, or an older one: the watermark does not move, nothing is swept
    assert e.process(CLOCK, 0, 1, None, raw(tick("2024-03-01 12:01"))) == []
    assert e.process(CLOCK, 0, 2, None, raw(tick("2024-03-01 06:00"))) == []


def test_a_record_read_again_puts_its_unit_back_in_the_due_index_a_partial_batch_lost() -> None:
    """A batch's state goes to two changelogs (units, clock) with no transaction: a worker killed between them
    leaves the unit's new state restored and the clock's index entry for it missing. The record, unacknowledged,
    is read again and is a duplicate; it must index the unit again, or the unit is never swept (bench chaos:
    `OVERDUE` alerts missing). Without the entry, nothing fires at the tick."""
    units: dict[bytes, bytes] = {}
    clock: dict[bytes, bytes] = {}
    Engine(units, clock, TOPICS, POLICY).process(PLANS, 0, 0, KEY, raw(corridor_plan()))
    lost = {k: v for k, v in clock.items() if k.startswith((b"due:", b"n:", b"low:"))}
    assert lost  # the plan indexed the unit

    def restarted(read_again: bool) -> list[OutRecord]:
        u, c = dict(units), {k: v for k, v in clock.items() if k not in lost}  # the clock's part never arrived
        e = Engine(u, c, TOPICS, POLICY)
        if read_again:
            assert e.process(PLANS, 0, 0, KEY, raw(corridor_plan())) == []  # a duplicate: no output
        return e.process(CLOCK, 0, 0, None, raw(tick("2024-03-01 12:01")))

    assert restarted(read_again=False) == []  # what the partial state does on its own
    out = restarted(read_again=True)
    assert topics(out) == ["corridor.timelines", "corridor.alerts", "corridor.eta"]
    assert decode(out[1].value, DelayAlert).kind is AlertKind.OVERDUE


def test_a_tick_before_anything_is_due_sweeps_nothing() -> None:
    e = engine()
    e.process(PLANS, 0, 0, KEY, raw(corridor_plan()))
    assert e.process(CLOCK, 0, 0, None, raw(tick("2024-03-01 00:29"))) == []
    out = e.process(CLOCK, 0, 1, None, raw(tick("2024-03-01 12:00")))  # ETA slipped, not yet overdue
    assert topics(out) == ["corridor.timelines", "corridor.eta"]


def test_another_units_event_advances_time_for_every_unit_on_the_partition() -> None:
    e = engine()
    e.process(PLANS, 0, 0, KEY, raw(corridor_plan()))
    other_gate_in = event("GATE_IN", "CNSHA", "2024-03-01 12:01", unit=OTHER)  # a unit without a plan
    out = e.process(EVENTS, 0, 2, OTHER.id.encode(), raw(other_gate_in))
    assert [(o.topic, o.key) for o in out] == [
        ("corridor.timelines", b"MSKU1234565"),  # its own event
        ("corridor.timelines", KEY),  # the silent unit, swept at the new watermark
        ("corridor.alerts", KEY),
        ("corridor.eta", KEY),
    ]
    alert = decode(out[2].value, DelayAlert)
    assert (alert.unit.id, alert.kind, alert.minutes_late) == (CONTAINER, AlertKind.OVERDUE, 721)


# -- idempotence and determinism ---------------------------------------------------------------------------

OTHER_KEY = OTHER.id.encode()
SEQUENCE: list[tuple[str, int, bytes | None, bytes | None]] = [
    (PLANS, 0, KEY, raw(corridor_plan())),
    (PLANS, 1, OTHER_KEY, raw(corridor_plan(unit=OTHER))),
    (EVENTS, 0, KEY, raw(event("DEPARTED", "CNSHA", "2024-03-01 10:00"))),
    (EVENTS, 0, KEY, b"garbage"),
    (CLOCK, 1, None, raw(tick("2024-03-02 00:00"))),
    (EVENTS, 0, KEY, raw(event("ARRIVED", "NLRTM", "2024-04-02 00:00", classifier=Classifier.ESTIMATED,
                               received="2024-03-10 00:00"))),
    (CLOCK, 0, None, raw(tick("2024-03-20 00:00"))),
    (EVENTS, 1, OTHER_KEY, raw(event("DEPARTED", "CNSHA", "2024-03-02 06:00", unit=OTHER))),
    (EVENTS, 0, KEY, raw(event("ARRIVED", "NLRTM", "2024-04-03 00:00"))),
    (CLOCK, 0, None, raw(tick("2024-04-04 00:00"))),
    (CLOCK, 1, None, raw(tick("2024-04-04 00:00"))),
]


def run(e: Engine, sequence=SEQUENCE) -> list[list[OutRecord]]:
    return [e.process(topic, partition, offset, key, value)
            for offset, (topic, partition, key, value) in enumerate(sequence)]


def test_the_sequence_produces_the_expected_outputs() -> None:
    outs = run(engine())
    assert [topics(o) for o in outs] == [
        ["corridor.timelines", "corridor.eta"],
        ["corridor.timelines", "corridor.eta"],
        ["corridor.timelines", "corridor.eta"],  # 10 h late: NLRTM +10.0 h
        [DEAD],
        ["corridor.timelines", "corridor.alerts", "corridor.eta"],  # the other unit is overdue
        ["corridor.timelines", "corridor.eta"],  # the carrier expects NLRTM 2 days late
        [],  # nothing due on partition 0 yet (next: the NLRTM prediction 2024-04-02 00:30)
        ["corridor.timelines", "corridor.eta"],  # departed 30 h late: no more than the overdue alert said
        ["corridor.timelines", "corridor.alerts", "corridor.eta"],  # 72 h late into NLRTM
        ["corridor.timelines", "corridor.eta"],  # no departure from NLRTM yet: the rail leg slips
        # the other unit: 4 days overdue at NLRTM, more than the 24 h already alerted plus 12 h tolerance
        ["corridor.timelines", "corridor.alerts", "corridor.eta"],
    ]
    summary = [(a.unit.id, a.kind, a.milestone, a.minutes_late)
               for a in (decode(o.value, DelayAlert) for out in outs for o in out if o.topic == "corridor.alerts")]
    assert summary == [
        ("MSKU1234565", AlertKind.OVERDUE, "DEP:CNSHA:1", 1440),
        (CONTAINER, AlertKind.LATE, "ARR:NLRTM:1", 4320),
        ("MSKU1234565", AlertKind.OVERDUE, "ARR:NLRTM:1", 5760),
    ]


def test_reprocessing_the_same_records_gives_nothing_new() -> None:
    e = engine()
    run(e)
    units, clock = dict(e.units), dict(e.clock)
    again = run(e)
    # only the garbage record is dead-lettered again: a dead letter is about the record, not the state
    assert [topics(o) for o in again] == [[]] * 3 + [[DEAD]] + [[]] * 7
    assert e.units == units
    # The clock is the same but for the due index: a plan or event read again indexes its unit again (a partial
    # batch may have lost the entry), at the unit's own due time.
    index = (b"due:", b"n:", b"low:")
    assert {k: v for k, v in e.clock.items() if not k.startswith(index)} == {
        k: v for k, v in clock.items() if not k.startswith(index)}
    again_indexed = {v for k, v in e.clock.items() if k.startswith(b"due:")} - set(clock.values())
    assert {entry.split(b"\0")[0] for entry in again_indexed} <= {KEY, OTHER_KEY}


def test_the_same_input_gives_byte_identical_output() -> None:
    first, second = run(engine()), run(engine())
    assert first == second
    assert [o.value for outs in first for o in outs] == [o.value for outs in second for o in outs]


def test_every_output_is_a_valid_record_on_its_topic() -> None:
    models = {"corridor.timelines": Timeline, "corridor.alerts": DelayAlert, "corridor.eta": EtaUpdate,
              DEAD: DeadLetter}
    for outs in run(engine()):
        for o in outs:
            record = decode(o.value, models[o.topic])
            assert dumps(record) == o.value
            if o.topic != DEAD:
                assert o.key == record.unit.id.encode()
                assert loads(o.value)["unit"]["id"] == o.key.decode()


def test_a_newer_plan_revision_replaces_the_stored_plan() -> None:
    e = engine()
    e.process(PLANS, 0, 0, KEY, raw(corridor_plan()))
    rev2 = corridor_plan(2, issued="2024-02-25 00:00", delivery="2024-04-05 08:00")
    assert topics(e.process(PLANS, 0, 1, KEY, raw(rev2))) == ["corridor.timelines", "corridor.eta"]
    assert e.process(PLANS, 0, 2, KEY, raw(corridor_plan())) == []
    assert UnitState.decode(e.units[KEY]).plan.revision == 2


def test_the_cap_and_the_eta_shift_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.settings import Settings

    monkeypatch.setenv("CORRIDOR_MAX_EVENTS_PER_UNIT", "250")
    monkeypatch.setenv("CORRIDOR_ETA_MIN_SHIFT_MINUTES", "45")
    policy = Settings().tracking_policy()
    assert (policy.max_events, policy.eta_min_shift) == (250, timedelta(minutes=45))
    assert Settings(max_events_per_unit=1000, eta_min_shift_minutes=30).tracking_policy() == TrackingPolicy()


def test_a_refused_event_still_moves_event_time_and_what_falls_due_is_swept_at_once() -> None:
    """The refused event's time is evidence all the same: before, the sweep it called for waited for the next
    move of the watermark, and the other unit's alert came late (and stamped later)."""
    e = engine(TrackingPolicy(max_events=1))
    other = corridor_plan(unit=OTHER)
    e.process(PLANS, 0, 0, KEY, raw(corridor_plan()))
    e.process(PLANS, 0, 1, OTHER.id.encode(), raw(other))
    e.process(EVENTS, 0, 2, KEY, raw(event("GATE_IN", "CNSHA", "2024-02-28 00:00")))
    late = event("DEPARTED", "CNSHA", "2024-04-20 00:00")  # OTHER is long overdue by then
    out = e.process(EVENTS, 0, 3, KEY, raw(late))
    assert out[0].topic == DEAD and "already holds 1 events" in decode(out[0].value, DeadLetter).reason
    alerts = [decode(o.value, DelayAlert) for o in out if o.topic == TOPICS.name("alert")]
    assert {a.unit.id for a in alerts} == {OTHER.id, CONTAINER}
    assert all(a.detected_at == t("2024-04-20 00:00") for a in alerts)


def test_a_uld_forwards_its_timeline_only_to_the_shipments_it_still_carries_or_just_landed() -> None:
    """IATA feeds report a ULD's build-up (FFM), never its breakdown: the cargo left at the ULD's first arrival
    after it was built up. Before, a ULD forwarded every event to every shipment it had ever carried."""
    from schemas import ShipmentRefs, UnitKind

    uld = TrackedUnit(kind=UnitKind.ULD, id="AKE12345RU")
    e = engine()
    feed = TOPICS.name("shipment_feed")

    def ev(milestone: str, where: str, when: str, awb: str | None = None) -> list[str]:
        x = event(milestone, where, when, unit=uld, mode=Mode.AIR, event_id=f"{milestone}-{where}-{when}")
        if awb:
            x = x.model_copy(update={"shipment": ShipmentRefs(air_waybill=awb, pieces=2)})
        out = e.process(EVENTS, 0, None, uld.id.encode(), raw(x))
        return sorted({o.key.decode() for o in out if o.topic == feed and o.key})

    ev("STUFFED", "CNSHA", "2024-03-01 02:00", "580-11111111")
    assert ev("DEPARTED", "CNSHA", "2024-03-01 04:00") == ["580-11111111"]
    assert ev("ARRIVED", "NLRTM", "2024-03-01 18:00") == ["580-11111111"]  # still forwarded: it just landed
    ev("STUFFED", "NLRTM", "2024-03-02 09:00", "580-22222222")  # reused at once with other cargo
    assert ev("DEPARTED", "NLRTM", "2024-03-02 11:00") == ["580-11111111", "580-22222222"]  # within 14 days
    ev("ARRIVED", "CNSHA", "2024-03-03 02:00")
    ev("STUFFED", "CNSHA", "2024-03-20 09:00", "580-33333333")
    # Weeks later: only the cargo aboard now. Before, all three shipments got this report.
    assert ev("DEPARTED", "CNSHA", "2024-03-20 11:00") == ["580-33333333"]


def test_a_uld_reported_only_by_its_manifests_forwards_to_the_cargo_its_latest_manifest_lists() -> None:
    """FFM and FSU alone: a ULD's build-ups, never its arrival or breakdown. A manifest at another airport
    lists what the ULD holds on its next flight, so cargo it does not list had left by then; cargo listed again
    flies on. Before, with no arrival to end them, the ULD forwarded every later timeline to every shipment
    it ever carried."""
    from schemas import ShipmentRefs, UnitKind

    uld = TrackedUnit(kind=UnitKind.ULD, id="AKE12345RU")
    e = engine()
    feed = TOPICS.name("shipment_feed")

    def built(where: str, when: str, *awbs: str) -> list[str]:
        keys: set[str] = set()
        for awb in awbs:
            x = event("STUFFED", where, when, unit=uld, mode=Mode.AIR, event_id=f"FFM-{where}-{when}-{awb}")
            x = x.model_copy(update={"shipment": ShipmentRefs(air_waybill=awb, pieces=2)})
            out = e.process(EVENTS, 0, None, uld.id.encode(), raw(x))
            keys |= {o.key.decode() for o in out if o.topic == feed and o.key}
        return sorted(keys)

    built("CNSHA", "2024-03-01 02:00", "580-11111111", "580-22222222")
    # At Rotterdam the ULD goes on with 580-22222222 and new cargo: 580-11111111 left it there.
    assert built("NLRTM", "2024-03-02 09:00", "580-22222222", "580-33333333") == [
        "580-11111111", "580-22222222", "580-33333333"]  # 580-11111111 within 14 days of leaving
    assert built("NLRTM", "2024-03-02 09:30", "580-44444444") == [
        "580-11111111", "580-22222222", "580-33333333", "580-44444444"]  # same place: more cargo, nothing left
    # Weeks later, at Chongqing, with new cargo only: what it carried before left at Madrid.
    built("ESMAD", "2024-03-03 09:00", "580-55555555")
    assert built("CNCKG", "2024-03-25 09:00", "580-66666666") == ["580-55555555", "580-66666666"]


def test_a_unit_at_its_cap_forgets_trips_older_than_the_history_kept_instead_of_refusing() -> None:
    """A container or ULD reused trip after trip reached the cap within months, and then every new event was
    refused. Now events (and shipment links) more than `history` before the newest make room; a late report
    from before that, or a unit with nothing that old, is still refused."""
    from schemas import ShipmentRefs

    e = engine(TrackingPolicy(max_events=3, history=timedelta(days=90)))
    old_trip = [event("STUFFED", "CNSHA", "2024-01-05 08:00", event_id="jan-stuffed"),
                event("DEPARTED", "CNSHA", "2024-01-06 08:00", event_id="jan-departed"),
                event("ARRIVED", "NLRTM", "2024-02-20 08:00", event_id="feb-arrived")]  # fmt: skip
    old_trip[0] = old_trip[0].model_copy(update={"shipment": ShipmentRefs(booking="BKG-JANUARY")})
    for i, x in enumerate(old_trip):
        e.process(EVENTS, 0, i, KEY, raw(x))
    assert set(UnitState.decode(e.units[KEY]).links) == {"BOOKING:BKG-JANUARY"}

    may = event("GATE_IN", "CNSHA", "2024-05-10 08:00", event_id="may-gate-in")  # 90 days after 2024-02-10
    out = e.process(EVENTS, 0, 3, KEY, raw(may))
    assert DEAD not in topics(out)
    state = UnitState.decode(e.units[KEY])
    assert sorted(state.events) == ["feb-arrived", "may-gate-in"]  # January is more than 90 days before May
    assert state.links == {}  # the January shipment's link went with its events
    assert set(e._units.get(KEY)._rows) == {"feb-arrived", "may-gate-in"}  # and their memoised rows

    e.process(EVENTS, 0, 4, KEY, raw(event("GATE_OUT", "CNSHA", "2024-05-11 08:00", event_id="may-gate-out")))
    late = e.process(EVENTS, 0, 5, KEY, raw(event("GATE_IN", "CNSHA", "2024-01-02 08:00", event_id="jan-late")))
    assert topics(late) == [DEAD]  # from before the history kept: it would be forgotten at once
    assert "event jan-late is from before the 90 days of history it keeps" in decode(late[0].value, DeadLetter).reason
    spam = e.process(EVENTS, 0, 6, KEY, raw(event("GATE_IN", "CNSHA", "2024-05-12 08:00", event_id="again")))
    assert topics(spam) == [DEAD]  # at the cap with nothing old enough: refused as before
    assert "none older than the 90 days of history it keeps" in decode(spam[0].value, DeadLetter).reason
