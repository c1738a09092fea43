"""`schemas.codec.constructor`: the same models as pydantic's `model_construct`, faster."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from schemas import EtaUpdate, StopEta, TrackedUnit, dumps
from schemas.codec import constructor

instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))
maybe = st.one_of(st.none(), instants)


def same(a: BaseModel, b: BaseModel) -> None:
    assert list(a.__dict__.items()) == list(b.__dict__.items())  # same fields, same order
    assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__
    assert a.__pydantic_extra__ == b.__pydantic_extra__ and a.__pydantic_private__ == b.__pydantic_private__
    assert a == b and dumps(a) == dumps(b)


@given(planned=instants, predicted=instants, lo=maybe, hi=maybe, previous=maybe, estimate=maybe, as_of=instants,
       stops=st.integers(0, 3), partial=st.booleans())  # fmt: skip
def test_it_makes_what_model_construct_makes(planned, predicted, lo, hi, previous, estimate, as_of, stops,
                                             partial) -> None:  # fmt: skip
    stop_values = [dict(location="NLRTM", leg_index=i, planned=planned, predicted=predicted) |
                   ({} if partial else dict(predicted_p10=lo, predicted_p90=hi)) for i in range(stops)]
    made = [constructor(StopEta)(**v) for v in stop_values]
    for a, v in zip(made, stop_values, strict=True):
        same(a, StopEta.model_construct(**v))
    values = dict(unit=TrackedUnit.container("CSQU3054383"), destination="NLRTM", predicted_arrival=predicted,
                  arrival_p10=lo, arrival_p90=hi, previous_prediction=previous, planned_arrival=planned,
                  carrier_estimate=estimate, stops=made, reason="why", as_of=as_of, plan_revision=2)
    if partial:  # defaults filled in, as model_construct does (stops: a fresh list each time)
        for k in ("arrival_p10", "arrival_p90", "previous_prediction", "carrier_estimate", "stops"):
            del values[k]
    a, b = constructor(EtaUpdate)(**values), EtaUpdate.model_construct(**values)
    same(a, b)
    if partial:
        assert a.stops is not constructor(EtaUpdate)(**values).stops


def test_it_refuses_models_model_construct_does_more_for() -> None:
    class Aliased(BaseModel):
        x: int = Field(alias="y")

    class Factory(BaseModel):
        x: list[int] = Field(default_factory=list)

    for cls in (Aliased, Factory):
        with pytest.raises(TypeError):
            constructor(cls)


def test_a_required_field_left_out_or_a_stranger_given_is_what_model_construct_makes() -> None:
    """Beside the one-step path (every required field given, fields only), the field-by-field one."""
    at = datetime(2026, 3, 2, tzinfo=UTC)
    base = dict(unit=TrackedUnit.container("CSQU3054383"), destination="NLRTM", predicted_arrival=at,
                planned_arrival=at, stops=[], reason="r", as_of=at, plan_revision=1)  # fmt: skip
    for values in ({k: v for k, v in base.items() if k != "reason"}, {**base, "stranger": 1}, base):
        same(constructor(EtaUpdate)(**values), EtaUpdate.model_construct(**values))
