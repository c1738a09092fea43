"""What the embedded broker's child processes share: a preexec_fn that ties them to their parent, and a free
port on 127.0.0.1."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn for child processes: killed when we die, in their own process group."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgrp()  # own process group: the terminal's Ctrl-C goes to us, and we stop the broker in order


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
