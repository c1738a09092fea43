"""The drop folder's ledger: one JSON line per step of a file (sending, then done), fsynced, read back at start.

A file's content digest names it: a restart that finds a file still in the inbox knows whether it was sent
(done: only the move is left), may have been sent (sending: look for it on Kafka), or is new."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson

RETENTION_SECONDS = 30 * 24 * 3600  # how long done files are remembered (a re-drop of the same bytes is skipped)


class Ledger:
    def __init__(self, path: Path, retention: float = RETENTION_SECONDS) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path.exists():
            for line in path.read_bytes().splitlines():
                try:
                    e = orjson.loads(line)
                except orjson.JSONDecodeError:  # a line cut by a crash while writing it: the step did not happen
                    continue
                self.entries[e["digest"]] = e
        now = time.time()
        self.entries = {d: e for d, e in self.entries.items()
                        if e.get("state") != "done" or now - e.get("at", now) < retention}  # fmt: skip
        self._rewrite()

    def _rewrite(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            for e in self.entries.values():
                f.write(orjson.dumps(e) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def get(self, digest: str) -> dict[str, Any] | None:
        return self.entries.get(digest)

    def write(self, entry: dict[str, Any]) -> None:
        entry = {**entry, "at": time.time()}
        with open(self.path, "ab") as f:
            f.write(orjson.dumps(entry) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        self.entries[entry["digest"]] = entry
