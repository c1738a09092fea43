"""IATA airport -> UN/LOCODE and IANA zone (streams/feeds/airports.py)."""

from __future__ import annotations

import pytest

from streams.feeds.airports import LOCODE_OVERRIDES, airport, locode_for, zone_for, zone_for_locode


@pytest.mark.parametrize(
    ("iata", "locode", "zone"),
    [
        ("FRA", "DEFRA", "Europe/Berlin"),  # rule 4: country + IATA code
        ("LGG", "BELGG", "Europe/Brussels"),
        ("HKG", "HKHKG", "Asia/Hong_Kong"),
        ("MAD", "ESMAD", "Europe/Madrid"),
        ("DOH", "QADOH", "Asia/Qatar"),
        ("JFK", "USNYC", "America/New_York"),  # rule 2: IATA city NYC
        ("CDG", "FRPAR", "Europe/Paris"),
        ("NRT", "JPTYO", "Asia/Tokyo"),
        ("PVG", "CNSHA", "Asia/Shanghai"),
        ("ICN", "KRSEL", "Asia/Seoul"),
        ("CRL", "BECRL", "Europe/Brussels"),  # filed under Brussels by IATA, a place of its own
        ("YYZ", "CATOR", "America/Toronto"),  # rule 1: override
        ("MAN", "GBMNC", "Europe/London"),
    ],
)
def test_airport_locode_and_zone(iata: str, locode: str, zone: str) -> None:
    found = airport(iata)
    assert found is not None
    assert (found.locode, found.zone.key) == (locode, zone)
    assert locode_for(iata) == locode
    assert zone_for(iata.lower()).key == zone


@pytest.mark.parametrize("code", ["XXX", "", "FR", "FRAX", "12A", None, 42])
def test_unknown_airport_is_none_never_utc(code: object) -> None:
    assert airport(code) is None  # type: ignore[arg-type]
    assert zone_for(code) is None  # type: ignore[arg-type]


def test_overrides_are_well_formed() -> None:
    for iata, locode in LOCODE_OVERRIDES.items():
        found = airport(iata)
        assert found is not None, iata
        assert found.locode == locode and locode[:2] == found.country


def test_zone_for_locode() -> None:
    assert zone_for_locode("USNYC").key == "America/New_York"
    assert zone_for_locode("de fra").key == "Europe/Berlin"
    assert zone_for_locode("nonsense") is None
