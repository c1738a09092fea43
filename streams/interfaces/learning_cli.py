"""`corridor learn` and `corridor backtest`: learning from history (docs/learning.md).
`register(app)` adds them to the `corridor` command (streams/cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streams.settings import Settings

err = Console(stderr=True)


def _settings(**overrides: object) -> Settings:
    return Settings().model_copy(update={k: v for k, v in overrides.items() if v is not None})


def _history(path: Path) -> list:
    from streams.processing.backtest import read_history

    with open(path, "rb") as f:
        return read_history(f)


def learn(
    history: Annotated[Path, typer.Argument(help="a replay file (JSON lines of plans, events, clock ticks) or the "
                                             "Parquet export's directory")],
    out: Annotated[Path, typer.Option(help="where to write what was learned (CORRIDOR_LEARNED_PRIOR reads it)")] =
        Path("learned.json"),
    partitions: Annotated[int | None, typer.Option(help="partitions to route by, as the live topics")] = None,
    calibrate: Annotated[bool, typer.Option(help="also measure where the history's arrivals fell in ETA bands made "
                                              "without their departures, to calibrate published bands (replay files "
                                              "only)")] = True,
) -> None:
    """Learn segment transit, hub dwell and source estimate error from history, as a prior for the workers."""
    from streams.processing.backtest import learn as run_learn
    from streams.processing.backtest import write_prior

    settings = _settings(partitions=partitions)
    if history.is_dir():  # the Parquet export
        from streams.processing.learn_export import learn_export

        model = learn_export(history, settings.tracking_policy())
        if calibrate:  # the export has no ETA bands to measure: say so rather than skip it silently
            err.print("calibration not measured: it needs a replay file (the Parquet export holds no ETA bands)")
    else:
        model = run_learn(_history(history), settings.tracking_policy(), settings.partitions, calibrate=calibrate,
                          min_samples=settings.learn_min_samples)
    out.write_bytes(write_prior(model))
    err.print(f"learned {len(model)} distributions from {sum(s.n for s in model.values())} observations: {out}")


def backtest(
    history: Annotated[Path | None, typer.Argument(help="replay file to test on; default: a simulated history "
                                                    "(--seed)")] = None,
    train: Annotated[Path | None, typer.Option(help="history to learn from first (default: --train-seed's)")] = None,
    prior: Annotated[Path | None, typer.Option(help="start from this `corridor learn` output instead")] = None,
    seed: Annotated[int, typer.Option(help="simulator seed of the test history")] = 2,
    train_seed: Annotated[int, typer.Option(help="simulator seed of the training history")] = 1,
    units: Annotated[int, typer.Option(help="simulated units per corridor")] = 40,
    partitions: Annotated[int | None, typer.Option(help="partitions to route by, as the live topics")] = None,
    calibrate: Annotated[bool, typer.Option(help="calibrate the bands by the training history's held-out errors "
                                              "(docs/learning.md, Calibration)")] = True,
) -> None:
    """ETA error at 14, 7, 3 and 1 days before arrival, per lane: corridor, today's rules (no learning), schedule
    and carriers' estimates; p10-p90 coverage; ETA updates per unit per day."""
    from datetime import timedelta

    from streams.processing import backtest as bt
    from streams.sim.phenomena import REALISM
    from streams.sim.scenario import generate

    settings = _settings(partitions=partitions)
    policy, parts = settings.tracking_policy(), settings.partitions
    train_sim = None
    if history is None or (train is None and prior is None):
        train_sim = generate(seed=train_seed, units_per_corridor=units, realism=REALISM)
    if history is None:
        assert train_sim is not None
        test = [r.record for r in generate(seed=seed, units_per_corridor=units, realism=REALISM,
                                           start=train_sim.end + timedelta(days=1)).records]  # fmt: skip
    else:
        test = _history(history)
    if prior is not None:
        model = bt.read_prior(prior.read_bytes())
    elif train is not None:
        model = bt.learn(_history(train), policy, parts, calibrate=calibrate, min_samples=settings.learn_min_samples)
    else:
        assert train_sim is not None
        model = bt.learn([r.record for r in train_sim.records], policy, parts, calibrate=calibrate,
                         min_samples=settings.learn_min_samples)
    _, etas = bt.run(test, policy, parts, prior=model, min_samples=settings.learn_min_samples)
    _, today = bt.run(test, bt.todays_rules(policy), parts, learning=False)
    print(bt.render(bt.score(test, etas, today), with_today=True))


def register(app: typer.Typer) -> None:
    app.command()(learn)
    app.command()(backtest)
