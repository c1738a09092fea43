"""IATA Cargo-IMP FFM (Airline Flight Manifest) -> which air waybill rides in which ULD: STUFFED events.

A manifest, bare or inside a Type B telex envelope, CRLF or LF, possibly in parts (`CONT` ... `LAST`):

    FFM/8
    1/AC857/23APR/LHR/HB-IHA            sequence number / flight / date of departure [time] / airport of loading
    YYZ                                 point of unloading (`YYZ/NIL`: nothing for this airport)
    014-26488125LHRYOW/T1K120MC0.5/HUMAN REM         bulk consignment (before any ULD line)
    /HUM                                special handling (a `/` line continues the line above)
    ULD/DVA1234AC-M                     a ULD, then the consignments built up in it
    014-27257053BHXYWG/D4K400MC1.6T12/AERO PARTS     AWB, origin+destination, shipment description code
    ...                                              T|P|S|D + pieces, K|L weight, volume, T total pieces, goods
    LAST

Per (ULD, AWB) the message gives one TrackingEvent: unit = the ULD (UnitKind.ULD), milestone STUFFED (built up for
this flight), classifier ACTUAL, mode AIR, location = the airport of loading's UN/LOCODE, transport = flight,
carrier and point of unloading, shipment = ShipmentRefs(air_waybill=AWB, pieces=the pieces of that AWB in that ULD,
summed when the AWB is listed more than once under the ULD). A bulk consignment (listed before any ULD of its
unloading point, or after a `BULK` line) has no unit to ride in: it gives a LOADED event for the AWB itself, with
the bulk pieces.

Point of unloading: a manifest lists its cargo by the airport where it leaves the aircraft (a multi-leg flight
HKG-LGG-MAD has a `LGG` section, then a `MAD` one). Each event's `transport.unloading` is the UN/LOCODE of the
section its ULD or bulk consignment is listed in, so the unit hears the flight's arrival there, not every call. A
unit listed under two points (a ULD cannot leave at two airports; a bulk AWB split between them) keeps no point of
unloading, with a warning: it then hears every arrival. An airport corridor does not know is a warning too; the
consignments under it keep their events, without a point of unloading.

Times follow the Cargo-IMP conventions (streams.feeds.iata.cargo_imp.local_date_time): the flight date has no
year, the one nearest the reception day at the airport of loading is taken; a manifest without departure time is
placed at 00:00 local; the airport's IANA zone turns it into UTC; an unknown airport rejects the message. An event
more than a day after reception is rejected as in the future.

Rejections, each with its line: a missing or unreadable flight line or an unknown airport of loading rejects the
whole message; a ULD id corridor cannot track (schemas: type of three letters, 4-5 digit serial, owner) rejects that
ULD line and, with it, the consignments listed under it; a consignment line that is not `NNN-NNNNNNNN...`, whose AWB
check digit is wrong or whose pieces are 0 rejects only itself. OSI, SSR, OCI, DIM, COR and other information
lines carry no cargo and are skipped; any other line is rejected as unknown.

Ids: the FSU hash (source, AWB, "FFM", milestone, classifier, place, time, flight) plus the ULD, so a re-sent or
corrected manifest gives the same ids (a newer received_time replaces the old version) and every (ULD, AWB) pair of
a flight has its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from schemas import Classifier, Milestone, TrackedUnit, UnitKind
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.iata.cargo_imp import CargoImpFormat, local_date_time
from streams.feeds.iata.events import EventDraft, emit
from streams.feeds.iata.places import resolve_place
from streams.feeds.iata.refs import awb_problem

STATUS = "FFM"  # the "status" of the events in their ids and messages
_HEADER = re.compile(r"^FFM/(\d{1,3})$")
_FLIGHT_LINE = re.compile(
    r"^(\d{1,2})/([A-Z][A-Z0-9]|[0-9][A-Z])(\d{1,4}[A-Z]?)/(\d{1,2})([A-Z]{3})(\d{4})?/([A-Z]{3})(?:/.*)?$"
)
_UNLOADING = re.compile(r"^([A-Z]{3})((?:/(?:NIL|\d{2}[A-Z]{3}\d{4})?)*)$")
_ULD_LINE = re.compile(r"^ULD/([A-Z0-9]+)(?:-([A-Z]))?(?:/.*)?$")
_CONSIGNMENT = re.compile(
    r"^(\d{3})-(\d{8})([A-Z]{3})?([A-Z]{3})/([TPSD])(\d{1,5})(?:[KL]\d{1,7}(?:[.,]\d{1,3})?)?[^/]*(?:/.*)?$"
)
_AWB_START = re.compile(r"^\d{3}-")
_END_CODES = frozenset({"LAST", "CONT"})
INFO_LINES = frozenset({"OSI", "SSR", "OCI", "DIM", "COR", "SCI", "SPH", "MOV", "REF", "SRI"})


@dataclass(slots=True)
class _Flight:
    carrier: str
    flight: str
    at: datetime  # aware UTC
    locode: str  # airport of loading


@dataclass(slots=True)
class _Load:
    """Pieces of one AWB in one ULD (or in bulk: uld None) on one flight, with the lines that listed them."""

    pieces: int = 0
    lines: list[tuple[int, str]] = field(default_factory=list)
    unloading: set[str | None] = field(default_factory=set)  # the points of unloading it is listed under


class CargoImpFfm(CargoImpFormat):
    """IATA Cargo-IMP FFM airline flight manifests (Type B envelope optional, parts CONT/LAST)."""

    name = "iata-ffm"
    description = "IATA Cargo-IMP FFM flight manifest: air waybills built up in ULDs (STUFFED) or loaded in bulk"
    header = _HEADER
    no_message = "no FFM/<version> line: not a Cargo-IMP flight manifest"

    def sniff(self, data: bytes) -> bool:
        return bool(re.search(rb"(?m)^\s*FFM/\d{1,3}\s*$", data[:4096]))

    def _message(
        self,
        header_line: int,
        body: list[tuple[int, str]],
        received: datetime,
        source: str,
        result: ParseResult,
        seen: set[str],
    ) -> None:
        whole = "\n".join(line for _, line in body).encode()
        if not body:
            result.rejections.append(Rejection("FFM message without a flight line", whole, header_line))
            return
        flight = _flight(body[0][1], received)
        if isinstance(flight, str):
            result.rejections.append(Rejection(flight, whole, body[0][0]))
            return
        loads: dict[tuple[str | None, str], _Load] = {}
        units: dict[str, TrackedUnit] = {}
        uld: str | None = None  # the ULD the next consignments are in (None: bulk)
        bad_uld: str | None = None  # the rejected ULD line the next consignments are under
        point: str | None = None  # the UN/LOCODE of the point of unloading the next consignments are listed under
        for number, line in body[1:]:
            fragment = line.encode()
            if line.startswith("/"):
                continue  # continuation: special handling, onward movement, ULD utilisation, OSI second line...
            if line in _END_CODES:
                break
            if line == "BULK":
                uld = bad_uld = None
                continue
            if m := _UNLOADING.match(line):
                uld = bad_uld = None  # a new point of unloading starts with its bulk cargo
                place = resolve_place(m.group(1))
                point = place.locode if not isinstance(place, str) else None
                if isinstance(place, str):
                    reason = (f"{line[:80]}: point of unloading: {place}; the consignments under it are kept "
                              "without a point of unloading (they hear every arrival of the flight)")  # fmt: skip
                    result.rejections.append(Rejection(reason, fragment, number, warning=True))
                continue
            if m := _ULD_LINE.match(line):
                try:
                    unit = TrackedUnit(kind=UnitKind.ULD, id=m.group(1))
                except ValidationError:
                    bad_uld, uld = m.group(1), None
                    reason = (f"{line[:80]}: ULD {m.group(1)} is not a ULD id corridor can track (3-character "
                              "type, 4-5 digit serial, owner code); its consignments are not tracked")  # fmt: skip
                    result.rejections.append(Rejection(reason, fragment, number))
                    continue
                units.setdefault(unit.id, unit)
                uld, bad_uld = unit.id, None
                continue
            if _AWB_START.match(line):
                self._consignment(number, line, uld, bad_uld, point, loads, result)
                continue
            code = line.split("/", 1)[0]
            if code in INFO_LINES:
                continue
            reason = (f"{line[:80]}: not an FFM line (point of unloading, ULD/..., consignment NNN-NNNNNNNN..., "
                      "or an information line such as OSI/)")  # fmt: skip
            result.rejections.append(Rejection(reason, fragment, number))
        unloading = _points_of_unloading(flight.flight, loads, result)
        for (uld_id, awb), load in loads.items():
            fragment = "\n".join(text for _, text in load.lines).encode()
            point = unloading[uld_id or awb]
            if uld_id is None:
                draft = EventDraft(Milestone.LOADED, Classifier.ACTUAL, flight.locode, flight.at, flight.flight,
                                   flight.carrier, unloading=point)  # fmt: skip
                unit, label = None, f"FFM {flight.flight} bulk {awb}"
            else:
                draft = EventDraft(Milestone.STUFFED, Classifier.ACTUAL, flight.locode, flight.at, flight.flight,
                                   flight.carrier, unloading=point)  # fmt: skip
                unit, label = units[uld_id], f"FFM {flight.flight} ULD {uld_id} {awb}"
            emit(
                [draft],
                awb=awb,
                status=STATUS,
                source=source,
                received=received,
                label=label,
                fragment=fragment,
                index=load.lines[0][0],
                result=result,
                seen=seen,
                pieces=load.pieces,
                unit=unit,
            )

    @staticmethod
    def _consignment(
        number: int,
        line: str,
        uld: str | None,
        bad_uld: str | None,
        point: str | None,
        loads: dict[tuple[str | None, str], _Load],
        result: ParseResult,
    ) -> None:
        fragment = line.encode()
        label = line if len(line) <= 80 else line[:77] + "..."
        if bad_uld is not None:
            reason = f"{label}: listed under ULD {bad_uld}, which was rejected"
            result.rejections.append(Rejection(reason, fragment, number))
            return
        m = _CONSIGNMENT.match(line)
        if not m:
            reason = (f"{label}: expected a consignment line NNN-NNNNNNNN[origin]destination/T|P|S|D pieces "
                      "K|L weight.../goods")  # fmt: skip
            result.rejections.append(Rejection(reason, fragment, number))
            return
        awb, problem = awb_problem(f"{m.group(1)}-{m.group(2)}")
        if awb is None:
            result.rejections.append(Rejection(f"{label}: {problem}", fragment, number))
            return
        pieces = int(m.group(6))
        if pieces < 1:
            reason = f"{label}: {m.group(5)}{m.group(6)}: no pieces of {awb} on this flight"
            result.rejections.append(Rejection(reason, fragment, number))
            return
        load = loads.setdefault((uld, awb), _Load())
        load.pieces += pieces
        load.lines.append((number, line))
        load.unloading.add(point)


def _points_of_unloading(flight: str, loads: dict[tuple[str | None, str], _Load],
                         result: ParseResult) -> dict[str, str | None]:  # fmt: skip
    """The point of unloading of each unit the manifest lists (a ULD, or a bulk AWB): None, with a warning, for a
    unit listed under two of them."""
    points: dict[str, set[str | None]] = {}
    lines: dict[str, list[tuple[int, str]]] = {}
    for (uld_id, awb), load in loads.items():
        points.setdefault(uld_id or awb, set()).update(load.unloading)
        lines.setdefault(uld_id or awb, []).extend(load.lines)
    out: dict[str, str | None] = {}
    for unit, found in points.items():
        if len(found) == 1:
            out[unit] = next(iter(found))
            continue
        out[unit] = None
        named = " and ".join(sorted(p or "an unknown airport" for p in found))
        what = f"contradictory manifest: ULD {unit}" if (None, unit) not in loads else f"bulk {unit}"
        reason = (f"FFM {flight}: {what} is listed for unloading at {named}; its events keep no point of unloading "
                  "(it hears every arrival of the flight)")  # fmt: skip
        first = min(lines[unit])
        result.rejections.append(Rejection(reason, "\n".join(t for _, t in sorted(lines[unit])).encode(), first[0],
                                           warning=True))  # fmt: skip
    return out


def _flight(line: str, received: datetime) -> _Flight | str:
    """The manifest header `1/AC857/23APR[HHMM]/LHR[/registration...]`, or the problem (rejects the message)."""
    m = _FLIGHT_LINE.match(line)
    if not m:
        return (f"expected the flight line (sequence/flight/date/airport of loading, e.g. 1/LH400/16OCT/FRA), "
                f"got {line[:60]!r}")  # fmt: skip
    _, carrier, number, day, month, hhmm, loading = m.groups()
    found = local_date_time(int(day), month, hhmm, loading, received)
    if isinstance(found, str):
        return f"{line[:60]}: {found}"
    at, locode = found
    return _Flight(carrier, carrier + number, at, locode)
