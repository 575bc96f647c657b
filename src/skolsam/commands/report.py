"""skolsam report [--term VT2026] [--out DIR] [--warehouse-url URL] [--no-pdf]

Always a preliminary report: a report says "Slutlig" only when an analyst approved its draft (the termly
report DAG's sign-off, skolsam.publication.signoff), with the sign-off date on it."""

from __future__ import annotations

import argparse

NAME = "report"
HELP = (
    "Write the termly follow-up report: a self-contained HTML page and the same document as an A4 PDF "
    "(printed by headless Chromium); default term: the latest in the mart."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--term", help="term to report, e.g. VT2026 (default: the latest term in mart.group_term)")
    p.add_argument("--out", help="output folder (default: $SKOLSAM_HOME/reports/<term>)")
    p.add_argument("--warehouse-url", help="use this PostgreSQL instead of SKOLSAM_WAREHOUSE_URL or the embedded one")
    p.add_argument("--no-pdf", action="store_true", help="write the HTML only")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..report import ReportError, build_report, latest_term
    from ..settings import Settings, project_home
    from ..terms import parse_term
    from ..warehouse.connection import resolve_url

    url = resolve_url(args.warehouse_url)
    try:
        term = parse_term(args.term).name if args.term else latest_term(url)
        if term is None:
            print("mart.group_term is empty: build the warehouse first (skolsam build)")
            return 1
        out = Path(args.out) if args.out else project_home() / "reports" / term
        path = build_report(url, term, out, settings=Settings.load(), pdf=not args.no_pdf)
    except (ReportError, ValueError) as exc:
        print(f"no report: {exc}")
        return 1
    print(f"report for {term}: {path}")
    pdf = path.with_suffix(".pdf")
    if pdf.exists() and not args.no_pdf:
        print(f"pdf: {pdf}")
    elif not args.no_pdf:
        print("no PDF: headless Chromium was not found (install chromium; the HTML is the whole report)")
    return 0
