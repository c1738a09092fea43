"""`python -m streams.security new-key --name NAME --customers A,B` (or `--customers '*'`): prints a new API key
once, and the entry for the keys file, which holds only its SHA-256."""

from __future__ import annotations

import argparse
import secrets
import sys

import yaml

from streams.security.credentials import key_digest
from streams.security.tenants import ALL, Tenant


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.security")
    sub = parser.add_subparsers(dest="command", required=True)
    new = sub.add_parser("new-key", help="make an API key and its keys-file entry")
    new.add_argument("--name", required=True, help="who the key is for (rate limits count per name)")
    new.add_argument("--customers", required=True, help="comma-separated customer names as on plans, or '*'")
    args = parser.parse_args(argv)
    names = ALL if args.customers.strip() == ALL else [c.strip() for c in args.customers.split(",") if c.strip()]
    try:
        Tenant.of(args.name, names)
    except ValueError as exc:
        parser.error(str(exc))
    key = secrets.token_urlsafe(32)
    entry = yaml.safe_dump([{"name": args.name, "sha256": key_digest(key), "customers": names}], sort_keys=False)
    print(f"API key (shown once; give it to {args.name}):\n  {key}\n\nadd to the keys file under `keys:`:")
    print("\n".join("  " + line for line in entry.splitlines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
