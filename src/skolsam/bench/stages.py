"""The bench's stages, child side: each runs in a task process of its own, as an Airflow task would, and
calls the same ``skolsam.services`` entry point the DAG task calls: by default a process forked from the
bench worker (:mod:`.worker`, preloaded as the Celery worker is), with ``--cold`` a fresh interpreter
(``python -m skolsam.bench.stages NAME ARGS``).

A stage prints one line ``BENCH_RESULT {json}``: ``rows`` (what it read or wrote), ``seconds`` (the service
call alone, without the interpreter's start and imports) and a few details (per entity, per suite, per
model). The parent reads the child's peak RSS from the kernel (:mod:`.harness`). Nothing here prints a
record: only counts, names and seconds.
"""

from __future__ import annotations

import json
import sys
import time

# In pipeline order. The DAGs: extract (skolsam_extract_education), ingest (skolsam_ingest_enrollment),
# staging_gate .. grants (skolsam_build_warehouse), report (skolsam_termly_report, its build_draft task).
STAGES = ("extract", "ingest", "staging_gate", "match_rate", "prepare", "mart_gate", "publish", "grants", "report")
# A stage that needs what an earlier one returned (the build id): it cannot run without it.
NEEDS = {"mart_gate": "prepare", "publish": "prepare"}
# The pipeline of DESIGN 7 (extract to marts); the report is timed but outside total_seconds.
PIPELINE = STAGES[:-1]


def _extract(args: dict, settings, pseudonymiser) -> dict:
    from .. import services

    api = services.ss12000_api(args["base_url"], "skolsam", "skolsam", settings=settings)
    per_entity: dict[str, dict] = {}

    def record(summary: dict) -> None:
        per_entity[summary["entity"]] = {
            "records": summary["rows_read"], "loaded": summary["rows_loaded"],
            "quarantined": summary["rows_quarantined"], "deleted": summary["rows_deleted"],
            "seconds": summary["seconds"], "stream_seconds": summary.get("stream_seconds"),
            "pages": summary["pages"],
        }

    t0 = time.perf_counter()
    where = {"source": args["source"]} if args.get("source") else {}  # one of several school systems
    services.extract_all(args["url"], api, pseudonymiser, settings, full_refresh=bool(args.get("full_refresh")),
                         terms=args.get("terms"), on_entity=record, **where)
    seconds = time.perf_counter() - t0
    records = sum(e["records"] for e in per_entity.values())
    return {"rows": records, "seconds": seconds, "records_per_second": round(records / seconds) if seconds else None,
            "entities": per_entity}


def run_stage(name: str, args: dict) -> dict:
    gx_preloaded = "great_expectations" in sys.modules  # asked first, as the build DAG's gate tasks ask it
    from .. import services
    from ..pseudonym import Pseudonymiser, load_key
    from ..settings import Settings

    url = args["url"]
    settings = Settings.load()
    pseudonymiser = Pseudonymiser(load_key())
    if name == "extract":
        return _extract(args, settings, pseudonymiser)
    t0 = time.perf_counter()
    if name == "ingest":
        out = services.ingest_landing(url, pseudonymiser, settings, args["landing"])
        return {"rows": out["rows_read"], "seconds": time.perf_counter() - t0, "files": len(out["files"]),
                "rows_loaded": out["rows_loaded"], "rows_quarantined": out["rows_quarantined"]}
    if name == "staging_gate":
        out = services.staging_quality_gate(url, settings)
        return {"seconds": time.perf_counter() - t0, "checks": out["checks"], "passed": out["passed"],
                "suite_seconds": out["suite_seconds"], "staging_version": out["staging_version"],
                "gx_preloaded": gx_preloaded}
    if name == "match_rate":
        out = services.match_rate_gate(url, settings)
        return {"seconds": time.perf_counter() - t0, "staging_version": out["staging_version"]}
    if name == "prepare":
        out = services.prepare_candidates(url, settings, args.get("build_terms") or None,
                                          gated_version=args.get("staging_version"))
        return {"rows": sum(out["rows"].values()), "seconds": time.perf_counter() - t0,
                "build_id": out["build_id"], "terms": out["terms"], "run_id": out.get("run_id"),
                "staging_regated": out["staging_regated"], "table_rows": out["rows"],
                "model_seconds": out["model_seconds"]}
    if name == "mart_gate":
        out = services.mart_quality_gate(url, settings, args["prepared"])
        return {"rows": args["prepared"].get("mart_rows"), "seconds": time.perf_counter() - t0,
                "checks": out["checks"], "passed": out["passed"], "suite_seconds": out["suite_seconds"],
                "gx_preloaded": gx_preloaded}
    if name == "publish":
        out = services.publish(url, args["prepared"])
        return {"rows": args["prepared"].get("mart_rows"), "seconds": time.perf_counter() - t0,
                "published": out}
    if name == "grants":
        out = services.apply_grants(url)
        return {"seconds": time.perf_counter() - t0, "statements": len(out)}
    if name == "report":
        from ..publication.signoff import build_draft

        out = build_draft(url, args["term"], settings, run_id="bench")
        return {"seconds": time.perf_counter() - t0, "term": out["term"]}
    raise ValueError(f"unknown bench stage {name!r}")


def own_peak_rss_kb() -> int:
    """This process's own peak RSS (VmHWM, the kernel's high-water mark of its memory since exec), and that of
    any child it waited for. (Its rusage ``ru_maxrss`` is not used: after a fork and exec it starts at the
    parent's RSS at the fork, so a small task would show the bench parent's size.)"""
    import resource

    own = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                own = int(line.split()[1])
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def main() -> None:
    name, raw = sys.argv[1], sys.argv[2]
    before = set(sys.modules)
    result = run_stage(name, json.loads(raw))
    result["peak_rss_kb"] = own_peak_rss_kb()
    result["modules_imported_by_task"] = len(set(sys.modules) - before)  # cold: every import is the task's
    print("BENCH_RESULT " + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
