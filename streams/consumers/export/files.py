"""Parquet files named by the Kafka records they hold, written so that each record lands exactly once.

A batch is a run of records of one topic-partition, offsets `first`..`last`. Its rows go to one file per
table and Hive partition:

    <root>/<table>/lane=<lane>/month=<YYYY-MM>/<topic>+<partition>+<first>-<last>.parquet   (lane: timelines)
    <root>/<table>/month=<YYYY-MM>/<topic>+<partition>+<first>-<last>.parquet               (alerts, eta)

each written to a temporary name, fsynced and renamed (a reader sees a whole file or none). Only then is the
batch's marker `<root>/_batches/<topic>+<partition>/<first>-<last>.json` written the same way: a batch
exists when its marker does. On (re)assignment the sink resumes after the highest marker and deletes files
of that partition starting at or after that offset: leftovers of a batch that crashed before its marker,
which is re-read and may now end elsewhere. The directory, not the committed offset, is the source of truth
(as Kafka Connect's S3/HDFS sinks do); the offset is committed after each batch for lag monitoring."""

from __future__ import annotations

import os
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from streams.consumers.export.rows import BY_LANE, SCHEMAS, Row

_NAME = re.compile(r"^(?P<topic>.+)\+(?P<partition>\d+)\+(?P<first>\d+)-(?P<last>\d+)\.parquet$")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _part(value: str | None) -> str:
    return _SAFE.sub("_", value) if value else "unknown"


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Batch:
    topic: str
    partition: int
    first: int
    last: int
    records: int
    files: dict[str, int]  # relative path -> rows
    skipped: int = 0


class BatchFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _markers(self, topic: str, partition: int) -> Path:
        return self.root / "_batches" / f"{topic}+{partition}"

    def batches(self, topic: str, partition: int) -> list[Batch]:
        out = []
        for p in sorted(self._markers(topic, partition).glob("*.json")):
            out.append(Batch(**orjson.loads(p.read_bytes())))
        return out

    def resume_offset(self, topic: str, partition: int) -> int | None:
        """The offset after the last complete batch, or None if the partition was never exported here."""
        lasts = [int(p.stem.split("-")[1]) for p in self._markers(topic, partition).glob("*.json")]
        return max(lasts) + 1 if lasts else None

    def remove_leftovers(self, topic: str, partition: int, from_offset: int) -> list[Path]:
        """Delete data files (and temporary files) of batches that never got their marker."""
        removed = []
        prefix = f"{topic}+{partition}+"
        for table in SCHEMAS:
            for path in (self.root / table).rglob(f"*{prefix}*"):
                m = _NAME.match(path.name)
                temporary = path.name.startswith(f".{prefix}")
                if temporary or (m and path.name.startswith(prefix) and int(m["first"]) >= from_offset):
                    path.unlink(missing_ok=True)
                    removed.append(path)
        return removed

    def write(self, topic: str, partition: int, first: int, last: int, rows: list[Row], records: int,
              skipped: int = 0) -> Batch:
        """Write one batch (blocking: run it in a thread). Re-writing the same batch overwrites its files."""
        grouped: dict[tuple[str, str | None, str], list[dict[str, Any]]] = defaultdict(list)
        for table, lane, month, values in rows:
            grouped[(table, lane, month)].append(values)
        name = f"{topic}+{partition}+{first:012d}-{last:012d}.parquet"
        files: dict[str, int] = {}
        for (table, lane, month), values in sorted(grouped.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2])):
            parts = [table] + ([f"lane={_part(lane)}"] if table in BY_LANE else []) + [f"month={month}"]
            rel = Path(*parts, name)
            arrow = pa.Table.from_pylist(values, schema=SCHEMAS[table])
            _atomic_write(self.root / rel, lambda f, t=arrow: pq.write_table(t, f, compression="zstd"))
            files[str(rel)] = len(values)
        batch = Batch(topic, partition, first, last, records, files, skipped)
        marker = self._markers(topic, partition) / f"{first:012d}-{last:012d}.json"
        _atomic_write(marker, lambda f: f.write(orjson.dumps(batch.__dict__)))
        return batch
