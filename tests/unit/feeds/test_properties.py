"""Adapters never raise: arbitrary bytes, arbitrary text, and mutated published samples."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.feeds.base import ParseResult
from streams.feeds.registry import FORMATS, parse
from tests.unit.feeds.conftest import RECEIVED, SAMPLES

MINE = ["edifact", "dcsa-tnt-3.0", "dcsa-tnt-2.2", "epcis-2.0", "rail-events", "road-pings"]
INSERTS = [b"'", b"+", b":", b"?", b'"', b"{", b"]", b"\r\n", b"\x00", b"9" * 30, b"UNA:+.? '", b"UNA", b"UNH+",
           b"STS+", b"null", b"-1e999", b'"eventDateTime"']  # fmt: skip
SAMPLE_BYTES = [p.read_bytes() for p in sorted(SAMPLES.iterdir()) if p.suffix in (".json", ".jsonld", ".edi", ".csv")]


def _check(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    for event in result.events:
        assert event.event_id and event.event_time.tzinfo is not None
    for rejection in result.rejections:
        assert rejection.reason
        # the registry turns an adapter's exception into "<format>: internal error ...": a crash, not a refusal
        assert "internal error" not in rejection.reason, rejection.reason


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLE_BYTES)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos : pos + draw(st.integers(1, 40))]
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(INSERTS))
        elif op == "dup" and data:
            data[pos:pos] = data[pos : pos + 60]
    return bytes(data)


@settings(max_examples=150)
@given(data=st.binary(max_size=2000), name=st.sampled_from(MINE))
def test_never_raises_on_bytes(data: bytes, name: str) -> None:
    _check(FORMATS[name].parse(data, RECEIVED))


@settings(max_examples=150)
@given(text=st.text(max_size=1000), name=st.sampled_from(MINE))
def test_never_raises_on_text(text: str, name: str) -> None:
    _check(FORMATS[name].parse(text.encode("utf-8", "surrogatepass"), RECEIVED))


@settings(max_examples=300)
@given(data=mutated(), name=st.sampled_from([*MINE, None]))
def test_never_raises_on_mutated_samples(data: bytes, name: str | None) -> None:
    _check(parse(data, name, RECEIVED))
