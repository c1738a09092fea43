"""python -m bench [--units N] [--durable] | python -m bench state [--units N] [--durable] |
python -m bench engine [--units N] | python -m bench chaos [--runs N] ... |
python -m bench fanout [--units N] [--changes N] | python -m bench soak [--minutes M] [--rate R] |
python -m bench units-memory [--records N] [--sizes N,N,...]"""

from __future__ import annotations

import argparse


def main() -> None:
    import sys

    if sys.argv[1:2] == ["chaos"]:
        from bench.chaos import main as chaos

        chaos(sys.argv[2:])
        return
    if sys.argv[1:2] == ["fanout"]:
        from bench.fanout import main as fanout

        fanout(sys.argv[2:])
        return
    if sys.argv[1:2] == ["soak"]:
        from bench.soak import main as soak

        soak(sys.argv[2:])
        return
    if sys.argv[1:2] == ["units-memory"]:
        from bench.unit_memory import main as units_memory

        units_memory(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("what", nargs="?", default="throughput", choices=["throughput", "state", "engine"])
    parser.add_argument("--units", type=int, default=None)
    parser.add_argument("--durable", action="store_true", help="on the durable embedded broker (s3:// on SeaweedFS)")
    args, rest = parser.parse_known_args()  # the rest: options of `bench.engine` (--coalesce, --rounds)
    if rest and args.what != "engine":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.what == "throughput":
        from bench.throughput import main as run

        run(units=args.units or 20000, durable=args.durable)
    elif args.what == "state":
        from bench.state import main as run

        run(units=args.units or 1_000_000, durable=args.durable)
    else:
        from bench.engine import main as run

        run([*(["--units", str(args.units)] if args.units else []), *rest])


if __name__ == "__main__":
    main()
