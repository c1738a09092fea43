"""`corridor worker` as a child process (benchmarks and multi-worker tests): started with its settings as
CORRIDOR_* variables, killed with its parent, and stopped politely before being killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from streams.broker.embedded import die_with_parent


def start_worker(log: Path, loglevel: str = "info", **settings: object) -> subprocess.Popen:
    """`settings` are Settings field names (broker="127.0.0.1:9092", app_id=..., web_enabled=False...)."""
    env = {**os.environ, **{f"CORRIDOR_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v)
                            for k, v in settings.items()}}  # fmt: skip
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams", "worker", "--loglevel", loglevel],
            env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
        )  # fmt: skip


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM (a worker leaves its group and flushes), then SIGKILL if it does not end in time."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
