"""Connector figures: gateway requests/s for 1 KB DCSA 3.0 bodies with p50/p99 latency to Kafka's
acknowledgement, and drop-folder files/s; each next to a baseline taken in the same run on the same broker (a
plain aiokafka producer sending the same bodies, acks=all, the same concurrency; and an aiohttp server answering
202 without Kafka, the HTTP floor), so a busy machine shows as both being slower, and the ratios say what the
connector costs.

    python -m bench.connectors [--requests 2000] [--concurrency 16] [--files 300]

The gateway runs as `corridor gateway` in a process of its own, as in production; the HTTP client is this process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

KEY = "bench-key-0123456789abcdef"


def body(n: int) -> bytes:
    """A DCSA 3.0 push of one equipment event, padded to 1 KB with a realistic remark."""
    event = {
        "eventID": f"bench-{n:08d}", "eventDateTime": "2026-03-02T08:00:00Z",
        "eventCreatedDateTime": "2026-03-02T08:01:00Z", "eventUpdatedDateTime": "2026-03-02T08:01:00Z",
        "eventLocation": {"locationName": "Euromax Terminal", "UNLocationCode": "NLRTM", "facilityCode": "ECTDE",
                          "facilityCodeListProvider": "SMDG"},
        "eventClassification": {"eventType": "EQUIPMENT", "eventClassifier": "ACTUAL", "equipmentEventType": "LOADED"},
        "equipmentDetails": {"equipmentReference": "APZU4812090", "ISOEquipmentCode": "22GP",
                             "emptyIndicatorCode": "LADEN", "movementType": "EXPORT"},
        "shipmentDetails": {"documentReference": {"type": "BOOKING", "reference": f"BKG{n:09d}"}},
        "remark": "",
    }
    raw = orjson.dumps({"events": [event]})
    event["remark"] = "x" * max(0, 1024 - len(raw))
    return orjson.dumps({"events": [event]})


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


async def _drive(n: int, concurrency: int, one) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    """`n` calls of `one(i)` by `concurrency` workers: (seconds, latencies in ms)."""
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            t = time.perf_counter()
            await one(i)
            latencies.append((time.perf_counter() - t) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


def _line(name: str, n: int, seconds: float, lat: list[float]) -> dict[str, float]:
    rate = n / seconds
    print(f"{name:28} {rate:8.0f}/s   p50 {pct(lat, 50):6.1f} ms   p99 {pct(lat, 99):6.1f} ms")
    return {"rate": rate, "p50": pct(lat, 50), "p99": pct(lat, 99)}


async def gateway_bench(bootstrap: str, requests: int, concurrency: int, home: Path) -> None:
    from aiokafka import AIOKafkaProducer

    from schemas.topics import TopicNames
    from streams.broker.embedded import free_port

    topic = TopicNames().raw("dcsa-tnt-3.0")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await producer.start()
    try:
        for i in range(50):
            await producer.send_and_wait(topic, body(10_000_000 + i), key=b"bench")
        secs, lat = await _drive(requests, concurrency,
                                 lambda i: producer.send_and_wait(topic, body(20_000_000 + i), key=b"bench"))
        base = _line("baseline: aiokafka acks=all", requests, secs, lat)
    finally:
        await producer.stop()

    # The HTTP floor: an aiohttp server in its own process that reads the body and answers 202 at once, no Kafka.
    floor_port = free_port()
    floor = subprocess.Popen([sys.executable, "-c", _FLOOR, str(floor_port)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        http_floor = await _post_all(f"http://127.0.0.1:{floor_port}", requests, concurrency, "HTTP floor (no Kafka)")
    finally:
        floor.terminate()
        floor.wait(10)

    config = home / "gateway.yaml"
    config.write_text(f"sources:\n  - name: bench\n    api_keys: ['{KEY}']\n")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streams", "gateway", "--config", str(config), "--port", str(port),
                             "--broker", bootstrap], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "CORRIDOR_HOME": str(home)})  # fmt: skip
    try:
        gw = await _post_all(f"http://127.0.0.1:{port}", requests, concurrency, "gateway POST /v3/events")
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"gateway / Kafka baseline: {gw['rate'] / base['rate']:.2f} of the rate, p99 {gw['p99'] / base['p99']:.1f}x; "
          f"gateway / HTTP floor: {gw['rate'] / http_floor['rate']:.2f} of the rate, "
          f"p99 {gw['p99'] / http_floor['p99']:.1f}x")


_FLOOR = """
import sys
import uvloop
from aiohttp import web
uvloop.install()  # as `corridor gateway`
async def ok(request):
    await request.read()
    return web.json_response({"status": "accepted"}, status=202)
app = web.Application()
app.router.add_post("/v3/events", ok)
async def health(request):
    return web.json_response({})
app.router.add_get("/health", health)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


async def _post_all(base: str, requests: int, concurrency: int, name: str) -> dict[str, float]:
    import aiohttp

    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn, headers={"X-API-Key": KEY}) as http:
        for _ in range(200):  # started?
            try:
                async with http.get(f"{base}/health") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)

        async def post(i: int) -> None:
            async with http.post(f"{base}/v3/events", data=body(i), headers={"Content-Type": "application/json"}) as r:
                if r.status != 202:
                    raise RuntimeError(f"{name} answered {r.status}: {await r.text()}")
                await r.read()

        for i in range(50):
            await post(30_000_000 + i)
        secs, lat = await _drive(requests, concurrency, lambda i: post(60_000_000 + i))
        return _line(name, requests, secs, lat)


async def dropfolder_bench(bootstrap: str, files: int, home: Path) -> None:
    from aiokafka import AIOKafkaProducer

    from schemas.topics import TopicNames
    from streams.connectors.dropfolder import DropFolder
    from streams.connectors.sink import RawSink

    names = TopicNames()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await producer.start()
    try:
        start = time.perf_counter()
        for i in range(files):  # what the folder does at least: read a file, send it, wait for the ack
            await producer.send_and_wait(names.raw("dcsa-tnt-3.0"), body(40_000_000 + i), key=b"bench")
        base = files / (time.perf_counter() - start)
    finally:
        await producer.stop()
    inbox = home / "drop"
    inbox.mkdir()
    for i in range(files):
        (inbox / f"f{i:05d}.json").write_bytes(body(50_000_000 + i))
    async with RawSink(bootstrap, names) as sink:
        folder = DropFolder(inbox, sink, name="bench", settle=0)
        start = time.perf_counter()
        r = await folder.scan()
        rate = len(r.archived) / (time.perf_counter() - start)
    assert len(r.archived) == files, r
    print(f"{'baseline: send_and_wait':28} {base:8.0f} files/s")
    print(f"{'drop folder (ledger, moves)':28} {rate:8.0f} files/s   ({rate / base:.2f} of the baseline)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.connectors")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--files", type=int, default=300)
    args = parser.parse_args(argv)

    from schemas.topics import TopicNames
    from streams.broker.admin import ensure_topics
    from streams.broker.embedded import EmbeddedBroker

    print(f"1 KB DCSA 3.0 bodies ({len(body(0))} bytes), {args.requests} requests, {args.concurrency} at a time; "
          f"{args.files} files; embedded broker; {os.cpu_count()} cores (shared: compare the ratios)")
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(ensure_topics(broker.bootstrap, TopicNames().all, 4))
        asyncio.run(gateway_bench(broker.bootstrap, args.requests, args.concurrency, Path(tmp)))
        asyncio.run(dropfolder_bench(broker.bootstrap, args.files, Path(tmp)))


if __name__ == "__main__":
    main()
