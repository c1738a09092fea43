"""The durable record behind "once per subscriber": which (alert, subscription) pairs were delivered or
dead-lettered, which delivered alerts are still open (not yet resolved), and each unit's latest timeline
summary. A small SQLite file, written synchronously in the event loop (no await between a delivery's
success and its record, so cancelling the task cannot separate the two)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from streams.consumers.notify.resolve import UnitState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    alert_id TEXT NOT NULL, subscription TEXT NOT NULL, unit TEXT NOT NULL, detected_at TEXT,
    outcome TEXT NOT NULL, at TEXT NOT NULL, resolved_at TEXT,
    PRIMARY KEY (alert_id, subscription)
);
CREATE INDEX IF NOT EXISTS open_by_unit ON deliveries (unit) WHERE outcome = 'delivered' AND resolved_at IS NULL;
CREATE TABLE IF NOT EXISTS units (
    unit TEXT PRIMARY KEY, partition INTEGER, "offset" INTEGER, lane TEXT, status TEXT,
    minutes_late INTEGER, tolerance_minutes INTEGER, as_of TEXT
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class DeliveryStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # WAL + a busy timeout: several notify processes on one host may share the file.
        self._db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def seen(self, alert_id: str, sub_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM deliveries WHERE alert_id = ? AND subscription = ?",
                               (alert_id, sub_id)).fetchone()
        return row is not None

    def record(self, sub_id: str, unit: str, detected_at: dict[str, str], outcome: str) -> None:
        """outcome: 'delivered' or 'dead'. A pair already recorded keeps its first outcome."""
        now = _now()
        self._db.executemany(
            "INSERT OR IGNORE INTO deliveries (alert_id, subscription, unit, detected_at, outcome, at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(aid, sub_id, unit, det, outcome, now) for aid, det in detected_at.items()],
        )

    def open_alerts(self, unit: str) -> dict[str, dict[str, str]]:
        """subscription -> {alert id: detected_at} of delivered, unresolved alerts of the unit."""
        out: dict[str, dict[str, str]] = {}
        for aid, sub, det in self._db.execute(
            "SELECT alert_id, subscription, detected_at FROM deliveries "
            "WHERE unit = ? AND outcome = 'delivered' AND resolved_at IS NULL", (unit,)):
            out.setdefault(sub, {})[aid] = det
        return out

    def units_with_open_alerts(self) -> list[str]:
        rows = self._db.execute(
            "SELECT DISTINCT unit FROM deliveries WHERE outcome = 'delivered' AND resolved_at IS NULL")
        return [r[0] for r in rows]

    def resolve(self, sub_id: str, alert_ids: list[str]) -> None:
        self._db.executemany("UPDATE deliveries SET resolved_at = ? WHERE alert_id = ? AND subscription = ?",
                             [(_now(), a, sub_id) for a in alert_ids])

    def save_unit(self, s: UnitState) -> bool:
        """Keep the unit's latest timeline: a re-read older record (lower offset) does not replace it."""
        cur = self._db.execute(
            'INSERT INTO units VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (unit) DO UPDATE SET '
            'partition = excluded.partition, "offset" = excluded."offset", lane = excluded.lane, '
            'status = excluded.status, minutes_late = excluded.minutes_late, '
            'tolerance_minutes = excluded.tolerance_minutes, as_of = excluded.as_of '
            'WHERE excluded.partition != units.partition OR excluded."offset" > units."offset"',
            (s.unit, s.partition, s.offset, s.lane, s.status, s.minutes_late, s.tolerance_minutes, s.as_of),
        )
        return cur.rowcount > 0

    def unit(self, unit: str) -> UnitState | None:
        row = self._db.execute('SELECT unit, partition, "offset", lane, status, minutes_late, tolerance_minutes, '
                               "as_of FROM units WHERE unit = ?", (unit,)).fetchone()
        return UnitState(*row) if row else None

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT outcome, COUNT(*) FROM deliveries GROUP BY outcome").fetchall()
        return {k: v for k, v in rows}
