"""China-Europe rail train-running and wagon events, CSV or JSON, as operators and forwarders send them.

The format is defined in docs/feeds/rail.md. In short: one row (CSV) or object (JSON) per container per event,
with train number, UIC wagon number, ISO 6346 container number, station (UN/LOCODE, or a station code the adapter
maps), event word, time (with offset, with a tz_offset column, or station-local), classifier and an optional id.
Border events: BORDER_ARRIVED -> ARRIVED and BORDER_DEPARTED/PASSED_BORDER -> DEPARTED at the border station;
GAUGE_CHANGE (containers transferred to the other gauge's wagons) -> LOADED onto the train named in the row.

Train-level events: a row with no container is about the train itself (a block train reported once by train number
at Alashankou, Dostyk, Malaszewicze...) and becomes a ConveyanceEvent for TRAIN:<operator>:<train>:<train_date>; its
`operator` and `train_date` (the train's departure date) are then required. A container row that also gives both
yields the same train event once per message (rows of one report repeat it for every wagon).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from pydantic import ValidationError

from schemas import ConveyanceEvent, TrackingEvent
from schemas.conveyances import Conveyance, ConveyanceCall, ConveyanceKind, ConveyanceMilestone
from schemas.events import Classifier, Milestone, ShipmentRefs, TransportRef
from schemas.refs import Mode
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.ids import IdError, container, event_id
from streams.feeds.locations import LocationError, check_locode
from streams.feeds.timeparse import TimeError, local_to_utc, parse_iso_any

EVENTS: dict[str, Milestone] = {
    "DEPARTED": Milestone.DEPARTED,
    "ARRIVED": Milestone.ARRIVED,
    "LOADED": Milestone.LOADED,  # container put on a wagon
    "UNLOADED": Milestone.DISCHARGED,  # container taken off a wagon
    "BORDER_ARRIVED": Milestone.ARRIVED,
    "BORDER_DEPARTED": Milestone.DEPARTED,
    "PASSED_BORDER": Milestone.DEPARTED,
    "GAUGE_CHANGE": Milestone.LOADED,
    "GATE_IN": Milestone.GATE_IN,
    "GATE_OUT": Milestone.GATE_OUT,
    "CUSTOMS_RELEASED": Milestone.CUSTOMS_RELEASED,
    "DELIVERED": Milestone.DELIVERED,
}
# Row events that are movements of the train itself.
TRAIN_EVENTS: dict[str, ConveyanceMilestone] = {
    "DEPARTED": ConveyanceMilestone.DEPARTED, "ARRIVED": ConveyanceMilestone.ARRIVED,
    "BORDER_ARRIVED": ConveyanceMilestone.ARRIVED, "BORDER_DEPARTED": ConveyanceMilestone.DEPARTED,
    "PASSED_BORDER": ConveyanceMilestone.DEPARTED, "CANCELLED": ConveyanceMilestone.CANCELLED,
    "OMITTED": ConveyanceMilestone.OMITTED,
}  # fmt: skip
_CLASSIFIERS = {"": Classifier.ACTUAL, "ACT": Classifier.ACTUAL, "ACTUAL": Classifier.ACTUAL,
                "EST": Classifier.ESTIMATED, "ESTIMATED": Classifier.ESTIMATED, "ETA": Classifier.ESTIMATED,
                "PLN": Classifier.PLANNED, "PLANNED": Classifier.PLANNED}  # fmt: skip
# Field names as they come (JSON camelCase, spreadsheet headers) -> canonical column names.
_ALIASES = {
    "train": "train_number", "trainnumber": "train_number", "train_no": "train_number",
    "wagon": "wagon_number", "wagonnumber": "wagon_number", "wagon_no": "wagon_number",
    "container": "container_number", "containernumber": "container_number", "container_no": "container_number",
    "station": "station_locode", "stationlocode": "station_locode", "locode": "station_locode",
    "stationcode": "station_code", "eventtime": "event_time", "time": "event_time", "tzoffset": "tz_offset",
    "reportedtime": "reported_time", "eventid": "event_id", "id": "event_id", "status": "event",
    "traindate": "train_date", "departuredate": "train_date", "departure_date": "train_date",
    "bookingnumber": "booking", "billoflading": "bill_of_lading", "bl": "bill_of_lading",
}  # fmt: skip
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?$")


class _Reject(Exception):
    pass


def uic_check_digit(eleven: str) -> str:
    """UIC wagon number check digit: Luhn over the first 11 digits (weights 2,1,2,... from the left)."""
    total = 0
    for i, ch in enumerate(eleven):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def _norm_key(key: str) -> str:
    k = key.strip().lower().replace(" ", "_").replace("-", "_")
    return _ALIASES.get(k.replace("_", ""), _ALIASES.get(k, k))


def _rows_from_json(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, Mapping) and isinstance(doc.get("events"), list):
        train = {k: v for k, v in doc.items() if k != "events" and not isinstance(v, list | dict)}
        return [{**train, **row} if isinstance(row, Mapping) else row for row in doc["events"]]
    return [doc]


class RailFeed:
    name = "rail-events"
    description = "China-Europe rail train/wagon events, CSV or JSON (docs/feeds/rail.md)"

    def __init__(self, stations: Mapping[str, str] | None = None) -> None:
        self.stations = {k.strip().upper(): v for k, v in (stations or {}).items()}  # station code -> UN/LOCODE

    def sniff(self, data: bytes) -> bool:
        head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
        if head[:1] in (b"{", b"["):
            return any(k in head for k in (b'"train_number"', b'"trainNumber"'))
        first = head.split(b"\n", 1)[0].lower()
        # A train report without containers (train-level rows) names a station instead.
        return b"train" in first and (b"container" in first or b"station" in first) and (b"," in first or b";" in first)

    def parse(self, data: bytes, received: datetime, source: str | None = None) -> ParseResult:
        result = ParseResult()
        src = source or "rail"
        try:
            rows = self._rows(data)
        except _Reject as exc:
            result.rejections.append(Rejection(str(exc), data[:300]))
            return result
        for index, (raw, fragment) in enumerate(rows):
            try:
                self._row(raw, received, src, result)
            except (_Reject, TimeError, LocationError, IdError) as exc:
                result.rejections.append(Rejection(f"row {index + 1}: {exc}", fragment, index))
            except (ValidationError, ValueError, TypeError, AttributeError) as exc:
                reason = f"row {index + 1}: {type(exc).__name__}: {exc}"[:400]
                result.rejections.append(Rejection(reason, fragment, index))
        return result

    def _rows(self, data: bytes) -> list[tuple[Any, bytes]]:
        stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped[:1] in (b"{", b"["):
            try:
                doc = orjson.loads(stripped)
            except orjson.JSONDecodeError:
                raise _Reject("rail: not JSON (or not UTF-8)") from None
            rows = _rows_from_json(doc)
            return [(row, orjson.dumps(row)[:1000] if isinstance(row, Mapping) else b"") for row in rows]
        try:
            text = stripped.decode("utf-8")
        except UnicodeDecodeError:
            raise _Reject("rail: CSV is not UTF-8") from None
        lines = text.splitlines()
        if not lines:
            raise _Reject("rail: empty message")
        dialect = ";" if lines[0].count(";") > lines[0].count(",") else ","
        reader = csv.DictReader(io.StringIO("\n".join(lines)), delimiter=dialect)
        rows: list[tuple[Any, bytes]] = []
        for line_no, row in enumerate(reader, start=2):
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # blank spreadsheet lines
            rows.append((row, (lines[line_no - 1] if line_no - 1 < len(lines) else "").encode()[:1000]))
        return rows

    def _row(self, raw: Any, received: datetime, src: str, result: ParseResult) -> None:
        if not isinstance(raw, Mapping):
            raise _Reject("not an object / row")
        row = {_norm_key(str(k)): ("" if v is None else str(v).strip()) for k, v in raw.items() if k is not None}
        if not row.get("container_number"):
            result.add_conveyance(self._train_event(row, received, src, required=True))  # type: ignore[arg-type]
            return
        event = self._event(row, received, src)
        train = self._train_event(row, received, src, required=False)
        result.events.append(event)
        if train is not None:
            result.add_conveyance(train)

    def _train_event(self, row: Mapping[str, str], received: datetime, src: str,
                     required: bool) -> ConveyanceEvent | None:  # fmt: skip
        """The train's own event in a row. `required` (a row naming no container): reject what cannot be one."""
        word = row.get("event", "").upper().replace(" ", "_").replace("-", "_")
        milestone = TRAIN_EVENTS.get(word)
        if milestone is None:
            if required:
                raise _Reject(f"no container_number, and event {word or '(empty)'!r} is not a train movement "
                              f"({', '.join(TRAIN_EVENTS)})")  # fmt: skip
            return None
        if not required and not (row.get("operator") and row.get("train_date")):
            return None  # a container row: its train is in its TrackingEvent's transport
        try:
            train = Conveyance(kind=ConveyanceKind.TRAIN, carrier=row.get("operator") or None,
                               number=row.get("train_number") or None, departure_date=row.get("train_date") or None)
        except ValidationError as exc:
            raise _Reject(f"train event names no train corridor can key: "
                          f"{str(exc.errors()[0]['msg']).removeprefix('Value error, ')}") from None  # fmt: skip
        location = self._station(row)
        when = self._time(row, location)
        classifier = _CLASSIFIERS.get(row.get("classifier", "").upper())
        if classifier is None:
            raise _Reject(f"classifier {row.get('classifier')!r} is not ACT, EST or PLN")
        own = row.get("event_id") if required else None
        eid = event_id(src, own) if own else event_id(
            src, train.id, milestone.value, classifier.value, location, when.strftime("%Y%m%dT%H%M%SZ"))
        return ConveyanceEvent(event_id=eid, source=src, conveyance=train, mode=Mode.RAIL,
                               call=ConveyanceCall(location=location), milestone=milestone, classifier=classifier,
                               event_time=when, received_time=received)  # fmt: skip

    def _event(self, row: Mapping[str, str], received: datetime, src: str) -> TrackingEvent:
        train = row.get("train_number", "")
        if not train:
            raise _Reject("no train_number")
        word = row.get("event", "").upper().replace(" ", "_").replace("-", "_")
        milestone = EVENTS.get(word)
        if milestone is None:
            raise _Reject(f"event {word or '(empty)'!r} is not one of {', '.join(EVENTS)}")
        unit = container(row.get("container_number"))
        self._check_wagon(row.get("wagon_number", ""))
        location = self._station(row)
        when = self._time(row, location)
        classifier = _CLASSIFIERS.get(row.get("classifier", "").upper())
        if classifier is None:
            raise _Reject(f"classifier {row.get('classifier')!r} is not ACT, EST or PLN")
        own = row.get("event_id")
        eid = event_id(src, own) if own else event_id(
            src, unit.id, milestone.value, classifier.value, location, train, when.strftime("%Y%m%dT%H%M%SZ"))
        return TrackingEvent(
            event_id=eid, source=src, unit=unit, mode=Mode.RAIL, milestone=milestone, classifier=classifier,
            location=location, event_time=when, received_time=received,
            transport=TransportRef(carrier=row.get("operator") or None, train=train),
            shipment=ShipmentRefs(booking=row.get("booking") or None, bill_of_lading=row.get("bill_of_lading") or None),
        )  # fmt: skip

    def _check_wagon(self, wagon: str) -> None:
        if not wagon:
            return
        digits = re.sub(r"[\s-]", "", wagon)
        if not re.fullmatch(r"\d{12}", digits):
            raise _Reject(f"wagon {wagon!r} is not a 12-digit UIC wagon number")
        expected = uic_check_digit(digits[:11])
        if digits[11] != expected:
            raise _Reject(f"wagon {digits} has a wrong check digit (expected {expected})")

    def _station(self, row: Mapping[str, str]) -> str:
        if row.get("station_locode"):
            return check_locode(row["station_locode"])
        code = row.get("station_code", "").upper()
        if code:
            if code in self.stations:
                return check_locode(self.stations[code])
            raise _Reject(f"station code {code} has no UN/LOCODE: add it to the adapter's stations mapping")
        raise _Reject("no station (station_locode or station_code)")

    def _time(self, row: Mapping[str, str], location: str) -> datetime:
        value = parse_iso_any(row.get("event_time"), field="event_time")
        if value.tzinfo is not None:
            return value
        offset = row.get("tz_offset", "")
        if offset:
            m = _OFFSET.match(offset)
            if not m or int(m.group(2)) > 14:
                raise _Reject(f"tz_offset {offset!r} is not an offset such as +06:00")
            delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
            return value.replace(tzinfo=timezone(delta if m.group(1) == "+" else -delta)).astimezone(UTC)
        return local_to_utc(value, location)  # station-local time


def rows_to_csv(rows: Iterable[Mapping[str, object]]) -> str:
    """Helper for tests and the benchmark: rows -> CSV text with the documented columns."""
    cols = ["train_number", "wagon_number", "container_number", "station_locode", "event", "event_time",
            "tz_offset", "classifier", "event_id"]  # fmt: skip
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()
