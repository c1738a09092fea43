"""Subscriptions: who gets which alerts, over which channel. Kept in a YAML or JSON file that the HTTP API
writes back (atomically), and re-read when another process changes it."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Severity = Literal["MINOR", "MAJOR", "CRITICAL"]
AlertKind = Literal["LATE", "OVERDUE"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class Filters(BaseModel):
    """Every non-empty field must match (AND); a field matches if any of its values does (OR)."""

    model_config = ConfigDict(extra="forbid")

    units: list[str] = Field(default=[], description="unit ids (container, AWB, ULD, trailer)")
    shipments: list[str] = Field(default=[], description="booking, bill of lading or AWB refs seen on events")
    lanes: list[str] = Field(default=[], description="plan lane, e.g. CNCKG-DEDUI")
    customers: list[str] = Field(default=[], description="plan customer (case-insensitive)")
    severities: list[Severity] = []
    kinds: list[AlertKind] = []

    @field_validator("units", "shipments", "lanes")
    @classmethod
    def _upper(cls, values: list[str]) -> list[str]:
        return [v.strip().upper() for v in values]

    @property
    def needs_context(self) -> bool:
        """Lane, customer and shipment refs are not on alerts: they come from plans and events."""
        return bool(self.lanes or self.customers or self.shipments)


class Subscription(BaseModel):
    """One subscriber on one channel: a webhook URL, or a list of email recipients."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    webhook: str | None = Field(default=None, description="http(s) URL receiving a POST per message")
    secret: str | None = Field(default=None, description="HMAC-SHA256 key for Notification-Signature")
    email: list[str] = Field(default=[], description="recipients (needs the smtp section)")
    filters: Filters = Filters()
    resolved: bool = Field(default=True, description="also send a notice when the unit caught up or arrived")
    enabled: bool = True

    @field_validator("webhook")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError(f"not an http(s) URL: {value!r}")
        return value

    @field_validator("email")
    @classmethod
    def _emails(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not _EMAIL.match(v)]
        if bad:
            raise ValueError(f"not email addresses: {bad}")
        return values

    @model_validator(mode="after")
    def _one_channel(self) -> Subscription:
        if bool(self.webhook) == bool(self.email):
            raise ValueError("a subscription has exactly one channel: either `webhook` or `email`")
        return self

    @property
    def channel(self) -> Literal["webhook", "email"]:
        return "webhook" if self.webhook else "email"

    @property
    def target(self) -> str:
        return self.webhook or ", ".join(self.email)

    def public(self) -> dict[str, Any]:
        """As the API shows it: the secret is never returned."""
        out = self.model_dump(exclude_defaults=False)
        out["secret"] = "***" if self.secret else None
        return out


class SmtpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "corridor@localhost"
    starttls: bool = False
    username: str | None = None
    password_env: str | None = Field(default=None, description="environment variable holding the password")
    timeout: float = 10.0


class SubscriptionFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    smtp: SmtpConfig | None = None
    subscriptions: list[Subscription] = []

    @model_validator(mode="after")
    def _unique(self) -> SubscriptionFile:
        ids = [s.id for s in self.subscriptions]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate subscription ids: {sorted(dup)}")
        return self


def _is_yaml(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml")


def load_file(path: Path) -> SubscriptionFile:
    if not path.exists():
        return SubscriptionFile()
    text = path.read_text()
    data = (yaml.safe_load(text) if _is_yaml(path) else json.loads(text or "{}")) or {}
    return SubscriptionFile.model_validate(data)


def save_file(path: Path, content: SubscriptionFile) -> None:
    """Write to a temporary file in the same directory, then rename: a reader never sees half a file.
    Mode 0600, because the file holds webhook secrets."""
    data = content.model_dump(mode="json", exclude_none=True)
    text = yaml.safe_dump(data, sort_keys=False) if _is_yaml(path) else json.dumps(data, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SubscriptionBook:
    """The subscriptions in force. The API changes it and persists at once; `reload_if_changed` picks up
    edits made by hand or by another notify instance sharing the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._content = load_file(path)
        self._mtime = self._stat()

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    @property
    def smtp(self) -> SmtpConfig | None:
        return self._content.smtp

    def all(self) -> list[Subscription]:
        return list(self._content.subscriptions)

    def active(self) -> list[Subscription]:
        return [s for s in self._content.subscriptions if s.enabled]

    def get(self, sub_id: str) -> Subscription | None:
        return next((s for s in self._content.subscriptions if s.id == sub_id), None)

    def put(self, sub: Subscription) -> bool:
        """Create or replace; returns True if it was created."""
        current = self._content.subscriptions
        created = self.get(sub.id) is None
        self._save([*current, sub] if created else [sub if s.id == sub.id else s for s in current])
        return created

    def delete(self, sub_id: str) -> bool:
        subs = [s for s in self._content.subscriptions if s.id != sub_id]
        if len(subs) == len(self._content.subscriptions):
            return False
        self._save(subs)
        return True

    def _save(self, subs: list[Subscription]) -> None:
        content = SubscriptionFile(smtp=self._content.smtp, subscriptions=subs)
        save_file(self.path, content)
        self._content = content
        self._mtime = self._stat()

    def reload_if_changed(self) -> bool:
        mtime = self._stat()
        if mtime == self._mtime:
            return False
        self._mtime = mtime  # a broken edit raises once and keeps the subscriptions in force until fixed
        self._content = load_file(self.path)
        return True
