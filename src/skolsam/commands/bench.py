"""skolsam bench [--pupils N] [--stages a,b] [--sources N] [--daily] [--growth [--sizes ...]] [--cold] [--json]"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "bench"
HELP = ("Run the pipeline at a given size (default city scale) and print time, rows and peak memory per stage, "
        "and its ratios to a plain COPY of the same rows.")

SUMMARY = ("pupils", "task_processes", "preload_seconds", "total_seconds", "peak_rss_mb", "extract_records", "extract_records_per_second",
           "extract_seconds", "load_seconds", "load_copy_seconds", "copy_seconds", "load_vs_copy",
           "extract_vs_copy", "total_vs_copy", "daily_seconds", "daily_vs_full", "dag_parse_seconds_max")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pupils", type=int, default=100000)  # DESIGN 7: the city, förskoleklass to year 9
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--terms", default="HT2025,VT2026")
    p.add_argument("--stages", help="comma-separated subset of extract,ingest,staging_gate,match_rate,prepare,"
                                    "mart_gate,publish,grants,report (the stages before the last one named run "
                                    "as set-up, outside the totals)")
    p.add_argument("--sources", type=int, default=1, help="school systems: the city split into N (generate --sources N), one stand-in and one "
                        "extract task per system")
    p.add_argument("--daily", action="store_true",
                   help="then apply one school day (new attendance, --grade-share of grades changed) and run the "
                        "incremental pipeline: daily_vs_full")
    p.add_argument("--grade-share", type=float, default=0.005, help="share of grades the daily run changes")
    p.add_argument("--stream", action="store_true",
                   help="national scale: generate straight into the stand-in's index; the big files stay placeholders")
    p.add_argument("--growth", action="store_true", help="run at each of --sizes; table, JSON and plot")
    p.add_argument("--sizes", default="25000,50000,100000,150000,200000")
    p.add_argument("--out-dir", type=Path, help="where --growth writes growth.json and growth.png "
                                                "(default $SKOLSAM_HOME/bench/growth)")
    p.add_argument("--warehouse-url", help="PostgreSQL server to use (a database skolsam_bench_<hash of SKOLSAM_HOME> is recreated)")
    p.add_argument("--cold", action="store_true",
                   help="start each stage's task process as a fresh interpreter that imports everything itself, "
                        "instead of forking it from a bench worker that preloaded GX and skolsam (as the "
                        "Celery worker does, skolsam.airflow.celery_config)")
    p.add_argument("--json", action="store_true", help="print one JSON object (progress goes to stderr)")


def run(args: argparse.Namespace) -> int:
    from ..bench import BenchError, run_bench
    from ..settings import project_home

    log = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else (lambda m: print(m, flush=True))
    options = dict(seed=args.seed, terms=args.terms.split(","), warehouse_url=args.warehouse_url, sources=args.sources,
                   cold=args.cold)
    if args.stages:
        options["stages"] = args.stages.split(",")
    try:
        if args.growth:
            from ..bench.growth import run_growth

            result = run_growth([int(s) for s in args.sizes.split(",")], log=log,
                                out_dir=args.out_dir or project_home() / "bench" / "growth", **options)
        else:
            result = run_bench(args.pupils, daily=args.daily, grade_share=args.grade_share, stream=args.stream,
                               log=log, **options)
    except BenchError as exc:
        print(f"skolsam bench: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    elif not args.growth:
        for k in SUMMARY:
            if k in result:
                print(f"{k:>28}: {result[k]}")
    return 0
