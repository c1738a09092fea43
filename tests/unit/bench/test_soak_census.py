"""The soak's census of its worker's memory: the probe answers in a real Python process, only where asked to,
and two censuses diffed name what grew."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from bench.soak import PROBE, census_diff, probed, take_census

# A process that, like the soak's worker, starts with the probe on its path, then holds 20,000 more lists once
# asked for a first census, and waits for the second.
GROWER = """
import time
from pathlib import Path
import sys
where = Path(sys.argv[1])
while not (where / "census-0.json").exists():
    time.sleep(0.05)
kept = [[i] for i in range(20_000)]  # lists: a dict of atoms only is not tracked by the GC
while not (where / "census-1.json").exists():
    time.sleep(0.05)
"""


def test_a_process_started_under_the_probe_answers_and_the_diff_names_what_grew(tmp_path: Path) -> None:
    where = tmp_path / "census"
    with probed(where):
        assert os.environ["CORRIDOR_SOAK_CENSUS_DIR"] == str(where)
        proc = subprocess.Popen([sys.executable, "-c", GROWER, str(where)], env=dict(os.environ))
    assert "CORRIDOR_SOAK_CENSUS_DIR" not in os.environ  # put back as it was
    assert str(PROBE) not in os.environ.get("PYTHONPATH", "")
    try:
        first = asyncio.run(take_census(where, 0, timeout=30))
        second = asyncio.run(take_census(where, 1, timeout=30))
    finally:
        proc.wait(30)
    assert first and second
    assert second["counts"]["builtins.list"] - first["counts"]["builtins.list"] >= 20_000
    lines = census_diff(first, second, records=20_000)
    biggest = lines[3] if second.get("malloc") else lines[2]
    assert biggest.strip().startswith("builtins.list: +2"), lines
    assert "bytes a record" in lines[0]


def test_without_the_directory_the_probe_does_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CORRIDOR_SOAK_CENSUS_DIR"} | {"PYTHONPATH": str(PROBE)}
    out = subprocess.run([sys.executable, "-c", "import threading; print(len(threading.enumerate()))"],
                         env=env, capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.strip() == "1"  # no census thread


def test_the_diff_of_two_censuses_by_type() -> None:
    before = {"allocated_blocks": 1_000, "malloc": {"heap_bytes": 10 * 2**20, "in_use_bytes": 8 * 2**20,
                                                    "free_bytes": 2 * 2**20, "mmapped_bytes": 0},
              "counts": {"builtins.dict": 100, "builtins.list": 50, "x.Gone": 5},
              "bytes": {"builtins.dict": 10_000, "builtins.list": 4_000, "x.Gone": 500}}  # fmt: skip
    after = {"allocated_blocks": 1_500, "malloc": {"heap_bytes": 11 * 2**20, "in_use_bytes": 9 * 2**20,
                                                   "free_bytes": 2 * 2**20, "mmapped_bytes": 0},
             "counts": {"builtins.dict": 100, "builtins.list": 1_050, "x.New": 3},
             "bytes": {"builtins.dict": 10_000, "builtins.list": 104_000, "x.New": 300}}  # fmt: skip
    lines = census_diff(before, after, records=1_000)
    assert lines[0] == "  Python objects tracked by the GC: +998 (+0.10 MB by getsizeof, +99.8 bytes a record)"
    assert lines[1] == "  pymalloc blocks allocated: +500"
    assert lines[2].startswith("  malloc in use (heap and mmapped): +1.00 MB, +1,048.6 bytes a record")
    assert [line.split(":")[0].strip() for line in lines[3:]] == ["builtins.list", "x.New"]  # no shrinkers
