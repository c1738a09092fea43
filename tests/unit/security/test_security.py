"""The security rules as plain Python: tenants, the API keys file, forwarding signatures, rate limits, the
refusal to serve open beyond loopback, webhook address rules, and quiet logs for malformed requests."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from aiohttp.http_exceptions import LineTooLong

from streams.security.addresses import GuardedResolver, TargetPolicy, TargetRefused
from streams.security.credentials import Authenticator, ConfigError, Unauthorized, key_digest, load_keys
from streams.security.exposure import OpenExposure, check_exposure, is_loopback
from streams.security.forwarding import TENANT, ForwardSigner
from streams.security.quietlog import QuietBadRequests
from streams.security.ratelimit import RateLimiter, retry_after
from streams.security.tenants import Tenant


def test_a_tenant_sees_its_customers_only_and_operations_see_all():
    acme = Tenant.of("acme", ["ACME", "e-shop"])
    assert acme.sees("ACME") and acme.sees(" acme ") and acme.sees("E-SHOP")
    assert acme.sees("\uff21\uff23\uff2d\uff25")  # full-width ACME: names are compared after NFKC
    assert not acme.sees("Globex") and not acme.sees(None) and not acme.sees("")
    ops = Tenant.of("ops", "*")
    assert ops.sees(None) and ops.sees("anyone") and ops.claim() == {"sub": "ops", "customers": "*"}
    assert Tenant.of("x", ["A", "*"]).every_customer
    with pytest.raises(ValueError, match="no customers"):
        Tenant.of("nobody", [])


def test_keys_file_stores_digests_and_says_what_is_wrong(tmp_path: Path):
    path = tmp_path / "keys.yaml"
    path.write_text(f"keys:\n  - name: acme\n    sha256: {key_digest('k' * 20)}\n    customers: [ACME]\n"
                    f"  - name: ops\n    key: {'o' * 20}\n    customers: '*'\n")
    keys = load_keys(path)
    assert keys[key_digest("k" * 20)].customers == {"acme"} and keys[key_digest("o" * 20)].every_customer
    for text, says in [("keys: 3", "expected a `keys:` list"),
                       ("keys:\n  - customers: [A]\n    key: " + "x" * 20, "needs a `name`"),
                       ("keys:\n  - name: a\n    key: short\n    customers: [A]", "at least 16"),
                       ("keys:\n  - name: a\n    sha256: abc\n    customers: [A]", "64 hex digits"),
                       ("keys:\n  - name: a\n    key: " + "x" * 20, "no customers"),
                       ("keys:\n  - name: a\n    key: " + "x" * 20 + "\n    sha256: " + "0" * 64, "exactly one")]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=says):
            load_keys(path)


async def test_bearer_header_forms():
    auth = Authenticator({key_digest("k" * 20): Tenant.of("acme", "ACME")})
    assert (await auth.tenant("Bearer " + "k" * 20)).subject == "acme"
    assert (await auth.tenant("bearer   " + "k" * 20)).subject == "acme"
    for header, says in [(None, "credentials required"), ("Basic abc", "malformed"), ("Bearer", "malformed"),
                         ("Bearer " + "j" * 20, "unknown API key")]:
        with pytest.raises(Unauthorized, match=says):
            await auth.tenant(header)


def test_forwarding_signature_covers_time_path_forwarder_and_tenant():
    signer = ForwardSigner("s" * 16)
    tenant = Tenant.of("acme", ["ACME"])
    headers = signer.headers("GET", "/api/units/X?", "http://a:1", tenant, now=1000)
    assert signer.verify("GET", "/api/units/X?", headers, now=1030) == tenant
    for method, path, changed, now, says in [
        ("GET", "/api/units/Y?", {}, 1000, "bad signature"),
        ("GET", "/api/units/X?", {"X-Corridor-Forwarded-By": "http://b:1"}, 1000, "bad signature"),
        ("GET", "/api/units/X?", {TENANT: ForwardSigner("s" * 16).headers(
            "GET", "/", "x", Tenant.of("o", "*"))[TENANT]}, 1000, "bad signature"),
        ("GET", "/api/units/X?", {}, 1100, "too old"),
        ("GET", "/api/units/X?", {"X-Corridor-Signature": "t=x,v1=0"}, 1000, "malformed"),
    ]:
        with pytest.raises(Unauthorized, match=says):
            signer.verify(method, path, {**headers, **changed}, now=now)
    with pytest.raises(ValueError, match="16 bytes"):
        ForwardSigner("short")


def test_rate_limiter_refills_per_key_and_says_how_long_to_wait():
    limit = RateLimiter(rate=2.0, burst=2)
    assert [limit.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.5]
    assert limit.take("b", now=0.0) == 0.0  # per key
    assert limit.take("a", now=1.0) == 0.0
    assert retry_after(0.2) == "1" and retry_after(2.1) == "3"
    small = RateLimiter(rate=1.0, burst=1, max_keys=2)
    for k in "xyz":
        small.take(k, now=0.0)
    assert list(small._buckets) == ["y", "z"]  # the least recently used went first


def test_no_open_service_beyond_loopback_unless_told(caplog: pytest.LogCaptureFixture):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.0.0.5")
    assert not is_loopback("corridor.internal")
    with pytest.raises(OpenExposure, match="CORRIDOR_ALLOW_OPEN"):
        check_exposure("the API", "0.0.0.0", False, False, "keys")
    check_exposure("the API", "0.0.0.0", True, False, "keys")
    with caplog.at_level(logging.WARNING):
        check_exposure("the API", "0.0.0.0", False, True, "keys")
        check_exposure("the API", "127.0.0.1", False, False, "keys")
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert "WITHOUT credentials" in caplog.records[0].getMessage()


@pytest.mark.parametrize("address, allowed", [
    ("169.254.169.254", False), ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.1", False),
    ("172.16.0.1", False), ("::1", False), ("::ffff:127.0.0.1", False), ("fe80::1", False), ("fd00::1", False),
    ("0.0.0.0", False), ("100.64.0.1", False), ("224.0.0.1", False), ("93.184.215.14", True),
    ("2606:4700:4700::1111", True),
])
def test_webhooks_go_to_public_addresses(address: str, allowed: bool):
    if allowed:
        TargetPolicy().check_address(address)
    else:
        with pytest.raises(TargetRefused):
            TargetPolicy().check_address(address)


async def test_allowed_networks_and_every_resolved_address_is_checked():
    policy = TargetPolicy.of(["10.20.0.0/16", "127.0.0.1"])
    policy.check_address("10.20.3.4")
    policy.check_address("127.0.0.1")
    with pytest.raises(TargetRefused):
        policy.check_address("10.21.0.1")
    await policy.check_url("http://127.0.0.1:9/hook")
    with pytest.raises(TargetRefused, match="link-local"):
        await policy.check_url("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(TargetRefused, match="cannot resolve"):
        await policy.check_url("http://no-such-host.invalid/")
    with pytest.raises(ValueError, match="not a network"):
        TargetPolicy.of(["ten.0.0.0/8"])


class _Rebinding:
    """A resolver whose name points first at a public address and then at the metadata service."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict]:
        return [{"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
                for a in self.answers.pop(0)]

    async def close(self) -> None:
        pass


async def test_the_send_time_resolver_drops_refused_addresses():
    resolver = GuardedResolver(TargetPolicy(), _Rebinding(["93.184.215.14", "10.0.0.1"], ["169.254.169.254"]))
    assert [r["host"] for r in await resolver.resolve("hooks.example")] == ["93.184.215.14"]
    with pytest.raises(OSError, match="link-local"):
        await resolver.resolve("hooks.example")


def test_malformed_requests_log_one_quiet_line():
    quiet = QuietBadRequests()

    def record() -> logging.LogRecord:
        exc = LineTooLong(b"x" * 10, 8190)
        return logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s",
                                 ("10.0.0.9",), (LineTooLong, exc, None))

    first = record()
    assert quiet.filter(first)
    assert first.levelno == logging.INFO and first.exc_info is None
    assert first.getMessage().startswith("refused a malformed request from 10.0.0.9: \"Got more than 8190")
    assert not quiet.filter(record())  # within a second: counted, not logged
    quiet.last -= 2
    again = record()
    assert quiet.filter(again) and "(1 more since the last such line)" in again.getMessage()
    other = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "boom", (),
                              (ValueError, ValueError(), None))
    assert quiet.filter(other) and other.levelno == logging.ERROR


def test_new_key_prints_a_key_and_an_entry_that_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from streams.security.__main__ import main

    assert main(["new-key", "--name", "acme-portal", "--customers", "ACME, e-shop"]) == 0
    out = capsys.readouterr().out
    key = out.splitlines()[1].strip()
    entry = out.split("under `keys:`:\n", 1)[1]
    (tmp_path / "keys.yaml").write_text("keys:\n" + entry)
    loaded = load_keys(tmp_path / "keys.yaml")
    assert loaded[key_digest(key)] == Tenant.of("acme-portal", ["ACME", "e-shop"]) and key not in entry
