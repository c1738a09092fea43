"""Backtest: replay a history through the tracking engine and judge its standing ETA against what happened.

For every unit whose final arrival happened in the history, at 14, 7, 3 and 1 days before that arrival: the
error of the engine's standing ETA (the last EtaUpdate whose `as_of` is not later), of the schedule (the
planned arrival in force) and of the carriers' standing estimate (the latest estimate of the final arrival
received by then), and whether the arrival fell inside the standing p10-p90 band; and the ETA updates per unit
per day of tracking (from the unit's first update to its arrival). Pure apart from the engine's own dict stores.

`learn` runs a history through the engine with learning on and returns what it learned, merged over partitions:
the prior a new deployment starts from (`corridor learn`), or what a backtest trains on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from statistics import mean

import orjson

from schemas import Classifier, ClockTick, DecodeError, Milestone, Plan, TrackingEvent, decode_input
from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.core.history_order import canonical_order
from streams.core.learning import Sketch, calibration
from streams.core.learning.knowledge import decode_model, encode_model
from streams.core.policy import TrackingPolicy
from streams.processing.engine import Engine

HORIZONS_DAYS = (14, 7, 3, 1)
NO_LANE = "(no lane)"
Record = Plan | TrackingEvent | ClockTick


def read_history(lines: Iterable[bytes | str]) -> list[Record]:
    """Plans, events and clock ticks of a replay file (JSON lines); anything else is skipped (shipment plans
    are not the unit job's), undecodable lines raise with their number."""
    out: list[Record] = []
    for n, line in enumerate(lines, 1):
        raw = line.encode() if isinstance(line, str) else line
        if not raw.strip():
            continue
        try:
            record = decode_input(raw)
        except DecodeError as exc:
            raise ValueError(f"line {n}: {exc}") from exc
        if isinstance(record, Plan | TrackingEvent | ClockTick):
            out.append(record)
    return out


def run(records: list[Record], policy: TrackingPolicy, partitions: int = 4, *, learning: bool = True,
        prior: Mapping[str, Sketch] | None = None, min_samples: int = 8) -> tuple[Engine, list[dict]]:  # fmt: skip
    """The unit job over `records` as a replay routes them; returns the engine and its ETA updates (decoded)."""
    topics = TopicNames()
    engine = Engine({}, {}, topics, policy, learning=learning, prior=prior, min_samples=min_samples)
    eta_topic = topics.name("eta")
    etas: list[dict] = []
    for record in canonical_order(records):
        raw = record.model_dump_json().encode()
        if isinstance(record, ClockTick):
            outs = [o for p in range(partitions) for o in engine.process(topics.name("clock"), p, None, None, raw)]
        else:
            key = record.unit.id.encode()
            role = "plan" if isinstance(record, Plan) else "event"
            outs = engine.process(topics.name(role), partition_for(key, partitions), None, key, raw)
        etas += [orjson.loads(o.value) for o in outs if o.topic == eta_topic]
    engine.flush()
    return engine, etas


def todays_rules(policy: TrackingPolicy) -> TrackingPolicy:
    """The ETA rules before learning: the plan alone (run with learning off), published on median moves only."""
    return replace(policy, eta_band_shift=None, eta_relative_shift=0.0)


def learn(records: list[Record], policy: TrackingPolicy, partitions: int = 4, *, calibrate: bool = False,
          min_samples: int = 8) -> dict[str, Sketch]:  # fmt: skip
    """What the engine learned from `records`, merged over partitions; with `calibrate`, also where the history's
    actual arrivals fell in bands made by a model that had not learned from their departures
    (`heldout_band_errors`; `streams.core.learning.calibration`)."""
    engine, _ = run(records, policy, partitions, min_samples=min_samples)
    assert engine.knowledge is not None
    model = engine.knowledge.merged()
    if calibrate:
        for key, value in heldout_band_errors(records, policy, partitions, min_samples):
            model.setdefault(key, Sketch()).add(value)
    return model


CALIBRATION_DAYS = (0.5, 1, 2, 3, 5, 7, 10, 14)  # before each actual arrival: when the standing band is measured
Departure = tuple[str, ...]


def departure(plan: Plan) -> Departure:
    """What a unit rides: its lane and each leg's service reference and planned departure. Units with the same
    departure share their train's, sailing's or flight's delays: one departure, not one unit, is what an error
    measured on a history is independent over."""
    return (plan.lane or NO_LANE, *(f"{leg.reference}@{leg.planned_departure.isoformat()}" for leg in plan.legs))


def departure_folds(records: list[Record]) -> tuple[dict[str, Departure], tuple[set[str], set[str]]]:
    """Each unit's departure, and the history's units in two halves by departure: all the units of a departure
    in one half, departures alternating in their sorted order (a lane's consecutive trains or sailings go to
    alternate halves, so each half spans the whole history). Deterministic: by each unit's latest plan."""
    latest: dict[str, Plan] = {}
    for r in records:
        if isinstance(r, Plan) and (r.unit.id not in latest or (r.revision, r.issued_time) >=
                                    (latest[r.unit.id].revision, latest[r.unit.id].issued_time)):  # fmt: skip
            latest[r.unit.id] = r
    deps = {u: departure(p) for u, p in latest.items()}
    half = {d: i % 2 for i, d in enumerate(sorted(set(deps.values())))}
    folds: tuple[set[str], set[str]] = (set(), set())
    for unit, d in deps.items():
        folds[half[d]].add(unit)
    return deps, folds


def heldout_band_errors(records: list[Record], policy: TrackingPolicy, partitions: int = 4,
                        min_samples: int = 8) -> list[tuple[str, float]]:  # fmt: skip
    """Cross-fitted by departure: each half of the history's departures (`departure_folds`) replayed from the
    prior the other half taught, as a deployment replays a new month from the last one's prior, and its standing
    bands measured against its actual arrivals (`band_errors`). A band is never measured against departures its
    model learned from: measured on the same units, the errors of a month's ~20 departures per lane looked
    smaller than the next month's and the calibration narrowed the bands far too much (docs/learning.md).

    A lane is measured only where the teaching half held at least `min_samples` of its departures (the sample
    floor, counted in independent departures): a half-model learned from fewer is much weaker than the whole
    history's, and its errors would widen the whole model's bands (20 units per corridor: 10 departures a lane)."""
    deps, folds = departure_folds(records)
    out: list[tuple[str, float]] = []
    for teach, test in ((folds[0], folds[1]), (folds[1], folds[0])):
        taught: dict[str, set[Departure]] = defaultdict(set)
        for unit in teach:
            taught[deps[unit][0]].add(deps[unit])
        lanes = {lane for lane, ds in taught.items() if len(ds) >= min_samples}
        if not lanes:
            continue
        mine = [r for r in records if isinstance(r, ClockTick) or r.unit.id in teach]
        theirs = [r for r in records if isinstance(r, ClockTick) or r.unit.id in test]
        teacher, _ = run(mine, policy, partitions, min_samples=min_samples)
        assert teacher.knowledge is not None
        _, etas = run(theirs, policy, partitions, prior=teacher.knowledge.merged(), min_samples=min_samples)
        out += band_errors(theirs, etas, warm_only=False, lanes=lanes)
    return out


def band_errors(records: list[Record], etas: list[dict], *, warm_only: bool = True,
                lanes: set[str] | None = None) -> list[tuple[str, float]]:  # fmt: skip
    """Each unit's standing ETA band at `CALIBRATION_DAYS` before its actual final arrival, against it. With
    `warm_only`, only the units whose first band came after half the history's units had theirs (a run that
    learns as it goes from nothing: the early bands were made from little learned). `lanes`: only those lanes'
    units (by their plan's lane, `NO_LANE` for none)."""
    out: list[tuple[str, float]] = []
    by_unit: dict[str, list[tuple[datetime, tuple[datetime, datetime, datetime], bool]]] = defaultdict(list)
    for e in etas:
        p50 = _ts(e["predicted_arrival"])
        band = (_ts(e.get("arrival_p10")) or p50, p50, _ts(e.get("arrival_p90")) or p50)
        by_unit[e["unit"]["id"]].append((_ts(e["as_of"]), band, "model: plan" not in e.get("reason", "")))
    for series in by_unit.values():
        series.sort(key=lambda u: u[0])
    firsts = sorted(series[0][0] for series in by_unit.values())
    warm = (firsts[len(firsts) // 2] if warm_only else firsts[0]) if firsts else None
    for unit, t in truths(records).items():
        series = by_unit.get(unit)
        if not series or warm is None or series[0][0] < warm or (lanes is not None and t.lane not in lanes):
            continue
        for days in CALIBRATION_DAYS:
            st = _standing([(u[0], u) for u in series], t.arrival - timedelta(days=days))
            if st is not None:
                out += calibration.observe(t.lane, st[0], st[1], st[2], t.arrival)
    return out


def write_prior(model: Mapping[str, Sketch]) -> bytes:
    return encode_model(model)


def read_prior(raw: bytes) -> dict[str, Sketch]:
    return decode_model(raw)


@dataclass
class Truth:
    lane: str
    arrival: datetime  # actual arrival at the final destination
    plans: list[tuple[datetime, datetime]] = field(default_factory=list)  # (issued, planned arrival)
    estimates: list[tuple[datetime, datetime]] = field(default_factory=list)  # (received, estimated arrival)


def truths(records: list[Record]) -> dict[str, Truth]:
    """Per unit whose final arrival (under its latest plan) happened: its lane, arrival, plans and estimates."""
    plans: dict[str, list[Plan]] = defaultdict(list)
    events: dict[str, list[TrackingEvent]] = defaultdict(list)
    for r in records:
        if isinstance(r, Plan):
            plans[r.unit.id].append(r)
        elif isinstance(r, TrackingEvent) and not r.retracted:
            events[r.unit.id].append(r)
    out: dict[str, Truth] = {}
    for unit, ps in plans.items():
        latest = max(ps, key=lambda p: (p.revision, p.issued_time))
        dest = latest.legs[-1].destination
        first_dep = latest.legs[0].planned_departure
        arrivals = [e.event_time for e in events[unit] if e.classifier is Classifier.ACTUAL and e.location == dest
                    and e.milestone in (Milestone.ARRIVED, Milestone.DISCHARGED) and e.event_time > first_dep]
        if not arrivals:
            continue
        truth = Truth(latest.lane or NO_LANE, min(arrivals))
        truth.plans = sorted((p.issued_time, p.legs[-1].planned_arrival) for p in ps)
        truth.estimates = sorted({(e.received_time, e.event_time) for e in events[unit]
                                  if e.classifier is Classifier.ESTIMATED and e.location == dest
                                  and e.milestone is Milestone.ARRIVED})  # fmt: skip
        out[unit] = truth
    return out


def _standing(series: list[tuple[datetime, datetime]], at: datetime) -> datetime | None:
    value = None
    for t, v in series:
        if t > at:
            break
        value = v
    return value


@dataclass
class Score:
    errors: dict[tuple[str, int], list[float]] = field(default_factory=lambda: defaultdict(list))  # (who, days)
    covered: dict[int, list[bool]] = field(default_factory=lambda: defaultdict(list))
    updates: int = 0
    unit_days: float = 0.0
    updates_today: int = 0
    unit_days_today: float = 0.0
    units: int = 0


def score(records: list[Record], etas: list[dict], baseline: list[dict] | None = None) -> dict[str, Score]:
    """Scores per lane and overall ("all"). `baseline`: another engine's ETA updates (today's rules), scored as
    "today" beside "corridor"."""
    truth = truths(records)
    scores: dict[str, Score] = defaultdict(Score)
    by_unit = _by_unit(etas)
    base_by_unit = _by_unit(baseline or [])
    for unit, t in truth.items():
        ups = by_unit.get(unit, [])
        for lane in (t.lane, "all"):
            s = scores[lane]
            s.units += 1
            if ups:
                s.updates += sum(1 for u in ups if u[0] <= t.arrival)
                s.unit_days += max((t.arrival - ups[0][0]) / timedelta(days=1), 1.0)
            base = base_by_unit.get(unit)
            if base:
                s.updates_today += sum(1 for u in base if u[0] <= t.arrival)
                s.unit_days_today += max((t.arrival - base[0][0]) / timedelta(days=1), 1.0)
            for days in HORIZONS_DAYS:
                at = t.arrival - timedelta(days=days)
                for who, series in (("corridor", ups), ("today", base_by_unit.get(unit))):
                    if not series:
                        continue
                    st = _standing([(u[0], u) for u in series], at)
                    if st is not None:
                        s.errors[(who, days)].append(abs((st[1] - t.arrival) / timedelta(hours=1)))
                        if who == "corridor":
                            s.covered[days].append(st[2] <= t.arrival <= st[3])
                sched = _standing(t.plans, at)
                if sched is not None:
                    s.errors[("schedule", days)].append(abs((sched - t.arrival) / timedelta(hours=1)))
                est = _standing(t.estimates, at)
                if est is not None:
                    s.errors[("carrier", days)].append(abs((est - t.arrival) / timedelta(hours=1)))
    return dict(scores)


def _by_unit(etas: list[dict]) -> dict[str, list[tuple[datetime, datetime, datetime, datetime]]]:
    out: dict[str, list] = defaultdict(list)
    for e in etas:
        p50 = _ts(e["predicted_arrival"])
        out[e["unit"]["id"]].append((_ts(e["as_of"]), p50, _ts(e.get("arrival_p10")) or p50,
                                     _ts(e.get("arrival_p90")) or p50))  # fmt: skip
    for series in out.values():
        series.sort(key=lambda u: u[0])
    return out


def _ts(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v.replace("Z", "+00:00")) if v else None


def render(scores: dict[str, Score], with_today: bool) -> str:
    """The backtest as a text table: MAE in hours per lane, horizon and predictor; coverage; updates."""
    who = ["corridor", *(["today"] if with_today else []), "schedule", "carrier"]
    head = ["lane", "days", *[f"{w} MAE h" for w in who], "cut vs sched", "p10-p90 cover", "units"]
    rows = [head]
    for lane in sorted(scores, key=lambda k: (k == "all", k)):
        s = scores[lane]
        for days in HORIZONS_DAYS:
            maes = {w: (mean(s.errors[(w, days)]) if s.errors.get((w, days)) else None) for w in who}
            cut = (1 - maes["corridor"] / maes["schedule"]) if maes["corridor"] is not None and maes["schedule"] \
                else None  # fmt: skip
            cov = s.covered.get(days)
            rows.append([lane, str(days), *[f"{maes[w]:.1f}" if maes[w] is not None else "-" for w in who],
                         f"{cut:.0%}" if cut is not None else "-",
                         f"{sum(cov) / len(cov):.0%}" if cov else "-", str(len(s.errors.get(("corridor", days), [])))])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.append("")
    lines.append("ETA updates per unit per day (first update to arrival):")
    for lane in sorted(scores, key=lambda k: (k == "all", k)):
        s = scores[lane]
        cov = [c for days in HORIZONS_DAYS for c in s.covered.get(days, [])]
        today = f" (today's rules: {s.updates_today / s.unit_days_today:.2f})" if s.unit_days_today else ""
        lines.append(f"  {lane}: {s.updates / s.unit_days if s.unit_days else 0:.2f}{today} over {s.units} units"
                     + (f"; p10-p90 coverage over all horizons {sum(cov) / len(cov):.0%}" if cov else ""))
    return "\n".join(lines)


def updates_per_unit_day(scores: dict[str, Score], lane: str = "all") -> float:
    s = scores[lane]
    return s.updates / s.unit_days if s.unit_days else 0.0
