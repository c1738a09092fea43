"""Cargo-IMP text, as FSU and FFM share it: messages framed in a Type B envelope, and dates without a year at an
airport's local time.

Framing: a message, bare or inside a Type B telex envelope (priority and addresses line, `.SENDER DDHHMM` origin
line, then the text, ended by `=`/`NNNN` or the next message), CRLF, LF or CR.

Times: dates carry no year and times are local at the airport. The year is the one that puts the date nearest to
the reception day (the airport's local date of `received`; ties go to the past), so a 30DEC status received on
2 January is last year's and a 02JAN booking received on 30 December is next year's; a date with no such day
within six months (31FEB, 29FEB outside leap years) is rejected. A date with no time is placed at 00:00 local.
Local times become UTC with the airport's IANA zone (streams.feeds.airports); an unknown airport is rejected, never
read as UTC.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from datetime import time as dtime

from streams.feeds.airports import airport
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.iata.events import GuardedIataFormat
from streams.feeds.iata.places import to_utc

_COMPACT_SPLIT = re.compile(r"\s+(?=\d{3}-\d{8}|[A-Z]{3}/)")
_END = re.compile(r"^(=.*|NNNN)$")
MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
DAY_CHANGE = {"P": -1, "N": 1, "S": 2, "T": 3}
DATE_WINDOW = timedelta(days=183)


def parse_hhmm(text: str | None) -> dtime | str | None:
    """time of HHMM, None when absent, or the problem text."""
    if text is None:
        return None
    hh, mm = int(text[:2]), int(text[2:])
    if hh > 23 or mm > 59:
        return f"{text} is not a time (HHMM)"
    return dtime(hh, mm)


def resolve_date(day: int, month: str, reference: date) -> date | str:
    """The date nearest `reference` (ties to the past) for a DDMMM without year, or the problem text."""
    label = f"{day:02d}{month}"
    number = MONTHS.get(month)
    if number is None:
        return f"{label} is not a date (unknown month {month})"
    candidates = []
    for year in (reference.year - 1, reference.year, reference.year + 1):
        try:
            candidates.append(date(year, number, day))
        except ValueError:
            continue
    if not candidates:
        return f"{label} is not a date"
    best = min(candidates, key=lambda d: (abs(d - reference), d > reference))
    if abs(best - reference) > DATE_WINDOW:
        return f"{label}: no such date within six months of reception ({reference.isoformat()})"
    return best


def split_messages(text: str, header: re.Pattern[str]) -> list[tuple[int, list[tuple[int, str]]]]:
    """[(header line number, [(line number, line) ...])] for each Cargo-IMP message in the text: a message starts
    at a line matching `header` (FSU/FSA by default; FFM for the manifest adapter) and ends at the next header, or
    at a Type B end line (`=...`, NNNN) after which whatever follows is envelope. Lines are stripped, blank lines
    dropped. A header with a non-empty `rest` group (FSU's compact one-line form) is split into lines."""
    lines = [ln.strip().strip("\x01\x02\x03\x04").strip() for ln in re.split(r"\r\n|\r|\n", text)]
    compact = "rest" in header.groupindex
    messages: list[tuple[int, list[tuple[int, str]]]] = []
    current: list[tuple[int, str]] | None = None
    for number, line in enumerate(lines):
        match = header.match(line)
        if match:
            current = []
            messages.append((number, current))
            if compact and match.group("rest"):  # compact one-line form
                current.extend((number, part) for part in _COMPACT_SPLIT.split(match.group("rest").strip()) if part)
            continue
        if current is None:
            continue  # envelope before the message
        if _END.match(line):
            current = None  # end of message text; whatever follows until the next header is envelope
            continue
        if line:
            current.append((number, line))
    return messages


def local_date_time(
    day: int, month: str, hhmm: str | None, code: str, received: datetime
) -> tuple[datetime, str] | str:
    """A Cargo-IMP DDMMM[HHMM] at an IATA airport -> (aware UTC instant, the airport's UN/LOCODE), with the FSU
    conventions: the year nearest the reception day (the airport's local date), 00:00 local when there is no time,
    the airport's IANA zone. Or the problem text (unknown airport, impossible date or time)."""
    found = airport(code)
    if found is None:
        return f"unknown airport {code}"
    day_found = resolve_date(day, month, received.astimezone(found.zone).date())
    if isinstance(day_found, str):
        return day_found
    at = parse_hhmm(hhmm)
    if isinstance(at, str):
        return at
    moment = to_utc(datetime.combine(day_found, at or dtime(0, 0)), found.zone)
    if moment is None:
        return f"{day_found.isoformat()} is out of range"
    return moment, found.locode


class CargoImpFormat(GuardedIataFormat):
    """A Cargo-IMP format (FSU, FFM): each message of the payload read by `_message`, after its `header` line;
    a payload with no such line is rejected as a whole with `no_message`."""

    header: re.Pattern[str]
    no_message: str

    def _parse(self, data: bytes, received: datetime, source: str) -> ParseResult:
        result = ParseResult()
        messages = split_messages(data.decode("utf-8", errors="replace"), self.header)
        if not messages:
            result.rejections.append(Rejection(self.no_message, data[:2000]))
            return result
        seen: set[str] = set()  # event ids of the payload, so a repeated status gives one event
        for header_line, body in messages:
            self._message(header_line, body, received, source, result, seen)
        return result

    def _message(self, header_line: int, body: list[tuple[int, str]], received: datetime, source: str,
                 result: ParseResult, seen: set[str]) -> None:  # fmt: skip
        raise NotImplementedError
