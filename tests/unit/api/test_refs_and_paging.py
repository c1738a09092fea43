"""Reading references and query parameters (400 messages), and cursor paging across workers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import UnitKind
from streams.api.paging import decode_cursor, encode_cursor, page, parse_limit, parse_open, parse_severities
from streams.api.refs import RefError, parse_locode, parse_unit_ref


@pytest.mark.parametrize(("ref", "kind", "unit_id"), [
    ("CSQU3054383", UnitKind.CONTAINER, "CSQU3054383"),
    ("csqu 305438-3", UnitKind.CONTAINER, "CSQU3054383"),
    ("MSKU 123456 5", UnitKind.CONTAINER, "MSKU1234565"),
    ("020-12345675", UnitKind.AWB, "020-12345675"),
    ("02012345675", UnitKind.AWB, "020-12345675"),
    ("AKE12345CX", UnitKind.ULD, "AKE12345CX"),
    ("wx-1234", UnitKind.TRAILER, "WX-1234"),
])
def test_references_are_recognised_and_normalised_as_the_state_is_keyed(ref, kind, unit_id):
    unit = parse_unit_ref(ref)
    assert (unit.kind, unit.id) == (kind, unit_id)


@pytest.mark.parametrize(("ref", "kind", "says"), [
    ("CSQU3054384", None, "ISO 6346"),  # wrong check digit
    ("CSQU3054384", None, "check digit"),
    ("CSQU305438", None, "ISO 6346"),  # a digit short: still a container attempt, not a trailer plate
    ("CSQX3054383", None, "ISO 6346"),  # category must be U, J, Z or R
    ("020-12345676", None, "air waybill check digit"),
    ("!!", None, "not a trailer id"),
    ("", None, "empty unit reference"),
    ("X" * 41, None, "too long"),
    ("CSQU3054383", "ship", "unknown unit kind"),
    ("CSQU3054383", "ULD", "not an IATA ULD id"),
])
def test_malformed_references_say_what_is_wrong(ref, kind, says):
    with pytest.raises(RefError, match=says):
        parse_unit_ref(ref, kind)


def test_explicit_kind_settles_an_ambiguous_reference():
    assert parse_unit_ref("ABCD123456", "TRAILER").id == "ABCD123456"
    assert parse_unit_ref("csqu3054383", "container").id == "CSQU3054383"


def test_locodes():
    assert parse_locode("de dui") == "DEDUI"
    with pytest.raises(RefError, match="not a UN/LOCODE"):
        parse_locode("DUISBURG")


def test_query_parameters():
    assert parse_limit(None) == 50 and parse_limit("7") == 7
    for bad in ("0", "501", "ten"):
        with pytest.raises(RefError, match="limit"):
            parse_limit(bad)
    assert parse_severities("major, critical") == {"MAJOR", "CRITICAL"} and parse_severities(None) is None
    with pytest.raises(RefError, match="unknown severity HIGH"):
        parse_severities("HIGH")
    assert parse_open(None) is True and parse_open("false") is False
    with pytest.raises(RefError, match="open must be true or false"):
        parse_open("maybe")


def test_cursor_round_trip_and_foreign_cursors():
    key = (datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), "al-1")
    assert decode_cursor(encode_cursor(key)) == key
    assert decode_cursor(None) is None
    for bad in ("nonsense", "W10", encode_cursor(key)[:-3]):
        with pytest.raises(RefError, match="invalid cursor"):
            decode_cursor(bad)


T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _alert(i: int, minutes: int) -> dict:
    return {"alert_id": f"al-{i:04d}", "detected_at": (T0 + timedelta(minutes=minutes)).isoformat()}


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 50)), max_size=40),
    st.integers(1, 7),
)
def test_paging_merged_worker_pages_walks_every_alert_once_newest_first(spec, limit):
    """Each worker answers its own first page after the cursor; the merge of those pages, paged again, walks
    the global list exactly as paging the global list would (ties in time broken by alert id)."""
    alerts = [(w, _alert(i, m)) for i, (w, m) in enumerate(spec)]
    everything = [a for _, a in alerts]
    expected = sorted(everything, key=lambda a: (a["detected_at"], a["alert_id"]), reverse=True)
    seen: list[dict] = []
    cursor = None
    for _ in range(100):
        after = decode_cursor(cursor)
        pages = [page([a for w, a in alerts if w == worker], after, limit) for worker in range(4)]
        items, cursor = page([i for p in pages for i in p[0]], after, limit, more_beyond=any(p[1] for p in pages))
        assert len(items) <= limit
        seen += items
        if cursor is None:
            break
    assert seen == expected
