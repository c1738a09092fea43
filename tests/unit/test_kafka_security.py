"""Kafka security settings -> client arguments (SASL is tested here by configuration: the bundled Tansu offers
no PLAIN mechanism and keeps SCRAM users only through AlterUserScramCredentials, which aiokafka cannot send)."""

from __future__ import annotations

import ast
import logging
import ssl
from pathlib import Path

import pytest
import trustme
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from streams.kafka_security import SecurityConfigError
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-Passw0rd!"


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for k, v in values.items():
        monkeypatch.setenv(f"CORRIDOR_{k.upper()}", v)
    return Settings()


def test_plaintext_by_default(monkeypatch):
    s = _env(monkeypatch).kafka_security()
    assert s.protocol == "PLAINTEXT" and s.client_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert s.faust_credentials() is None


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_from_environment_reaches_aiokafka_and_faust(monkeypatch, mechanism):
    s = _env(monkeypatch, kafka_sasl_mechanism=mechanism, kafka_sasl_username="corridor",
             kafka_sasl_password=SECRET).kafka_security()  # fmt: skip
    assert s.protocol == "SASL_PLAINTEXT"
    kw = s.client_kwargs()
    assert kw == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": mechanism,
                  "sasl_plain_username": "corridor", "sasl_plain_password": SECRET}
    # What Faust hands its own consumer, producer and admin clients.
    faust_kw = credentials_to_aiokafka_auth(s.faust_credentials())
    assert faust_kw["security_protocol"] == "SASL_PLAINTEXT" and faust_kw["sasl_mechanism"] == mechanism
    assert faust_kw["sasl_plain_username"] == "corridor" and faust_kw["sasl_plain_password"] == SECRET


def test_sasl_ssl_with_password_file_and_a_ca(monkeypatch, tmp_path):
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    (tmp_path / "password").write_text(SECRET + "\n")
    s = _env(monkeypatch, kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="corridor",
             kafka_sasl_password_file=str(tmp_path / "password"),
             kafka_ssl_cafile=str(tmp_path / "ca.pem")).kafka_security()  # fmt: skip
    assert s.protocol == "SASL_SSL"
    kw = s.client_kwargs()
    assert kw["sasl_plain_password"] == SECRET  # the file's first line, without its newline
    ctx = kw["ssl_context"]
    assert isinstance(ctx, ssl.SSLContext) and ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    faust_kw = credentials_to_aiokafka_auth(s.faust_credentials())
    assert faust_kw["security_protocol"] == "SASL_SSL" and faust_kw["ssl_context"] is not None


def test_tls_with_client_certificate_and_no_hostname_check(monkeypatch, tmp_path):
    ca = trustme.CA()
    leaf = ca.issue_cert("worker")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "c.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "k.pem"))
    s = _env(monkeypatch, kafka_ssl_cafile=str(tmp_path / "ca.pem"), kafka_ssl_certfile=str(tmp_path / "c.pem"),
             kafka_ssl_keyfile=str(tmp_path / "k.pem"), kafka_ssl_check_hostname="false").kafka_security()
    assert s.protocol == "SSL"
    ctx = s.client_kwargs()["ssl_context"]
    assert not ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED  # still verified against the CA
    assert "no hostname check" in s.describe()


@pytest.mark.parametrize("values, message", [
    ({"kafka_security_protocol": "SASL_SSL"}, "needs a SASL mechanism"),
    ({"kafka_sasl_mechanism": "PLAIN", "kafka_sasl_username": "u"}, "needs a username and a password"),
    ({"kafka_security_protocol": "PLAINTEXT", "kafka_sasl_mechanism": "PLAIN"}, "protocol is PLAINTEXT"),
    ({"kafka_ssl_certfile": "/x.pem", "kafka_ssl_cafile": "/ca.pem"}, "needs its key"),
    ({"kafka_sasl_mechanism": "PLAIN", "kafka_sasl_username": "u", "kafka_sasl_password": "p",
      "kafka_sasl_password_file": "/p"}, "not both"),
    ({"kafka_sasl_mechanism": "PLAIN", "kafka_sasl_username": "u", "kafka_sasl_password_file": "/nonexistent/p"},
     "cannot read"),
])
def test_inconsistent_settings_are_refused_clearly(monkeypatch, values, message):
    with pytest.raises(SecurityConfigError, match=message):
        _env(monkeypatch, **values).kafka_security()


def test_secrets_never_printed(monkeypatch, caplog):
    settings = _env(monkeypatch, kafka_sasl_mechanism="PLAIN", kafka_sasl_username="corridor",
                    kafka_sasl_password=SECRET, kafka_ssl_key_password=SECRET)  # fmt: skip
    s = settings.kafka_security()
    logging.getLogger("test").info("settings %s security %s %r %s", settings, s, s, s.describe())
    for text in (repr(settings), str(settings), repr(s), s.describe(), caplog.text,
                 repr(s.faust_credentials())):  # fmt: skip
        assert SECRET not in text


def _client_calls(tree: ast.AST) -> list[ast.Call]:
    names = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            and n.func.id in names]  # fmt: skip


def test_every_kafka_client_in_streams_takes_the_security_arguments():
    """Every aiokafka client corridor constructs is given `**client_kwargs(...)` / `**....client_kwargs()`;
    the Faust app gets broker_credentials."""
    found = 0
    for path in (ROOT / "streams").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for call in _client_calls(tree):
            found += 1
            spread = [k.value for k in call.keywords if k.arg is None]
            assert any(isinstance(v, ast.Call) and "client_kwargs" in ast.unparse(v.func) for v in spread), (
                f"{path.relative_to(ROOT)}:{call.lineno} makes a Kafka client without the security settings")
    assert found >= 7
    app = (ROOT / "streams/topology/app.py").read_text()
    assert "broker_credentials=security.faust_credentials()" in app
