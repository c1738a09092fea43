"""`corridor report`: DuckDB over the exported Parquet files. One row per lane for the whole journey (mode
ALL) and one per lane and mode for its legs:

- on-time %: arrivals no later than planned + the mode's tolerance (the alerting tolerance); for ALL, the
  arrival at the final destination;
- delay: actual minus planned arrival, hours (negative = early), mean and 90th percentile;
- dwell: hours from arrival at a stop to departure of the next leg (attributed to that outbound leg's mode);
- ETA error: mean absolute error of corridor's predicted arrival against the actual one, by horizon (actual
  arrival minus the prediction's as_of), over every ETA update of arrived units (ALL rows only: an ETA is
  for the destination, not a leg). Updates are emitted when the prediction moves, so this weighs the
  moments when it changed;
- CO2e: kg per unit, well-to-wheel, as the tracker computed it per leg (ISO 14083 / GLEC default factors, sea and
  rail by route, a diverted unit along the route it really took: `streams.core.co2e`); `payload_t` replaces the
  unit kind's default mass where the plan gave none.

Each unit counts once, from its latest timeline snapshot."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa

from schemas import Mode
from streams.consumers.export.rows import BY_LANE, SCHEMAS
from streams.core.policy import DEFAULT_POLICY

Format = Literal["table", "csv", "json"]
HORIZONS: list[tuple[str, float, float]] = [  # label, from hours, to hours (prediction made that long before)
    (">14d", 14 * 24, float("inf")), ("7-14d", 7 * 24, 14 * 24), ("3-7d", 3 * 24, 7 * 24),
    ("1-3d", 24, 3 * 24), ("<1d", 0, 24),
]
COLUMNS = ["lane", "mode", "units", "arrivals", "on_time_pct", "mean_delay_h", "p90_delay_h", "mean_dwell_h",
           "alerts", *[f"eta_mae_h_{h[0]}" for h in HORIZONS], "co2e_kg_per_unit"]


def connect(root: Path, payload_t: dict[str, float] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view per exported table, plus `latest` (each unit's latest snapshot) and
    `eta_history` (every ETA update with the actual arrival and horizon, once known)."""
    con = duckdb.connect()
    for table, schema in SCHEMAS.items():
        if any((root / table).rglob("*.parquet")):
            glob = str(root / table / "**" / "*.parquet")
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true, "
                        "union_by_name = true)")
        else:  # nothing exported yet: an empty table of the right shape
            extra = [("lane", pa.string())] if table in BY_LANE else []
            empty = pa.Table.from_pylist([], schema=pa.schema([*schema, *extra, ("month", pa.string())]))
            con.register(f"_{table}", empty)
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM _{table}")
    modes = pa.Table.from_pylist([
        {"mode": m.value, "tolerance_min": DEFAULT_POLICY.tolerance(m).total_seconds() / 60} for m in Mode])
    payloads = pa.Table.from_pylist([{"unit_kind": k, "tonnes": v} for k, v in (payload_t or {}).items()],
                                    schema=pa.schema([("unit_kind", pa.string()), ("tonnes", pa.float64())]))
    for name, t in (("modes", modes), ("payloads", payloads)):
        con.register(name, t)
    con.execute(_VIEWS)
    return con


_VIEWS = """
CREATE TEMP TABLE latest AS
    SELECT * FROM timelines QUALIFY row_number() OVER (PARTITION BY unit ORDER BY src_offset DESC) = 1;
CREATE TEMP TABLE ms AS
    SELECT m.* EXCLUDE (lane, month), l.lane, l.unit_kind FROM milestones m
    JOIN latest l ON m.unit = l.unit AND m.src_partition = l.src_partition AND m.src_offset = l.src_offset;
CREATE TEMP TABLE dur AS
    SELECT d.* EXCLUDE (lane, month), l.lane FROM durations d
    JOIN latest l ON d.unit = l.unit AND d.src_partition = l.src_partition AND d.src_offset = l.src_offset;
CREATE TEMP TABLE finals AS
    SELECT unit, lane, mode, location, actual, delay_minutes FROM ms WHERE kind = 'ARRIVAL'
    QUALIFY row_number() OVER (PARTITION BY unit ORDER BY leg_index DESC) = 1;
CREATE TEMP VIEW eta_history AS
    SELECT DISTINCT e.unit, l.lane, e.as_of, e.destination, e.planned_arrival, e.predicted_arrival,
           e.carrier_estimate, e.reason, f.actual AS actual_arrival,
           (epoch(f.actual) - epoch(e.as_of)) / 3600 AS horizon_h,
           (epoch(e.predicted_arrival) - epoch(f.actual)) / 3600 AS error_h
    FROM eta e JOIN latest l ON e.unit = l.unit
    LEFT JOIN finals f ON f.unit = e.unit AND f.location = e.destination;
CREATE TEMP TABLE legs AS
    SELECT *, km * g_per_tkm * tonnes / 1000 AS kg FROM (
    SELECT e.unit, l.lane, e.unit_kind, e.leg_index, e.mode, e.stops, e.km, e.g_per_tkm, e.diverted,
           CASE WHEN e.tonnes_source = 'plan' THEN e.tonnes ELSE coalesce(pl.tonnes, e.tonnes) END AS tonnes
    FROM emissions e
    JOIN latest l ON e.unit = l.unit AND e.src_partition = l.src_partition AND e.src_offset = l.src_offset
    LEFT JOIN payloads pl ON pl.unit_kind = e.unit_kind);
"""

_BY_MODE = """
WITH arr AS (
    SELECT ms.lane, ms.mode, count(DISTINCT ms.unit) AS units, count(ms.actual) AS arrivals,
           100 * avg(CASE WHEN ms.delay_minutes <= md.tolerance_min THEN 1.0 ELSE 0.0 END)
               FILTER (WHERE ms.actual IS NOT NULL) AS on_time_pct,
           avg(ms.delay_minutes) / 60 AS mean_delay_h, quantile_cont(ms.delay_minutes, 0.9) / 60 AS p90_delay_h
    FROM ms JOIN modes md ON md.mode = ms.mode WHERE ms.kind = 'ARRIVAL' GROUP BY ms.lane, ms.mode),
dwell AS (SELECT lane, mode, avg(hours) AS mean_dwell_h FROM dur WHERE segment = 'DWELL' GROUP BY lane, mode),
al AS (SELECT l.lane, a.mode, count(DISTINCT a.alert_id) AS alerts FROM alerts a JOIN latest l ON a.unit = l.unit
       GROUP BY l.lane, a.mode),
per_unit AS (SELECT lane, mode, unit, CASE WHEN bool_and(kg IS NOT NULL) THEN sum(kg) END AS kg
             FROM legs GROUP BY lane, mode, unit),
co2 AS (SELECT lane, mode, CASE WHEN bool_and(kg IS NOT NULL) THEN avg(kg) END AS co2e FROM per_unit
        GROUP BY lane, mode)
SELECT arr.*, dwell.mean_dwell_h, coalesce(al.alerts, 0) AS alerts, co2.co2e
FROM arr LEFT JOIN dwell USING (lane, mode) LEFT JOIN al USING (lane, mode) LEFT JOIN co2 USING (lane, mode)
"""

_BY_LANE = """
WITH u AS (SELECT lane, count(*) AS units FROM latest GROUP BY lane),
f AS (SELECT f.lane, count(f.actual) AS arrivals,
             100 * avg(CASE WHEN f.delay_minutes <= md.tolerance_min THEN 1.0 ELSE 0.0 END)
                 FILTER (WHERE f.actual IS NOT NULL) AS on_time_pct,
             avg(f.delay_minutes) / 60 AS mean_delay_h, quantile_cont(f.delay_minutes, 0.9) / 60 AS p90_delay_h
      FROM finals f JOIN modes md ON md.mode = f.mode GROUP BY f.lane),
dwell AS (SELECT lane, avg(hours) AS mean_dwell_h FROM dur WHERE segment = 'DWELL' GROUP BY lane),
al AS (SELECT l.lane, count(DISTINCT a.alert_id) AS alerts FROM alerts a JOIN latest l ON a.unit = l.unit
       GROUP BY l.lane),
per_unit AS (SELECT lane, unit, CASE WHEN bool_and(kg IS NOT NULL) THEN sum(kg) END AS kg
             FROM legs GROUP BY lane, unit),
co2 AS (SELECT lane, CASE WHEN bool_and(kg IS NOT NULL) THEN avg(kg) END AS co2e FROM per_unit GROUP BY lane)
SELECT u.lane, u.units, f.arrivals, f.on_time_pct, f.mean_delay_h, f.p90_delay_h, dwell.mean_dwell_h,
       coalesce(al.alerts, 0) AS alerts, co2.co2e
FROM u LEFT JOIN f USING (lane) LEFT JOIN dwell USING (lane) LEFT JOIN al USING (lane) LEFT JOIN co2 USING (lane)
"""


def _eta_buckets(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], float]:
    cases = " ".join(f"WHEN horizon_h >= {lo} AND horizon_h < {hi if hi != float('inf') else 1e12} THEN '{label}'"
                     for label, lo, hi in HORIZONS)
    rows = con.execute(f"""
        SELECT lane, CASE {cases} END AS bucket, avg(abs(error_h))
        FROM eta_history WHERE actual_arrival IS NOT NULL AND as_of < actual_arrival GROUP BY ALL""").fetchall()
    return {(lane, bucket): mae for lane, bucket, mae in rows}


def build(root: Path, payload_t: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """The report's rows, ALL first within each lane, then modes alphabetically."""
    con = connect(root, payload_t)
    try:
        etas = _eta_buckets(con)
        out: list[dict[str, Any]] = []
        for row in _dicts(con, _BY_LANE):
            row = {"mode": "ALL", **row}
            for label, *_ in HORIZONS:
                row[f"eta_mae_h_{label}"] = etas.get((row["lane"], label))
            out.append(row)
        for row in _dicts(con, _BY_MODE):
            out.append({**row, **{f"eta_mae_h_{h[0]}": None for h in HORIZONS}})
    finally:
        con.close()
    for r in out:
        r["co2e_kg_per_unit"] = r.pop("co2e")
    out.sort(key=lambda r: (r["lane"] or "", r["mode"] != "ALL", r["mode"]))
    return [{c: _round(r.get(c)) for c in COLUMNS} for r in out]


def _dicts(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, values, strict=True)) for values in cur.fetchall()]


def _round(v: Any) -> Any:
    return round(v, 1) if isinstance(v, float) else v


def render(rows: list[dict[str, Any]], fmt: Format, columns: list[str] | None = None) -> str:
    """The report's rows (or any query's, with `columns`) as a rich table, CSV or JSON."""
    cols = columns or COLUMNS
    if fmt == "json":
        return json.dumps(rows, indent=2, default=str) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue()
    return _table(rows, cols, report=columns is None)


def _table(rows: list[dict[str, Any]], cols: list[str], report: bool) -> str:
    from rich.console import Console
    from rich.table import Table

    headers = {"on_time_pct": "on time %", "mean_delay_h": "delay h mean", "p90_delay_h": "delay h p90",
               "mean_dwell_h": "dwell h", "co2e_kg_per_unit": "CO2e kg/unit WTW",
               **{f"eta_mae_h_{h[0]}": f"ETA err h {h[0]}" for h in HORIZONS}} if report else {}
    table = Table(title="corridor: lanes and modes" if report else None, caption=CAPTION if report else None,
                  caption_justify="left")
    for c in cols:
        table.add_column(headers.get(c, c), justify="left" if c in ("lane", "mode") else "right")
    for r in rows:
        table.add_row(*("-" if r.get(c) is None else str(r[c]) for c in cols))
    console = Console(file=io.StringIO(), width=230, record=True)
    console.print(table)
    return console.export_text()


CAPTION = (
    "on time: arrival <= planned + mode tolerance (ALL: final destination). delay: actual - planned arrival. "
    "dwell: arrival at a stop to the next departure.\nETA err: mean |predicted - actual arrival| by how long "
    "before arrival the prediction was made (arrived units). CO2e: well-to-wheel, leg distance (sea and rail by "
    "route, Cape if diverted; air great-circle + 95 km) x cargo t x GLEC v3 default factor; '-' where a leg has no "
    "distance."
)
