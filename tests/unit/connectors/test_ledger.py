import orjson

from streams.connectors.ledger import Ledger


def test_ledger_keeps_the_last_step_per_file_and_survives_a_cut_line(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    ledger.write({"digest": "a", "state": "sending"})
    ledger.write({"digest": "a", "state": "done"})
    ledger.write({"digest": "b", "state": "sending"})
    with open(path, "ab") as f:
        f.write(b'{"digest": "b", "sta')  # a crash while writing the line: the step did not happen
    again = Ledger(path)
    assert again.get("a")["state"] == "done" and again.get("b")["state"] == "sending"
    assert [orjson.loads(x)["digest"] for x in path.read_bytes().splitlines()] == ["a", "b"]  # compacted


def test_old_done_entries_are_forgotten(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(orjson.dumps({"digest": "old", "state": "done", "at": 0}) + b"\n"
                     + orjson.dumps({"digest": "stuck", "state": "sending", "at": 0}) + b"\n")
    ledger = Ledger(path, retention=3600)
    assert ledger.get("old") is None and ledger.get("stuck") is not None  # unfinished work is never forgotten
