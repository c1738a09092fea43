"""`python -m bench.connectors` runs end to end on a tiny load (its figures are not checked: the machine is shared)."""

import pytest

from bench.connectors import main

pytestmark = pytest.mark.integration


def test_the_connector_bench_runs(capsys):
    main(["--requests", "40", "--concurrency", "4", "--files", "10"])
    out = capsys.readouterr().out
    for line in ("baseline: aiokafka acks=all", "HTTP floor", "gateway POST /v3/events", "drop folder"):
        assert line in out, out
