"""skolsam bench [--pupils N] [--json]"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "bench"
HELP = "Run the pipeline at a given size (default city scale) and print time, throughput and memory per stage."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pupils", type=int, default=100000)  # DESIGN 7: the city, förskoleklass to year 9
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--terms", default="HT2025,VT2026")
    p.add_argument("--warehouse-url", help="PostgreSQL server to use (a database skolsam_bench is recreated)")
    p.add_argument("--json", action="store_true", help="print one JSON object (progress goes to stderr)")


def run(args: argparse.Namespace) -> int:
    from ..bench import run_bench

    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    result = run_bench(args.pupils, args.seed, args.terms.split(","), args.warehouse_url, log=log)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        for k in ("pupils", "total_seconds", "peak_rss_mb", "extract_records", "extract_records_per_second",
                  "load_seconds", "copy_seconds", "load_vs_copy"):
            print(f"{k:>28}: {result[k]}")
    return 0
