"""Kafka client security (TLS and SASL) from settings, for every client corridor makes.

One place turns the CORRIDOR_KAFKA_* settings into a `KafkaSecurity`, and that into keyword arguments: aiokafka's
producers, consumers and admin clients take `client_kwargs()`, the Faust worker `faust_credentials()`. Secrets
(the SASL password, the private key's passphrase) come from the environment or from files (`*_FILE` settings,
e.g. a mounted Kubernetes Secret); they are held as pydantic `SecretStr`, so a settings or security object never
prints them, and no log line of corridor's includes them."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class SecurityConfigError(ValueError):
    pass


def read_secret(value: SecretStr | None, file: Path | None, what: str) -> SecretStr | None:
    """A secret given directly (environment) or in a file (its first line, without the newline)."""
    if value is not None and file is not None:
        raise SecurityConfigError(f"{what}: give it or its file, not both")
    if file is not None:
        try:
            return SecretStr(file.read_text().splitlines()[0] if file.stat().st_size else "")
        except OSError as exc:
            raise SecurityConfigError(f"{what}: cannot read {file}: {exc.strerror}") from None
    return value


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: Protocol = "PLAINTEXT"
    ssl_cafile: Path | None = None  # None with TLS: the system's trusted CAs (managed Kafka services)
    ssl_certfile: Path | None = None  # client certificate (mutual TLS)
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr | None = None
    ssl_check_hostname: bool = True
    sasl_mechanism: Mechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def __post_init__(self) -> None:
        if self.sasl:
            if not self.sasl_mechanism:
                raise SecurityConfigError(f"{self.protocol} needs a SASL mechanism (PLAIN, SCRAM-SHA-256/512)")
            if not self.sasl_username or self.sasl_password is None:
                raise SecurityConfigError(f"SASL {self.sasl_mechanism} needs a username and a password")
        elif self.sasl_mechanism or self.sasl_username:
            raise SecurityConfigError(f"SASL settings given but the protocol is {self.protocol}")
        if not self.tls and (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile):
            raise SecurityConfigError(f"TLS files given but the protocol is {self.protocol}")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise SecurityConfigError("a client certificate needs its key, and a key its certificate")

    @classmethod
    def infer(cls, protocol: Protocol | None, **kw: Any) -> KafkaSecurity:
        """Without an explicit protocol: SASL if a mechanism is set, TLS if any TLS file is."""
        if protocol is None:
            tls = bool(kw.get("ssl_cafile") or kw.get("ssl_certfile"))
            protocol = ("SASL_SSL" if tls else "SASL_PLAINTEXT") if kw.get("sasl_mechanism") else (
                "SSL" if tls else "PLAINTEXT")
        return cls(protocol=protocol, **kw)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        ctx = ssl.create_default_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)
        if self.ssl_certfile:
            password = self.ssl_key_password.get_secret_value() if self.ssl_key_password else None
            ctx.load_cert_chain(str(self.ssl_certfile), str(self.ssl_keyfile), password=password)
        if not self.ssl_check_hostname:  # the certificate is still verified against the CA
            ctx.check_hostname = False
        return ctx

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
        kw: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            kw["ssl_context"] = self.ssl_context()
        if self.sasl:
            kw.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                      sasl_plain_password=self.sasl_password.get_secret_value())  # type: ignore[union-attr]
        return kw

    def faust_credentials(self) -> Any:
        """Faust's `broker_credentials` (None for PLAINTEXT); Faust passes them to every client it makes."""
        import faust

        if self.sasl:
            return faust.SASLCredentials(username=self.sasl_username, mechanism=self.sasl_mechanism,
                                         password=self.sasl_password.get_secret_value(),  # type: ignore[union-attr]
                                         ssl_context=self.ssl_context())  # fmt: skip
        if self.tls:
            return faust.SSLCredentials(self.ssl_context())
        return None

    def describe(self) -> str:
        """For logs and startup lines: what is used, never a secret."""
        parts = [self.protocol]
        if self.tls:
            check = "" if self.ssl_check_hostname else ", no hostname check"
            parts.append(f"CA {self.ssl_cafile or 'system'}{check}")
            if self.ssl_certfile:
                parts.append(f"client certificate {self.ssl_certfile}")
        if self.sasl:
            parts.append(f"{self.sasl_mechanism} as {self.sasl_username}")
        return ", ".join(parts)


PLAINTEXT = KafkaSecurity()


def client_kwargs(security: KafkaSecurity | None) -> dict[str, Any]:
    """`security.client_kwargs()`, or nothing (aiokafka's plaintext default) without one."""
    return security.client_kwargs() if security is not None else {}
