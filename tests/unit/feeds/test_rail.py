"""Rail events feed (docs/feeds/rail.md); samples are ours (the format is corridor's)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from schemas.conveyances import ConveyanceMilestone
from schemas.events import Classifier, Milestone
from schemas.refs import Mode
from streams.feeds.rail import RailFeed, rows_to_csv, uic_check_digit
from tests.unit.feeds.conftest import RECEIVED, load


def test_uic_check_digit() -> None:
    assert uic_check_digit("21812471217") == "3"  # the UIC leaflet's example 21 81 2471 217-3
    assert uic_check_digit("31802127123") == "0"


def test_train_report_csv() -> None:
    result = RailFeed().parse(load("rail-x8017.csv"), RECEIVED)
    assert result.rejections == []
    events = {e.event_id: e for e in result.events}
    assert len(events) == 10
    departed = events["rail:X8017-0003"]
    assert (departed.unit.id, departed.milestone, departed.location, departed.mode) == (
        "TGHU1643396", Milestone.DEPARTED, "CNCKG", Mode.RAIL)
    assert departed.event_time == datetime(2024, 5, 1, 2, 30, tzinfo=UTC)  # station-local, Beijing time
    assert departed.transport.train == "X8017"
    border = events["rail:X8017-0006"]
    assert (border.milestone, border.location) == (Milestone.ARRIVED, "BYBQT")
    assert border.event_time == datetime(2024, 5, 12, 19, 5, tzinfo=UTC)  # tz_offset +03:00
    gauge = events["rail:X8017-0007"]
    assert (gauge.milestone, gauge.transport.train) == (Milestone.LOADED, "X8017-EU")
    assert events["rail:X8017-0008"].milestone == Milestone.DEPARTED
    assert events["rail:X8017-0009"].event_time == datetime(2024, 5, 14, 6, 15, tzinfo=UTC)  # own offset wins
    eta = events["rail:X8017-0010"]
    assert (eta.classifier, eta.location, eta.event_time) == (
        Classifier.ESTIMATED, "DEDUI", datetime(2024, 5, 17, 16, 0, tzinfo=UTC))


def test_train_report_json_with_station_mapping() -> None:
    data = load("rail-x8017.json")
    unmapped = RailFeed().parse(data, RECEIVED)
    assert [r.reason for r in unmapped.rejections] == [
        "row 3: station code DUISBURG-RUHRORT has no UN/LOCODE: add it to the adapter's stations mapping"
    ]
    mapped = RailFeed(stations={"duisburg-ruhrort": "DEDUI"}).parse(data, RECEIVED)
    assert mapped.rejections == []
    assert [(e.event_id, e.location, e.transport.train, e.transport.carrier) for e in mapped.events] == [
        ("rail:X8017-0007", "BYBQT", "X8017-EU", "CRIC"),
        ("rail:X8017-0008", "BYBQT", "X8017-EU", "CRIC"),
        ("rail:X8017-0010", "DEDUI", "X8017-EU", "CRIC"),
    ]
    assert mapped.events[2].event_time == datetime(2024, 5, 17, 16, 0, tzinfo=UTC)


def _row(**over: str) -> dict[str, str]:
    row = {"train_number": "X1", "wagon_number": "318021271230", "container_number": "TGHU1643396",
           "station_locode": "DEDUI", "event": "ARRIVED", "event_time": "2024-05-17T18:00:00+02:00"}  # fmt: skip
    row.update(over)
    return row


def test_bad_rows_are_rejected_alone_with_reasons() -> None:
    rows = [_row(), _row(container_number="MSCU1234567"), _row(wagon_number="318021271233"),
            _row(station_locode="XXABC"), _row(event_time="2024-02-30T10:00"),
            _row(event_time="2024-05-17T18:00", station_locode="KZXXX"), _row(event="TELEPORTED"),
            _row(classifier="MAYBE"), _row(event_time="2024-05-17T18:00", tz_offset="+99")]  # fmt: skip
    result = RailFeed().parse(rows_to_csv(rows).encode(), RECEIVED)
    assert len(result.events) == 1
    assert [r.reason for r in result.rejections] == [
        "row 2: container MSCU1234567 has a wrong check digit (expected 6)",
        "row 3: wagon 318021271233 has a wrong check digit (expected 0)",
        "row 4: location XXABC is not a UN/LOCODE we know (XX is not a country code)",
        "row 5: event_time 2024-02-30T10:00: not an ISO 8601 date-time",
        "row 6: no time zone known for KZXXX: local time 2024-05-17T18:00:00 cannot be placed in UTC",
        "row 7: event 'TELEPORTED' is not one of DEPARTED, ARRIVED, LOADED, UNLOADED, BORDER_ARRIVED, "
        "BORDER_DEPARTED, PASSED_BORDER, GAUGE_CHANGE, GATE_IN, GATE_OUT, CUSTOMS_RELEASED, DELIVERED",
        "row 8: classifier 'MAYBE' is not ACT, EST or PLN",
        "row 9: tz_offset '+99' is not an offset such as +06:00",
    ]
    assert [r.index for r in result.rejections] == list(range(1, 9))


def test_crlf_semicolons_and_ids_are_stable() -> None:
    csv_lf = rows_to_csv([_row(), _row(event="DEPARTED", event_time="2024-05-18T06:00:00+02:00")])
    variants = [csv_lf, csv_lf.replace("\n", "\r\n"), csv_lf.replace(",", ";"), "\ufeff" + csv_lf + "\n\n"]
    results = [RailFeed().parse(v.encode(), RECEIVED).events for v in variants]
    assert all(r == results[0] for r in results) and len(results[0]) == 2
    assert results[0][0].event_id == "rail:TGHU1643396:ARRIVED:ACTUAL:DEDUI:X1:20240517T160000Z"
    as_json = RailFeed().parse(orjson.dumps([_row()]), RECEIVED).events
    assert as_json[0].event_id == results[0][0].event_id


TRAIN_REPORT = (
    "train_number;operator;train_date;station_locode;event;event_time;tz_offset;classifier;event_id\n"
    "X8017;YXO;2024-05-01;CNCKG;DEPARTED;2024-05-01T10:30;;ACT;t-1\n"
    "X8017;YXO;2024-05-01;BYBQT;BORDER_ARRIVED;2024-05-12T22:05;+03:00;ACT;t-2\n"
    "X8017;YXO;2024-05-01;DEDUI;ARRIVED;2024-05-17T18:00;;EST;t-3\n"
)


def test_train_level_rows_become_train_events_keyed_by_operator_number_and_date() -> None:
    result = RailFeed().parse(TRAIN_REPORT.encode(), RECEIVED)
    assert (result.events, result.rejections) == ([], [])
    assert [(c.event_id, c.conveyance.id, c.milestone, c.classifier, c.call.location, c.event_time)
            for c in result.conveyances] == [
        ("rail:t-1", "TRAIN:YXO:X8017:2024-05-01", ConveyanceMilestone.DEPARTED, Classifier.ACTUAL, "CNCKG",
         datetime(2024, 5, 1, 2, 30, tzinfo=UTC)),
        ("rail:t-2", "TRAIN:YXO:X8017:2024-05-01", ConveyanceMilestone.ARRIVED, Classifier.ACTUAL, "BYBQT",
         datetime(2024, 5, 12, 19, 5, tzinfo=UTC)),
        ("rail:t-3", "TRAIN:YXO:X8017:2024-05-01", ConveyanceMilestone.ARRIVED, Classifier.ESTIMATED, "DEDUI",
         datetime(2024, 5, 17, 16, 0, tzinfo=UTC)),
    ]  # fmt: skip
    assert all(c.mode is Mode.RAIL for c in result.conveyances)


def test_train_level_row_without_operator_or_date_is_rejected() -> None:
    data = TRAIN_REPORT.replace(";YXO;2024-05-01;BYBQT", ";;2024-05-01;BYBQT").replace("t-3\n", "t-3\n") + (
        "X8017;YXO;;DEDUI;ARRIVED;2024-05-17T18:00;;ACT;t-4\n"
        "X8017;YXO;2024-05-01;DEDUI;LOADED;2024-05-17T18:00;;ACT;t-5\n")
    result = RailFeed().parse(data.encode(), RECEIVED)
    assert len(result.conveyances) == 2
    assert [(r.index, r.reason) for r in result.rejections] == [
        (1, "row 2: train event names no train corridor can key: a train needs its operator, number and departure "
            "date: no operator"),
        (3, "row 4: train event names no train corridor can key: a train needs its operator, number and departure "
            "date: no departure date"),
        (4, "row 5: no container_number, and event 'LOADED' is not a train movement (DEPARTED, ARRIVED, "
            "BORDER_ARRIVED, BORDER_DEPARTED, PASSED_BORDER, CANCELLED, OMITTED)"),
    ]


def test_container_rows_with_operator_and_date_give_the_train_event_once() -> None:
    rows = [{"train_number": "X8017", "operator": "YXO", "train_date": "2024-05-01", "container_number": box,
             "station_locode": "CNCKG", "event": "DEPARTED", "event_time": "2024-05-01T10:30"}
            for box in ("TGHU1643396", "CSQU3054383")]  # fmt: skip
    result = RailFeed().parse(orjson.dumps(rows), RECEIVED)
    assert [e.unit.id for e in result.events] == ["TGHU1643396", "CSQU3054383"]
    (train,) = result.conveyances
    assert train.conveyance.id == "TRAIN:YXO:X8017:2024-05-01"
    assert RailFeed().parse(load("rail-x8017.csv"), RECEIVED).conveyances == []  # no operator/date: units only
