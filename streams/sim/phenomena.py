"""What real corridors do that plans do not say, for the ETA to learn (issue #25), each with its own parameters:

- lane bias: a lane's plans are optimistic by a steady margin (every leg's transit takes this factor longer);
- heavy-tailed dwell at hubs: a departure from a hub or border station waits, now and then, for a lognormal
  time (a queue at the gauge change, a missed slot), shared by every unit on that departure;
- carrier estimates with a bias: each source's ETAs are early by its own typical fraction of their horizon.

Pure and deterministic: draws come from a `random.Random` keyed by the seed and the departure, never from the
unit's own generator, so adding a phenomenon moves nothing else a scenario draws."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class HubDwell:
    chance: float  # of a departure waiting at all
    median_hours: float  # of the wait, when there is one
    sigma: float  # lognormal shape: 1.0 puts p90 at 3.6 times the median
    cap_hours: float = 168.0


@dataclass(frozen=True)
class Realism:
    lane_bias: Mapping[str, float] = field(default_factory=dict)  # corridor code -> transit factor
    hub_dwell: Mapping[str, HubDwell] = field(default_factory=dict)  # departure LOCODE -> extra wait
    estimate_bias: Mapping[str, float] = field(default_factory=dict)  # source -> mean optimism (of the horizon)


NONE = Realism()
REALISM = Realism(
    lane_bias={"crx": 1.08, "asx": 1.10, "sea": 1.05, "air": 1.12},
    hub_dwell={
        "BYBQT": HubDwell(0.35, 20.0, 0.9),  # Brest-Małaszewicze gauge change
        "CNHRS": HubDwell(0.30, 16.0, 0.8),  # Horgos / Khorgos
        "CNCKG": HubDwell(0.25, 18.0, 1.0),  # Chongqing hub regrouping
        "BELGG": HubDwell(0.30, 10.0, 0.9),  # Liège eWTP customs hub
    },
    estimate_bias={"cosco-dcsa": 0.06, "cainiao-fsu": 0.10, "crct-rail-feed": 0.04, "ktz-rail-feed": 0.05,
                   "rzd-rail-feed": 0.07, "pkp-rail-feed": 0.03, "ilstc-edi": 0.08, "cainiao-linehaul": 0.09},
)


def lane_factor(realism: Realism, corridor_code: str) -> float:
    return realism.lane_bias.get(corridor_code, 1.0)


def hub_wait(realism: Realism, seed: int, trip_key: str, location: str) -> timedelta:
    hub = realism.hub_dwell.get(location)
    if hub is None:
        return timedelta(0)
    rng = random.Random(f"{seed}|hub-dwell|{trip_key}")
    if rng.random() >= hub.chance:
        return timedelta(0)
    return timedelta(hours=min(hub.cap_hours, rng.lognormvariate(math.log(hub.median_hours), hub.sigma)))


def optimism(realism: Realism, source: str, drawn: float) -> float:
    """A source's estimate optimism: its own mean, with the trip's draw (uniform 0.02-0.08) as the spread."""
    mean = realism.estimate_bias.get(source)
    return drawn if mean is None else max(0.0, mean + (drawn - 0.05) * 0.5)
