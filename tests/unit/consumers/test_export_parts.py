"""The export's pure parts and the report, without a broker: the simulator's history through replay, rows
written as batches the way the sink writes them, then DuckDB over the files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from schemas import dumps
from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.consumers import report
from streams.consumers.export.files import BatchFiles
from streams.consumers.export.rows import rows_for, segments
from streams.core.policy import DEFAULT_POLICY
from streams.processing.replay import replay
from streams.sim.scenario import generate

TOPICS = TopicNames("corridor.")
ROLES = {TOPICS.name(r): r for r in ("timeline", "alert", "eta")}


def ms(kind: str, leg: int, loc: str, planned: str, actual: str | None, mode: str = "RAIL",
       late: int | None = None) -> dict[str, Any]:
    return {"key": f"{kind[:3]}:{loc}:1", "kind": kind, "leg_index": leg, "mode": mode, "location": loc,
            "planned": planned, "estimated": None, "actual": actual, "predicted": None, "minutes_late": late}


MILESTONES = [
    ms("DEPARTURE", 0, "CNCKG", "2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z", late=1440),
    ms("ARRIVAL", 0, "KZDOS", "2026-03-08T00:00:00Z", "2026-03-08T12:00:00Z", late=720),
    ms("DEPARTURE", 1, "KZDOS", "2026-03-09T00:00:00Z", "2026-03-11T00:00:00Z", mode="ROAD", late=2880),
    ms("ARRIVAL", 1, "PLMAL", "2026-03-12T00:00:00Z", None, mode="ROAD"),
]


def test_segments_are_legs_dwells_and_delivery_from_actual_times() -> None:
    segs = segments(MILESTONES)
    assert [(s["segment"], s["leg_index"], s["mode"], s["origin"], s["destination"], s["hours"], s["planned_hours"])
            for s in segs] == [("LEG", 0, "RAIL", "CNCKG", "KZDOS", 108.0, 120.0),
                               ("DWELL", 1, "ROAD", "KZDOS", "KZDOS", 60.0, 24.0)]


def test_a_timeline_snapshot_gives_one_timeline_row_a_row_per_milestone_and_its_segments() -> None:
    timeline = {"unit": {"kind": "CONTAINER", "id": "U1"}, "lane": "CNCKG-PLMAL", "status": "AT_STOP",
                "as_of": "2026-03-11T06:00:00Z", "milestones": MILESTONES, "minutes_late": 2880}
    rows = rows_for("timeline", timeline, 3, 42)
    assert [(t, lane, month) for t, lane, month, _ in rows] == (
        [("timelines", "CNCKG-PLMAL", "2026-03")] + [("milestones", "CNCKG-PLMAL", "2026-03")] * 4
        + [("durations", "CNCKG-PLMAL", "2026-03")] * 2)
    assert all(r[3]["src_partition"] == 3 and r[3]["src_offset"] == 42 for r in rows)
    delays = [r[3]["delay_minutes"] for r in rows if r[0] == "milestones"]
    assert delays == [1440, 720, 2880, None]  # a delay only once the milestone happened
    alert = {"alert_id": "al-1", "unit": {"id": "U1"}, "kind": "LATE", "detected_at": "2026-04-01T00:00:00Z"}
    assert [(t, lane, month) for t, lane, month, _ in rows_for("alert", alert, 0, 1)] == [("alerts", None, "2026-04")]
    assert rows_for("dead_letter", {}, 0, 1) == []


def test_batches_are_found_again_and_leftovers_of_an_unfinished_batch_removed(tmp_path: Path) -> None:
    files = BatchFiles(tmp_path)
    alert = {"alert_id": "al-1", "unit": {"id": "U1"}, "kind": "LATE", "detected_at": "2026-04-01T00:00:00Z"}
    assert files.resume_offset("corridor.alerts", 0) is None
    b = files.write("corridor.alerts", 0, 0, 9, rows_for("alert", alert, 0, 9), records=10)
    assert b.files == {"alerts/month=2026-04/corridor.alerts+0+000000000000-000000000009.parquet": 1}
    files.write("corridor.alerts", 0, 0, 9, rows_for("alert", alert, 0, 9), records=10)  # re-written: same name
    assert files.resume_offset("corridor.alerts", 0) == 10
    assert pq.read_table(tmp_path / next(iter(b.files))).num_rows == 1
    # A batch 10..14 crashed after its data file, before its marker; partition 10 and a temp file nearby.
    d = tmp_path / "alerts" / "month=2026-04"
    (d / "corridor.alerts+0+000000000010-000000000014.parquet").write_bytes(b"x")
    (d / ".corridor.alerts+0+000000000010-000000000014.parquet.abc.tmp").write_bytes(b"x")
    (d / "corridor.alerts+10+000000000010-000000000014.parquet").write_bytes(b"x")
    removed = files.remove_leftovers("corridor.alerts", 0, 10)
    assert sorted(p.name for p in removed) == [".corridor.alerts+0+000000000010-000000000014.parquet.abc.tmp",
                                                "corridor.alerts+0+000000000010-000000000014.parquet"]
    assert sorted(p.name for p in d.iterdir()) == ["corridor.alerts+0+000000000000-000000000009.parquet",
                                                   "corridor.alerts+10+000000000010-000000000014.parquet"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed scenario (3 units per corridor) replayed, its outputs written in batches of 25 per partition."""
    root = tmp_path_factory.mktemp("export")
    scenario = generate(seed=7, units_per_corridor=3)
    outputs = replay([dumps(r.record) for r in scenario.records], TOPICS, DEFAULT_POLICY, 4).outputs
    per_tp: dict[tuple[str, int], list[tuple[int, dict[str, Any]]]] = {}
    for o in outputs:
        if o.topic in ROLES:
            recs = per_tp.setdefault((o.topic, partition_for(o.key or b"", 4)), [])
            recs.append((len(recs), orjson.loads(o.value)))
    files = BatchFiles(root)
    for (topic, p), recs in per_tp.items():
        for i in range(0, len(recs), 25):
            chunk = recs[i:i + 25]
            rows = [r for off, v in chunk for r in rows_for(ROLES[topic], v, p, off)]
            files.write(topic, p, chunk[0][0], chunk[-1][0], rows, len(chunk))
    return root


def test_report_has_a_row_per_lane_and_per_lane_and_mode(exported: Path) -> None:
    rows = report.build(exported)
    assert [(r["lane"], r["mode"]) for r in rows] == [
        ("CNCKG-DEDUI", "ALL"), ("CNCKG-DEDUI", "RAIL"), ("CNSHA-NLRTM", "ALL"), ("CNSHA-NLRTM", "SEA"),
        ("HKHKG-ESMAD", "ALL"), ("HKHKG-ESMAD", "AIR"), ("HKHKG-ESMAD", "ROAD"),
        ("VNHAN-HUBUD", "ALL"), ("VNHAN-HUBUD", "RAIL"), ("VNHAN-HUBUD", "ROAD")]
    for r in rows:
        assert r["units"] == 3
        assert 0 <= r["on_time_pct"] <= 100 and r["mean_delay_h"] is not None and r["p90_delay_h"] is not None
        assert r["co2e_kg_per_unit"] > 0
    alls = [r for r in rows if r["mode"] == "ALL"]
    assert all(r["arrivals"] == 3 for r in alls)
    assert any(r[f"eta_mae_h_{h[0]}"] is not None for r in alls for h in report.HORIZONS)
    modes = [r for r in rows if r["mode"] != "ALL"]
    assert all(all(r[f"eta_mae_h_{h[0]}"] is None for h in report.HORIZONS) for r in modes)
    # A lane's legs add up to its journey's CO2e.
    for lane in {r["lane"] for r in rows}:
        total = next(r for r in alls if r["lane"] == lane)["co2e_kg_per_unit"]
        assert sum(r["co2e_kg_per_unit"] for r in modes if r["lane"] == lane) == pytest.approx(total, abs=0.2)


def test_co2e_comes_from_the_timelines_with_the_payload_where_the_plan_gave_none(exported: Path) -> None:
    con = report.connect(exported, {"AWB": 1.0})
    km, kg, tonnes = con.execute("SELECT km, kg, tonnes FROM legs WHERE mode = 'AIR' LIMIT 1").fetchone()
    # Hong Kong airport - Liege airport great circle is about 9,300 km; air adds 95 km; 1 t x 880 g/t-km (GLEC v3
    # freighter, long haul, well-to-wheel).
    assert 9200 < km - 95 < 9400 and tonnes == 1.0 and kg == pytest.approx(km * 880 / 1000)
    sea = con.execute("SELECT stops, km FROM legs WHERE mode = 'SEA' AND stops = 'SGSIN-NLRTM' LIMIT 1").fetchone()
    assert sea is not None and sea[1] == pytest.approx(8250 * 1.852, abs=1)  # via Suez, from the route table
    con.close()


def test_eta_history_joins_the_actual_arrival_and_horizon(exported: Path) -> None:
    con = report.connect(exported)
    rows = con.execute("SELECT horizon_h, error_h, (epoch(actual_arrival) - epoch(as_of)) / 3600 FROM eta_history "
                       "WHERE actual_arrival IS NOT NULL").fetchall()
    con.close()
    assert rows and all(h == pytest.approx(check) for h, _, check in rows)


def test_formats(exported: Path) -> None:
    rows = report.build(exported)
    table = report.render(rows, "table")
    assert "CNCKG-DEDUI" in table and "CO2e kg/unit WTW" in table and "well-to-wheel" in table
    assert report.render(rows, "csv").splitlines()[0] == ",".join(report.COLUMNS)
    assert orjson.loads(report.render(rows, "json")) == rows


def test_report_on_an_empty_directory_is_empty(tmp_path: Path) -> None:
    assert report.build(tmp_path) == []
