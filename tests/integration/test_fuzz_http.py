"""HTTP fuzzing of the query API: schemathesis generates requests from the OpenAPI document (streams/api/
openapi.json) and sends them to a real worker process (`python -m streams worker`, credentials on, over the real
embedded broker, with two customers' units in it). No answer may be a 5xx, and none may take longer than the
response-time bound (no hang). The number of examples is bounded so that it runs in CI."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.broker.embedded import EmbeddedBroker
from streams.io.kafka import Publisher
from streams.security.credentials import key_digest
from tests.integration.conftest import PARTITIONS
from tests.integration.story import OTHER, d, plan, tick
from tests.integration.test_api import free_port

pytestmark = pytest.mark.integration

KEY = "acme-key-0123456789abcdef"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
EXAMPLES = int(os.environ.get("CORRIDOR_FUZZ_EXAMPLES", "25"))  # per operation
CHECKS = os.environ.get("CORRIDOR_FUZZ_CHECKS", "not_a_server_error")  # "all": schema conformance too


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


def _ready(base: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("the worker did not become ready")


@pytest.fixture(scope="module")
async def worker(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("fuzz")
    keys = root / "keys.yaml"
    keys.write_text(yaml.safe_dump({"keys": [{"name": "acme", "sha256": key_digest(KEY), "customers": ["ACME"]}]}))
    port, prefix = free_port(), f"fz{os.getpid()}."
    await ensure_topics(bootstrap, TopicNames(prefix).all, PARTITIONS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRIDOR_")} | {
        "CORRIDOR_HOME": str(root / "home"), "CORRIDOR_APP_ID": f"fuzz-{os.getpid()}", "CORRIDOR_TOPIC_PREFIX": prefix,
        "CORRIDOR_PARTITIONS": str(PARTITIONS), "CORRIDOR_DATA_DIR": str(root / "state"),
        "CORRIDOR_WEB_PORT": str(port), "CORRIDOR_EMBEDDED_BROKER": "true", "CORRIDOR_AUTH_KEYS_FILE": str(keys),
        "CORRIDOR_RATE_LIMIT": "0",  # the fuzzer asks fast; 429s would only hide the answers under test
    }
    log = (root / "worker.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "streams", "worker", "--broker", bootstrap, "--loglevel", "warning"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _ready(base, proc)
        async with Publisher(bootstrap, TopicNames(prefix), PARTITIONS) as pub:
            await pub.send_all([plan().model_copy(update={"customer": "ACME"}),
                                plan(OTHER).model_copy(update={"customer": "Globex"})])
            await pub.send_all([tick(d(6, 7))])
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_schemathesis_finds_no_server_error_and_no_hang(worker: str, tmp_path: Path):
    run = subprocess.run(
        [str(SCHEMATHESIS), "run", f"{worker}/api/openapi.json", "--url", worker,
         "--header", f"Authorization: Bearer {KEY}", "--checks", CHECKS,
         "--max-response-time", "10", "--request-timeout", "15", "--max-examples", str(EXAMPLES), "--seed", "7",
         "--workers", "1", "--no-shrink", "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"},
        cwd=tmp_path)  # schemathesis keeps a cache directory where it runs
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert cases and cases[1] == cases[2] and int(cases[1]) >= 9 * 5, run.stdout[-3000:]  # 9 operations, each tried
    print(run.stdout[-2500:])  # schemathesis's summary (operations, cases, failures): shown with pytest -rP
