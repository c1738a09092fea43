"""The conveyance contract (schemas/conveyances.py) and the ingest stage's routing of conveyance events."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from schemas import Conveyance, ConveyanceEvent, DeadLetter, decode
from schemas.conveyances import imo_check_digit_ok, normalise_flight
from schemas.generate import MODELS
from schemas.topics import SPECS, TopicNames
from streams.processing.ingest import Ingestor

SAMPLES = Path(__file__).parents[1] / "feeds" / "samples"
TOPICS = TopicNames()
RECEIVED_AT = datetime(2026, 1, 25, 12, 0, tzinfo=UTC).timestamp()


def test_imo_check_digit() -> None:
    assert imo_check_digit_ok("9321483") and imo_check_digit_ok("9839179")  # King of the Seas, CMA CGM J. Saade
    assert not imo_check_digit_ok("7654321") and not imo_check_digit_ok("932148") and not imo_check_digit_ok("x")


@pytest.mark.parametrize(("fields", "expected"), [
    ({"kind": "VESSEL", "vessel_imo": "IMO 9321483", "voyage": "2103 n", "call_sign": "NCVV"},
     "VESSEL:IMO9321483:2103N"),
    ({"kind": "VESSEL", "call_sign": " ncvv ", "voyage": "2103N", "vessel_name": "King of the Seas"},
     "VESSEL:CS-NCVV:2103N"),
    ({"kind": "VESSEL", "vessel_name": "King  of the seas", "voyage": "2103-N"}, "VESSEL:NAME-KING OF THE SEAS:2103N"),
    ({"kind": "VESSEL", "vessel_imo": "9321483", "service": "sr12345a", "universal_voyage": "2103N"},
     "VESSEL:IMO9321483:SR12345A/2103N"),
    ({"kind": "TRAIN", "carrier": "yxo", "number": "x8017", "departure_date": "2024-05-01"},
     "TRAIN:YXO:X8017:2024-05-01"),
    ({"kind": "FLIGHT", "number": "CV 07301", "departure_date": date(2024, 6, 5)}, "FLIGHT:CV7301:2024-06-05"),
    ({"kind": "TRUCK", "plate": "du-ab 123"}, "TRUCK:DU-AB 123"),
    ({"kind": "TRUCK", "trip": "t-77"}, "TRUCK:TRIP-T-77"),
])  # fmt: skip
def test_identity_is_normalised_so_two_feeds_agree(fields: dict, expected: str) -> None:
    conveyance = Conveyance(**fields)
    assert conveyance.id == expected
    again = Conveyance.model_validate_json(conveyance.model_dump_json())  # the serialised id is derived, not read
    assert again == conveyance and again.id == expected


@pytest.mark.parametrize(("fields", "words"), [
    ({"kind": "VESSEL", "voyage": "2103N"}, "IMO number, a call sign or a name"),
    ({"kind": "VESSEL", "vessel_imo": "9321483"}, "names no voyage"),
    ({"kind": "VESSEL", "vessel_imo": "7654321", "voyage": "1"}, "not an IMO number"),
    ({"kind": "TRAIN", "number": "X8017", "departure_date": "2024-05-01"}, "no operator"),
    ({"kind": "FLIGHT", "number": "LH400"}, "scheduled departure date"),
    ({"kind": "TRUCK"}, "licence plate or a trip id"),
])  # fmt: skip
def test_an_incomplete_identity_is_refused_with_its_reason(fields: dict, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        Conveyance(**fields)


def test_flight_numbers() -> None:
    assert [normalise_flight(f) for f in ("LH0400", "lh 400", "3U8888", "CLX7301", None)] == [
        "LH400", "LH400", "3U8888", "CLX7301", None]  # fmt: skip


def test_the_contract_is_generated_and_the_topic_declared() -> None:
    assert MODELS["conveyance-event"] is ConveyanceEvent
    (spec,) = [s for s in SPECS if s.role == "conveyance"]
    assert (spec.suffix, spec.key, spec.schema) == ("conveyances", "conveyance id", "conveyance-event.schema.json")
    assert TOPICS.name("conveyance") in TOPICS.all
    assert "corridor.conveyances" in (Path(__file__).parents[3] / "deploy" / "topics.md").read_text()


def test_ingest_routes_a_transport_only_message_to_the_conveyance_topic_keyed_by_conveyance() -> None:
    data = (SAMPLES / "dcsa-tnt-300-request-transport.json").read_bytes()
    (out,) = Ingestor(TOPICS).process_raw(TOPICS.raw("dcsa-tnt-3.0"), 0, 3, b"k", data, RECEIVED_AT)
    assert (out.topic, out.key) == ("corridor.conveyances", b"VESSEL:IMO1234567:V001N")
    event = decode(out.value, ConveyanceEvent)
    assert (event.call.location, event.milestone.value) == ("DEHAM", "ARRIVED")
    assert event.received_time == datetime(2026, 1, 25, 12, 0, tzinfo=UTC)


def test_ingest_sends_warnings_and_rejections_to_dead_letters_with_the_original_bytes() -> None:
    doc = orjson.loads((SAMPLES / "dcsa-tnt-300-request-transport.json").read_bytes())
    event = doc["events"][0]
    event["references"] = [{"type": "EQ", "value": "MSCU1234567"}]  # wrong check digit
    nameless = orjson.loads(orjson.dumps(event))
    nameless["eventID"] = "e-nameless"
    del nameless["transportDetails"]["transportCall"]["vessel"], nameless["references"]
    data = orjson.dumps({"events": [event, nameless]})
    out = Ingestor(TOPICS).process_raw(TOPICS.raw("dcsa-tnt-3.0"), 0, 3, b"k", data, RECEIVED_AT)
    assert [o.topic for o in out] == ["corridor.conveyances", "corridor.dead-letters", "corridor.dead-letters"]
    warning, rejected = (decode(o.value, DeadLetter) for o in out[1:])
    assert warning.reason.startswith("dcsa-tnt-3.0: warning: TRANSPORT event evt-trans-001-2026-01-20T12:30:00Z: "
                                     "equipment reference dropped, the event kept: container MSCU1234567")
    assert rejected.reason == ("dcsa-tnt-3.0: TRANSPORT event e-nameless names no conveyance corridor can key: a "
                               "vessel needs an IMO number, a call sign or a name")
    assert warning.original == rejected.original == data and (warning.index, rejected.index) == (0, 1)


@pytest.mark.parametrize(("sample", "conveyance_id"), [
    ("dcsa-tnt-220-transport-event.json", "VESSEL:IMO9321483:2103S"),
    ("dcsa-tnt-300-request-transport.json", "VESSEL:IMO1234567:V001N"),
])  # fmt: skip
def test_corridor_parse_prints_conveyance_events_and_exits_0_on_transport_only_messages(sample: str,
                                                                                       conveyance_id: str) -> None:
    from typer.testing import CliRunner

    from streams.cli import app

    result = CliRunner().invoke(app, ["parse", str(SAMPLES / sample), "--received", "2026-01-25T12:00:00+00:00"])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    printed = orjson.loads(line)
    assert (printed["record"], printed["conveyance"]["id"]) == ("conveyance_event", conveyance_id)


def test_corridor_parse_exits_0_on_warnings_and_1_on_rejections(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from streams.cli import app

    doc = orjson.loads((SAMPLES / "dcsa-tnt-300-request-transport.json").read_bytes())
    doc["events"][0]["references"] = [{"type": "EQ", "value": "MSCU1234567"}]
    warned = tmp_path / "warned.json"
    warned.write_bytes(orjson.dumps(doc))
    result = CliRunner().invoke(app, ["parse", str(warned), "--received", "2026-01-25T12:00:00+00:00"])
    assert result.exit_code == 0 and "warning [0] TRANSPORT event" in result.stderr
    del doc["events"][0]["transportDetails"]["transportCall"]["vessel"]
    warned.write_bytes(orjson.dumps(doc))
    result = CliRunner().invoke(app, ["parse", str(warned), "--received", "2026-01-25T12:00:00+00:00"])
    assert result.exit_code == 1 and "rejected [0] TRANSPORT event" in result.stderr
