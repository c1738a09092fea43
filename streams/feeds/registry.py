"""All feed formats by name, format detection, and one `parse` entry point that never raises.

Detection order (first `sniff` that says yes wins), most specific first:
1. edifact: starts with UNA/UNB/UNH, nothing else does;
2. the IATA formats: Cargo-IMP FSU and FFM text, Cargo-XML XFSU, ONE Record JSON-LD, whose
   markers (an FSU/ or FFM/ line, <XFSU, LogisticsEvent) are unambiguous;
3. dcsa-tnt-3.0 before dcsa-tnt-2.2: a 3.0 body is recognised by eventClassification, and the 2.2 sniff requires
   its absence, but 3.0 requests may also carry eventClassifierCode inside it;
4. epcis-2.0 (epcisBody / eventTimeZoneOffset), then rail-events JSON (train_number), then road-pings (vehicle +
   latitude): JSON keys that the formats above do not use;
5. rail-events CSV last: its test (a header line naming train and container) is the loosest.
"""

from __future__ import annotations

import logging
from datetime import datetime

from streams.feeds.base import FeedFormat, ParseResult, Rejection
from streams.feeds.dcsa import DcsaTnt22, DcsaTnt30
from streams.feeds.edifact.interchange import Edifact
from streams.feeds.epcis import Epcis
from streams.feeds.iata.ffm import CargoImpFfm
from streams.feeds.iata.fsu import CargoImpFsu
from streams.feeds.iata.one_record import OneRecordLogisticsEvent
from streams.feeds.iata.xfsu import CargoXmlXfsu
from streams.feeds.rail import RailFeed
from streams.feeds.road import RoadPings

log = logging.getLogger(__name__)

# Imported, not looked up: an adapter module that fails to import stops the registry (and the worker) with its
# own error, instead of its format silently going missing and its messages being dead-lettered as unrecognised.
_ORDER: list[FeedFormat] = [
    Edifact(), CargoImpFsu(), CargoImpFfm(), CargoXmlXfsu(), OneRecordLogisticsEvent(),
    DcsaTnt30(), DcsaTnt22(), Epcis(), RailFeed(), RoadPings(),
]
FORMATS: dict[str, FeedFormat] = {f.name: f for f in _ORDER}


def detect(data: bytes) -> FeedFormat | None:
    """The first format whose sniff accepts `data` (see the module docstring for the order), or None."""
    if not isinstance(data, bytes | bytearray) or not data.strip():
        return None
    for fmt in _ORDER:
        try:
            if fmt.sniff(bytes(data)):
                return fmt
        except Exception:  # a sniff must be cheap and safe; one that is not must not stop detection
            log.exception("sniff of %s failed", fmt.name)
    return None


def parse(data: bytes, fmt_name: str | None, received: datetime, source: str | None = None) -> ParseResult:
    """Parse with the named format, or the detected one. Never raises: anything wrong is a Rejection."""
    if not isinstance(data, bytes | bytearray):
        return ParseResult([], [Rejection(f"message is {type(data).__name__}, not bytes")])
    data = bytes(data)
    if fmt_name is not None:
        fmt = FORMATS.get(fmt_name)
        if fmt is None:
            known = ", ".join(sorted(FORMATS))
            return ParseResult([], [Rejection(f"unknown format {fmt_name!r} (known: {known})", data[:200])])
    else:
        fmt = detect(data)
        if fmt is None:
            return ParseResult([], [Rejection("format not recognised: no adapter's sniff accepted the message "
                                              f"(formats: {', '.join(sorted(FORMATS))})", data[:200])])  # fmt: skip
    try:
        return fmt.parse(data, received, source)
    except Exception as exc:  # the contract says adapters never raise; if one does, it is a bug, not a crash
        log.exception("adapter %s raised", fmt.name)
        return ParseResult([], [Rejection(f"{fmt.name}: internal error {type(exc).__name__}: {exc}"[:400], data[:200])])
