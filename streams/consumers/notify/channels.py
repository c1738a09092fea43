"""Sending one message over one channel, once. Retries are the dispatcher's job; a channel only says
whether a failure is worth retrying."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import smtplib
from email.message import EmailMessage
from urllib.parse import urlparse

import aiohttp

from streams.consumers.notify.messages import Message
from streams.consumers.notify.signing import HEADER, sign
from streams.consumers.notify.subscriptions import SmtpConfig, Subscription
from streams.security.addresses import AddressRefused, TargetPolicy, TargetRefused


class DeliveryError(Exception):
    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class WebhookChannel:
    """POST the JSON body. 2xx is delivered; 408, 429 and 5xx are retried; any other 4xx is permanent (the
    receiver rejects the message itself, and sending it again will not change that)."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float, targets: TargetPolicy | None = None) -> None:
        self._session = session  # its connector's resolver refuses what `targets` refuses (names)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._targets = targets

    def _check_literal(self, url: str) -> None:
        """aiohttp skips the resolver for an IP address in the URL: that one is checked here."""
        host = (urlparse(url).hostname or "").strip("[]")
        if self._targets is None or not host:
            return
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return
        try:
            self._targets.check_address(host)
        except TargetRefused as exc:
            raise DeliveryError(f"refused: {exc}", permanent=True) from None

    async def send(self, sub: Subscription, msg: Message, attempt: int) -> None:
        assert sub.webhook is not None
        self._check_literal(sub.webhook)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": msg.idempotency_key,
            "User-Agent": "corridor-notify",
            "Corridor-Delivery-Attempt": str(attempt),
        }
        if sub.secret:
            headers[HEADER] = sign(msg.body, sub.secret)
        try:
            async with self._session.post(sub.webhook, data=msg.body, headers=headers, timeout=self._timeout) as r:
                if 200 <= r.status < 300:
                    return
                text = (await r.text())[:200]
                retry = r.status in (408, 429) or r.status >= 500
                raise DeliveryError(f"HTTP {r.status} from {sub.webhook}: {text}".strip(), permanent=not retry)
        except TimeoutError:
            raise DeliveryError(f"timed out after {self._timeout.total} s: {sub.webhook}") from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, AddressRefused):  # the policy, not the network: retrying will not help
                raise DeliveryError(f"refused: {exc.os_error.strerror}", permanent=True) from None
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        except aiohttp.ClientError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None


class EmailChannel:
    """SMTP with the standard library, in a thread (one connection per message: alert mail is rare)."""

    def __init__(self, smtp: SmtpConfig | None) -> None:
        self._smtp = smtp

    async def send(self, sub: Subscription, msg: Message, attempt: int) -> None:
        if self._smtp is None:
            raise DeliveryError("no smtp section in the subscriptions file", permanent=True)
        await asyncio.to_thread(self._send, self._smtp, sub, msg)

    @staticmethod
    def _send(cfg: SmtpConfig, sub: Subscription, msg: Message) -> None:
        mail = EmailMessage()
        mail["From"] = cfg.sender
        mail["To"] = ", ".join(sub.email)
        mail["Subject"] = msg.subject
        # A stable Message-ID: mail systems drop a re-sent copy of the same message.
        mail["Message-ID"] = f"<{msg.idempotency_key.replace(':', '.')}@corridor>"
        mail["Idempotency-Key"] = msg.idempotency_key
        mail.set_content(msg.text)
        try:
            with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout) as smtp:
                if cfg.starttls:
                    smtp.starttls()
                if cfg.username:
                    smtp.login(cfg.username, os.environ.get(cfg.password_env or "", ""))
                smtp.send_message(mail)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"SMTP recipients refused: {list(exc.recipients)}", permanent=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
