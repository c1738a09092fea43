"""Connector configuration files (YAML or JSON): gateway sources and polled carriers.

Secrets are not written in the file: any string may be `${NAME}`, replaced by the environment variable NAME when
the file is read (a missing variable is an error, not an empty secret)."""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(ValueError):
    pass


def _expand(value: Any, where: str) -> Any:
    if isinstance(value, str):
        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise ConfigError(f"{where}: environment variable {name} is not set")
            return os.environ[name]
        return _VAR.sub(one, value)
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}") for k, v in value.items()}
    return value


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text())  # JSON is YAML
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return _expand(doc, path.name)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """One sender of pushed data: a carrier, a visibility platform, a DCSA 2.2 subscription."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="key of its records; in URLs")
    api_keys: list[str] = Field(default_factory=list, description="any one authenticates it (rotation: add the new "
                                "key, let the sender switch, then remove the old one)")
    formats: list[str] | None = Field(default=None, description="formats it may POST to /ingest; None = any")
    secrets: list[str] = Field(default_factory=list, description="DCSA 2.2 subscription secrets, base64 as in the "
                               "subscription; a signature made with any of them is accepted (rotation)")

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, v: list[str]) -> list[str]:
        if any(len(k) < 16 for k in v):
            raise ValueError("an API key must have at least 16 characters")
        return v

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, v: list[str]) -> list[str]:
        for s in v:
            try:
                if len(base64.b64decode(s, validate=True)) < 16:
                    raise ValueError("a subscription secret must decode to at least 16 bytes")
            except binascii.Error:
                raise ValueError("a subscription secret must be base64 (as DCSA subscriptions carry it)") from None
        return v

    def secret_keys(self) -> list[bytes]:
        return [base64.b64decode(s) for s in self.secrets]


class GatewayConfig(_Strict):
    sources: list[Source]
    max_body_bytes: int = Field(default=10_000_000, ge=1_000, description="larger requests are refused with 413")
    idempotency_window_seconds: float = Field(default=24 * 3600, ge=0, description="how long a body's key or its "
                                              "DCSA event ids are remembered to answer a re-send without publishing")
    publish_timeout_seconds: float = Field(default=10.0, gt=0, description="wait this long for Kafka's "
                                           "acknowledgement, then answer 503")
    retry_after_seconds: int = Field(default=5, ge=1, description="Retry-After of a 503")

    @model_validator(mode="after")
    def _unique(self) -> GatewayConfig:
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError("source names must be unique")
        keys = [k for s in self.sources for k in s.api_keys]
        if len(set(keys)) != len(keys):
            raise ValueError("an API key belongs to one source only")
        return self

    def source(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)


class OAuth2(_Strict):
    token_url: str
    client_id: str
    client_secret: str
    scope: str | None = None
    audience: str | None = None


class Carrier(_Strict):
    """A carrier's DCSA Track & Trace `GET /events`, polled."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    url: str = Field(description="the events endpoint, e.g. https://api.carrier.example/v2/events")
    version: Literal["2.2", "3.0"] = "2.2"
    api_key: str | None = None
    api_key_header: str = "API-Key"
    oauth2: OAuth2 | None = None
    equipment_references: list[str] = Field(default_factory=list)
    booking_references: list[str] = Field(default_factory=list)
    event_types: list[str] = Field(default_factory=list, description="SHIPMENT, TRANSPORT, EQUIPMENT")
    extra_params: dict[str, str] = Field(default_factory=dict, description="more query parameters, sent as given")
    since: str | None = Field(default=None, description="first poll: events created at or after this instant")
    since_param: str | None = Field(default=None, description="query parameter of the lower time bound; default "
                                    "eventCreatedDateTime:gte (2.2), eventUpdatedDateTime:gte (3.0)")
    limit: int = Field(default=100, ge=1, le=10_000)
    interval_seconds: float = Field(default=300.0, gt=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=6, ge=1, description="per request, on 429, 5xx and network errors")
    backoff_seconds: float = Field(default=1.0, ge=0)
    backoff_max_seconds: float = Field(default=300.0, ge=0)

    @model_validator(mode="after")
    def _auth(self) -> Carrier:
        if self.api_key and self.oauth2:
            raise ValueError(f"carrier {self.name}: give api_key or oauth2, not both")
        return self

    @property
    def format(self) -> str:
        return "dcsa-tnt-2.2" if self.version == "2.2" else "dcsa-tnt-3.0"

    @property
    def time_param(self) -> str:
        return self.since_param or ("eventCreatedDateTime:gte" if self.version == "2.2" else "eventUpdatedDateTime:gte")


class PollConfig(_Strict):
    carriers: list[Carrier]

    @model_validator(mode="after")
    def _unique(self) -> PollConfig:
        names = [c.name for c in self.carriers]
        if len(set(names)) != len(names):
            raise ValueError("carrier names must be unique")
        return self


def load_gateway(path: Path) -> GatewayConfig:
    return _load(GatewayConfig, path)


def load_poll(path: Path) -> PollConfig:
    return _load(PollConfig, path)


def _load(model: type[Any], path: Path) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate(read_config_file(path))
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from None
