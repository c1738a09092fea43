"""Guards built from settings, with the checks that stop a process from starting unsafe."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from streams.security.credentials import Authenticator, ConfigError
from streams.security.exposure import check_exposure
from streams.security.forwarding import ForwardSigner
from streams.security.guard import Guard
from streams.security.ratelimit import RateLimiter

if TYPE_CHECKING:
    from streams.settings import Settings

log = logging.getLogger(__name__)

HOW = "CORRIDOR_AUTH_KEYS_FILE and/or CORRIDOR_AUTH_JWKS; see docs/security.md"


def authenticator(settings: Settings) -> Authenticator:
    return Authenticator.from_settings(settings.auth_keys_file, settings.auth_jwks, settings.auth_issuer,
                                       settings.auth_audience, settings.auth_customers_claim)


def limiters(settings: Settings) -> tuple[RateLimiter | None, RateLimiter | None]:
    """(per credential, failed attempts per address: a tenth of the rate, the same burst)."""
    if settings.rate_limit <= 0:
        return None, None
    return (RateLimiter(settings.rate_limit, settings.rate_burst),
            RateLimiter(max(settings.rate_limit / 10, 0.5), settings.rate_burst))


def api_guard(settings: Settings) -> Guard:
    """The query API's guard; OpenExposure or ConfigError when the worker must not start."""
    auth = authenticator(settings)
    check_exposure("the query API and the operations page", settings.bind_address, auth.configured, settings.allow_open,
                   HOW)
    signer = None
    if settings.forward_secret is not None:
        try:
            signer = ForwardSigner(settings.forward_secret.get_secret_value())
        except ValueError as exc:
            raise ConfigError(f"CORRIDOR_FORWARD_SECRET: {exc}") from None
    elif auth.configured:
        log.warning("no CORRIDOR_FORWARD_SECRET: requests for another worker's partitions are not answered; "
                    "set the same secret on every worker of a group of more than one")
    per_credential, failures = limiters(settings)
    return Guard(auth, signer, per_credential, failures)
