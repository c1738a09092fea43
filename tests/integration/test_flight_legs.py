"""A two-leg flight on the real embedded broker with a real worker: the FFM lists its cargo by point of unloading
(HKG-LGG-MAD), Cargo-IMP status messages report the flight's departure and both arrivals, and each unit hears the
arrival at its own point of unloading only; replay of what ingest wrote gives what the worker gave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.io.kafka import OutputReader, Publisher
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.test_conveyance_join import _latest, _live_equals_replay

pytestmark = pytest.mark.integration

# Cargo-IMP dates have no year: the flight is three days before today, so it is in the past whenever this runs.
DAY = (datetime.now(UTC) - timedelta(days=3)).date()
DDMMM = DAY.strftime("%d%b").upper()
FFM = f"""FFM/8
1/CV7301/{DDMMM}0130/HKG
LGG
160-12345675HKGLGG/T12K300MC1.1/GARMENTS
ULD/PMC12345CV
160-22334454HKGLGG/T40K900MC5.0/ELECTRONICS
MAD
ULD/PMC54321CV
160-33445565HKGMAD/T30K700MC4.1/TOYS
LAST
""".encode()
FSU = f"""FSU/14
160-33445565HKGMAD/T30K700
DEP/CV7301/{DDMMM}/HKGLGG/T30K700/A0130
ARR/CV7301/{DDMMM}/LGG/T30K700//A0600
DEP/CV7301/{DDMMM}/LGGMAD/T30K700/A0800
ARR/CV7301/{DDMMM}/MAD/T30K700//A1030
""".encode()


def _call(place: str, milestone: str) -> str:
    return f"conv:FLIGHT:CV7301:{DAY}@{place}:{milestone}:ACTUAL"


async def test_two_leg_flight_each_unit_hears_its_own_point_of_unloading(bootstrap, settings, topics,
                                                                         reader: OutputReader):  # fmt: skip
    at_lgg, at_mad = ["160-12345675", "PMC12345CV"], "PMC54321CV"  # a bulk air waybill and a ULD; a ULD
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        await pub.send_raw(topics.raw("iata-ffm"), FFM)
        await pub.flush()
        await reader.wait_for(lambda r: {*at_lgg, at_mad} <= set(_latest(r.of("timeline"))), timeout=60)
        await pub.send_raw(topics.raw("iata-fsu"), FSU)
        await pub.flush()
        await reader.wait_for(lambda r: any(e["event_id"] == _call("ESMAD", "ARRIVED") for e in _latest(
            r.of("timeline")).get(at_mad, {}).get("events", [])), timeout=60)  # fmt: skip
        await reader.settle()

    latest = _latest(reader.of("timeline"))
    heard = {u: {e["event_id"] for e in latest[u]["events"] if e["event_id"].startswith("conv:")}
             for u in [*at_lgg, at_mad]}  # fmt: skip
    for unit in at_lgg:
        assert heard[unit] == {_call("HKHKG", "DEPARTED"), _call("BELGG", "ARRIVED")}, unit
    assert heard[at_mad] == {_call("HKHKG", "DEPARTED"), _call("ESMAD", "ARRIVED")}
    assert reader.of("dead_letter") == []
    await _live_equals_replay(bootstrap, topics, reader, [])
