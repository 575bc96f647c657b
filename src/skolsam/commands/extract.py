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
        "--dataset to serve a dataset folder with the stand-in server for the length of the run (a dataset of "
        "several school systems: one server and one extraction per source, each under its own id).")


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
                                   "history_start_term on at the first run, then the current term (and the previous "
                                   "one for closed_term_reread_days after it ended)")
    p.add_argument("--page-size", type=int, default=None, help="limit asked per page (default: setting)")
    p.add_argument("--warehouse-url", help="PostgreSQL URL (default: SKOLSAM_WAREHOUSE_URL or the embedded one)")
    p.add_argument("--source", default=None,
                   help="source id the rows are loaded as (with --base-url; default: the one-system 'ss12000'); "
                        "with a multi-source --dataset: extract only this one of its sources")
    p.add_argument("--json", action="store_true", help="print the summaries as JSON only")


def run(args: argparse.Namespace) -> int:
    from .. import services
    from ..pseudonym import default as default_pseudonymiser
    from ..settings import Settings
    from ..ss12000.extract import ENTITIES, ExtractError
    from ..warehouse import connection

    settings = Settings.load()
    entities = args.entities or list(ENTITIES)
    unknown = [e for e in entities if e not in ENTITIES]
    if unknown:
        print(f"unknown entity {unknown[0]}; choose among {', '.join(ENTITIES)}", file=sys.stderr)
        return 2
    url = connection.resolve_url(args.warehouse_url)
    services.check_schema(url)
    secret = args.client_secret or os.environ.get("SKOLSAM_SS12000_CLIENT_SECRET")
    summaries: list[dict] = []

    def show(s: dict) -> None:
        summaries.append(s)
        if not args.json:
            print(f"{s['entity']:22s} read {s['rows_read']:>9} loaded {s['rows_loaded']:>9} "
                  f"quarantined {s['rows_quarantined']:>6} deleted {s['rows_deleted']:>6} "
                  f"in {s['seconds']:.1f}s  watermark {s['watermark'] or '-'}")

    failed: list[str] = []
    with contextlib.ExitStack() as stack:
        if args.dataset is not None:
            from ..standin.dataset import dataset_sources
            from ..standin.running import running_server

            secret = secret or "skolsam"
            folders = dataset_sources(args.dataset)
            multi = list(folders.values()) != [args.dataset]
            if multi and args.source:
                if args.source not in folders:
                    print(f"the dataset holds no source {args.source} (it has {', '.join(folders)})", file=sys.stderr)
                    return 2
                folders = {args.source: folders[args.source]}
            # A one-system dataset is loaded as --source (default: the one-system 'ss12000', as before);
            # a dataset of several systems as each source's own id, one stand-in server per source.
            targets = [(sid if multi else args.source,
                        stack.enter_context(running_server(folder, client_id=args.client_id, client_secret=secret,
                                                           demo=True)))
                       for sid, folder in folders.items()]
        else:
            if not secret:
                print("a client secret is needed (--client-secret or SKOLSAM_SS12000_CLIENT_SECRET)", file=sys.stderr)
                return 2
            targets = [(args.source, args.base_url)]
        for source, base in targets:
            api = services.ss12000_api(base, args.client_id, secret, token_url=args.token_url,
                                       page_size=args.page_size, settings=settings)
            try:  # a failing entity (or source) does not stop the others; the exit code says it failed
                services.extract_all(url, api, default_pseudonymiser(), settings, entities=entities,
                                     full_refresh=args.full_refresh, terms=args.terms, on_entity=show,
                                     on_error=lambda exc: print(str(exc), file=sys.stderr), source=source)
            except ExtractError as exc:
                failed += [f"{source}:{e}" if source else e for e in exc.failed]
        if args.json:
            print(json.dumps(summaries, indent=2))
    if failed:
        print(f"failed: {', '.join(failed)} (see audit.load_run)", file=sys.stderr)
        return 1
    return 0
