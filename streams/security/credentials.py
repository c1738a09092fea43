"""Bearer credentials -> tenants: static API keys from a file, and OIDC access tokens (JWTs) verified against
a JWKS.

API keys file (YAML; only the SHA-256 of each key need be stored, `python -m streams.security new-key` makes
one):

    keys:
      - name: acme-portal          # who; rate limits count per name
        sha256: 9f86d08...         # hex SHA-256 of the key (or `key: <the key itself>`)
        customers: [ACME]          # customer names as on plans and shipment plans, or "*" (operations)

JWTs: signed with an asymmetric key from the JWKS (RS*, PS*, ES*, EdDSA; never HS* or none, so a public key
cannot be used as an HMAC secret), with `exp` required, `iss` and `aud` checked when configured, and the
customers in a claim (`corridor_customers` by default: a name, a list of names, or "*")."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import orjson
import yaml

from streams.security.tenants import Tenant

log = logging.getLogger(__name__)

JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
LEEWAY_S = 30  # clock skew tolerated on exp / nbf / iat


class Unauthorized(Exception):
    """No usable credential (HTTP 401). The message is safe to show to the caller."""


class Forbidden(Exception):
    """A valid credential that grants nothing here (HTTP 403)."""


class ConfigError(ValueError):
    """The security configuration itself is wrong; the process must not start."""


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def load_keys(path: Path) -> dict[str, Tenant]:
    """sha256 hex -> tenant, from an API keys file; ConfigError saying what is wrong."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the API keys file {path}: {exc}") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected a `keys:` list")
    out: dict[str, Tenant] = {}
    for i, e in enumerate(entries):
        where = f"{path}: keys[{i}]"
        if not isinstance(e, dict) or not isinstance(e.get("name"), str) or not e["name"].strip():
            raise ConfigError(f"{where}: every key needs a `name`")
        if ("sha256" in e) == ("key" in e):
            raise ConfigError(f"{where} ({e['name']}): give exactly one of `sha256` or `key`")
        if "key" in e:
            if not isinstance(e["key"], str) or len(e["key"]) < 16:
                raise ConfigError(f"{where} ({e['name']}): a key must be a string of at least 16 characters")
            digest = key_digest(e["key"])
        else:
            digest = str(e["sha256"]).strip().lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ConfigError(f"{where} ({e['name']}): `sha256` must be 64 hex digits")
        try:
            tenant = Tenant.of(e["name"].strip(), e.get("customers", []))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if digest in out:
            raise ConfigError(f"{where} ({e['name']}): the same key is listed twice")
        out[digest] = tenant
    return out


@dataclass
class JwtVerifier:
    """Verifies OIDC access tokens. `jwks` is an http(s) URL (fetched, cached, fetched again for an unknown key
    id) or a file path holding a JWKS document."""

    jwks: str
    issuer: str | None = None
    audience: str | None = None
    customers_claim: str = "corridor_customers"
    _client: jwt.PyJWKClient | None = field(default=None, init=False, repr=False)
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.jwks.startswith(("https://", "http://")):
            self._client = jwt.PyJWKClient(self.jwks, cache_jwk_set=True, lifespan=300, timeout=10)
            return
        try:
            keyset = jwt.PyJWKSet.from_json(Path(self.jwks).read_text())
        except (OSError, jwt.PyJWKSetError, ValueError) as exc:
            raise ConfigError(f"cannot read the JWKS {self.jwks}: {exc}") from None
        self._keys = {k.key_id or "": k for k in keyset.keys}

    async def _key(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise Unauthorized("malformed token") from None
        if header.get("alg") not in JWT_ALGORITHMS:
            raise Unauthorized(f"token algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid") or ""
        if self._client is not None:
            try:  # PyJWKClient is synchronous (urllib): off the event loop
                return (await asyncio.to_thread(self._client.get_signing_key, kid)).key if kid else \
                    (await asyncio.to_thread(self._client.get_signing_keys))[0].key  # fmt: skip
            except jwt.PyJWKClientConnectionError as exc:
                log.warning("auth: cannot fetch the JWKS %s: %s", self.jwks, exc)
                raise Unauthorized("the token's signing keys cannot be fetched right now") from None
            except jwt.PyJWKClientError:
                raise Unauthorized("the token is signed with an unknown key") from None
        key = self._keys.get(kid) or (next(iter(self._keys.values())) if not kid and len(self._keys) == 1 else None)
        if key is None:
            raise Unauthorized("the token is signed with an unknown key")
        return key.key

    async def verify(self, token: str) -> Tenant:
        key = await self._key(token)
        required = ["exp", *(["iss"] if self.issuer else []), *(["aud"] if self.audience else [])]
        try:
            claims = jwt.decode(token, key, algorithms=JWT_ALGORITHMS, issuer=self.issuer, audience=self.audience,
                                leeway=LEEWAY_S, options={"require": required, "verify_aud": bool(self.audience)})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("the token's signature does not verify") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None
        customers = claims.get(self.customers_claim)
        subject = str(claims.get("sub") or claims.get("client_id") or "token")
        if customers is None or not isinstance(customers, str | list):
            raise Forbidden(f"the token carries no `{self.customers_claim}` claim (customer names, or '*')")
        try:
            return Tenant.of(f"jwt:{subject}", customers)
        except ValueError:
            raise Forbidden(f"the token's `{self.customers_claim}` claim names no customer") from None


@dataclass
class Authenticator:
    """Bearer token -> tenant, by API key first, then as a JWT."""

    keys: dict[str, Tenant] = field(default_factory=dict)
    jwt: JwtVerifier | None = None

    @property
    def configured(self) -> bool:
        return bool(self.keys) or self.jwt is not None

    async def tenant(self, authorization: str | None) -> Tenant:
        if not authorization:
            raise Unauthorized("credentials required: send `Authorization: Bearer <API key or token>`")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("malformed Authorization header: expected `Bearer <API key or token>`")
        found = self.keys.get(key_digest(token))
        if found is not None:
            return found
        if self.jwt is not None and token.count(".") == 2:
            return await self.jwt.verify(token)
        raise Unauthorized("unknown API key" if self.jwt is None or token.count(".") != 2 else "invalid token")

    @classmethod
    def from_settings(cls, keys_file: Path | None, jwks: str | None, issuer: str | None = None,
                      audience: str | None = None, customers_claim: str = "corridor_customers") -> Authenticator:
        keys = load_keys(keys_file) if keys_file else {}
        if keys_file and not keys:
            raise ConfigError(f"the API keys file {keys_file} lists no key")
        verifier = JwtVerifier(jwks, issuer, audience, customers_claim) if jwks else None
        return cls(keys, verifier)


def jwks_document(*public_keys: dict[str, Any]) -> bytes:
    """A JWKS body from JWK dicts (tests and tooling)."""
    return orjson.dumps({"keys": list(public_keys)})
