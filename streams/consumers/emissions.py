"""CO2e estimate inputs for the report: emission factors per mode, approximate positions of the UN/LOCODEs
the corridors use, and an assumed payload per unit kind. Every figure here is an assumption to replace with
real data (shipment weights, actual routed distances, carrier-specific factors) when there is some.

Distance is the great-circle distance between a leg's end points (plus 95 km for air, the EN 16258 / GLEC
allowance for take-off, landing and routing). Real routes are longer: rail Chongqing-Duisburg runs about
11,000 km against about 7,200 km great-circle, and Singapore-Rotterdam by sea about 15,300 km via Suez
(more round the Cape) against about 10,500 km. So the CO2e shown is a LOWER BOUND, reported as such."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Factor:
    g_per_tkm: float
    source: str
    basis: str


# Values as collected in the project's domain notes (/work/shared/notes/domain.md); check them against the
# published tables (and the GLEC Framework / ISO 14083) before reporting externally. Mixed bases: DEFRA's
# freighting-goods factors are direct (tank-to-wheel) emissions, UBA's include the energy supply chain.
FACTORS: dict[str, Factor] = {
    "ROAD": Factor(102.0, "UK DEFRA (DESNZ) GHG conversion factors 2024, freighting goods: HGV, average laden",
                   "tank-to-wheel"),
    "SEA": Factor(16.0, "UK DEFRA (DESNZ) GHG conversion factors 2024, freighting goods: container ship, average",
                  "tank-to-wheel"),
    "AIR": Factor(603.0, "UK DEFRA (DESNZ) GHG conversion factors 2024, freighting goods: air freight, long-haul",
                  "tank-to-wheel"),
    "RAIL": Factor(18.0, "German UBA (TREMOD) 2018, freight rail, German average (largely electric)",
                   "well-to-wheel; Chinese, Kazakh and Russian traction is likely higher"),
    # BARGE: no factor collected, so barge legs (and any unit using one) get no CO2e.
}
AIR_ALLOWANCE_KM = 95.0

# Approximate positions (degrees, WGS84) of the stops the seed corridors use, to about 0.1 degree (10 km).
POSITIONS: dict[str, tuple[float, float]] = {
    "CNCKG": (29.56, 106.55),  # Chongqing
    "CNAKL": (45.17, 82.57),  # Alashankou
    "KZALS": (45.20, 82.60),  # Dostyk side of the Alashankou crossing (see streams/sim/corridors.py)
    "CNHRS": (44.21, 80.42),  # Horgos (CN)
    "KZHOR": (44.19, 80.35),  # Khorgos / Altynkol (KZ)
    "BYBQT": (52.10, 23.70),  # Brest
    "DEDUI": (51.43, 6.76),  # Duisburg
    "HUBUD": (47.50, 19.04),  # Budapest
    "VNHAN": (21.03, 105.85),  # Hanoi
    "CNPIN": (22.10, 106.75),  # Pingxiang (Guangxi)
    "CNSHA": (31.23, 121.47),  # Shanghai
    "SGSIN": (1.29, 103.85),  # Singapore
    "NLRTM": (51.92, 4.48),  # Rotterdam
    "HKHKG": (22.31, 113.91),  # Hong Kong (airport)
    "BELGG": (50.64, 5.44),  # Liege (airport)
    "ESMAD": (40.42, -3.70),  # Madrid
}

# Assumed cargo per unit, tonnes: a round figure per kind, not a measured weight.
PAYLOAD_T: dict[str, float] = {"CONTAINER": 10.0, "ULD": 1.5, "AWB": 0.5, "TRAILER": 12.0}
