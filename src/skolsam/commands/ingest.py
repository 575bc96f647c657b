"""skolsam ingest [--landing DIR|URL] [--file PATH ...] [--warehouse-url URL] [--json]"""

from __future__ import annotations

import argparse
import json

NAME = "ingest"
HELP = ("Load enrollment lists: every new file in the landing folder (archived or rejected afterwards), "
        "or the files named with --file (left in place).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--landing", help="landing folder, a path or an fsspec URL (default: setting enrollment_landing, "
                                     "else $SKOLSAM_HOME/landing)")
    p.add_argument("--file", action="append", default=[], metavar="PATH",
                   help="load this file only (repeatable); it is not moved")
    p.add_argument("--warehouse-url", help="PostgreSQL URL (default: SKOLSAM_WAREHOUSE_URL or the embedded server)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    from .. import services
    from ..enrollment.intake import LandingNotFound, ingest_file, summarise
    from ..pseudonym import default as default_pseudonymiser
    from ..settings import Settings
    from ..warehouse import connection

    settings = Settings.load()
    url = connection.resolve_url(args.warehouse_url)
    services.check_schema(url)
    pseudonymiser = default_pseudonymiser()
    if args.file:
        files = [ingest_file(f, url, pseudonymiser, settings) for f in args.file]
        summary = {**summarise([]), "files": files}
        for s in ("loaded", "rejected", "skipped", "failed"):
            summary[s] = sum(1 for f in files if f["status"] == s)
        for k in ("rows_read", "rows_loaded", "rows_quarantined", "rows_erased"):
            summary[k] = sum(f[k] for f in files)
        summary["changed"] = summary["loaded"] > 0
    else:
        try:
            summary = services.ingest_landing(url, pseudonymiser, settings, args.landing)
        except LandingNotFound as exc:
            print(f"skolsam ingest: {exc}")
            return 2
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        for f in summary["files"]:
            extra = f" ({f['reason']})" if f.get("reason") else ""
            print(f"{f['name']}: {f['status']}{extra}: {f['rows_read']} read, {f['rows_loaded']} loaded, "
                  f"{f['rows_quarantined']} quarantined, {f['rows_erased']} erased")
        print(f"{len(summary['files'])} file(s): {summary['loaded']} loaded, {summary['rejected']} rejected, "
              f"{summary['skipped']} skipped, {summary['failed']} failed")
    return 1 if summary["failed"] else 0
