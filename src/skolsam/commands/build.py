"""skolsam build [--warehouse-url URL] [--terms HT2025 VT2026 ...] [--no-gate] [--no-publish]"""

from __future__ import annotations

import argparse

NAME = "build"
HELP = ("Build core and the marts from staging: candidates in mart_candidate, the mart quality gate, then "
        "publish mart.participant_term and mart.group_term for the terms built.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--warehouse-url", help="use this PostgreSQL instead of SKOLSAM_WAREHOUSE_URL / the embedded one")
    p.add_argument("--terms", nargs="+", metavar="TERM",
                   help="terms to build, e.g. HT2025 VT2026 (default: every term with grades or participation)")
    p.add_argument("--no-gate", action="store_true", help="publish without the Great Expectations gate on the candidates")
    p.add_argument("--no-publish", action="store_true", help="prepare the candidates only; leave the marts as they are")


def run(args: argparse.Namespace) -> int:
    from ..settings import Settings
    from ..warehouse import build, connection, migrate

    url = connection.resolve_url(args.warehouse_url)
    migrate.migrate(url)
    terms = [t.strip() for raw in args.terms for t in raw.split(",") if t.strip()] if args.terms else None
    settings = Settings.load()
    if args.no_publish:
        result = build.prepare(url, settings, terms).as_dict()
    else:
        gate = None
        if not args.no_gate:
            from ..quality.gate import mart_gate

            def gate(warehouse_url: str, schema: str) -> None:
                mart_gate(warehouse_url, schema, settings=settings)

        result = build.build_warehouse(url, settings, terms, gate=gate)

    print(f"build {result['build_id']} in {result['seconds']:.1f}s, terms: {', '.join(result['terms']) or 'none'}")
    for table in ("core.dim_pupil", "core.fact_grade", "core.fact_participation",
                  "mart_candidate.participant_term", "mart_candidate.group_term"):
        print(f"  {table}: {result['rows'].get(table, 0)} rows")
    if result["suppressed"]:
        print("  suppressed group rows: " + ", ".join(f"{k} {v}" for k, v in sorted(result["suppressed"].items())))
    if result["unmatched_participants"]:
        print("  participants not found in SS 12000 (left out): "
              + ", ".join(f"{t} {n}" for t, n in sorted(result["unmatched_participants"].items())))
    if result["published"]:
        for table in build.MART_TABLES:
            p = result["published"][table]
            print(f"  published mart.{table}: {p['inserted']} rows ({p['deleted']} replaced)")
    else:
        print("  not published (--no-publish)")
    return 0
