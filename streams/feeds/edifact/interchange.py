"""The "edifact" feed format: whole interchanges, the message type read from each UNH (IFTSTA, CODECO, COARRI,
BAPLIE; see the package's docstring), `source` "edifact-<type>" by default. A message that cannot be read is
rejected alone."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from streams.feeds.base import ParseResult, Rejection
from streams.feeds.edifact.baplie import baplie_listings
from streams.feeds.edifact.container_reports import BGM_MILESTONES, container_report_events
from streams.feeds.edifact.iftsta import iftsta_events
from streams.feeds.edifact.segments import Reject, split_messages


class Edifact:
    name = "edifact"
    description = "UN/EDIFACT IFTSTA, CODECO, COARRI and BAPLIE interchanges (message type read from each UNH)"

    def sniff(self, data: bytes) -> bool:
        head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
        return head[:3] in (b"UNA", b"UNB") or (head[:3] == b"UNH" and head[3:4] in (b"+", b"|", b"*"))

    def parse(self, data: bytes, received: datetime, source: str | None = None) -> ParseResult:
        result = ParseResult()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")  # UNOA/UNOC interchanges are Latin-1
        text = text.lstrip("\ufeff \t\r\n")
        try:
            messages = list(split_messages(text))
        except Reject as exc:
            result.rejections.append(Rejection(str(exc), data[:500]))
            return result
        if not messages:
            result.rejections.append(Rejection("EDIFACT: no message (UNH ... UNT) in the interchange", data[:500]))
        for index, msg in enumerate(messages):
            frag = msg.text.encode("utf-8", "replace")[:4000]
            src = source or f"edifact-{msg.kind.lower()}"
            try:
                if msg.kind == "!":
                    raise Reject(f"EDIFACT syntax error in the message starting {msg.reference!r}")
                if msg.kind == "IFTSTA":
                    events = list(iftsta_events(msg, received, src, result, index, frag))
                elif msg.kind in BGM_MILESTONES:
                    events = list(container_report_events(msg, received, src, result, index, frag))
                elif msg.kind == "BAPLIE":  # who is aboard: listings, no unit events
                    events = []
                    baplie_listings(msg, received, src, result, index, frag)
                else:
                    kind = msg.kind or "?"
                    raise Reject(f"UNH {msg.reference}: message type {kind} is not IFTSTA, CODECO, COARRI or BAPLIE")
                result.events.extend(events)
            except Reject as exc:
                result.rejections.append(Rejection(str(exc), frag, index))
            except (ValidationError, ValueError, TypeError, IndexError, AttributeError) as exc:
                reason = f"UNH {msg.reference}: {type(exc).__name__}: {exc}"[:400]
                result.rejections.append(Rejection(reason, frag, index))
        return result
