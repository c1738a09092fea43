"""Corridor does not serve data without credentials beyond the machine it runs on, unless told so explicitly."""

from __future__ import annotations

import ipaddress
import logging

log = logging.getLogger(__name__)


class OpenExposure(RuntimeError):
    """Binding a non-loopback address with no credentials configured, and no explicit permission to."""


def is_loopback(host: str) -> bool:
    """True only for loopback addresses and `localhost`; a wildcard (0.0.0.0, ::) or any other name is not."""
    host = host.strip().strip("[]")
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(what: str, host: str, has_credentials: bool, allow_open: bool, how: str) -> None:
    """Refuse (OpenExposure) to serve `what` on a non-loopback `host` without credentials unless `allow_open`;
    warn when it is served without credentials at all. `how` says how credentials are given."""
    if has_credentials:
        return
    if not is_loopback(host):
        if not allow_open:
            raise OpenExposure(
                f"refusing to serve {what} on {host} without credentials: anyone who can reach the port would "
                f"read every customer's data. Configure credentials ({how}), bind 127.0.0.1, or set "
                "CORRIDOR_ALLOW_OPEN=true to serve it open on purpose.")
        log.warning("%s is served on %s WITHOUT credentials (CORRIDOR_ALLOW_OPEN): anyone who can reach it "
                    "reads every customer's data", what, host)
    else:
        log.warning("%s is served on %s without credentials: any local process can use it (%s)", what, host, how)
