"""Input too big for one Kafka record, cut at its own message boundaries so that every part fits and each part is
still a valid message of its format (pure: bytes in, bytes out).

- EDIFACT: an interchange is cut between its messages (UNH ... UNT); each part gets the original UNA and UNB and
  its own UNZ with the right message count and the original control reference.
- DCSA (2.2 array, 3.0 {"events": [...]}), road pings {"pings": [...]}, EPCIS epcisBody.eventList: the list is cut
  into pages; the rest of the document is kept in every page.
- Cargo-IMP (FSU, FSA, FFM): cut before a message's header line.
- rail-events CSV: cut between lines, the header line repeated in every part.
Anything else, or a single message bigger than the limit, is `Unsplittable`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson


class Unsplittable(ValueError):
    pass


def split(fmt: str, data: bytes, limit: int) -> list[bytes]:
    """`data` whole if it fits in `limit` bytes, else its parts, each within `limit`."""
    if len(data) <= limit:
        return [data]
    if fmt == "edifact":
        return _edifact(data, limit)
    if fmt in ("iata-fsu", "iata-ffm"):
        return _cargo_imp(data, limit)
    if fmt in ("dcsa-tnt-2.2", "dcsa-tnt-3.0", "road-pings", "epcis-2.0"):
        return _json_pages(fmt, data, limit)
    if fmt == "rail-events" and data.lstrip()[:1] not in (b"{", b"["):
        return _csv(data, limit)
    raise Unsplittable(f"{fmt}: {len(data):,} bytes, over the {limit:,} a record holds, and corridor does not know "
                       "where a message of this format may be cut")


def _pack(pieces: list[bytes], limit: int, wrap: Callable[[list[bytes]], bytes], what: str) -> list[bytes]:
    """Greedy: as many consecutive pieces per part as fit once wrapped."""
    parts: list[bytes] = []
    current: list[bytes] = []
    for piece in pieces:
        if current and len(wrap([*current, piece])) > limit:
            parts.append(wrap(current))
            current = []
        current.append(piece)
        if len(wrap(current)) > limit:
            raise Unsplittable(f"one {what} alone is over the {limit:,} bytes a record holds")
    if current:
        parts.append(wrap(current))
    return parts


# -- EDIFACT ---------------------------------------------------------------------------------------------------


def _segments(data: bytes) -> tuple[list[bytes], bytes, bytes]:
    """Raw segments (each with its terminator and the line break after it), the data element separator, and
    the segment terminator, honouring UNA and the release character."""
    sep, term, release = b"+", b"'", b"?"
    if data.lstrip().startswith(b"UNA") and len(data.lstrip()) >= 9:
        una = data.lstrip()[3:9]
        sep, release, term = una[1:2], una[3:4], una[5:6]
    out: list[bytes] = []
    start = i = 0
    if data.lstrip().startswith(b"UNA"):
        head = data.index(b"UNA") + 9
        while head < len(data) and data[head:head + 1] in (b"\r", b"\n"):
            head += 1
        out.append(data[:head])
        start = i = head
    while i < len(data):
        c = data[i:i + 1]
        if c == release and release != b" ":
            i += 2
            continue
        if c == term:
            i += 1
            while i < len(data) and data[i:i + 1] in (b"\r", b"\n"):
                i += 1
            out.append(data[start:i])
            start = i
            continue
        i += 1
    if data[start:].strip():
        out.append(data[start:])
    return out, sep, term


def _edifact(data: bytes, limit: int) -> list[bytes]:
    segs, sep, term = _segments(data)
    tag = [s.lstrip()[:3] for s in segs]
    if b"UNH" not in tag:
        raise Unsplittable("edifact: no UNH message header to cut at")
    first = tag.index(b"UNH")
    head = segs[:first]  # UNA, UNB (and a UNG group header, kept as it is)
    unb = next((s for s, t in zip(segs, tag, strict=True) if t == b"UNB"), None)
    ref = unb.strip().rstrip(term).split(sep)[5] if unb is not None and len(unb.split(sep)) > 5 else b"1"
    messages: list[bytes] = []
    current: list[bytes] = []
    for s, t in zip(segs[first:], tag[first:], strict=True):
        if t in (b"UNZ", b"UNE"):
            continue
        if t == b"UNH" and current:
            messages.append(b"".join(current))
            current = []
        current.append(s)
    if current:
        messages.append(b"".join(current))
    newline = b"\n" if b"\n" in data else b""

    def wrap(msgs: list[bytes]) -> bytes:
        body = b"".join(head) + b"".join(msgs)
        if unb is None:
            return body
        return body + b"UNZ" + sep + str(len(msgs)).encode() + sep + ref + term + newline

    return _pack(messages, limit, wrap, "EDIFACT message (UNH ... UNT)")


# -- Cargo-IMP -------------------------------------------------------------------------------------------------

_IMP_HEADER = re.compile(rb"(?m)^[ \t]*(?:FSU|FSA|FFM)/\d{1,3}\b")


def _cargo_imp(data: bytes, limit: int) -> list[bytes]:
    starts = [m.start() for m in _IMP_HEADER.finditer(data)]
    if len(starts) < 2:
        raise Unsplittable("Cargo-IMP: a single message over the record limit (no message header to cut at)")
    starts[0] = 0  # whatever comes before the first header (a Type B envelope) stays with it
    pieces = [data[a:b] for a, b in zip(starts, [*starts[1:], len(data)], strict=True)]
    return _pack(pieces, limit, b"".join, "Cargo-IMP message")


# -- JSON lists ------------------------------------------------------------------------------------------------


def _json_pages(fmt: str, data: bytes, limit: int) -> list[bytes]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Unsplittable(f"{fmt}: not JSON ({exc}), so no list to cut") from None
    put: Callable[[list[Any]], Any]
    if isinstance(doc, list):
        items, put = doc, lambda page: page
    elif fmt.startswith("dcsa-") and isinstance(doc, dict) and isinstance(doc.get("events"), list):
        items, put = doc["events"], lambda page: {**doc, "events": page}
    elif fmt == "road-pings" and isinstance(doc, dict) and isinstance(doc.get("pings"), list):
        items, put = doc["pings"], lambda page: {**doc, "pings": page}
    elif fmt == "epcis-2.0" and isinstance(doc, dict) and isinstance(doc.get("epcisBody", {}).get("eventList"), list):
        body = doc["epcisBody"]
        items, put = body["eventList"], lambda page: {**doc, "epcisBody": {**body, "eventList": page}}
    else:
        raise Unsplittable(f"{fmt}: no list of events at the top of the document to cut into pages")
    shell = len(orjson.dumps(put([])))
    parts: list[bytes] = []
    page: list[Any] = []
    size = shell
    for item in items:
        add = len(orjson.dumps(item)) + 1  # and a comma
        if shell + add > limit:
            raise Unsplittable(f"{fmt}: one event alone is over the {limit:,} bytes a record holds")
        if page and size + add > limit:
            parts.append(orjson.dumps(put(page)))
            page, size = [], shell
        page.append(item)
        size += add
    if page:
        parts.append(orjson.dumps(put(page)))
    return parts


# -- CSV -------------------------------------------------------------------------------------------------------


def _csv(data: bytes, limit: int) -> list[bytes]:
    lines = data.splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    if not rows:
        raise Unsplittable("rail-events: a CSV without rows to cut between")
    return _pack(rows, limit, lambda rs: header + b"".join(rs), "CSV line")
