"""Door-to-door bands (issue #25): a shipment leg's band is its latest part's, quantile by quantile, from the
units' own bands; pieces not loaded yet carry the band of the leg before; the shipment's is its last leg's, in its
timeline, its ETA updates and the at-risk list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from streams.core.shipments.view import _carried, _latest
from tests.support.shipment_flows import AWB, consolidation, split_awb
from tests.unit.core.shipments.test_shipments import run

T0 = datetime(2026, 3, 1, tzinfo=UTC)
band = st.tuples(st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 5000)).map(
    lambda t: tuple(T0 + timedelta(minutes=m) for m in sorted(t)))


def _t(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s.replace("Z", "+00:00"))


@given(bands=st.lists(band, min_size=1, max_size=5), floor=st.integers(0, 6000), hours=st.integers(0, 100))
def test_the_latest_part_and_a_carried_band_are_ordered_and_no_earlier_than_their_inputs(bands, floor, hours) -> None:
    lo, mid, hi = _latest(bands)
    assert lo <= mid <= hi and all(lo >= b[0] and mid >= b[1] and hi >= b[2] for b in bands)
    f = T0 + timedelta(minutes=floor)
    c = _carried(bands[0], f, timedelta(hours=hours))
    assert c[0] <= c[1] <= c[2] and c[0] >= f + timedelta(hours=hours)
    assert c[1] == max(f, bands[0][1]) + timedelta(hours=hours)  # the median: the leg's own rule


def _latest_timeline(out: dict, unit: str, as_of: str) -> dict:
    return [t for t in out[unit]["timeline"] if t["as_of"] is not None and t["as_of"] <= as_of][-1]


def _arrival(tl: dict, location: str) -> dict:
    return next(m for m in tl["milestones"] if m["kind"] == "ARRIVAL" and m["location"] == location)


def test_a_split_waybills_leg_has_its_latest_ulds_band_and_the_door_band_follows_it() -> None:
    out = run(split_awb())
    timelines = out[AWB]["shipment_timeline"]
    both = [t for t in timelines if t["legs"][0]["predicted_arrival_p90"] != t["legs"][0]["predicted_arrival"]
            and len(t["legs"][0]["units"]) == 2 and t["legs"][0]["actual_arrival"] is None]
    assert both, "a moment with both ULDs under way, with bands"
    for t in both:
        air, road = t["legs"]
        ulds = [_arrival(_latest_timeline(out, u, t["as_of"]), "BELGG") for u in air["units"]]
        assert air["predicted_arrival_p90"] == max(m["predicted_p90"] for m in ulds if m["predicted_p90"])
        assert air["predicted_arrival_p10"] <= air["predicted_arrival"] <= air["predicted_arrival_p90"]
        # The truck leg waits for them: the door-to-door band is no narrower than the flight's beyond the
        # truck's schedule, and it is the last leg's.
        assert (t["predicted_delivery_p10"], t["predicted_delivery_p90"]) == (road["predicted_arrival_p10"],
                                                                              road["predicted_arrival_p90"])
    final = timelines[-1]
    assert final["status"] == "DELIVERED" and final["predicted_delivery_p10"] is None
    assert final["predicted_delivery_p90"] is None


def test_a_consolidated_shipment_carries_its_band_door_to_door_and_publishes_it() -> None:
    out = run(consolidation(train_hours=110))
    timelines = out["BK-ASX-1"]["shipment_timeline"]
    open_ = [t for t in timelines if t["status"] != "DELIVERED" and t["predicted_delivery"] is not None]
    assert all(_t(t["predicted_delivery_p10"]) <= _t(t["predicted_delivery"]) <= _t(t["predicted_delivery_p90"])
               for t in open_ if t["predicted_delivery_p10"])  # fmt: skip
    # On the train (leg 1), its container's band at the leg's end reaches the door: the truck leg after it waits.
    on_train = [t for t in open_ if t["legs"][1]["units"] and t["legs"][1]["actual_arrival"] is None
                and t["legs"][1]["predicted_arrival_p90"] != t["legs"][1]["predicted_arrival"]]
    assert on_train
    for t in on_train:
        rail = t["legs"][1]
        unit = _arrival(_latest_timeline(out, rail["units"][0], t["as_of"]), rail["destination"])
        assert (rail["predicted_arrival_p10"], rail["predicted_arrival_p90"]) == (unit["predicted_p10"],
                                                                                  unit["predicted_p90"])
        assert _t(t["predicted_delivery_p90"]) > _t(t["predicted_delivery"])  # the door band is not a point
    etas = out["BK-ASX-1"]["shipment_eta"]
    assert any(e["predicted_delivery_p90"] and e["predicted_delivery_p90"] > e["predicted_delivery"] for e in etas)
    assert etas[-1]["predicted_delivery_p10"] is None  # delivered: no band
