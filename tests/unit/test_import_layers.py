"""The import contracts in pyproject.toml ([tool.importlinter]) hold on the tree, and each catches the kind of
import it is there to stop: lint-imports run on a copy of the tree with one such import added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")  # from import-linter, in the test extras


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    # The copy's packages come first on the path, so grimp reads them and not the installed tree.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_its_contracts() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        # the cycle this contract was written against: the topology importing its web layer
        ("streams/topology/app.py", "from streams.api import register",
         "streams.topology is not allowed to import streams.api"),
        ("streams/core/eta.py", "import faust", "streams.core is not allowed to import faust"),
        ("streams/feeds/dcsa.py", "import aiohttp", "streams.feeds is not allowed to import aiohttp"),
        ("streams/sim/scenario.py", "import streams.io.kafka", "streams.sim is not allowed to import streams.io"),
        ("schemas/events.py", "import streams.processing.engine",
         "schemas is not allowed to import streams.processing"),
        ("streams/api/views.py", "from streams.processing.engine import Engine",
         "streams.api is not allowed to import streams.processing"),
        ("streams/sim/trips.py", "from streams.sim import scenario", "No cycles are allowed in streams.sim"),
        # once allowed by an exception (the API's partitioner and clock format came from processing/): no longer
        ("streams/api/store.py", "from streams.processing.replay import replay",
         "streams.api is not allowed to import streams.processing"),
        ("streams/io/kafka.py", "from streams.processing.replay import replay",
         "streams.io is not allowed to import streams.processing"),
    ],
)  # fmt: skip
def test_a_forbidden_import_breaks_a_contract(tmp_path: Path, module: str, line: str, expected: str) -> None:
    for package in ("streams", "schemas"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    assert lint(tmp_path).returncode == 0  # the copy as it is keeps them
    with (tmp_path / module).open("a") as f:
        f.write(f"\n{line}  # noqa\n")
    result = lint(tmp_path)
    assert result.returncode == 1
    assert expected in result.stdout, result.stdout
