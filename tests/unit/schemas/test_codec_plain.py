"""`schemas.codec.dumps_plain`: what pydantic's serializer (`dumps`) writes, from the model's `__dict__`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from schemas import EtaUpdate, StopEta, TrackedUnit, UnitKind, dumps
from schemas.codec import constructor, dumps_plain

# UTC instants to the microsecond, as the core makes them (events' times are normalised to UTC on input).
instants = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
maybe = st.one_of(st.none(), instants)
units = st.sampled_from([TrackedUnit.container("CSQU3054383"), TrackedUnit(kind=UnitKind.ULD, id="AKE12345LH"),
                         TrackedUnit(kind=UnitKind.AWB, id="020-12345675")])  # fmt: skip


@st.composite
def stops(draw: st.DrawFn) -> StopEta:
    values = dict(location=draw(st.sampled_from(["NLRTM", "SGSIN", "DEHAM"])), leg_index=draw(st.integers(0, 9)),
                  planned=draw(instants), predicted=draw(instants))  # fmt: skip
    if draw(st.booleans()):
        values |= dict(predicted_p10=draw(maybe), predicted_p90=draw(maybe))
    return constructor(StopEta)(**values)


@given(unit=units, predicted=instants, lo=maybe, hi=maybe, previous=maybe, planned=instants, estimate=maybe,
       stops=st.lists(stops(), max_size=4), reason=st.text(max_size=40), as_of=instants,
       revision=st.one_of(st.integers(0, 2**63 - 1), st.integers(2**64, 2**70)), built=st.booleans())  # fmt: skip
def test_it_writes_what_pydantic_writes(unit, predicted, lo, hi, previous, planned, estimate, stops, reason, as_of,
                                        revision, built) -> None:  # fmt: skip
    """Built as the tracker builds them (`constructor`) or validated; reasons with any text (quotes, control
    characters, non-ASCII); revisions beyond what orjson takes (then left to pydantic)."""
    values = dict(unit=unit, destination="NLRTM", predicted_arrival=predicted, arrival_p10=lo, arrival_p90=hi,
                  previous_prediction=previous, planned_arrival=planned, carrier_estimate=estimate, stops=stops,
                  reason=reason, as_of=as_of, plan_revision=revision)  # fmt: skip
    update = constructor(EtaUpdate)(**values) if built else EtaUpdate.model_validate(values)
    assert dumps_plain(update) == dumps(update)


def test_a_zero_offset_that_is_not_utc_is_written_as_pydantic_writes_it() -> None:
    at = datetime(2026, 3, 2, 12, 30, 15, 250, tzinfo=timezone(timedelta(0)))
    update = EtaUpdate(unit=TrackedUnit.container("CSQU3054383"), destination="NLRTM", predicted_arrival=at,
                       planned_arrival=at, reason="r", as_of=at, plan_revision=1)  # fmt: skip
    assert dumps_plain(update) == dumps(update)
