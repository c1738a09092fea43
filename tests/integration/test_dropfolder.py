"""The drop folder on the real broker with a real worker: a file still being written, a good file, a bad file,
and crashes between publishing and moving (and between publishing and the ledger noting it)."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from streams.connectors.dropfolder import DropFolder
from streams.connectors.sink import RawSink
from streams.topology.runner import running
from tests.integration.connectors_support import read_topic

pytestmark = pytest.mark.integration
SAMPLES = Path(__file__).parents[1] / "unit" / "feeds" / "samples"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Crash(Exception):
    pass


async def test_half_written_good_bad_and_crashes(bootstrap, settings, topics, reader, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = (SAMPLES / "rail-x8017.csv").read_bytes()
    coarri = (SAMPLES / "edifact-coarri-jakarta.edi").read_bytes()
    codeco = (SAMPLES / "edifact-codeco-manila.edi").read_bytes()
    clock = Clock()
    async with running(settings, bootstrap), RawSink(bootstrap, topics) as sink:
        folder = DropFolder(inbox, sink, name="sftp", settle=2.0, clock=clock)
        (inbox / "rail.csv").write_bytes(good)
        (inbox / "junk.txt").write_bytes(b"this is no carrier format at all\n")
        (inbox / "upload.edi.tmp").write_bytes(coarri[:50])  # an SFTP client's temporary name
        (inbox / "growing.edi").write_bytes(coarri[:100])  # written in several goes
        first = await folder.scan()
        assert first.archived == first.quarantined == [] and sorted(first.waiting) == ["growing.edi", "junk.txt",
                                                                                        "rail.csv"]
        clock.now = 1.0
        with open(inbox / "growing.edi", "ab") as f:
            f.write(coarri[100:])
        clock.now = 2.5
        second = await folder.scan()
        assert second.archived == ["rail.csv"] and second.quarantined == ["junk.txt"]
        assert second.waiting == ["growing.edi"]  # changed 1.5 s ago: not settled yet
        (inbox / "upload.edi.tmp").rename(inbox / "upload.edi")  # the rename convention: complete now
        (inbox / "upload.edi").write_bytes(codeco)
        clock.now = 5.0
        third = await folder.scan()  # growing.edi settled; upload.edi is new: seen once, so waits
        assert third.archived == ["growing.edi"] and third.waiting == ["upload.edi"]

        # a crash after publishing upload.edi, before it is moved
        real_move = folder._move

        def crash_move(*a, **k):
            raise Crash("killed before the move")

        folder._move = crash_move  # type: ignore[method-assign]
        clock.now = 8.0
        with pytest.raises(Crash):
            await folder.scan()
        folder._move = real_move  # type: ignore[method-assign]
        restarted = DropFolder(inbox, sink, name="sftp", settle=0)
        r = await restarted.scan()
        assert r.recovered == ["upload.edi"] and r.archived == []

        # a crash after Kafka took the file, before the ledger noted it: found on Kafka, not sent again
        (inbox / "again.csv").write_bytes(good.replace(b"X8017", b"X8018"))
        real_write = restarted.ledger.write

        def crash_on_done(entry):
            if entry["state"] == "done":
                raise Crash("killed before the ledger line")
            real_write(entry)

        restarted.ledger.write = crash_on_done  # type: ignore[method-assign]
        with pytest.raises(Crash):
            await restarted.scan()
        r = await DropFolder(inbox, sink, name="sftp", settle=0).scan()
        assert r.recovered == ["again.csv"]

        await reader.wait_for(lambda rd: len(rd.of("dead_letter")) >= 1, timeout=30)
        events = [orjson.loads(m.value) for m in await read_topic(bootstrap, topics.name("event"), at_least=12)]
        await reader.settle()

    assert sorted(p.name for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")) == []
    assert sorted(p.name for p in (inbox / "archive").iterdir()) == ["again.csv", "growing.edi", "rail.csv",
                                                                      "upload.edi"]
    assert sorted(p.name for p in (inbox / "quarantine").iterdir()) == ["junk.txt", "junk.txt.reason"]
    assert "format not recognised" in (inbox / "quarantine" / "junk.txt.reason").read_text()
    rail = await read_topic(bootstrap, topics.raw("rail-events"))
    edi = await read_topic(bootstrap, topics.raw("edifact"))
    assert sorted(m.value for m in rail) == sorted([good, good.replace(b"X8017", b"X8018")])  # once each
    assert sorted(m.value for m in edi) == sorted([coarri, codeco])
    assert {m.key for m in rail + edi} == {b"watch:sftp"}
    letter = next(x for x in reader.of("dead_letter") if x["source_topic"] == "watch:sftp")
    assert base64.urlsafe_b64decode(letter["original"]) == b"this is no carrier format at all\n"
    assert "quarantine/junk.txt" in letter["reason"]
    sources = {e["source"] for e in events}
    assert "rail" in sources and any(e["source"].startswith("edifact") for e in events), sources
