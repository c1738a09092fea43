"""The analytics sink end to end: the simulator's records through a real worker on the real embedded broker,
exported to Parquet, stopped mid-stream, left with a half-written batch, restarted through the command line;
then exactly one set of rows per record, and the report over it."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from aiokafka import AIOKafkaConsumer
from typer.testing import CliRunner

from streams.consumers import report
from streams.consumers.common import FAST
from streams.consumers.export.rows import segments
from streams.consumers.export.sink import ExportConfig, ExportSink
from streams.interfaces.consumers_cli import register
from streams.io.kafka import OutputReader, Publisher
from streams.settings import Settings
from streams.sim.scenario import generate
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS

pytestmark = pytest.mark.integration
LANES = {"CNCKG-DEDUI", "VNHAN-HUBUD", "CNSHA-NLRTM", "HKHKG-ESMAD"}


async def _records(bootstrap: str, topics: list[str]) -> dict[tuple[str, int, int], dict[str, Any]]:
    """Every record of the topics, by (topic, partition, offset), read until nothing more comes."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    out = {}
    try:
        while batch := await consumer.getmany(timeout_ms=1000):
            for tp, msgs in batch.items():
                out.update({(tp.topic, tp.partition, m.offset): orjson.loads(m.value) for m in msgs})
    finally:
        await consumer.stop()
    return out


async def _until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_export_writes_each_record_exactly_once_across_restarts_and_the_report_reads_it(
    bootstrap: str, settings: Settings, reader: OutputReader, tmp_path: Path
) -> None:
    scenario = generate(seed=7, units_per_corridor=2)
    out, group = tmp_path / "export", f"{settings.app_id}-export"
    config = ExportConfig(out=out, group=group, batch_records=40, flush_seconds=0.3, tuning=FAST)

    async with running(settings, bootstrap), Publisher(bootstrap, reader.topics, PARTITIONS) as pub:
        sink = await ExportSink(settings, bootstrap, config).start()
        try:
            publishing = asyncio.create_task(pub.send_all([r.record for r in scenario.records]))
            await _until(lambda: sink.stats["batches"] >= 4)
        finally:
            await sink.stop()  # mid-stream: what is buffered is dropped, and read again after the restart
        await publishing
        await reader.wait_for(lambda r: sum(t["status"] == "DELIVERED" for t in r.of("timeline")) >= 4, 60)
        await reader.settle()
    written_before = sink.stats["batches"]

    names = {role: reader.topics.name(role) for role in ("timeline", "alert", "eta")}
    records = await _records(bootstrap, list(names.values()))
    # A crash between a batch's data files and its marker: a file for offsets that have no marker yet (as if
    # that batch had ended elsewhere), and a temporary file. The restart must drop both.
    topic, partition = names["timeline"], 0
    resume = sink.files.resume_offset(topic, partition) or 0
    some_file = next((out / "timelines").rglob("*.parquet"))
    leftover = some_file.parent / f"{topic}+{partition}+{resume:012d}-{resume + 3:012d}.parquet"
    shutil.copy(some_file, leftover)
    (some_file.parent / f".{leftover.name}.x1y2.tmp").write_bytes(b"partial")

    # Restart through the command line, as a batch export that exits once it has read everything.
    app = typer.Typer()
    register(app)
    result = await asyncio.to_thread(CliRunner().invoke, app, [
        "export", "--broker", bootstrap, "--out", str(out), "--group", group, "--batch-records", "40",
        "--flush-seconds", "0.3", "--idle-exit", "3"], env={"CORRIDOR_TOPIC_PREFIX": settings.topic_prefix,
                                                            "CORRIDOR_PARTITIONS": str(PARTITIONS)})
    assert result.exit_code == 0, result.output
    assert not leftover.exists() and not list(out.rglob("*.tmp"))

    con = report.connect(out)
    by_table = {t: con.execute(f"SELECT src_partition, src_offset FROM {t}").fetchall()
                for t in ("timelines", "milestones", "durations", "eta", "alerts")}
    con.close()
    for role, table in (("timeline", "timelines"), ("alert", "alerts"), ("eta", "eta")):
        want = sorted((p, o) for (t, p, o) in records if t == names[role])
        assert sorted(by_table[table]) == want, f"{table}: duplicates or gaps"  # exactly one row per record
    timelines = {(p, o): v for (t, p, o), v in records.items() if t == names["timeline"]}
    for table, expected in (("milestones", lambda v: len(v["milestones"])),
                            ("durations", lambda v: len(segments(v["milestones"])))):
        got: dict[tuple[int, int], int] = {}
        for key in by_table[table]:
            got[key] = got.get(key, 0) + 1
        assert got == {k: expected(v) for k, v in timelines.items() if expected(v)}, table
    assert written_before >= 4 and len(records) > 150

    rows = report.build(out)
    assert {r["lane"] for r in rows if r["mode"] == "ALL"} == LANES
    assert sum(r["units"] for r in rows if r["mode"] == "ALL") == 8
    assert {r["mode"] for r in rows} == {"ALL", "RAIL", "ROAD", "SEA", "AIR"}
    table = CliRunner().invoke(app, ["report", "--data", str(out)])
    assert table.exit_code == 0 and all(lane in table.output for lane in LANES), table.output
    as_json = json.loads(CliRunner().invoke(app, ["report", "--data", str(out), "--format", "json"]).output)
    assert as_json == rows
    csv_out = CliRunner().invoke(app, ["report", "--data", str(out), "--format", "csv"]).output
    assert csv_out.splitlines()[0].startswith("lane,mode,units,arrivals,on_time_pct")
    history = CliRunner().invoke(app, ["report", "--data", str(out), "--format", "json", "--sql",
                                       "SELECT count(*) AS n FROM eta_history WHERE horizon_h > 0"])
    assert json.loads(history.output)[0]["n"] > 0
