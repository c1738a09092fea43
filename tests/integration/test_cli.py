"""The `corridor` command as a user runs it: broker lifecycle without orphans, simulate/replay, the demo."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.integration
CORRIDOR = [sys.executable, "-m", "streams"]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRIDOR_")}
    env["CORRIDOR_HOME"] = str(tmp_path / "home")
    return env


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.3).close()
        return True
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "killed"])
def test_broker_command_leaves_no_orphan(tmp_path, how):
    proc = subprocess.Popen([*CORRIDOR, "broker", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(tmp_path), text=True)
    try:
        bootstrap = proc.stdout.readline().strip()
        port = int(bootstrap.rsplit(":", 1)[1])
        assert _listening(port)
        state = orjson.loads((tmp_path / "home" / "broker.json").read_bytes())
        assert state["bootstrap"] == bootstrap
        children = _children(proc.pid)
        assert state["pid"] in children and len(children) == 2  # Tansu and SeaweedFS (the durable default)
        proc.send_signal(how)
        proc.wait(60)  # Ctrl-C waits for SeaweedFS to close its files: about 17 s (its filer's gRPC stop)
        assert _wait_gone(state["pid"]), "the Tansu broker outlived `corridor broker`"
        assert all(_wait_gone(pid, 60) for pid in children), "SeaweedFS outlived `corridor broker`"
        assert not _listening(port)
        if how == signal.SIGINT:
            assert proc.returncode == 0
            assert not (tmp_path / "home" / "broker.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_simulate_then_replay_from_the_command_line(tmp_path):
    history, out = tmp_path / "history.jsonl", tmp_path / "out.jsonl"
    env = _env(tmp_path)
    subprocess.run([*CORRIDOR, "simulate", "--units", "2", "--out", str(history)], env=env, check=True, timeout=60)
    done = subprocess.run([*CORRIDOR, "replay", str(history), "--out", str(out)], env=env, check=True,
                          timeout=60, capture_output=True, text=True)
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    topics = {x["topic"] for x in lines}
    assert {"corridor.timelines", "corridor.eta", "corridor.alerts"} <= topics
    assert f"{len(lines)} outputs" in done.stderr
    assert {"corridor.shipment-timelines", "corridor.shipment-eta", "corridor.shipment-feed"} <= topics

    def owner(x: dict) -> str:
        if x["topic"] == "corridor.shipment-feed":
            return x["value"]["shipment_id"]
        if x["topic"].startswith("corridor.shipment-"):
            return x["value"]["shipment"]["id"]
        return x["value"]["unit"]["id"]

    assert all(x["key"] == owner(x) for x in lines if x["topic"] != "corridor.dead-letters")

    # One of the simulated shipments, as `corridor shipment` prints it.
    split = next(x["key"] for x in lines if x["topic"] == "corridor.shipment-timelines"
                 and x["value"]["shipment"]["kind"] == "AIR_WAYBILL" and len(x["value"]["parts"]) >= 3)
    shown = subprocess.run([*CORRIDOR, "shipment", split, "--history", str(history)], env=env, check=True,
                           timeout=60, capture_output=True, text=True)
    assert f"air waybill {split}" in shown.stdout and "parts (cargo in each unit)" in shown.stdout
    assert "DELIVERED" in shown.stdout and "ETA (door to door)" in shown.stdout
    missing = subprocess.run([*CORRIDOR, "shipment", "NO-SUCH-1", "--history", str(history)], env=env,
                             timeout=60, capture_output=True, text=True)
    assert missing.returncode == 1 and "no shipment 'NO-SUCH-1'" in missing.stderr


def test_demo_runs_to_its_summary(tmp_path):
    before = {p for p in _children(os.getpid()) if _alive(p)}  # e.g. the session's broker
    started = time.monotonic()
    done = subprocess.run([*CORRIDOR, "demo", "--units", "1", "--seconds", "12"], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "units tracked:      19" in done.stdout  # 4 corridor units, 12 the shipments ride in, 3 air waybills
    assert "shipments tracked:  6" in done.stdout
    assert "ETA error" in done.stdout
    assert time.monotonic() - started < 120
    assert not [p for p in _children(os.getpid()) if _alive(p) and p not in before], "demo left a process behind"
    assert "operations page: http://127.0.0.1:" in done.stdout
