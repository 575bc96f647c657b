"""Extraction throughput: the stand-in server over a dataset (in a child process, so it does not share
this process's GIL), a full extract of every entity into a warehouse, records per second.

``records`` counts the records the API answered with (what the extract reads: objects, deletion ids and
the per-window attendance sums), ``seconds`` the wall time of the whole extract (fetch, checks,
pseudonymisation, COPY, merge, commit) without the server's one-time indexing, which is reported apart.
"""

from __future__ import annotations

import logging
import resource
import time
from pathlib import Path
from typing import Sequence

import orjson

from ..pseudonym import Pseudonymiser, default
from ..warehouse import migrate
from ..ss12000.extract import ENTITIES, ApiConfig, extract_entity
from .running import running_server

log = logging.getLogger(__name__)


def dataset_terms(dataset: Path) -> list[str] | None:
    """The terms the generator wrote the dataset for (its manifest), if known."""
    manifest = Path(dataset) / "manifest.json"
    if manifest.exists():
        terms = orjson.loads(manifest.read_bytes()).get("terms")
        if terms:
            return list(terms)
    return None


def run_extract_benchmark(
    dataset: Path,
    warehouse_url: str,
    *,
    page_size: int = 10_000,
    pseudonymiser: Pseudonymiser | None = None,
    terms: Sequence[str] | None = None,
    entities: Sequence[str] = ENTITIES,
    in_process_server: bool = False,
) -> dict:
    """Full extract (``full_refresh``) of ``dataset`` into ``warehouse_url`` through the stand-in server.

    Returns {"records", "seconds", "records_per_second", "index_seconds", "page_size", "peak_rss_mb",
    "entities": {entity: {"records", "loaded", "seconds", "records_per_second", "pages"}}}.
    """
    dataset = Path(dataset).resolve()
    pseudonymiser = pseudonymiser or default()
    terms = list(terms) if terms else dataset_terms(dataset)
    migrate.migrate(warehouse_url)
    t_index = time.perf_counter()
    with running_server(dataset, in_process=in_process_server, max_page_size=max(page_size, 10_000),
                        demo=True) as base_url:
        index_seconds = time.perf_counter() - t_index
        api = ApiConfig(base_url, base_url + "/token", "skolsam", "skolsam", page_size)
        per_entity: dict[str, dict] = {}
        t0 = time.perf_counter()
        with api.client() as client:
            for entity in entities:
                summary = extract_entity(entity, warehouse_url, api, pseudonymiser, full_refresh=True,
                                         terms=terms, client=client)
                per_entity[entity] = {
                    "records": summary["rows_read"],
                    "loaded": summary["rows_loaded"],
                    "quarantined": summary["rows_quarantined"],
                    "seconds": summary["seconds"],
                    "stream_seconds": summary.get("stream_seconds"),
                    "records_per_second": round(summary["rows_read"] / summary["seconds"]) if summary["seconds"] else None,
                    "pages": summary["pages"],
                }
        seconds = time.perf_counter() - t0
    records = sum(e["records"] for e in per_entity.values())
    result = {
        "records": records,
        "seconds": round(seconds, 3),
        "records_per_second": round(records / seconds) if seconds else None,
        "index_seconds": round(index_seconds, 3),
        "page_size": page_size,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "entities": per_entity,
    }
    log.info("extract benchmark: %d records in %.1fs = %d records/s", records, seconds,
             result["records_per_second"] or 0)
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m skolsam.standin.bench DATASET [--warehouse-url URL] [--page-size N]``: prints the JSON."""
    import argparse
    import json

    from ..warehouse.connection import resolve_url

    p = argparse.ArgumentParser(prog="python -m skolsam.standin.bench", description=main.__doc__)
    p.add_argument("dataset", type=Path)
    p.add_argument("--warehouse-url", help="a migrated (or empty) database; default SKOLSAM_WAREHOUSE_URL or embedded")
    p.add_argument("--page-size", type=int, default=10_000)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = run_extract_benchmark(args.dataset, resolve_url(args.warehouse_url), page_size=args.page_size)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
