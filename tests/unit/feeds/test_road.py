"""Road pings and the geofence state machine (sample road-pings-duisburg.json is ours)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from schemas.events import Milestone
from schemas.refs import Mode
from streams.feeds.ids import container
from streams.feeds.road import (
    DEFAULT_FENCES,
    Fence,
    GeofenceState,
    Ping,
    RoadPings,
    parse_pings,
    run,
    step,
)
from tests.unit.feeds.conftest import RECEIVED, load

DUI = Fence("DEDUI", 51.4302, 6.724, 8.0)
T0 = datetime(2024, 5, 18, 6, 0, tzinfo=UTC)
BOX = container("TGHU1643396")


def _ping(minutes: float, lat: float, lon: float = 6.724, vehicle: str = "DU-LX 4711") -> Ping:
    return Ping(vehicle, BOX, lat, lon, 30.0, T0 + timedelta(minutes=minutes))


def test_sample_message_arrival_and_departure() -> None:
    result = RoadPings().parse(load("road-pings-duisburg.json"), RECEIVED)
    assert result.rejections == []
    arrived, departed = result.events
    assert (arrived.milestone, arrived.location, arrived.mode) == (Milestone.ARRIVED, "DEDUI", Mode.ROAD)
    assert arrived.event_time == datetime(2024, 5, 18, 5, 52, tzinfo=UTC)  # first ping inside, confirmed by the next
    assert (departed.milestone, departed.event_time) == (Milestone.DEPARTED, datetime(2024, 5, 18, 7, 48, tzinfo=UTC))
    assert arrived.transport.truck == "DU-LX 4711" and arrived.unit.id == "TGHU1643396"
    assert arrived.event_id == "road:DU-LX 4711:TGHU1643396:ARRIVED:DEDUI:20240518T055200Z"
    assert RoadPings().parse(load("road-pings-duisburg.json"), RECEIVED).events == result.events


def test_jitter_on_the_fence_edge_does_not_flap() -> None:
    # ~8.3 km north of the centre: beyond the radius but inside the 10 km exit band, and back in
    edge_out, edge_in = 51.4302 + 8.3 / 111.2, 51.4302 + 7.5 / 111.2
    pings = [_ping(0, 51.4302), _ping(1, 51.4302)] + [_ping(2 + i, edge_out if i % 2 else edge_in) for i in range(10)]
    _, events = run(pings, [DUI])
    assert [e.milestone for e in events] == [Milestone.ARRIVED]


def test_single_stray_ping_is_debounced() -> None:
    state = GeofenceState()
    state, events = step(state, _ping(0, 51.4302), [DUI])
    assert events == [] and state.inside is None and state.pending == "IN:DEDUI"
    state, events = step(state, _ping(1, 52.5), [DUI])  # back outside: the half-confirmed entry is dropped
    assert events == [] and state.pending is None
    state, _ = step(state, _ping(2, 51.4302), [DUI])
    state, events = step(state, _ping(3, 51.4302), [DUI])
    assert [e.milestone for e in events] == [Milestone.ARRIVED] and state.inside == "DEDUI"


def test_out_of_order_and_duplicate_pings_are_ignored() -> None:
    state, _ = run([_ping(0, 51.4302), _ping(1, 51.4302)], [DUI])
    current = state["DU-LX 4711"]
    again, events = step(current, _ping(1, 52.5), [DUI])
    older, events_old = step(current, _ping(-30, 52.5), [DUI])
    assert (again, events, older, events_old) == (current, [], current, [])


def test_state_round_trips_through_json() -> None:
    state, _ = run([_ping(0, 51.4302), _ping(1, 51.4302), _ping(2, 52.5)], [DUI])
    s = state["DU-LX 4711"]
    restored = GeofenceState.from_dict(orjson.loads(orjson.dumps(s.to_dict())))
    assert restored == s and restored.inside == "DEDUI" and restored.pending == "OUT:DEDUI"
    _, events = step(restored, _ping(3, 52.5), [DUI])
    assert [(e.milestone, e.event_time) for e in events] == [(Milestone.DEPARTED, T0 + timedelta(minutes=2))]


def test_bad_pings_are_rejected_and_good_ones_kept() -> None:
    at = {"latitude": 51.43, "longitude": 6.72}
    msg = {"pings": [
        {"vehicle": "A", "container": "TGHU1643396", **at, "time": "2024-05-18T06:00:00Z"},
        {"vehicle": "A", "container": "MSCU1234567", **at, "time": "2024-05-18T06:01:00Z"},
        {"vehicle": "A", "latitude": 91, "longitude": 6.72, "time": "2024-05-18T06:02:00Z"},
        {"vehicle": "A", "latitude": 51.43, "longitude": 6.72, "time": "2024-05-18T06:03:00"},
        {"latitude": 51.43, "longitude": 6.72, "time": "2024-05-18T06:03:00Z"},
    ]}  # fmt: skip
    pings, rejections = parse_pings(orjson.dumps(msg))
    assert len(pings) == 1
    assert [r.reason for r in rejections] == [
        "ping 1 of A: container MSCU1234567 has a wrong check digit (expected 6)",
        "ping 2 of A: latitude 91.0 is outside -90..90",
        "ping 3 of A: time 2024-05-18T06:03:00: has no UTC offset (ISO 8601 with Z or +hh:mm expected)",
        "ping 4: no vehicle",
    ]


def test_default_fences_cover_the_corridor_hubs() -> None:
    assert {"DEDUI", "BELGG", "ESMAD", "CNCKG", "VNHAN", "NLRTM", "HUBUD"} <= {f.locode for f in DEFAULT_FENCES}
