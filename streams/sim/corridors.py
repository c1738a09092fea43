"""Corridor route definitions: stops (UN/LOCODEs), modes, carriers, planned transit and dwell times.

Only static data lives here; `scenario.py` turns it into plans and events. Times are the *planned* schedule;
disruptions are drawn by the scenario around these.

UN/LOCODE verification (checked against the UN/LOCODE code list copies in public repositories, see the
simulator's report): CNCKG Chongqing, CNAKL Alatawshankou (= Alashankou rail port), CNHRS Horgos, CNPIN
Pingxiangzhan/Pingxiang (Guangxi), CNSHA Shanghai, KZALS "Alashankou" (the Kazakh side of the Alashankou-Dostyk
crossing, 45°12'N 82°36'E; the list we could read has no Dostyk entry), KZHOR Horgos (Kazakh side; Altynkol
has no entry), BYBQT Brest, BELGG Liège, DEDUI Duisburg. Not checked against a list (well-known, widely used):
HKHKG, ESMAD, NLRTM, SGSIN, EGPSD, HUBUD, VNHAN. No Polish code could be verified, so Małaszewicze is a waypoint
of the Brest -> Europe leg (`via`) rather than a stop of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from schemas import Mode, UnitKind

H = timedelta(hours=1)
D = timedelta(days=1)


class Risk(StrEnum):
    """What typically goes wrong on a leg; `scenario.py` draws the disruption per trip (train, sailing...)."""

    ROUTINE = "ROUTINE"  # small departure slips only
    BORDER = "BORDER"  # gauge-change queue at the origin: hours to days (Dostyk, Altynkol, Brest-Małaszewicze)
    PORT = "PORT"  # port congestion / late vessel: departure slips of hours to a day or two
    SUEZ = "SUEZ"  # Red Sea leg: sailings after the advisory go round the Cape of Good Hope (+10-14 days)
    FLIGHT = "FLIGHT"  # freighter delays; a late arrival can miss the onward truck
    TRUCK = "TRUCK"  # border queues, traffic, driver rest: hours


@dataclass(frozen=True)
class LegSpec:
    mode: Mode
    carrier: str
    origin: str
    destination: str
    transit: timedelta  # planned departure -> arrival
    source: str  # the feed that reports this leg's events
    reference: str  # service/voyage/train/flight/truck; "{n}" is the departure's sequence number
    dwell: timedelta = timedelta(0)  # planned time at the origin before departing (after the previous arrival)
    handling: timedelta = timedelta(0)  # minimum time at the origin; less slack than that misses the departure
    headway: timedelta | None = None  # scheduled service every `headway`; None = the same train runs on
    risk: Risk = Risk.ROUTINE
    rollover: float = 0.0  # chance a unit is left behind (overbooked, offloaded, backlog) and takes the next one
    vessels: tuple[tuple[str, str], ...] = ()  # (name, IMO) pool for sea legs, picked per sailing
    via: tuple[str, ...] = ()  # notable waypoints (names), for people reading the scenario


@dataclass(frozen=True)
class Corridor:
    code: str  # short id, used in keys and booking numbers
    name: str
    unit_kind: UnitKind
    owners: tuple[str, ...]  # ISO 6346 owner+category (e.g. "TGHU") or the AWB airline prefix ("580")
    customer: str
    headway: timedelta  # between first-leg departures; units are booked two per departure
    departure_hour: int  # UTC hour of the first leg's scheduled departures
    gate_in_lead: timedelta  # unit handed in at the origin this long before its first departure
    legs: tuple[LegSpec, ...]
    customs_at: str  # where EU import customs may hold the unit
    customs_source: str
    delivery: timedelta  # planned final arrival -> delivered to the consignee
    delivery_carrier: str
    delivery_source: str
    promise_slack: timedelta  # promised delivery = planned delivery + slack

    @property
    def origin(self) -> str:
        return self.legs[0].origin

    @property
    def destination(self) -> str:
        return self.legs[-1].destination

    @property
    def lane(self) -> str:
        return f"{self.origin}-{self.destination}"

    @property
    def stops(self) -> tuple[str, ...]:
        return (self.origin, *(leg.destination for leg in self.legs))

    @property
    def planned_transit(self) -> timedelta:
        """First departure -> planned delivery, with every planned dwell."""
        legs = sum((leg.transit for leg in self.legs), timedelta(0))
        dwells = sum((leg.dwell for leg in self.legs[1:]), timedelta(0))
        return legs + dwells + self.delivery


# CR Express "Yuxinou", Chongqing (Tuanjiecun) - Alashankou - Dostyk - Kazakhstan/Russia/Belarus - Brest -
# Małaszewicze - Duisburg: about 15 days door to door. Gauge changes (1435 <-> 1520 mm) at Dostyk and at
# Brest/Małaszewicze are where queues build. Goods travel under T1 transit and are cleared at Duisburg.
CR_EXPRESS = Corridor(
    code="crx",
    name="CR Express Chongqing-Duisburg (rail)",
    unit_kind=UnitKind.CONTAINER,
    owners=("TGHU", "BMOU", "SEGU"),
    customer="Chongqing motorcycle and auto-parts exporter",
    headway=2 * D,
    departure_hour=2,
    gate_in_lead=30 * H,
    legs=(
        LegSpec(
            mode=Mode.RAIL,
            carrier="China Railway (CR Express)",
            origin="CNCKG",
            destination="CNAKL",
            transit=84 * H,
            source="crct-rail-feed",
            reference="X8{n:03d}",
            headway=2 * D,
        ),
        LegSpec(
            mode=Mode.RAIL,
            carrier="KTZ Express",
            origin="CNAKL",
            destination="KZALS",
            transit=10 * H,
            source="ktz-rail-feed",
            reference="X8{n:03d}-KZ",
            dwell=12 * H,
            handling=6 * H,
        ),
        LegSpec(
            mode=Mode.RAIL,
            carrier="UTLC ERA",
            origin="KZALS",
            destination="BYBQT",
            transit=132 * H,
            source="rzd-rail-feed",
            reference="ERA-{n:04d}",
            dwell=24 * H,
            handling=12 * H,
            risk=Risk.BORDER,
            via=("Dostyk transshipment", "Moscow region"),
        ),
        LegSpec(
            mode=Mode.RAIL,
            carrier="PKP Cargo",
            origin="BYBQT",
            destination="DEDUI",
            transit=60 * H,
            source="pkp-rail-feed",
            reference="PKP-{n:04d}",
            dwell=20 * H,
            handling=10 * H,
            risk=Risk.BORDER,
            via=("Małaszewicze (PL)", "Poznań", "Berlin"),
        ),
    ),
    customs_at="DEDUI",
    customs_source="ml-logistics-edi",
    delivery=18 * H,
    delivery_carrier="ML Logistics (Duisburg hub)",
    delivery_source="ml-logistics-edi",
    promise_slack=36 * H,
)

# ASEAN Express: Hanoi by truck over the Friendship Pass to Pingxiang, rail to Chongqing, where cargo is
# regrouped with local goods (hub dwell, twice-weekly trains), then rail via Khorgos to Europe (Budapest).
ASEAN_EXPRESS = Corridor(
    code="asx",
    name="ASEAN Express Hanoi-Chongqing-Budapest (road+rail)",
    unit_kind=UnitKind.CONTAINER,
    owners=("FCIU", "TCNU"),
    customer="Hanoi electronics assembler",
    headway=1 * D,
    departure_hour=1,
    gate_in_lead=16 * H,
    legs=(
        LegSpec(
            mode=Mode.ROAD,
            carrier="ILSTC cross-border trucking",
            origin="VNHAN",
            destination="CNPIN",
            transit=14 * H,
            source="ilstc-edi",
            reference="29C-{n:05d}",
            headway=1 * D,
            risk=Risk.TRUCK,
            via=("Huu Nghi / Youyiguan border gate",),
        ),
        LegSpec(
            mode=Mode.RAIL,
            carrier="China Railway (ILSTC)",
            origin="CNPIN",
            destination="CNCKG",
            transit=48 * H,
            source="crct-rail-feed",
            reference="ILSTC-{n:03d}",
            dwell=12 * H,
            handling=6 * H,
            headway=1 * D,
        ),
        LegSpec(
            mode=Mode.RAIL,
            carrier="China Railway (CR Express)",
            origin="CNCKG",
            destination="CNHRS",
            transit=96 * H,
            source="crct-rail-feed",
            reference="X9{n:03d}",
            dwell=60 * H,
            handling=24 * H,
            headway=84 * H,
        ),
        LegSpec(
            mode=Mode.RAIL,
            carrier="KTZ Express",
            origin="CNHRS",
            destination="KZHOR",
            transit=8 * H,
            source="ktz-rail-feed",
            reference="X9{n:03d}-KZ",
            dwell=12 * H,
            handling=6 * H,
        ),
        LegSpec(
            mode=Mode.RAIL,
            carrier="UTLC ERA",
            origin="KZHOR",
            destination="BYBQT",
            transit=136 * H,
            source="rzd-rail-feed",
            reference="ERA-{n:04d}",
            dwell=24 * H,
            handling=12 * H,
            risk=Risk.BORDER,
            via=("Altynkol transshipment",),
        ),
        LegSpec(
            mode=Mode.RAIL,
            carrier="PKP Cargo",
            origin="BYBQT",
            destination="HUBUD",
            transit=72 * H,
            source="pkp-rail-feed",
            reference="PKP-{n:04d}",
            dwell=20 * H,
            handling=10 * H,
            risk=Risk.BORDER,
            via=("Małaszewicze (PL)", "Žilina (SK)"),
        ),
    ),
    customs_at="HUBUD",
    customs_source="asean-express-edi",
    delivery=20 * H,
    delivery_carrier="ASEAN Express last mile",
    delivery_source="asean-express-edi",
    promise_slack=36 * H,
)

# Synthetic vessels: made-up names and made-up IMO numbers (100xxxx) that still carry a valid check digit.
_FEEDER_VESSELS = (("SIM ORIENT", "1000019"), ("SIM CATHAY", "1000021"), ("SIM HUANGPU", "1000033"))
_MAINLINE_VESSELS = (
    ("SIM MERIDIAN", "1000112"),
    ("SIM RHINE", "1000124"),
    ("SIM AQUILA", "1000136"),
    ("SIM NORDIC", "1000148"),
)

# Shanghai - Singapore (transshipment) - Rotterdam: 35-45 days normally; sailings after a Red Sea advisory go
# round the Cape of Good Hope instead of Suez, +10-14 days.
SEA_SHANGHAI_ROTTERDAM = Corridor(
    code="sea",
    name="COSCO Shanghai-Rotterdam via Singapore (sea)",
    unit_kind=UnitKind.CONTAINER,
    owners=("CSNU", "CBHU"),
    customer="Shanghai consumer-electronics exporter",
    headway=7 * D,
    departure_hour=10,
    gate_in_lead=72 * H,
    legs=(
        LegSpec(
            mode=Mode.SEA,
            carrier="COSCO Shipping Lines",
            origin="CNSHA",
            destination="SGSIN",
            transit=132 * H,
            source="cosco-dcsa",
            reference="AEX {n:03d}S",
            headway=7 * D,
            risk=Risk.PORT,
            vessels=_FEEDER_VESSELS,
        ),
        LegSpec(
            mode=Mode.SEA,
            carrier="COSCO Shipping Lines",
            origin="SGSIN",
            destination="NLRTM",
            transit=552 * H,
            source="cosco-dcsa",
            reference="AEU {n:03d}W",
            dwell=72 * H,
            handling=30 * H,
            headway=7 * D,
            risk=Risk.SUEZ,
            rollover=0.1,
            vessels=_MAINLINE_VESSELS,
            via=("Colombo", "Suez Canal (EGPSD)", "Algeciras"),
        ),
    ),
    customs_at="NLRTM",
    customs_source="cosco-dcsa",
    delivery=60 * H,
    delivery_carrier="DHL Freight",
    delivery_source="dhl-road",
    promise_slack=3 * D,
)

# Cainiao Hong Kong - Liège (eWTP customs hub) - Madrid: three freighters a week (AirBridgeCargo, per the
# seed article), daily line-haul truck to Madrid, last mile by Correos: 3-10 days to the consignee.
AIR_HKG_LGG_MAD = Corridor(
    code="air",
    name="Cainiao Hong Kong-Liège-Madrid (air+truck)",
    unit_kind=UnitKind.AWB,
    owners=("580",),  # AirBridgeCargo Airlines (RU) air waybill prefix
    customer="Cainiao cross-border e-commerce",
    headway=56 * H,  # three flights a week
    departure_hour=15,
    gate_in_lead=9 * H,
    legs=(
        LegSpec(
            mode=Mode.AIR,
            carrier="AirBridgeCargo Airlines",
            origin="HKHKG",
            destination="BELGG",
            transit=14 * H,
            source="cainiao-fsu",
            reference="RU476",
            headway=56 * H,
            risk=Risk.FLIGHT,
        ),
        LegSpec(
            mode=Mode.ROAD,
            carrier="Cainiao line-haul",
            origin="BELGG",
            destination="ESMAD",
            transit=30 * H,
            source="cainiao-linehaul",
            reference="LGG-MAD {n:03d}",
            dwell=20 * H,
            handling=8 * H,
            headway=1 * D,
            risk=Risk.TRUCK,
            rollover=0.2,
            via=("Paris", "Bordeaux"),
        ),
    ),
    customs_at="BELGG",
    customs_source="lgg-ewtp-customs",
    delivery=18 * H,
    delivery_carrier="Correos",
    delivery_source="correos-api",
    promise_slack=1 * D,
)

CORRIDORS: tuple[Corridor, ...] = (CR_EXPRESS, ASEAN_EXPRESS, SEA_SHANGHAI_ROTTERDAM, AIR_HKG_LGG_MAD)

# Shipment flows (`shipments.py`): consolidated cargo is stripped at the Duisburg hub and trucked to the
# consignee, one truck per shipment, leaving when the cargo is ready (no timetable).
DUISBURG_LAST_MILE: tuple[LegSpec, ...] = tuple(
    LegSpec(
        mode=Mode.ROAD,
        carrier="ML Logistics (Duisburg hub)",
        origin="DEDUI",
        destination=city,
        transit=hours * H,
        source="ml-logistics-edi",
        reference="MLD-{n:04d}",
        risk=Risk.TRUCK,
    )
    for city, hours in (("DEDUS", 1.5), ("DECGN", 2), ("DEFRA", 4.5), ("NLRTM", 3), ("BEANR", 3.5), ("DEHAM", 5))
)
# Hub operators that report cargo into and out of units (stuffing and stripping, ULD build-up and breakdown).
HUB_SOURCES: dict[str, str] = {
    "VNHAN": "asean-express-edi",  # the forwarder's CFS in Hanoi
    "CNCKG": "cqilp-hub-edi",  # Chongqing (Tuanjiecun) consolidation hub
    "DEDUI": "ml-logistics-edi",
    "HKHKG": "cainiao-hkg-hub",
    "BELGG": "cainiao-lgg-hub",
    "ESMAD": "cainiao-linehaul",
}

# Typical reporting latency of each feed (median minutes): push APIs report in minutes, rail feeds that
# arrive as spreadsheets or EDIFACT batches take hours.
LATENCY_MINUTES: dict[str, float] = {
    "crct-rail-feed": 90.0,
    "ktz-rail-feed": 120.0,
    "rzd-rail-feed": 150.0,
    "pkp-rail-feed": 60.0,
    "ilstc-edi": 45.0,
    "cosco-dcsa": 8.0,
    "cainiao-fsu": 20.0,
    "cainiao-linehaul": 10.0,
    "lgg-ewtp-customs": 30.0,
    "ml-logistics-edi": 40.0,
    "asean-express-edi": 40.0,
    "dhl-road": 6.0,
    "correos-api": 15.0,
    "cqilp-hub-edi": 120.0,
    "cainiao-hkg-hub": 15.0,
    "cainiao-lgg-hub": 15.0,
}
DEFAULT_LATENCY_MINUTES = 30.0


def imo_check_digit(six: str) -> int:
    """IMO ship number check digit: digits weighted 7..2, sum mod 10."""
    return sum(int(d) * w for d, w in zip(six, range(7, 1, -1), strict=True)) % 10


# -- Diversions (issue #25): where a diverted unit is seen, and rail border re-routing -----------------------------


@dataclass(frozen=True)
class CapeCall:
    """A sailing diverted round the Cape of Good Hope calls (bunkers) at `place` on the way: the carrier reports
    the vessel's arrival and departure there, the first sign in the events that it is not going through Suez."""

    place: str = "ZACPT"  # Cape Town
    share: float = 0.48  # of the Cape voyage's transit, Singapore -> Cape Town (5,600 of 11,750 nm)
    p: float = 0.85  # chance a diverted sailing calls there (others pass without calling, or call Port Louis)
    stay: tuple[float, float] = (10.0, 30.0)  # hours alongside, uniform


CAPE_CALL = CapeCall()


@dataclass(frozen=True)
class BorderReroute:
    """A train planned over one China - Kazakhstan crossing that is sent over the other (congestion at the
    gauge change, a closed line): the legs touching the planned crossing are replaced, with their transit."""

    planned: tuple[str, str]  # the planned crossing: CN side, KZ side
    alternative: tuple[str, str]
    transit: tuple[timedelta, timedelta, timedelta]  # to the CN side, the crossing, on from the KZ side
    p: float  # chance a departure of the corridor's first leg is re-routed (all units on the train are)


BORDER_REROUTES: dict[str, BorderReroute] = {
    # Alashankou - Dostyk to Khorgos - Altynkol: 96 h Chongqing - Horgos, 8 h crossing, 136 h Altynkol - Brest.
    "crx": BorderReroute(("CNAKL", "KZALS"), ("CNHRS", "KZHOR"), (96 * H, 8 * H, 136 * H), 0.12),
}
