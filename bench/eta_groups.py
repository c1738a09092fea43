"""Where the air lane's ETA error comes from at one horizon (issue #25; docs/learning.md, "The air lane at 3 days").

`python -m bench.eta_groups [--pairs 1/2,3/4,5/6] [--days 3] [--lane HKHKG-ESMAD]`: trains on the first simulator
seed of each pair and tests on the second, as `corridor backtest` does, then splits the lane's units by where they
were at that horizon before their actual arrival (not departed, in the air, at/after the hub) with each group's
corridor and schedule MAE; what an honest plan-only predictor (the plan plus the training seed's median delay)
does for the units not departed; and how the ETA did for the units on a customs hold at the hub then (reported,
not yet released: evidence the ETA uses). Slow (two simulations and a backtest per pair); a measurement, not a
test."""

from __future__ import annotations

import argparse
from collections import defaultdict
from datetime import timedelta
from statistics import mean, median

from schemas import Classifier, Milestone, TrackingEvent
from streams.processing import backtest as bt
from streams.settings import Settings
from streams.sim.phenomena import REALISM
from streams.sim.scenario import generate

H = timedelta(hours=1)
GROUPS = ("not departed", "in the air", "at/after the hub")


def _actuals(records: list) -> dict[str, list[TrackingEvent]]:
    out: dict[str, list[TrackingEvent]] = defaultdict(list)
    for r in records:
        if isinstance(r, TrackingEvent) and r.classifier is Classifier.ACTUAL and not r.retracted:
            out[r.unit.id].append(r)
    return out


def _holds(acts: list[TrackingEvent], hub: str, until: object = None) -> tuple[list, list]:
    held = [e.event_time for e in acts if e.milestone is Milestone.CUSTOMS_HOLD and e.location == hub
            and (until is None or e.event_time <= until)]  # fmt: skip
    freed = [e.event_time for e in acts if e.milestone is Milestone.CUSTOMS_RELEASED and e.location == hub
             and (until is None or e.event_time <= until)]  # fmt: skip
    return held, freed


def measure(train_seed: int, test_seed: int, days: float, lane: str, hub: str, units: int = 40) -> list[str]:
    settings = Settings()
    policy, parts = settings.tracking_policy(), settings.partitions
    train = generate(seed=train_seed, units_per_corridor=units, realism=REALISM)
    train_records = [r.record for r in train.records]
    test = [r.record for r in generate(seed=test_seed, units_per_corridor=units, realism=REALISM,
                                       start=train.end + timedelta(days=1)).records]  # fmt: skip
    _, etas = bt.run(test, policy, parts, prior=bt.learn(train_records, policy, parts),
                     min_samples=settings.learn_min_samples)  # fmt: skip
    truth, by_unit, acts = bt.truths(test), bt._by_unit(etas), _actuals(test)
    rows = []  # (unit, group, corridor error h, schedule error h): predicted - actual
    for unit, t in truth.items():
        if t.lane != lane:
            continue
        at = t.arrival - timedelta(days=days)
        st = bt._standing([(u[0], u) for u in by_unit.get(unit, [])], at)
        sched = bt._standing(t.plans, at)
        if st is None or sched is None:
            continue
        seen = [e for e in acts[unit] if e.event_time <= at]
        group = GROUPS[0] if not any(e.milestone is Milestone.DEPARTED for e in seen) else (
            GROUPS[1] if not any(e.location == hub for e in seen) else GROUPS[2])  # fmt: skip
        rows.append((unit, group, (st[1] - t.arrival) / H, (sched - t.arrival) / H))
    if not rows:
        return [f"seeds {train_seed}/{test_seed}: no {lane} unit has a standing ETA {days} days before arrival"]
    mae = mean(abs(r[2]) for r in rows)
    sched_mae = mean(abs(r[3]) for r in rows)
    out = [f"seeds {train_seed}/{test_seed}, {days:g} days before arrival, {lane}: {len(rows)} units; corridor MAE "
           f"{mae:.1f} h, schedule {sched_mae:.1f} h, cut {1 - mae / sched_mae:.0%}"]
    total = sum(abs(r[2]) for r in rows)
    for g in GROUPS:
        grp = [r for r in rows if r[1] == g]
        if grp:
            out.append(f"  {g:17s} {len(grp):3d} units: corridor MAE {mean(abs(r[2]) for r in grp):5.1f} h (mean error "
                       f"{mean(r[2] for r in grp):+5.1f} h), schedule {mean(abs(r[3]) for r in grp):5.1f} h, "
                       f"{sum(abs(r[2]) for r in grp) / total:.0%} of the error")
    # Before departure only the plan and history are known: the plan plus the lane's median delay in training.
    train_truth = bt.truths(train_records)
    delays = [(t.arrival - t.plans[-1][1]) / H for t in train_truth.values() if t.lane == lane]
    waiting = [r for r in rows if r[1] == GROUPS[0]]
    if delays and waiting:
        m = median(delays)
        out.append(f"  not departed, plan + training median delay ({m:+.1f} h): MAE "
                   f"{mean(abs(-r[3] - m) for r in waiting):.1f} h")
    # Holds are evidence in the ETA (streams/core/learning/holds.py): the units on a hold then (reported, not yet
    # released), and how their ETA did.
    held = []
    for unit, _, err, _ in rows:
        at = truth[unit].arrival - timedelta(days=days)
        holds, freed = _holds(acts[unit], hub, at)
        if holds and not freed:
            held.append(err)
    if held:
        out.append(f"  on a customs hold at {hub} then: {len(held)} units, corridor MAE "
                   f"{mean(abs(x) for x in held):.1f} h (mean error {mean(held):+.1f} h)")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.eta_groups")
    ap.add_argument("--pairs", default="1/2,3/4,5/6", help="train/test simulator seeds, comma-separated")
    ap.add_argument("--days", type=float, default=3.0)
    ap.add_argument("--lane", default="HKHKG-ESMAD")
    ap.add_argument("--hub", default="BELGG")
    args = ap.parse_args(argv)
    for pair in args.pairs.split(","):
        tr, te = (int(x) for x in pair.split("/"))
        print("\n".join(measure(tr, te, args.days, args.lane, args.hub)))


if __name__ == "__main__":
    main()
