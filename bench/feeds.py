"""Feed parsers' throughput: events/s per format over the test samples replicated into large messages, against a
same-process baseline (orjson.loads of the same events as canonical JSON), reported as a ratio.

    python -m bench.feeds [--events 2000] [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from streams.feeds.registry import FORMATS

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "unit" / "feeds" / "samples"
RECEIVED = datetime(2026, 1, 15, 12, tzinfo=UTC)
BOXES = ["TGHU1643396", "CSQU3054383", "MSKU0308961", "APZU4812090", "TRHU4307252"]


def _dcsa22(n: int) -> bytes:
    events = [e for e in orjson.loads((SAMPLES / "dcsa-tnt-220-response.json").read_bytes())
              if e["eventType"] == "EQUIPMENT"]  # fmt: skip
    return orjson.dumps([{**events[i % len(events)], "eventID": f"ev-{i}"} for i in range(n)])


def _dcsa30(n: int) -> bytes:
    (event,) = orjson.loads((SAMPLES / "dcsa-tnt-300-request-equipment.json").read_bytes())["events"]
    return orjson.dumps({"events": [{**event, "eventID": f"ev-{i}"} for i in range(n)]})


def _edifact(n: int) -> bytes:
    text = (SAMPLES / "edifact-codeco-manila.edi").read_text()
    start, end = text.index("UNH+"), text.index("UNZ+")
    message = text[start:end].strip()
    body = "\n".join(message.replace("62269", str(10000 + i)) for i in range(n))
    return f"{text[:start]}{body}\nUNZ+{n}+163426'\n".encode()


def _epcis(n: int) -> bytes:
    doc = orjson.loads((SAMPLES / "epcis-container-own.jsonld").read_bytes())
    first = doc["epcisBody"]["eventList"][0]
    doc["epcisBody"]["eventList"] = [{**first, "eventID": f"urn:uuid:{i}"} for i in range(n)]
    return orjson.dumps(doc)


def _rail(n: int) -> bytes:
    lines = (SAMPLES / "rail-x8017.csv").read_text().splitlines()
    rows = lines[1:]
    return "\n".join([lines[0], *(rows[i % len(rows)].replace("X8017-0", f"R{i}-") for i in range(n))]).encode()


def _road(n: int) -> bytes:
    sample = orjson.loads((SAMPLES / "road-pings-duisburg.json").read_bytes())["pings"]
    per_truck = 2  # ARRIVED + DEPARTED per pass of the 7-ping track
    pings = []
    for t in range(max(1, n // per_truck)):
        pings += [{**p, "vehicle": f"DU-{t}", "container": BOXES[t % len(BOXES)]} for p in sample]
    return orjson.dumps({"pings": pings})


BUILDERS: dict[str, Callable[[int], bytes]] = {
    "dcsa-tnt-2.2": _dcsa22, "dcsa-tnt-3.0": _dcsa30, "edifact": _edifact, "epcis-2.0": _epcis,
    "rail-events": _rail, "road-pings": _road,
}  # fmt: skip


def _rate(fn: Callable[[], int], seconds: float) -> float:
    fn()  # warm-up (pydantic schema, caches)
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        count += fn()
    return count / elapsed


def main(events: int = 2000, seconds: float = 1.0) -> dict[str, dict[str, float]]:
    report: dict[str, dict[str, float]] = {}
    print(f"{'format':<14} {'events/msg':>10} {'events/s':>12} {'baseline/s':>12} {'ratio':>7}")
    for name, build in BUILDERS.items():
        data, fmt = build(events), FORMATS[name]
        parsed = fmt.parse(data, RECEIVED)
        if not parsed.events or parsed.rejections:
            raise SystemExit(f"{name}: benchmark message does not parse cleanly: {parsed.rejections[:2]}")
        canonical = orjson.dumps([e.model_dump(mode="json") for e in parsed.events])
        n = len(parsed.events)
        eps = _rate(lambda d=data, f=fmt, n=n: (f.parse(d, RECEIVED), n)[1], seconds)
        base = _rate(lambda c=canonical, n=n: (orjson.loads(c), n)[1], seconds)
        report[name] = {"events_per_message": n, "events_per_s": round(eps), "baseline_per_s": round(base),
                        "ratio": round(eps / base, 4)}  # fmt: skip
        print(f"{name:<14} {n:>10} {eps:>12,.0f} {base:>12,.0f} {eps / base:>7.3f}")
    print(orjson.dumps({"bench": "feeds", "formats": report}).decode())
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.feeds")
    parser.add_argument("--events", type=int, default=2000, help="events per benchmark message")
    parser.add_argument("--seconds", type=float, default=1.0, help="timing window per measurement")
    args = parser.parse_args()
    main(args.events, args.seconds)
