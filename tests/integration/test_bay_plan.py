"""A BAPLIE bay plan on the real embedded broker with a real worker (ingest, unit job, conveyance job, RocksDB): the
plan puts its containers aboard the voyage, each to its port of discharge, and the vessel's estimates then reach
the containers that leave at that port only; replay of what ingest wrote gives what the worker gave."""

from __future__ import annotations

import orjson
import pytest

from schemas import dumps
from streams.core.policy import DEFAULT_POLICY
from streams.io.kafka import OutputReader, Publisher
from streams.processing.replay import replay
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.conveyance_story import containers, d, dcsa_transport, iso, message, sea_plan
from tests.integration.test_conveyance_join import _etas, _latest, _topic

pytestmark = pytest.mark.integration
ETA = "conv:VESSEL:IMO9321483:2103N@NLRTM:ARRIVED:ESTIMATED"
ATD = "conv:VESSEL:IMO9321483:2103N@CNSHA:DEPARTED:ACTUAL"


def bay_plan(to_rtm: list[str], to_ham: str) -> bytes:
    """SMDG BAPLIE 2.2 of voyage 2103N leaving Shanghai (LOC+5), its actual departure (DTM+136) 2026-03-03 14:00
    local (06:00 UTC, `d(1, 6)`)."""
    cells = [(f"0{2 * n + 1:02d}0282", box, "NLRTM") for n, box in enumerate(to_rtm)] + [("0510284", to_ham, "DEHAM")]
    body = ["UNH+1+BAPLIE:D:95B:UN:SMDG22", "BGM++P2103N+9", "DTM+137:2603031300:201",
            "TDT+20+2103N+++MAE:172:20+++9321483:146:11:MAERSK KOWLOON", "LOC+5+CNSHA:139:6", "LOC+61+SGSIN:139:6",
            "DTM+136:2603031400:201", "RFF+VON:2103N"]  # fmt: skip
    for slot, box, pod in cells:
        body += [f"LOC+147+{slot}::5", "MEA+WT++KGM:20000", "LOC+9+CNSHA:139:6", f"LOC+11+{pod}:139:6",
                 f"EQD+CN+{box}+45G1+++5", "NAD+CA+MAE:172:20"]  # fmt: skip
    body += [f"CNT+8:{len(cells)}", f"UNT+{len(body) + 2}+1"]
    return ("UNB+UNOA:2+MAEU+CNSHA+260303:1310+1'" + "'".join(body) + "'UNZ+1+1'").encode()


async def test_bay_plan_then_vessel_estimates_reach_the_containers_discharged_there(bootstrap, settings, topics,
                                                                                   reader: OutputReader):  # fmt: skip
    to_rtm, to_ham = containers("MSKU", 3, start=500), containers("TGHU", 1, start=500)[0]
    plans = [sea_plan(u, "NLRTM") for u in to_rtm[1:]]  # the others are known only from the bay plan
    everyone = [*to_rtm, to_ham]
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        await pub.send_all(plans)
        await pub.send_raw(topics.raw("edifact"), bay_plan(to_rtm, to_ham))
        await pub.flush()
        # The plan's own actual departure from Shanghai: every box loaded there departed, without an event of its own.
        await reader.wait_for(lambda r: all(any(e["event_id"] == ATD for e in _latest(r.of("timeline")).get(
            u, {}).get("events", [])) for u in everyone), timeout=60)  # fmt: skip
        for n, hours in enumerate((30, 54)):  # the estimated arrival at Rotterdam moves twice
            when = d(30, hours)
            await pub.send_raw(topics.raw("dcsa-tnt-3.0"),
                               message(dcsa_transport(f"eta{n}", "ARRI", "EST", "NLRTM", when, d(11 + n))))
            await pub.flush()
            await reader.wait_for(lambda r, w=iso(when): all(_etas(r.of("eta")).get(u, [None])[-1] == w
                                                             for u in to_rtm[1:]), timeout=60)  # fmt: skip
        await reader.settle()

    latest = _latest(reader.of("timeline"))
    for unit in to_rtm:
        events = {e["event_id"]: e for e in latest[unit]["events"]}
        assert events[ETA]["event_time"] == iso(d(30, 54)) and events[ATD]["event_time"] == iso(d(1, 6))
    assert ETA not in {e["event_id"] for e in latest[to_ham]["events"]}  # it leaves the vessel at Hamburg
    assert _etas(reader.of("eta"))[to_rtm[1]][-2:] == [iso(d(30, 30)), iso(d(30, 54))]  # once per change
    assert reader.of("dead_letter") == []

    # Replay of the plans and of what ingest wrote (unit events, conveyance events, the plan's LISTED boardings).
    lines = [dumps(p) for p in plans] + await _topic(bootstrap, topics.name("event"))
    lines += await _topic(bootstrap, topics.name("conveyance"))
    lines += [b for b in await _topic(bootstrap, topics.name("boarding"))
              if orjson.loads(b).get("basis") == "LISTED"]  # fmt: skip
    out = replay(lines, topics, DEFAULT_POLICY, PARTITIONS).outputs
    assert [o.value for o in out if o.topic == topics.name("dead_letter")] == []
    replayed = _latest([orjson.loads(o.value) for o in out if o.topic == topics.name("timeline")])

    def comparable(t: dict) -> dict:
        return {k: v for k, v in t.items() if k != "as_of"}

    assert {u: comparable(t) for u, t in replayed.items()} == {u: comparable(t) for u, t in latest.items()}
