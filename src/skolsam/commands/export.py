"""skolsam export --term VT2026 --format csv|xlsx --out DIR [--warehouse-url URL]"""

from __future__ import annotations

import argparse

NAME = "export"
HELP = ("Export one term of the aggregate marts (mart.group_term, and mart.programme_effect and "
        "mart.target_group where they exist) as CSV files with a README or one Excel workbook; "
        "suppressed exactly as in the marts. No pupil-level table is ever exported.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--term", help="term, e.g. VT2026 (default: the latest term in mart.group_term)")
    p.add_argument("--format", choices=("csv", "xlsx"), default="xlsx", help="csv (Swedish Excel) or xlsx")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--warehouse-url", help="PostgreSQL URL; default: SKOLSAM_WAREHOUSE_URL or the embedded warehouse")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..export import ExportError, export_term
    from ..publication.provenance import term_provenance
    from ..report import ReportError, latest_term
    from ..warehouse.connection import resolve_url

    url = resolve_url(args.warehouse_url)
    try:
        term = args.term or latest_term(url)
        if term is None:
            print("mart.group_term is empty: build the warehouse first (skolsam build)")
            return 1
        prov = term_provenance(url, term)
        notes = [f"Bygge / build {prov.build_id or 'okänt'}, kvalitetskontroll / gate status {prov.gate_status}"]
        files = export_term(url, term, args.format, Path(args.out), notes=notes)
    except (ExportError, ReportError, ValueError) as exc:
        print(f"no export: {exc}")
        return 1
    for f in files:
        print(f)
    return 0
