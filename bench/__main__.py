"""python -m bench [--units N] [--durable] | python -m bench state [--units N] [--durable] |
python -m bench engine [--units N]"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("what", nargs="?", default="throughput", choices=["throughput", "state", "engine"])
    parser.add_argument("--units", type=int, default=None)
    parser.add_argument("--durable", action="store_true", help="on the durable embedded broker (s3:// on SeaweedFS)")
    args = parser.parse_args()
    if args.what == "throughput":
        from bench.throughput import main as run

        run(units=args.units or 20000, durable=args.durable)
    elif args.what == "state":
        from bench.state import main as run

        run(units=args.units or 1_000_000, durable=args.durable)
    else:
        from bench.engine import main as run

        run(["--units", str(args.units)] if args.units else [])


if __name__ == "__main__":
    main()
