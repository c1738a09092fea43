"""`corridor watch DIR`: a drop folder for files from SFTP or AS2 gateways (EDIFACT, Cargo-IMP, XML, JSON, CSV).

- A file is taken once complete: names ending in .tmp, .part, .partial, .filepart and hidden files are being
  written (write, then rename, is the safe convention); any other file must keep its size and modification time
  for `settle` seconds.
- The format is recognised from the content. A good file is published unchanged to its raw topic (cut at its
  messages' boundaries if it is bigger than a record) and moved to `archive/`; a file that cannot be published
  (empty, unrecognised, too big for a record with no boundary to cut it at) goes to the
  dead-letter topic with the reason and moves to `quarantine/` with a `<name>.reason` file next to it.
- Restart-safe: the ledger (`.corridor-ledger.jsonl`) says, per content digest, whether the file was sent; a
  crash between sending and moving neither loses the file nor publishes it twice (see `streams.connectors.sink`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from streams.connectors.ledger import Ledger
from streams.connectors.sink import RawSink, Unavailable, digest
from streams.connectors.splitting import Unsplittable, split
from streams.feeds.registry import detect
from streams.processing.limits import dead_letter_bytes

log = logging.getLogger(__name__)
IN_PROGRESS = (".tmp", ".part", ".partial", ".filepart", ".crdownload")
LEDGER = ".corridor-ledger.jsonl"


@dataclass
class ScanResult:
    archived: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # sent before a restart: moved, not sent again


class DropFolder:
    def __init__(self, root: Path, sink: RawSink, *, name: str | None = None, settle: float = 2.0,
                 clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
        self.root = root
        self.sink = sink
        self.settle = settle
        self.name = name or root.resolve().name
        self.source = f"watch:{self.name}"
        self.archive = root / "archive"
        self.quarantine = root / "quarantine"
        for d in (self.archive, self.quarantine):
            d.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger(root / LEDGER)
        self._clock = clock
        self._seen: dict[str, tuple[int, int, float]] = {}  # name -> (size, mtime_ns, since when unchanged)

    def _candidates(self) -> list[Path]:
        return sorted(p for p in self.root.iterdir()
                      if p.is_file() and not p.name.startswith(".") and not p.name.endswith(IN_PROGRESS))  # fmt: skip

    def _complete(self, path: Path) -> bool:
        st = path.stat()
        now = self._clock()
        mark = (st.st_size, st.st_mtime_ns)
        prev = self._seen.get(path.name)
        if prev is None or prev[:2] != mark:
            self._seen[path.name] = (*mark, now)
            return self.settle <= 0
        return now - prev[2] >= self.settle

    async def scan(self) -> ScanResult:
        """One look at the inbox: every complete file is published (or refused) and moved."""
        result = ScanResult()
        names = set()
        for path in self._candidates():
            names.add(path.name)
            try:
                if not self._complete(path):
                    result.waiting.append(path.name)
                    continue
                await self._take(path, result)
            except FileNotFoundError:  # moved away by someone else meanwhile
                continue
            self._seen.pop(path.name, None)
        self._seen = {n: v for n, v in self._seen.items() if n in names}
        return result

    async def _take(self, path: Path, result: ScanResult) -> None:
        data = path.read_bytes()
        d = digest(data)
        entry = self.ledger.get(d)
        if entry is not None and entry["state"] == "sending":  # a restart after a crash while sending it
            await self._send(entry, path, None)
            result.recovered.append(path.name)
            self._move(path, entry["outcome"], entry.get("reason"))
            return
        if entry is not None and entry["state"] == "done":
            log.info("watch %s: %s was sent before (%s/%d from %d, as %s); moving it", self.name, path.name,
                     entry["topic"], entry["partition"], entry["start"], entry.get("file"))  # fmt: skip
            self._move(path, entry["outcome"], entry.get("reason"))
            result.recovered.append(path.name)
            return
        reason, topic, values = self._decide(path, data)
        key = self.source.encode()
        partition = await self.sink.partition_for(topic, key)
        start = await self.sink.end_offset(topic, partition)
        outcome = "quarantine" if reason else "archive"
        entry = {"digest": d, "file": path.name, "state": "sending", "topic": topic, "partition": partition,
                 "start": start, "value_digests": [digest(v) for v in values], "outcome": outcome, "reason": reason}
        self.ledger.write(entry)
        await self._send(entry, path, values)
        self._move(path, outcome, reason)
        (result.quarantined if reason else result.archived).append(path.name)

    async def _send(self, entry: dict, path: Path, values: list[bytes] | None) -> None:
        """Send the file's records that are not on Kafka yet (after a restart, `values` is None: they are
        re-derived from the file), then note it done."""
        recovering = values is None
        if values is None:
            _, _, values = self._decide(path, path.read_bytes())
        key = self.source.encode()
        for value, want in zip(values, entry["value_digests"], strict=True):
            if digest(value) != want:
                raise RuntimeError(f"{entry['file']}: the ledger's record digests do not match the file's")
            found = None
            if recovering:
                found = await self.sink.find(entry["topic"], entry["partition"], entry["start"], want)
            if found is None:
                found = await self.sink.send(entry["topic"], value, key, self.source)
            log.info("watch %s: %s -> %s/%d/%d, %s", self.name, entry["file"], found.topic, found.partition,
                     found.offset, entry["outcome"])  # fmt: skip
        self.ledger.write({**entry, "state": "done"})

    def _decide(self, path: Path, data: bytes) -> tuple[str | None, str, list[bytes]]:
        """(reason if refused, topic, values): the file itself (or its parts, when it is bigger than a record) to
        its raw topic, or a dead letter."""
        fmt = detect(data)
        limit = self.sink.max_record_bytes - len(self.source)
        if not data.strip():
            reason = "the file is empty"
        elif fmt is None:
            reason = "format not recognised from the content (see `corridor formats`)"
        else:
            try:
                return None, self.sink.topics.raw(fmt.name), split(fmt.name, data, limit)
            except Unsplittable as exc:
                reason = str(exc)
        reason = f"{self.source}: {path.name}: {reason}; the file is kept at {self.quarantine / path.name}"
        from schemas import DeadLetter

        letter = DeadLetter(source_topic=self.source, key=self.source.encode(), reason=reason, original=data)
        return reason, self.sink.topics.name("dead_letter"), [dead_letter_bytes(letter, self.sink.max_record_bytes)]

    def _move(self, path: Path, outcome: str, reason: str | None) -> None:
        folder = self.archive if outcome == "archive" else self.quarantine
        target = folder / path.name
        if target.exists():  # the same name dropped again: keep both
            stamp = time.strftime("%Y%m%dT%H%M%S")
            target = folder / f"{path.stem}.{stamp}.{digest(path.read_bytes())[:8]}{path.suffix}"
        if reason:
            target.with_name(target.name + ".reason").write_text(reason + "\n")
        path.replace(target)

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                await self.scan()
            except Unavailable as exc:
                log.warning("watch %s: Kafka unavailable, files stay in the inbox: %s", self.name, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
