"""What is normal for a shipment: time at each hub, how long customs may hold it, delivery tolerance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from schemas import Mode, Severity
from streams.core.severity import by_ratio

H = timedelta(hours=1)

# Typical dwell between arriving and leaving a hub, beyond which cargo is "stuck" there. Consolidation hubs
# hold cargo until the next block train (Chongqing: twice a week); cross-docks turn it in a day.
_HUB_DWELL: dict[str, timedelta] = {
    "CNCKG": 96 * H,  # Chongqing Tuanjiecun: ASEAN Express cargo waits for a CR Express departure
    "CNXIA": 96 * H,  # Xi'an
    "DEDUI": 48 * H,  # Duisburg: stripping and trucking
    "PLMAL": 48 * H,  # Małaszewicze transshipment
    "BELGG": 36 * H,  # Liège airport: breakdown, customs, line-haul trucks
    "NLAMS": 36 * H,
    "DEFRA": 36 * H,
    "HKHKG": 36 * H,
    "NLRTM": 72 * H,
    "CNSHA": 72 * H,
}


@dataclass(frozen=True, slots=True)
class ShipmentPolicy:
    hub_dwell: Mapping[str, timedelta] = field(default_factory=lambda: dict(_HUB_DWELL))
    default_dwell: timedelta = 48 * H
    # Customs holds: air cargo is cleared within hours, containers within a day or two.
    hold_limit: Mapping[Mode, timedelta] = field(default_factory=lambda: {
        Mode.AIR: 24 * H, Mode.ROAD: 24 * H, Mode.RAIL: 48 * H, Mode.SEA: 72 * H, Mode.BARGE: 48 * H,
    })
    delivery_tolerance: timedelta = 6 * H  # door to door: later than planned by more is LATE
    departure_tolerance: Mapping[Mode, timedelta] = field(default_factory=lambda: {
        Mode.AIR: 3 * H, Mode.ROAD: 4 * H, Mode.RAIL: 12 * H, Mode.SEA: 24 * H, Mode.BARGE: 12 * H,
    })
    handling: timedelta = 4 * H  # shortest time from arriving at a hub to leaving on the next leg
    eta_min_shift: timedelta = timedelta(minutes=30)

    def normal_dwell(self, location: str, planned: timedelta) -> timedelta:
        """The hub's norm, or (for a hub corridor knows nothing about) the planned dwell and a half."""
        known = self.hub_dwell.get(location)
        return known if known is not None else max(self.default_dwell, planned * 1.5)

    def severity(self, minutes_late: int) -> Severity:
        return by_ratio(minutes_late / (self.delivery_tolerance.total_seconds() / 60))


DEFAULT_SHIPMENT_POLICY = ShipmentPolicy()
