"""Properties of the FFM adapter: whatever the bytes, parse() returns (never raises, never hits its internal-error
net) valid, deterministic events; a generated manifest gives exactly one event per (ULD, AWB) pair and per bulk
AWB, with the pieces summed, whatever the line endings."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from streams.feeds.base import ParseResult
from streams.feeds.iata.ffm import CargoImpFfm
from tests.unit.feeds.iata import SAMPLES, check_result

FFM = CargoImpFfm()
SAMPLE_BYTES = [p.read_bytes() for p in sorted((SAMPLES / "ffm").glob("*.txt"))]
RECEIVED = datetime(2024, 4, 20, 12, tzinfo=UTC)

receptions = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(2001, 1, 2), max_value=datetime(2098, 12, 30)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)


def check(result: ParseResult) -> None:
    check_result(result)
    for event in result.events:
        assert event.mode.value == "AIR" and event.source == "iata-ffm"
        assert event.shipment.air_waybill and event.shipment.pieces and event.shipment.pieces >= 1
        if event.unit.kind.value == "ULD":
            assert event.milestone.value == "STUFFED"
        else:
            assert (event.unit.kind.value, event.milestone.value) == ("AWB", "LOADED")
            assert event.unit.id == event.shipment.air_waybill


@given(st.binary(max_size=3000), receptions)
def test_any_bytes(data: bytes, received: datetime) -> None:
    check(FFM.parse(b"FFM/8\n" + data, received))
    check(FFM.parse(data, received))


NOISE = st.sampled_from([*"/-\n\r \t=.:0123456789AEKLNPSTDXZ", "ULD/", "BULK", "LAST", "CONT", "\x00", "é"])


@given(st.sampled_from(SAMPLE_BYTES), st.lists(st.tuples(st.integers(0, 2000), NOISE), max_size=8), receptions)
def test_mutated_samples(data: bytes, edits: list[tuple[int, str]], received: datetime) -> None:
    buffer = bytearray(data)
    for position, piece in edits:
        at = position % (len(buffer) + 1)
        buffer[at:at] = piece.encode()
    check(FFM.parse(bytes(buffer), received))


def awb(prefix: int, serial7: int) -> str:
    return f"{prefix:03d}-{serial7:07d}{serial7 % 7}"


awbs = st.builds(awb, st.integers(1, 999), st.integers(0, 9_999_999))
ulds = st.builds(
    lambda kind, serial, owner: f"{kind}{serial}{owner}",
    st.sampled_from(["AKE", "AKH", "PMC", "PAG", "PLA", "AVE", "DQF"]),
    st.from_regex(r"\A[0-9]{4,5}\Z"),
    st.from_regex(r"\A[A-Z0-9]{2}\Z"),
)
lines = st.lists(st.tuples(awbs, st.integers(1, 9999), st.sampled_from("TPSD")), min_size=1, max_size=4)


@given(
    st.lists(st.tuples(awbs, st.integers(1, 9999), st.sampled_from("TPSD")), max_size=4),
    st.lists(st.tuples(ulds, lines), max_size=5),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_generated_manifest(bulk: list, loaded: list, newline: str) -> None:
    text = ["FFM/8", "1/LH8400/19APR1340/FRA/D-ALCA", "HKG"]
    expected: Counter[tuple[str | None, str]] = Counter()
    for number, pieces, code in bulk:
        text += [f"{number}FRAHKG/{code}{pieces}K{pieces * 10}MC0.5/CONSOLIDATION", "/SPX"]
        expected[(None, number)] += pieces
    for uld, consignments in loaded:
        text.append(f"ULD/{uld}")
        for number, pieces, code in consignments:
            text += [f"{number}FRAHKG/{code}{pieces}K{pieces * 10}/GOODS", "OSI/HANDLE WITH CARE"]
            expected[(uld, number)] += pieces
    text.append("LAST")
    data = newline.join(text).encode()
    result = FFM.parse(data, RECEIVED)
    check(result)
    assert result.rejections == []
    got = Counter({(e.unit.id if e.unit.kind.value == "ULD" else None, e.shipment.air_waybill): e.shipment.pieces
                   for e in result.events})  # fmt: skip
    assert got == expected and len(result.events) == len(expected)
    assert {(e.location, e.event_time, e.transport.flight) for e in result.events} <= {
        ("DEFRA", datetime(2024, 4, 19, 11, 40, tzinfo=UTC), "LH8400")
    }
    assert FFM.parse(data, RECEIVED + timedelta(hours=3)).events == [
        e.model_copy(update={"received_time": RECEIVED + timedelta(hours=3)}) for e in result.events
    ]
