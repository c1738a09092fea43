"""Big input cut at message boundaries: every part fits, every part parses, nothing is lost or doubled."""

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from streams.connectors.splitting import Unsplittable, split
from streams.feeds.registry import parse

SAMPLES = Path(__file__).parents[1] / "feeds" / "samples"
IATA = Path(__file__).parents[1] / "feeds" / "iata" / "samples"
AT = datetime(2026, 3, 2, tzinfo=UTC)


def _events(fmt: str, parts: list[bytes]) -> list[str]:
    out = []
    for p in parts:
        r = parse(p, fmt, AT)
        assert not [x for x in r.rejections if "UNZ" in x.reason or "count" in x.reason.lower()], r.rejections
        out += [e.event_id for e in r.events]
    return out


def test_small_input_is_left_whole():
    assert split("edifact", b"UNB'", 100) == [b"UNB'"]


def test_an_edifact_interchange_is_cut_between_messages_with_fresh_envelopes():
    one = (SAMPLES / "edifact-codeco-manila.edi").read_bytes()
    text = one.decode("latin-1")
    unh = text.index("UNH")
    unz = text.index("UNZ")
    # one interchange of 400 copies of the sample's message(s)
    big = (text[:unh] + text[unh:unz] * 400 + "UNZ+400+" + text[unz:].split("+")[2]).encode("latin-1")
    whole = _events("edifact", [big])
    parts = split("edifact", big, 20_000)
    assert len(parts) > 1 and all(len(p) <= 20_000 for p in parts)
    assert all(p.lstrip().startswith((b"UNA", b"UNB")) and b"UNZ+" in p for p in parts)
    assert sorted(_events("edifact", parts)) == sorted(whole)
    for p in parts:  # each envelope counts its own messages
        count = int(p[p.rindex(b"UNZ+") + 4:].split(b"+")[0])
        assert count == p.count(b"UNH+")


def test_a_dcsa_array_and_a_30_document_are_paged():
    events = orjson.loads((SAMPLES / "dcsa-tnt-220-response.json").read_bytes()) * 50
    data = orjson.dumps(events)
    parts = split("dcsa-tnt-2.2", data, 30_000)
    assert len(parts) > 1 and all(len(p) <= 30_000 for p in parts)
    assert sum(len(orjson.loads(p)) for p in parts) == len(events)
    v3 = orjson.loads((SAMPLES / "dcsa-tnt-300-request-equipment.json").read_bytes())
    doc = {**v3, "events": v3["events"] * 200}
    parts = split("dcsa-tnt-3.0", orjson.dumps(doc), 50_000)
    assert all(set(orjson.loads(p)) == set(doc) for p in parts)
    assert sum(len(orjson.loads(p)["events"]) for p in parts) == 200


def test_cargo_imp_is_cut_before_a_message_header():
    fsu = (IATA / "good_practice_fsu_example_2a.txt").read_bytes()
    big = b"\n".join([fsu.strip()] * 300) + b"\n"
    parts = split("iata-fsu", big, 5_000)
    assert len(parts) > 1 and all(len(p) <= 5_000 for p in parts)
    assert set(_events("iata-fsu", parts)) == set(_events("iata-fsu", [big]))  # ids are content hashes


def test_csv_repeats_its_header():
    csv = (SAMPLES / "rail-x8017.csv").read_bytes()
    head, *rows = csv.splitlines(keepends=True)
    big = head + b"".join(rows * 100)
    parts = split("rail-events", big, 4_000)
    assert all(p.startswith(head) and len(p) <= 4_000 for p in parts)
    assert sum(len(p.splitlines()) - 1 for p in parts) == len(rows) * 100


def test_no_boundary_is_refused_with_the_reason():
    with pytest.raises(Unsplittable, match="one event alone"):
        split("dcsa-tnt-2.2", orjson.dumps([{"eventID": "x" * 5000}]), 1000)
    with pytest.raises(Unsplittable, match="does not know"):
        split("iata-xfsu", b"<a>" + b"x" * 2000 + b"</a>", 1000)
    with pytest.raises(Unsplittable, match="single message"):
        split("iata-fsu", b"FSU/14\n" + b"x" * 2000, 1000)
