"""skolsam effects-check [--seeds 20] [--pupils 3000] [--effect PPSS=0.10,SkolFam=0,KP/KF=0] [--json]"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "effects-check"
HELP = ("Run the programme-effect estimator over many seeds of a small generated city with a planted effect "
        "and print its bias and the coverage of its 95 % interval.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", type=int, default=20, help="number of cities (seeds 1..N; default 20)")
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--pupils", type=int, default=3000, help="pupils per city (default 3000)")
    p.add_argument("--effect", default="PPSS=0.10,SkolFam=0,KP/KF=0",
                   help="planted rise in share passed per programme (default PPSS=0.10,SkolFam=0,KP/KF=0)")
    p.add_argument("--warehouse-url", help="PostgreSQL server to use (a database skolsam_effects_check is made)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from ..effects.check import format_table, run_check
    from .generate import parse_effects

    try:
        effects = parse_effects(args.effect)
    except ValueError as exc:
        print(f"skolsam effects-check: {exc}", file=sys.stderr)
        return 2
    result = run_check(args.seeds, args.pupils, effects, args.warehouse_url, args.first_seed,
                       log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0
