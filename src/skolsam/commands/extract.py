"""skolsam extract: SS 12000 entities into staging, outside Airflow (same code the DAG runs)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

NAME = "extract"
HELP = ("Extract SS 12000 entities into staging (incremental by default). Give --base-url of an API, or "
        "--dataset to serve a dataset folder with the stand-in server for the length of the run.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--base-url", help="SS 12000 base URL including /v2.0")
    src.add_argument("--dataset", type=Path, help="dataset folder to serve with the stand-in server")
    p.add_argument("--token-url", help="token endpoint (default: BASE_URL/token)")
    p.add_argument("--client-id", default=os.environ.get("SKOLSAM_SS12000_CLIENT_ID", "skolsam"))
    p.add_argument("--client-secret", default=None,
                   help="client secret (default: SKOLSAM_SS12000_CLIENT_SECRET, or 'skolsam' with --dataset)")
    p.add_argument("--entity", action="append", dest="entities", metavar="ENTITY",
                   help="entity to extract (repeatable; default: all, in dependency order)")
    p.add_argument("--full-refresh", action="store_true", help="ignore watermarks and replace staging")
    p.add_argument("--terms", help="terms to read, e.g. HT2025,VT2026 (a backfill); default: every term from "
                                   "history_start_term on at the first run, then the current and previous term")
    p.add_argument("--page-size", type=int, default=None, help="limit asked per page (default: setting)")
    p.add_argument("--warehouse-url", help="PostgreSQL URL (default: SKOLSAM_WAREHOUSE_URL or the embedded one)")
    p.add_argument("--json", action="store_true", help="print the summaries as JSON only")


def run(args: argparse.Namespace) -> int:
    from ..pseudonym import default as default_pseudonymiser
    from ..settings import Settings
    from ..ss12000.extract import ENTITIES, ApiConfig, ExtractError, extract_entity
    from ..standin.running import running_server
    from ..warehouse import connection, migrate

    settings = Settings.load()
    entities = args.entities or list(ENTITIES)
    unknown = [e for e in entities if e not in ENTITIES]
    if unknown:
        print(f"unknown entity {unknown[0]}; choose among {', '.join(ENTITIES)}", file=sys.stderr)
        return 2
    url = connection.resolve_url(args.warehouse_url)
    migrate.migrate(url)
    secret = args.client_secret or os.environ.get("SKOLSAM_SS12000_CLIENT_SECRET")
    page_size = args.page_size or settings.ss12000_page_size
    with contextlib.ExitStack() as stack:
        if args.dataset is not None:
            secret = secret or "skolsam"
            base = stack.enter_context(running_server(args.dataset, client_id=args.client_id, client_secret=secret,
                                                      demo=True))
        else:
            base = args.base_url
            if not secret:
                print("a client secret is needed (--client-secret or SKOLSAM_SS12000_CLIENT_SECRET)", file=sys.stderr)
                return 2
        api = ApiConfig(base, args.token_url or base.rstrip("/") + "/token", args.client_id, secret, page_size)
        pseudonymiser = default_pseudonymiser()
        summaries, failed = [], []
        for entity in entities:  # a failing entity does not stop the others; the exit code says it failed
            try:
                summaries.append(extract_entity(entity, url, api, pseudonymiser, full_refresh=args.full_refresh,
                                                terms=args.terms, settings=settings))
            except ExtractError as exc:
                print(str(exc), file=sys.stderr)
                failed.append(entity)
                continue
            if not args.json:
                s = summaries[-1]
                print(f"{entity:22s} read {s['rows_read']:>9} loaded {s['rows_loaded']:>9} "
                      f"quarantined {s['rows_quarantined']:>6} deleted {s['rows_deleted']:>6} "
                      f"in {s['seconds']:.1f}s  watermark {s['watermark'] or '-'}")
        if args.json:
            print(json.dumps(summaries, indent=2))
    if failed:
        print(f"failed: {', '.join(failed)} (see audit.load_run)", file=sys.stderr)
        return 1
    return 0
