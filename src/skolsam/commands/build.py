"""skolsam build [--warehouse-url URL] [--terms HT2025 VT2026 ...] [--no-gate] [--no-publish]

The same steps as the skolsam_build_warehouse DAG (skolsam.services): staging gate and match rate,
core and candidates, mart gate, publish, each under the staging lock where it reads staging."""

from __future__ import annotations

import argparse

NAME = "build"
HELP = ("Build core and the marts from staging: the staging quality gate and match rate, candidates in "
        "mart_candidate, the mart quality gate, then publish mart.participant_term and mart.group_term for the "
        "terms built (the DAG's steps). The warehouse must be migrated (skolsam warehouse migrate).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--warehouse-url", help="use this PostgreSQL instead of SKOLSAM_WAREHOUSE_URL / the embedded one")
    p.add_argument("--terms", nargs="+", metavar="TERM",
                   help="terms to build, e.g. HT2025 VT2026 (default: every term with grades or participation)")
    p.add_argument("--no-gate", action="store_true",
                   help="skip the quality gates and the match rate (a developer's shortcut; the DAG never does)")
    p.add_argument("--no-publish", action="store_true", help="prepare the candidates only; leave the marts as they are")


def run(args: argparse.Namespace) -> int:
    from .. import services
    from ..settings import Settings
    from ..warehouse import build, connection

    url = connection.resolve_url(args.warehouse_url)
    services.check_schema(url)
    terms = [t.strip() for raw in args.terms for t in raw.split(",") if t.strip()] if args.terms else None
    result = services.build_all(url, Settings.load(), terms, gate=not args.no_gate,
                                staging_checks=not args.no_gate, publish_marts=not args.no_publish)

    print(f"build {result['build_id']} in {result['seconds']:.1f}s, terms: {', '.join(result['terms']) or 'none'}")
    for table in ("core.dim_pupil", "core.fact_grade", "core.fact_participation",
                  "mart_candidate.participant_term", "mart_candidate.group_term"):
        print(f"  {table}: {result['rows'].get(table, 0)} rows")
    if result["suppressed"]:
        print("  suppressed group rows: " + ", ".join(f"{k} {v}" for k, v in sorted(result["suppressed"].items())))
    if result["unmatched_participants"]:
        print("  participants not found in SS 12000 (left out): "
              + ", ".join(f"{t} {n}" for t, n in sorted(result["unmatched_participants"].items())))
    if result.get("published"):
        for table in build.MART_TABLES:
            p = result["published"][table]
            print(f"  published mart.{table}: {p['inserted']} rows ({p['deleted']} replaced)")
    else:
        print("  not published (--no-publish)")
    return 0
