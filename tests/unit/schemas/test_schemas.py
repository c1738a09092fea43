"""The contracts: identifiers, times, plan validation, the codec and the committed JSON Schema files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from pydantic import TypeAdapter, ValidationError

from schemas import (
    ClockTick,
    DeadLetter,
    DecodeError,
    Leg,
    Mode,
    Plan,
    TrackedUnit,
    TrackingEvent,
    UnitKind,
    UnLocode,
    decode,
    decode_input,
    dumps,
    loads,
)
from schemas.generate import MODELS, SCHEMA_DIR, render, rendered
from tests.support.factories import CONTAINER, UNIT, corridor_plan, event, t

# -- tracked units ------------------------------------------------------------------------------------


def arabic_indic(digits: str) -> str:
    """The same digits in Arabic-Indic script: `str.isdigit` and an un-flagged `\\d` accept them."""
    return digits.translate({ord(d): 0x660 + int(d) for d in "0123456789"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CSQU3054383", "CSQU3054383"),
        ("csqu 305438 3", "CSQU3054383"),  # spaced and lower case, as printed on the door
        ("MSKU1234565", "MSKU1234565"),
    ],
)
def test_valid_container_numbers_are_normalised(raw: str, expected: str) -> None:
    assert TrackedUnit(kind=UnitKind.CONTAINER, id=raw).id == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("CSQU3054384", "check digit is invalid"),  # wrong check digit (3 is right)
        ("CSQU305438", "3-letter owner code, U/J/Z/R, 7 digits"),  # too short
        ("CSQX3054383", "3-letter owner code, U/J/Z/R, 7 digits"),  # X is no equipment category
        ("123U0000009", "3-letter owner code, U/J/Z/R, 7 digits"),  # digits as owner code (check digit is right)
        ("ÄBCU1234567", "identifiers are ASCII"),  # non-ASCII letter
        ("CSQU" + arabic_indic("3054383"), "identifiers are ASCII"),  # Arabic-Indic digits
    ],
)
def test_invalid_container_numbers_are_rejected_with_a_reason(raw: str, why: str) -> None:
    with pytest.raises(ValidationError) as info:
        TrackedUnit(kind=UnitKind.CONTAINER, id=raw)
    (err,) = info.value.errors()
    assert err["msg"].startswith("Value error, not a valid ISO 6346 container number")
    assert why in err["msg"]


def test_container_shortcut_builds_a_container_unit() -> None:
    assert TrackedUnit.container("csqu3054383") == TrackedUnit(kind=UnitKind.CONTAINER, id="CSQU3054383")


@pytest.mark.parametrize(("raw", "expected"), [("020-12345675", "020-12345675"), ("02012345675", "020-12345675")])
def test_air_waybill_with_mod7_check_digit(raw: str, expected: str) -> None:
    # 1234567 mod 7 == 5
    assert TrackedUnit(kind=UnitKind.AWB, id=raw).id == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("020-12345676", "check digit is wrong"),
        ("20-12345675", "not an air waybill number"),
        ("020-1234567", "not an air waybill number"),
        (arabic_indic("020-12345675"), "identifiers are ASCII"),  # digits of another script
    ],
)
def test_invalid_air_waybills(raw: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        TrackedUnit(kind=UnitKind.AWB, id=raw)


@pytest.mark.parametrize(("raw", "expected"), [("AKE12345CX", "AKE12345CX"), ("ake 1234 cx", "AKE1234CX"),
                                               ("PMC-1234-AF", "PMC1234AF")])
def test_uld_ids(raw: str, expected: str) -> None:
    assert TrackedUnit(kind=UnitKind.ULD, id=raw).id == expected


@pytest.mark.parametrize("raw", ["AK12345CX", "AKE123CX", "AKE1234C", "AKE" + arabic_indic("12345") + "CX"])
def test_invalid_uld_ids(raw: str) -> None:
    with pytest.raises(ValidationError, match=r"not an IATA ULD id|identifiers are ASCII"):
        TrackedUnit(kind=UnitKind.ULD, id=raw)


def test_trailer_ids() -> None:
    assert TrackedUnit(kind=UnitKind.TRAILER, id=" ab-123 cd ").id == "AB-123 CD"
    with pytest.raises(ValidationError, match="not a trailer id"):
        TrackedUnit(kind=UnitKind.TRAILER, id="x")


# -- UN/LOCODE and times --------------------------------------------------------------------------------

LOCODE = TypeAdapter(UnLocode)


@pytest.mark.parametrize(("raw", "expected"), [("NLRTM", "NLRTM"), ("nl rtm", "NLRTM"), ("US2NY", "US2NY")])
def test_unlocode_shape_is_normalised(raw: str, expected: str) -> None:
    assert LOCODE.validate_python(raw) == expected


@pytest.mark.parametrize("raw", ["NLRT", "NLRTMX", "NLRT1", "N1RTM", "12345", "NLRT0"])
def test_unlocode_shape_is_enforced(raw: str) -> None:
    with pytest.raises(ValidationError, match="not a UN/LOCODE"):
        LOCODE.validate_python(raw)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        ClockTick(time=datetime(2024, 3, 1, 12, 0))
    assert info.value.errors()[0]["type"] == "timezone_aware"
    with pytest.raises(DecodeError, match="time: Input should have timezone info"):
        decode_input(b'{"record": "clock", "time": "2024-03-01T12:00:00"}')


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-01T14:00:00+02:00",
        "2024-03-01T07:00:00-05:00",
        datetime(2024, 3, 1, 17, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ],
)
def test_offsets_are_normalised_to_utc(value: str | datetime) -> None:
    expected = datetime(2024, 3, 1, 12, 0, tzinfo=UTC) if not isinstance(value, datetime) else t("2024-03-01 12:00")
    tick = ClockTick(time=value)
    assert tick.time == expected
    assert tick.time.tzinfo is UTC
    assert dumps(tick) == b'{"record":"clock","time":"2024-03-01T12:00:00Z","source":"clock"}'


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_outside_the_utc_range_are_invalid_not_a_crash(value: str) -> None:
    with pytest.raises(DecodeError, match="outside the representable range in UTC"):
        decode_input(orjson.dumps({"record": "clock", "time": value}))


@pytest.mark.parametrize("value", ["1999-12-31T23:00:00Z", "2100-01-01T00:00:00Z", "9999-01-01T00:00:00Z"])
def test_implausible_years_are_rejected_so_they_cannot_drag_the_watermark(value: str) -> None:
    with pytest.raises(DecodeError, match="not a plausible time"):
        decode_input(orjson.dumps({"record": "clock", "time": value}))
    assert ClockTick(time="2099-12-31T23:59:59Z").time.year == 2099


# -- plans ---------------------------------------------------------------------------------------------


def _leg(origin: str, destination: str, dep: str, arr: str, mode: Mode = Mode.RAIL) -> dict:
    return {"mode": mode, "carrier": "X", "origin": origin, "destination": destination,
            "planned_departure": t(dep), "planned_arrival": t(arr)}


def test_reference_plan_is_valid() -> None:
    plan = corridor_plan()
    assert plan.key == CONTAINER
    assert plan.destination == "DEHAM"
    assert [(leg.origin, leg.destination) for leg in plan.legs] == [("CNSHA", "NLRTM"), ("NLRTM", "DEDUI"),
                                                                      ("DEDUI", "DEHAM")]


@pytest.mark.parametrize(
    ("legs", "promised", "why"),
    [
        ([_leg("CNCKG", "KZDOS", "2024-03-01 00:00", "2024-03-05 00:00"),
          _leg("PLMAL", "DEDUI", "2024-03-06 00:00", "2024-03-08 00:00")], None,
         "legs do not connect: KZDOS then PLMAL"),
        ([_leg("CNCKG", "KZDOS", "2024-03-01 00:00", "2024-03-05 00:00"),
          _leg("KZDOS", "DEDUI", "2024-03-04 00:00", "2024-03-08 00:00")], None,
         "leg from KZDOS departs before the previous leg arrives"),
        ([_leg("CNCKG", "KZDOS", "2024-03-05 00:00", "2024-03-05 00:00")], None,
         "leg CNCKG->KZDOS arrives before it departs"),
        ([_leg("CNCKG", "KZDOS", "2024-03-05 00:00", "2024-03-01 00:00")], None,
         "leg CNCKG->KZDOS arrives before it departs"),
        ([_leg("CNCKG", "CNCKG", "2024-03-01 00:00", "2024-03-05 00:00")], None, "leg starts and ends at CNCKG"),
        ([_leg("CNCKG", "KZDOS", "2024-03-01 00:00", "2024-03-05 00:00")], "2024-03-04 00:00",
         "promised delivery is before the planned arrival at destination"),
        ([], None, "List should have at least 1 item"),
    ],
)
def test_plan_validation(legs: list[dict], promised: str | None, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        Plan(unit=UNIT, issued_time=t("2024-02-01 00:00"), legs=legs,
             promised_delivery=t(promised) if promised else None)


def test_plan_revision_starts_at_one() -> None:
    assert corridor_plan().revision == 1
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        corridor_plan(revision=0)


def test_leg_connecting_on_the_same_instant_is_valid() -> None:
    plan = Plan(unit=UNIT, issued_time=t("2024-02-01 00:00"), legs=[
        Leg(**_leg("CNCKG", "KZDOS", "2024-03-01 00:00", "2024-03-05 00:00")),
        Leg(**_leg("KZDOS", "DEDUI", "2024-03-05 00:00", "2024-03-08 00:00")),
    ])
    assert plan.destination == "DEDUI"


# -- codec ---------------------------------------------------------------------------------------------


def _event_dict() -> dict:
    return orjson.loads(dumps(event("DEPARTED", "CNSHA", "2024-03-01 10:00")))


@pytest.mark.parametrize(
    ("data", "expected", "reason"),
    [
        (b"not json", None, "not JSON: "),
        (b"", None, "not JSON: Input is a zero-length, empty document"),
        (b"\xff\xfe", None, "not JSON: "),
        (b"[1, 2]", None, "expected a JSON object, got list"),
        (b'"plan"', None, "expected a JSON object, got str"),
        (b'{"record": "bogus"}', None,
         "unknown record type 'bogus'; expected one of ['clock', 'event', 'plan', 'shipment_plan']"),
        (b'{"a": 1}', None, "unknown record type None; expected one of ['clock', 'event', 'plan', 'shipment_plan']"),
        (b'{"record": ["event"]}', None, "unknown record type ['event']"),
        (b'{"record": "clock", "time": "2024-03-01T00:00:00Z"}', "event", "expected an event record, got 'clock'"),
        (b'{"record": "clock"}', None, "invalid clock: time: Field required"),
    ],
)
def test_decode_input_errors_are_readable(data: bytes, expected: str | None, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_input(data, expected=expected)
    assert str(info.value).startswith(reason)


def test_decode_input_names_the_bad_field() -> None:
    bad = _event_dict() | {"unit": {"kind": "CONTAINER", "id": "CSQU3054384"}}
    with pytest.raises(DecodeError) as info:
        decode_input(orjson.dumps(bad))
    assert str(info.value) == (
        "invalid event: unit: Value error, not a valid ISO 6346 container number "
        "(The number's checksum or check digit is invalid.): 'CSQU3054384'"
    )


def test_decode_input_caps_the_list_of_errors() -> None:
    with pytest.raises(DecodeError) as info:
        decode_input(b'{"record": "event"}')
    assert str(info.value) == (
        "invalid event: event_id: Field required; source: Field required; unit: Field required; "
        "mode: Field required; milestone: Field required (+4 more)"
    )


def test_decode_input_recognises_records_by_shape() -> None:
    plan = orjson.loads(dumps(corridor_plan()))
    del plan["record"]
    ev = _event_dict()
    del ev["record"]
    assert decode_input(orjson.dumps(plan)) == corridor_plan()
    assert decode_input(orjson.dumps(ev)) == event("DEPARTED", "CNSHA", "2024-03-01 10:00")
    # a pinned record type decides even without the field
    assert decode_input(b'{"time": "2024-03-01T00:00:00Z"}', expected="clock") == ClockTick(time=t("2024-03-01 00:00"))


def test_decode_with_a_model_names_the_model() -> None:
    bad = _event_dict() | {"mode": "SPACE"}
    with pytest.raises(DecodeError, match=r"^invalid TrackingEvent: mode: Input should be 'SEA', 'RAIL'"):
        decode(orjson.dumps(bad), TrackingEvent)


@pytest.mark.parametrize(
    "record",
    [
        corridor_plan(),
        event("DISCHARGED", "NLRTM", "2024-04-03 02:00", received="2024-04-03 03:15"),
        ClockTick(time=t("2024-03-01 00:00")),
    ],
    ids=["plan", "event", "clock"],
)
def test_dumps_loads_round_trip(record: Plan | TrackingEvent | ClockTick) -> None:
    data = dumps(record)
    assert decode_input(data) == record
    assert decode(data, type(record)) == record
    assert dumps(decode_input(data)) == data
    assert loads(data)["record"] == record.record


def test_event_json_shape() -> None:
    obj = loads(dumps(event("DEPARTED", "CNSHA", "2024-03-01 10:00", received="2024-03-01 10:05")))
    assert obj["event_time"] == "2024-03-01T10:00:00Z"
    assert obj["received_time"] == "2024-03-01T10:05:00Z"
    assert obj["unit"] == {"kind": "CONTAINER", "id": "CSQU3054383"}
    assert obj["milestone"] == "DEPARTED"
    assert obj["classifier"] == "ACTUAL"


def test_dead_letter_carries_bytes_as_base64() -> None:
    letter = DeadLetter(source_topic="corridor.events", partition=2, offset=7, key=b"\x00k", reason="r",
                        original=b"\xff\x00raw")
    data = dumps(letter)
    assert loads(data) == {"record": "dead_letter", "source_topic": "corridor.events", "partition": 2, "offset": 7,
                           "key": "AGs=", "reason": "r", "original": "_wByYXc=", "fragment": None, "index": None,
                           "original_size": None}
    assert decode(data, DeadLetter) == letter


def test_dumps_plain_objects_and_loads_errors() -> None:
    assert dumps({"a": [1, 2]}) == b'{"a":[1,2]}'
    assert loads('{"a": 1}') == {"a": 1}
    with pytest.raises(DecodeError, match=r"^not JSON: "):
        loads(b"{")


# -- the committed JSON Schema files are what the models say ------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_committed_json_schema_matches_the_model(name: str) -> None:
    path = SCHEMA_DIR / f"{name}.schema.json"
    assert path.exists(), f"{path} is missing: run `python -m schemas`"
    assert path.read_bytes() == render(MODELS[name]), f"{path} is stale: run `python -m schemas`"


def test_every_schema_file_is_generated() -> None:
    assert set(rendered()) == set(SCHEMA_DIR.glob("*.schema.json"))
    assert loads(render(Plan))["$id"] == "https://corridor.example/schemas/Plan.schema.json"
