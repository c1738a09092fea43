"""What the API says about shipments, computed from the engines' own outputs (no broker): the split air waybill
580-12345675 while its truck is loaded at Liège and once delivered; open and closed shipment alerts; part routes;
shipment references."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas import ClockTick, Plan, ShipmentPlan, TrackingEvent, dumps
from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.api.index import add_alert, add_eta
from streams.api.models import AlertPage, DelayedShipments, ShipmentDetail
from streams.api.refs import RefError, parse_shipment_ref
from streams.api.shipments import delayed_order
from streams.api.store import LocalStore, NotFound, ShipmentTables
from streams.core.history_order import canonical_order
from streams.core.policy import DEFAULT_POLICY
from streams.core.shipments.policy import ShipmentPolicy
from streams.processing.engine import Engine
from streams.processing.shipments import ShipmentEngine
from tests.integration.story import journey, plan
from tests.support.shipment_flows import AWB, split_awb

TOPICS = TopicNames("corridor.")
PARTITIONS = 4
# split_awb() in canonical order: up to and including the truck's STUFFED at Liège (5 Mar 18:00), the truck
# has the 10 pieces and has not left; the rest of the records deliver them at Madrid.
LOADED = 44


class ShipWorld:
    """Both engines over dict stores, wired as replay wires them, and the API's index fed from their outputs."""

    def __init__(self) -> None:
        self.t: dict[str, dict[bytes, bytes]] = {n: {} for n in (
            "units", "clock", "alerts", "etas", "shipments", "ship_clock", "ship_alerts", "ship_etas")}
        policy = ShipmentPolicy(eta_min_shift=DEFAULT_POLICY.eta_min_shift)
        self.engine = Engine(self.t["units"], self.t["clock"], TOPICS, DEFAULT_POLICY)
        self.ships = ShipmentEngine(self.t["shipments"], self.t["ship_clock"], TOPICS, policy)
        ship = ShipmentTables(self.t["shipments"], self.t["ship_clock"], self.t["ship_alerts"], self.t["ship_etas"],
                              policy, self.ships._fine)
        self.store = _AllLocal(None, self.t["units"], self.t["clock"], self.t["alerts"], self.t["etas"], PARTITIONS,
                               DEFAULT_POLICY, self.engine._fine_watermarks, ship)
        self.index = {TOPICS.name("alert"): ("alerts", add_alert), TOPICS.name("eta"): ("etas", add_eta),
                      TOPICS.name("shipment_alert"): ("ship_alerts", add_alert),
                      TOPICS.name("shipment_eta"): ("ship_etas", add_eta)}
        self.published: list[tuple[str, dict]] = []

    def _out(self, outs: list) -> None:
        feed = TOPICS.name("shipment_feed")
        for o in outs:
            self.published.append((o.topic, orjson.loads(o.value)))
            if o.topic == feed:
                self._out(self.ships.process(feed, partition_for(o.key, PARTITIONS), None, o.key, o.value))
            elif o.topic in self.index and o.key is not None:
                name, add = self.index[o.topic]
                new = add(self.t[name].get(o.key), o.value)
                if new is not None:
                    self.t[name][o.key] = new

    def feed(self, records: list[Any]) -> None:
        for r in records:
            raw = dumps(r)
            if isinstance(r, ClockTick):
                for job in (self.engine, self.ships):
                    for p in range(PARTITIONS):
                        self._out(job.process(TOPICS.name("clock"), p, None, None, raw))
            elif isinstance(r, ShipmentPlan):
                key = r.shipment.id.encode()
                self._out(self.ships.process(TOPICS.name("shipment_plan"), partition_for(key, PARTITIONS), None,
                                             key, raw))
            else:
                assert isinstance(r, Plan | TrackingEvent)
                key = r.unit.id.encode()
                role = "plan" if isinstance(r, Plan) else "event"
                self._out(self.engine.process(TOPICS.name(role), partition_for(key, PARTITIONS), None, key, raw))

    def of(self, role: str) -> list[dict]:
        return [v for t, v in self.published if t == TOPICS.name(role)]

    def detail(self, ref: str = AWB) -> dict:
        body = self.store.shipment_detail(parse_shipment_ref(ref))
        return ShipmentDetail.model_validate(body).model_dump(mode="json")


class _AllLocal(LocalStore):
    def local_partitions(self) -> set[int]:
        return set(range(self.partitions))

    def shipment_partitions(self) -> set[int]:
        return set(range(self.partitions))


RECORDS = canonical_order(split_awb())


@pytest.fixture
def loaded() -> ShipWorld:
    world = ShipWorld()
    world.feed(RECORDS[:LOADED])
    return world


def _alerts(alerts: list[dict]) -> list[tuple]:
    return [(a["kind"], a["severity"], a["leg_index"], (a["unit"] or {}).get("id")) for a in alerts]


def test_shipment_at_the_hub_parts_legs_routes_and_open_alerts(loaded):
    body = loaded.detail()
    tl = body["timeline"]
    assert body["shipment"] == {"kind": "AIR_WAYBILL", "id": AWB}
    assert body["partition"] == partition_for(AWB.encode(), PARTITIONS)
    assert body["watermark"] == "2026-03-05T18:00:00Z"
    assert tl["status"] == "AT_HUB" and tl["location"] == "BELGG" and tl["minutes_late"] == 42 * 60
    assert [(p["unit"]["id"], p["pieces"], p["leg_index"]) for p in tl["parts"]] == [
        ("AKE10001RU", 6, 0), ("AKE10002RU", 4, 0), ("LGG-MAD 7", 10, 1)]
    assert [(g["leg_index"], g["units"], g["pieces_arrived"]) for g in tl["legs"]] == [
        (0, ["AKE10001RU", "AKE10002RU"], 10), (1, ["LGG-MAD 7"], 0)]
    assert tl["hubs"][0]["location"] == "BELGG" and tl["hubs"][0]["departed"] is None
    # Each part's path for the map; the truck still has the pieces aboard.
    assert [(r["unit"]["id"], r["stops"], r["aboard"], r["mode"]) for r in body["routes"]] == [
        ("AKE10001RU", ["HKHKG", "BELGG"], False, "AIR"), ("AKE10002RU", ["HKHKG", "BELGG"], False, "AIR"),
        ("LGG-MAD 7", ["BELGG", "ESMAD"], True, "ROAD")]
    assert {p["locode"] for p in body["places"]} == {"HKHKG", "BELGG", "ESMAD"}
    assert body["plan"]["pieces"] == 10 and len(body["plan"]["legs"]) == 2
    # ETA history: every update the shipment job published, the current one last.
    assert body["eta"]["history"] == loaded.of("shipment_eta")
    assert body["eta"]["current"]["predicted_delivery"] == "2026-03-07T01:00:00Z"
    assert body["eta"]["current"]["cause_unit"]["id"] == "AKE10002RU"
    # Open: the latest LATE (naming the late ULD), the dwell at Liège, the truck leg not yet departed.
    assert _alerts(body["open_alerts"]) == [("OVERDUE", "CRITICAL", 1, None), ("LATE", "CRITICAL", 0, "AKE10002RU"),
                                            ("DWELL", "MINOR", 1, "AKE10001RU")]
    closed = {(c["alert"]["kind"], c["alert"]["severity"]): c["closed_because"] for c in body["closed_alerts"]}
    assert closed[("OVERDUE", "MAJOR")] == "all pieces left HKHKG at 2026-03-04T23:00:00Z"
    assert closed[("LATE", "MINOR")].startswith("superseded by the later alert sa-")
    assert len(body["open_alerts"]) + len(body["closed_alerts"]) == len(loaded.of("shipment_alert"))


def test_delivered_shipment_closes_every_alert(loaded):
    loaded.feed(RECORDS[LOADED:])
    body = loaded.detail("580 12345675")
    assert body["timeline"]["status"] == "DELIVERED" and body["timeline"]["delivered_at"] == "2026-03-07T02:00:00Z"
    assert body["timeline"]["minutes_late"] == 43 * 60
    assert body["open_alerts"] == []
    assert {c["closed_because"] for c in body["closed_alerts"]} == {
        "the shipment was delivered at 2026-03-07T02:00:00Z"}
    assert body["eta"]["current"]["reason"] == "delivered at ESMAD"
    assert [r["aboard"] for r in body["routes"]] == [False, False, False]


def test_alert_list_holds_unit_and_shipment_alerts(loaded):
    loaded.feed([plan(), *journey()[:3]])  # a container that leaves Chongqing late: unit alerts
    items = loaded.store.alerts_list(True, None) + loaded.store.shipment_alerts_list(True, None)
    page = AlertPage.model_validate({"open": True, "items": items, "next_cursor": None,
                                     "coverage": {"partitions": [0, 1, 2, 3], "missing": [], "complete": True}})
    records = {type(i).__name__ for i in page.items}
    assert records == {"DelayAlert", "ShipmentAlert"}
    assert [a["kind"] for a in loaded.store.shipment_alerts_list(True, frozenset({"MINOR"}))] == ["DWELL"]


def test_delayed_shipments_list_the_shipment_until_it_is_delivered(loaded):
    rows = loaded.store.delayed_shipments()
    listed = DelayedShipments.model_validate({"items": rows, "total": len(rows), "coverage": {
        "partitions": [0, 1, 2, 3], "missing": [], "complete": True}}).model_dump(mode="json")["items"]
    open_alerts = loaded.detail()["open_alerts"]
    assert listed == [{
        "shipment": {"kind": "AIR_WAYBILL", "id": AWB}, "status": "AT_HUB", "lane": "HKHKG-ESMAD",
        "customer": "e-shop", "location": "BELGG", "destination": "ESMAD",
        "planned_delivery": "2026-03-05T07:00:00Z", "promised_delivery": "2026-03-06T07:00:00Z",
        "predicted_delivery": "2026-03-07T01:00:00Z", "minutes_late": 42 * 60, "kinds": ["DWELL", "LATE", "OVERDUE"],
        "open_alerts": 3, "worst_severity": "CRITICAL", "latest_alert": open_alerts[0]}]
    loaded.feed(RECORDS[LOADED:])  # delivered: every alert closed
    assert loaded.store.delayed_shipments() == []


def test_delayed_shipments_order_cargo_not_left_first_then_severity_then_lateness():
    def row(id_: str, kinds: list[str], severity: str, late: int | None) -> dict:
        return {"shipment": {"kind": "BOOKING", "id": id_}, "kinds": kinds, "worst_severity": severity,
                "minutes_late": late}

    rows = [row("A", ["LATE"], "MAJOR", 600), row("B", ["DWELL"], "MINOR", None), row("C", ["LATE", "OVERDUE"],
            "MINOR", 30), row("D", ["LATE"], "CRITICAL", 90), row("E", ["LATE"], "MAJOR", 900),
            row("F", ["CUSTOMS_HOLD"], "MAJOR", 900)]  # fmt: skip
    assert [r["shipment"]["id"] for r in sorted(rows, key=delayed_order)] == ["C", "D", "E", "F", "A", "B"]


def test_unknown_and_mistyped_shipments(loaded):
    with pytest.raises(NotFound, match="no air waybill 020-12345675 is tracked"):
        loaded.store.shipment_detail(parse_shipment_ref("020-12345675"))
    with pytest.raises(NotFound, match="no shipment MAEU123456789 is tracked"):
        loaded.store.shipment_detail(parse_shipment_ref("maeu123456789"), kind_given=False)
    with pytest.raises(NotFound, match="tracked as an air waybill"):
        loaded.store.shipment_detail(parse_shipment_ref(AWB, "BOOKING"))


@pytest.mark.parametrize(("ref", "kind", "says"), [
    ("580-12345676", None, "air waybill check digit is wrong"),
    ("580-1234567A", "AIR_WAYBILL", "not an air waybill number"),
    ("MA", None, "not a shipment reference"),
    ("MAEU 1234", None, "not a shipment reference"),
    ("", None, "empty shipment reference"),
    ("X" * 41, None, "too long"),
    ("MAEU123", "PARCEL", "unknown shipment kind"),
])
def test_malformed_shipment_references(ref, kind, says):
    with pytest.raises(RefError, match=says):
        parse_shipment_ref(ref, kind)


def test_shipment_reference_kinds():
    assert parse_shipment_ref("58012345675").id == AWB  # NNN-NNNNNNNN, hyphen optional: an air waybill
    assert parse_shipment_ref(AWB).kind.value == "AIR_WAYBILL"
    assert parse_shipment_ref("cqx/2026/0042").model_dump() == {"kind": "BOOKING", "id": "CQX/2026/0042"}
    assert parse_shipment_ref("SMGS-778", "bill_of_lading").kind.value == "BILL_OF_LADING"
