"""Properties of the three IATA adapters: whatever the bytes, parse() returns (never raises, never hits its
internal-error net), its events are valid and deterministic; mutated published samples and generated status lines
included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from streams.feeds.base import ParseResult
from streams.feeds.iata.fsu import CargoImpFsu
from streams.feeds.iata.one_record import OneRecordLogisticsEvent
from streams.feeds.iata.rules import STATUS_RULES
from streams.feeds.iata.xfsu import CargoXmlXfsu
from tests.unit.feeds.iata import SAMPLES, check_result

ADAPTERS = [CargoImpFsu(), CargoXmlXfsu(), OneRecordLogisticsEvent()]
SAMPLE_BYTES = {
    "iata-fsu": [p.read_bytes() for p in sorted(SAMPLES.glob("*.txt"))],
    "iata-xfsu": [p.read_bytes() for p in sorted(SAMPLES.glob("*.xml"))],
    "iata-one-record": [p.read_bytes() for p in sorted(SAMPLES.glob("*.json"))],
}
RECEIVED = datetime(2023, 10, 17, 12, tzinfo=UTC)

receptions = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(2001, 1, 2), max_value=datetime(2098, 12, 30)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)


def check(result: ParseResult, name: str) -> None:
    check_result(result)
    for event in result.events:
        assert event.unit.kind.value == "AWB" and event.shipment.air_waybill == event.unit.id
        assert event.mode.value == "AIR"
        assert event.source == name


@given(st.binary(max_size=3000), receptions)
def test_any_bytes(data: bytes, received: datetime) -> None:
    for adapter in ADAPTERS:
        check(adapter.parse(data, received), adapter.name)


@given(st.text(max_size=2000), receptions)
def test_any_text(text: str, received: datetime) -> None:
    for adapter in ADAPTERS:
        check(adapter.parse(text.encode("utf-8", "surrogatepass"), received), adapter.name)
        adapter.sniff(text.encode("utf-8", "surrogatepass"))


NOISE = st.sampled_from([*"/-\n\r \t=.:0123456789AEKLNPSTXZ<>{}[]\"'&;#@,", "\x00", "é", "\ufffd"])


@st.composite
def mutated(draw: st.DrawFn, samples: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(NOISE).encode()
        if action == "insert":
            data[position:position] = piece
        elif action == "delete":
            del data[position : position + draw(st.integers(min_value=1, max_value=12))]
        else:
            data[position : position + len(piece)] = piece
    return bytes(data)


def _mutation_test(name: str):
    adapter = next(a for a in ADAPTERS if a.name == name)

    @given(mutated(SAMPLE_BYTES[name]), receptions)
    def test(data: bytes, received: datetime) -> None:
        first = adapter.parse(data, received)
        check(first, name)
        again = adapter.parse(data, received)
        assert [e.event_id for e in again.events] == [e.event_id for e in first.events]  # deterministic

    return test


test_mutated_fsu_samples = _mutation_test("iata-fsu")
test_mutated_xfsu_samples = _mutation_test("iata-xfsu")
test_mutated_one_record_samples = _mutation_test("iata-one-record")

FIELDS = st.sampled_from(
    [
        "", "LH400", "LH", "O31698", "3U8888", "16OCT", "16OCT1317", "31FEB", "29FEB2359", "00JAN", "16OCX",
        "16OCT2560", "16OCT1317-N", "16OCT0100-K", "FRA", "FRAJFK", "JFK", "XXX", "T1K100", "P2K505.0T10", "T0",
        "A1317", "E2030-N", "S0000-P", "S2400", "E0130-T", "MC4.761", "ACME", "MSCA", "DART AIR SERVICES LTD",
    ]
)  # fmt: skip


@st.composite
def fsu_messages(draw: st.DrawFn) -> bytes:
    awb = draw(st.sampled_from(["020-12345675", "157-53806270", "020-12345670", "12-3", "020-12345675FRAJFK/T1K100"]))
    lines = ["FSU/14", awb]
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        code = draw(st.sampled_from([*STATUS_RULES, "OCI", "ULD", "ZZZ", "/HK//SS/SPX"]))
        fields = draw(st.lists(FIELDS, max_size=7))
        lines.append("/".join([code, *fields]))
    separator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    envelope = draw(st.sampled_from(["", "QD SIN05XH\n.HDQFMQR 200739\n"]))
    return (envelope + separator.join(lines) + draw(st.sampled_from(["", "\n=\n", "\nNNNN"]))).encode()


@given(fsu_messages(), receptions)
def test_generated_fsu_status_lines(data: bytes, received: datetime) -> None:
    result = CargoImpFsu().parse(data, received)
    check(result, "iata-fsu")
    for event in result.events:
        if event.classifier.value == "ACTUAL":
            assert event.event_time <= received + timedelta(days=1)


@given(st.sampled_from(SAMPLE_BYTES["iata-fsu"]), receptions)
def test_fsu_samples_at_any_reception(data: bytes, received: datetime) -> None:
    check(CargoImpFsu().parse(data, received), "iata-fsu")
