"""One rule for identifiers wherever they enter (API, feeds, plans): ASCII letters and digits. A digit of another
width or script (the full-width or Arabic-Indic nine, U+FF19 or U+0669) is refused with a message naming it,
never read as its ASCII twin, and no letter is upper-cased into others (ß would become SS)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas import TrackedUnit
from schemas.refs import UnitKind, ascii_id, normalise_container
from schemas.shipments import ShipmentKind, ShipmentRef
from streams.api.refs import RefError, parse_locode, parse_shipment_ref, parse_unit_ref
from streams.feeds.ids import IdError, container

FULL_WIDTH_9, ARABIC_INDIC_9 = "\uff19", "\u0669"


@pytest.mark.parametrize("digit", [FULL_WIDTH_9, ARABIC_INDIC_9])
def test_a_container_number_with_a_foreign_digit_is_refused_everywhere(digit: str):
    bad = "CSNU261913" + digit
    assert parse_unit_ref("CSNU2619139").id == "CSNU2619139"
    with pytest.raises(RefError, match=f"contains '{digit}'"):
        parse_unit_ref(bad)
    with pytest.raises(ValueError, match="identifiers are ASCII"):
        normalise_container(bad)
    with pytest.raises(ValidationError, match="identifiers are ASCII"):
        TrackedUnit(kind=UnitKind.CONTAINER, id=bad)
    with pytest.raises(IdError, match="identifiers are ASCII"):
        container(bad)


@pytest.mark.parametrize("kind, value", [
    (UnitKind.AWB, "020-1234567" + FULL_WIDTH_9), (UnitKind.ULD, "AKE1234" + FULL_WIDTH_9 + "CX"),
    (UnitKind.TRAILER, "\u00dfX1"), (UnitKind.TRAILER, "DU-CX 10" + ARABIC_INDIC_9),
])
def test_other_units_follow_the_same_rule(kind: UnitKind, value: str):
    with pytest.raises(ValidationError, match="identifiers are ASCII"):
        TrackedUnit(kind=kind, id=value)
    with pytest.raises(RefError):
        parse_unit_ref(value, kind.value)


def test_shipment_references_and_locodes_follow_it_too():
    with pytest.raises(ValidationError, match="identifiers are ASCII"):
        ShipmentRef(kind=ShipmentKind.BOOKING, id="STRA\u00dfE-1")
    with pytest.raises(RefError, match="identifiers are ASCII"):
        parse_shipment_ref("580-1234567" + FULL_WIDTH_9)
    with pytest.raises(RefError, match="ASCII"):
        parse_locode("DEDU\u0131")
    assert ascii_id("CSNU2619139") == "CSNU2619139"
