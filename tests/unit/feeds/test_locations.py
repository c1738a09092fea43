"""UN/LOCODE table and time helpers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.feeds.locations import (
    LocationError,
    check_locode,
    is_known_locode,
    locode_for_iata,
    locode_position,
    locode_zone,
)
from streams.feeds.timeparse import TimeError, dtm_to_utc, local_to_utc, parse_dtm, parse_iso, parse_iso_or_local


@pytest.mark.parametrize(
    ("code", "zone"),
    [("DEDUI", "Europe/Berlin"), ("BELGG", "Europe/Brussels"), ("ESMAD", "Europe/Madrid"),
     ("CNCKG", "Asia/Shanghai"), ("VNHAN", "Asia/Ho_Chi_Minh"), ("NLRTM", "Europe/Amsterdam"),
     ("HUBUD", "Europe/Budapest"), ("HKHKG", "Asia/Hong_Kong"), ("BYBQT", "Europe/Minsk"),
     ("ESLPA", "Atlantic/Canary")],
)  # fmt: skip
def test_corridor_hubs_are_known_with_their_zone(code: str, zone: str) -> None:
    assert is_known_locode(code)
    assert str(locode_zone(code)) == zone
    assert locode_position(code) is not None


def test_cnakl_is_alashankou_on_the_kazakh_border_not_a_port_in_guangdong() -> None:
    # UN/LOCODE CN-65 (Xinjiang) AKL Alatawshankou; the seaport list the table is built from had it as Dianbai.
    lat, lon = locode_position("CNAKL")
    assert 44.5 < lat < 45.5 and 82 < lon < 83  # a few km from Dostyk, across the border
    assert str(locode_zone("CNAKL")) == "Asia/Shanghai"  # Beijing time, as rail and customs there report
    assert local_to_utc(datetime(2026, 3, 8, 14, 0), "CNAKL") == datetime(2026, 3, 8, 6, 0, tzinfo=UTC)


def test_the_kazakh_border_stations_corridor_routes_through_have_their_zone() -> None:
    # Kazakhstan has several zone names (no country fallback): a station must be listed to read its local times.
    for code in ("KZALS", "KZHOR"):  # Dostyk, Altynkol
        assert str(locode_zone(code)) == "Asia/Almaty" and locode_position(code) is not None
    # Kazakhstan moved to UTC+5 on 2024-03-01: a local time at Dostyk is read with the offset of its date.
    assert local_to_utc(datetime(2024, 2, 20, 12, 0), "KZALS") == datetime(2024, 2, 20, 6, 0, tzinfo=UTC)
    assert local_to_utc(datetime(2026, 3, 8, 12, 0), "KZALS") == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_unknown_place_of_a_single_zone_country_gets_the_country_zone_and_others_none() -> None:
    assert not is_known_locode("DEXYZ")
    assert str(locode_zone("DEXYZ")) == "Europe/Berlin"  # Germany keeps one clock (Berlin = Busingen)
    assert locode_zone("USXXX") is None  # several zones: unknown, not guessed
    assert locode_zone("ESXXX") is None  # mainland or Canaries? unknown
    assert locode_zone("XXABC") is None
    assert locode_position("XXABC") is None


def test_iata_codes_map_to_locodes() -> None:
    assert locode_for_iata("LGG") == "BELGG"
    assert locode_for_iata("CKG") == "CNCKG"
    assert locode_for_iata("lgg") == "BELGG"
    assert locode_for_iata("ZZZ") is None
    assert locode_for_iata(None) is None


def test_check_locode_reasons() -> None:
    assert check_locode("de dui") == "DEDUI"
    assert check_locode("DEXYZ") == "DEXYZ"  # real country, not in our table: accepted
    with pytest.raises(LocationError, match="location XXABC is not a UN/LOCODE we know"):
        check_locode("XXABC")
    with pytest.raises(LocationError, match="is not a UN/LOCODE"):
        check_locode("DE-DUI1")


def test_local_time_uses_dst_of_the_place() -> None:
    assert local_to_utc(datetime(2024, 7, 1, 12, 0), "DEDUI") == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    assert local_to_utc(datetime(2024, 1, 1, 12, 0), "DEDUI") == datetime(2024, 1, 1, 11, 0, tzinfo=UTC)
    assert local_to_utc(datetime(2024, 1, 1, 12, 0), "CNCKG") == datetime(2024, 1, 1, 4, 0, tzinfo=UTC)


def test_local_time_at_unknown_location_is_an_error_not_utc() -> None:
    with pytest.raises(TimeError, match="no time zone known for USXXX"):
        local_to_utc(datetime(2024, 1, 1, 12, 0), "USXXX")
    with pytest.raises(TimeError, match="no time zone known for XXABC"):
        parse_iso_or_local("2024-01-01T12:00", "XXABC")


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [("20240102", "102", datetime(2024, 1, 2)), ("202401021530", "203", datetime(2024, 1, 2, 15, 30)),
     ("20240102153045", "204", datetime(2024, 1, 2, 15, 30, 45)),
     ("202401021530+0200", "205", datetime(2024, 1, 2, 13, 30, tzinfo=UTC)),
     ("202401021530UTC", "303", datetime(2024, 1, 2, 15, 30, tzinfo=UTC)), ("240102", "101", datetime(2024, 1, 2))],
)  # fmt: skip
def test_edifact_dtm_formats(value: str, fmt: str, expected: datetime) -> None:
    assert parse_dtm(value, fmt) == expected


@pytest.mark.parametrize(
    ("value", "fmt", "reason"),
    [("20241345", "102", "20241345: not a date"), ("202402301200", "203", "not a date"),
     ("2024010212", "203", "not a date in format 203"), ("202401021530", "999", "format 999 is not one we read"),
     ("19990101", "102", "year 1999 is not plausible"), ("202401021530+2500", "205", "not a real UTC offset")],
)  # fmt: skip
def test_impossible_edifact_dates_are_explained(value: str, fmt: str, reason: str) -> None:
    with pytest.raises(TimeError, match=reason):
        parse_dtm(value, fmt)


def test_dtm_to_utc_and_iso() -> None:
    assert dtm_to_utc("202308111447", "203", "ESHUV") == datetime(2023, 8, 11, 12, 47, tzinfo=UTC)
    assert parse_iso("2019-11-12T07:41:00+08:30") == datetime(2019, 11, 11, 23, 11, tzinfo=UTC)
    with pytest.raises(TimeError, match="has no UTC offset"):
        parse_iso("2019-11-12T07:41:00")
    with pytest.raises(TimeError, match="not an ISO 8601"):
        parse_iso("2024-13-45T00:00Z")
