"""``skolsam bench``: the pipeline at a given size, stage by stage, against a plain COPY in the same run.

The stand-in SS 12000 server runs in a process of its own over a generated city (cached under
``$SKOLSAM_HOME/bench``); each stage (:mod:`.stages`) runs in a task process through the same
``skolsam.services`` call its DAG task makes, forked from a bench worker that preloaded what the Celery
worker preloads (:mod:`.worker`; ``preload_seconds``, outside the pipeline as a worker's start is), or with
``cold=True`` a fresh interpreter per stage; then the staged rows are copied with a plain COPY
(:func:`.harness.copy_baseline`) in the same database, so the ratios compare like with like on a noisy
machine:

* ``load_vs_copy``: the extract's grades, attendance and persons (each entity's HTTP, decoding,
  pseudonymisation, COPY and merge) over the plain COPY of those three staging tables;
* ``extract_vs_copy``: the whole extract task (every entity, its process included) over the plain COPY of
  every staged SS 12000 table;
* ``total_vs_copy``: the pipeline, extract to the published marts and grants (extract, ingest,
  staging_gate, match_rate, prepare, mart_gate, publish, grants; every task's process included, the report
  not), over the same COPY.

``daily=True`` then applies one school day (:func:`skolsam.standin.bench.make_daily_dataset`) and runs the
same stages incrementally (watermarks; attendance of the terms the extract DAG reads on that day, the last
school day of the dataset's last term: :func:`daily_terms`): ``daily_vs_full`` is its total over the full run's.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path
from typing import Sequence

from ..settings import project_home
from ..warehouse import connection, migrate
from . import harness
from .stages import NEEDS, PIPELINE, STAGES
from .worker import ForkingWorker



def database_name() -> str:
    """``skolsam_bench_<hash of SKOLSAM_HOME>``: two checkouts benching on one server never drop each other's."""
    import hashlib

    return "skolsam_bench_" + hashlib.sha1(str(project_home()).encode()).hexdigest()[:8]


class BenchError(ValueError):
    """The bench cannot run as asked (the message says why)."""


def choose_stages(wanted: Sequence[str] | None) -> tuple[list[str], set[str]]:
    """(the stages to run, in order; the ones the caller asked for). A subset runs every stage before its
    last named one as set-up (timed and shown, outside the totals): a build needs a loaded staging."""
    if not wanted:
        return list(STAGES), set(STAGES)
    unknown = [s for s in wanted if s not in STAGES]
    if unknown:
        raise BenchError(f"unknown stage(s) {', '.join(unknown)}; the stages are {', '.join(STAGES)}")
    last = max(STAGES.index(s) for s in wanted)
    return list(STAGES[:last + 1]), set(wanted)


def check_sources(sources: int, *, daily: bool = False, stream: bool = False) -> None:
    if sources < 1:
        raise BenchError("--sources must be at least 1")
    if sources > 1 and (daily or stream):
        raise BenchError("--daily and --stream take a one-system city (leave out --sources)")


def dataset_for(pupils: int, seed: int, terms: list[str], log, *, stream: bool = False,
                sources: int = 1) -> tuple[Path, float | None]:
    """The generated city (reused when its manifest is there). ``stream``: generated straight into the
    stand-in's index, its big files left as placeholders (:func:`skolsam.standin.bench.generate_streamed`)."""
    from ..generate import generate_dataset

    suffix = ("-streamed" if stream else "") + (f"-{sources}-sources" if sources > 1 else "")
    dataset = project_home() / "bench" / f"city-{pupils}-{seed}-{'-'.join(terms)}{suffix}"
    if (dataset / "manifest.json").exists():
        log(f"dataset: {dataset} (reused)")
        return dataset, None
    log(f"generating {pupils} pupils into {dataset}{' (streamed into the index)' if stream else ''} ...")
    t0 = time.perf_counter()
    if stream:
        from ..standin.bench import generate_streamed

        generate_streamed(dataset, pupils, seed, terms, log=log)
    else:
        generate_dataset(dataset, pupils=pupils, seed=seed, terms=terms, **({"sources": sources} if sources > 1 else {}))
    return dataset, round(time.perf_counter() - t0, 2)


def _run_stages(names: list[str], args: dict, log, label: str = "", worker=None) -> dict[str, dict]:
    out: dict[str, dict] = {}
    results: dict[str, dict] = {}
    for name in names:
        need = NEEDS.get(name)
        if need:
            prepared = {k: results[need][k] for k in ("build_id", "terms", "run_id")}
            prepared["mart_rows"] = sum(v for k, v in results[need]["table_rows"].items() if k.startswith("mart"))
            args = {**args, "prepared": prepared}
        if name == "prepare" and "staging_gate" in results:
            args = {**args, "staging_version": results["staging_gate"]["staging_version"]}
        if name == "extract" and len(args["base_urls"]) > 1:
            out[name] = _extract_sources(args, log, label, worker)
            continue
        out[name], results[name] = harness.run_child(name, args, log, label=label + name, worker=worker)
    return out


def _extract_sources(args: dict, log, label: str, worker=None) -> dict:
    """One extract task per school system, one after the other (as their DAGs would on one worker slot),
    summed into the extract stage; each source's own figures under ``sources``."""
    per: dict[str, dict] = {}
    for sid, url in args["base_urls"].items():
        per[sid], _ = harness.run_child("extract", {**args, "base_url": url, "source": sid}, log,
                                        label=f"{label}extract {sid}", worker=worker)
    entities: dict[str, dict] = {}
    for fig in per.values():
        for entity, e in fig["entities"].items():
            acc = entities.setdefault(entity, {"records": 0, "loaded": 0, "seconds": 0.0, "pages": 0})
            for k in acc:
                acc[k] = round(acc[k] + (e.get(k) or 0), 3)
    seconds = round(sum(f["seconds"] for f in per.values()), 2)
    rows = sum(f["rows"] for f in per.values())
    return {"seconds": seconds, "call_seconds": round(sum(f["call_seconds"] for f in per.values()), 2),
            "rows": rows, "peak_rss_mb": max(f["peak_rss_mb"] for f in per.values()),
            "rusage_maxrss_mb": max(f["rusage_maxrss_mb"] for f in per.values()),
            "records_per_second": round(rows / seconds) if seconds else None, "entities": entities, "sources": per}


def _sum(stages: dict[str, dict], names: Sequence[str], key: str = "seconds") -> float:
    return round(sum(stages[n][key] for n in names if n in stages), 2)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def run_bench(pupils: int = 100000, seed: int = 1, terms: list[str] | None = None,
              warehouse_url: str | None = None, *, stages: Sequence[str] | None = None, sources: int = 1,
              daily: bool = False, grade_share: float = 0.005, keep_database: bool = True, stream: bool = False,
              cold: bool = False, log=print) -> dict:
    check_sources(sources, daily=daily, stream=stream)
    terms = terms or ["HT2025", "VT2026"]
    names, wanted = choose_stages(stages)
    if daily and not set(PIPELINE) <= set(names):
        raise BenchError("--daily needs the whole pipeline first (leave out --stages, or name grants)")
    if daily and stream:
        raise BenchError("--daily needs the dataset's files (not --stream)")
    home = project_home() / "bench"
    t_all = time.perf_counter()
    dataset, generate_seconds = dataset_for(pupils, seed, terms, log, stream=stream, sources=sources)

    admin = connection.resolve_url(warehouse_url)
    url = harness.fresh_database(admin, database_name())
    migrate.migrate(url)
    landing = home / "landing"
    shutil.rmtree(landing, ignore_errors=True)
    landing.mkdir(parents=True)
    for f in (dataset / "enrollment").glob("*.csv"):
        shutil.copy2(f, landing / f.name)
    log(f"warehouse: {connection.redact(url)}; load average {harness.machine()['load_average']}")
    args = {"url": url, "landing": str(landing), "terms": terms, "term": terms[-1], "full_refresh": True}
    with contextlib.ExitStack() as stack:
        worker = None if cold else stack.enter_context(ForkingWorker())  # preloaded, as a Celery worker is
        if worker is not None:
            log(f"  {'worker_preload':<16} {worker.preload['seconds']:>8.2f} s   (once per worker, outside the "
                f"pipeline; RSS {worker.preload['rss_mb']} MB; {len(worker.preload['failed'])} modules failed)")
        ran, index_seconds = _served(dataset, names, args, log, sources=sources, worker=worker)
        # The baseline right after the full run (before the daily run adds to the database): like with like.
        staged = harness.staged_tables(url)
        copies, bare = harness.copy_baseline(url, [t for t, n in staged.items() if n], home)
        log(f"  {'plain COPY':<16} {sum(copies.values()):>8.2f} s   of {sum(staged.values()):,} staged rows "
            f"({sum(bare.values()):.2f} s into tables without indexes)")
        daily_result = _daily(dataset, url, args, seed, grade_share, ran, log, worker) if daily else None
    copy_seconds = round(sum(copies.values()), 3)
    load_copy = round(sum(copies.get(t, 0.0) for t in harness.LOAD_ENTITIES.values()), 3)
    bare_seconds = round(sum(bare.values()), 3)
    parse = harness.dag_parse_seconds()
    log("  dag parse seconds: " + ", ".join(f"{k} {v}" for k, v in parse.items()))

    extract = ran.get("extract")
    load_seconds = None
    if extract:
        load_seconds = round(sum(extract["entities"][e]["seconds"] for e in harness.LOAD_ENTITIES
                                 if e in extract["entities"]), 2)
    pipeline_complete = set(PIPELINE) <= set(ran)
    total = _sum(ran, [n for n in PIPELINE if n in wanted])
    result = {
        "pupils": pupils, "seed": seed, "terms": terms, "sources": sources, "streamed_dataset": stream,
        # How the task processes started: forked from a preloaded worker (the CeleryExecutor's way) or cold.
        "task_processes": "cold" if cold else "forked_from_preloaded_worker",
        "preload_seconds": None if cold else worker.preload["seconds"],
        "preload_failed": None if cold else worker.preload["failed"],
        "preload_rss_mb": None if cold else worker.preload["rss_mb"],  # in every stage's peak_rss_mb
        "dataset": str(dataset),
        "stages_run": [n for n in names if n in wanted],
        "pipeline_complete": pipeline_complete,
        "report_in_total": False,
        "total_seconds": total,
        "total_with_report_seconds": round(total + (ran["report"]["seconds"] if "report" in wanted and "report" in ran else 0), 2),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in ran.values()),
        "extract_records": extract["rows"] if extract else None,
        "extract_records_per_second": round(extract["rows"] / extract["seconds"]) if extract else None,
        "extract_seconds": extract["seconds"] if extract else None,
        "load_seconds": load_seconds,
        "copy_seconds": copy_seconds,
        "load_copy_seconds": load_copy,
        "load_vs_copy": _ratio(load_seconds, load_copy),
        "extract_vs_copy": _ratio(extract["seconds"] if extract else None, copy_seconds),
        "total_vs_copy": _ratio(total, copy_seconds) if pipeline_complete else None,
        "copy_bare_seconds": bare_seconds,
        "total_vs_bare_copy": _ratio(total, bare_seconds) if pipeline_complete else None,
        "extract_vs_bare_copy": _ratio(extract["seconds"] if extract else None, bare_seconds),
        "staged_rows": staged,
        "copy_seconds_per_table": copies,
        "copy_bare_seconds_per_table": bare,
        "dag_parse_seconds_max": max(parse.values()),
        "dag_parse_seconds": parse,
        "generate_seconds": generate_seconds,
        "server_index_seconds": index_seconds,
        "wall_seconds_including_setup": None,
        "machine": {**harness.machine(), "postgresql": harness.server_version(url)},
        "stages": {n: {**s, "setup": n not in wanted} for n, s in ran.items()},
    }
    if daily_result is not None:
        result["daily"] = daily_result
        result["daily_seconds"] = daily_result["total_seconds"]
        result["daily_vs_full"] = _ratio(daily_result["total_seconds"], total)
    if not keep_database:
        harness.drop_database(admin, database_name())
    result["wall_seconds_including_setup"] = round(time.perf_counter() - t_all, 2)
    return result


def _served(dataset: Path, names: list[str], args: dict, log, label: str = "",
            sources: int = 1, worker=None) -> tuple[dict[str, dict], float]:
    """The stand-in over ``dataset`` (one server per school system if it holds several) while the stages run."""
    from ..standin.running import running_server, running_sources

    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if sources > 1:
            urls = {sid: str(u) for sid, u in stack.enter_context(
                running_sources(dataset, in_process=False, demo=True)).items()}
        else:  # the one-system city loads as the default source, as the one-system DAG does
            urls = {"": str(stack.enter_context(running_server(dataset, in_process=False, demo=True)))}
        index_seconds = round(time.perf_counter() - t0, 2)
        log(f"  {'server_index':<16} {index_seconds:>8.2f} s   (the stand-in's one-off index, outside the pipeline)")
        first = next(iter(urls.values()))
        ran = _run_stages(names, {**args, "base_url": first, "base_urls": urls}, log, label, worker)
    return ran, index_seconds


def _daily(dataset: Path, url: str, args: dict, seed: int, grade_share: float, full: dict, log,
           worker=None) -> dict:
    """One school day on the loaded city, through the incremental pipeline (the stages of PIPELINE)."""
    from ..standin.bench import make_daily_dataset

    t0 = time.perf_counter()
    day_set = dataset.with_name(dataset.name + "-daily")
    change = make_daily_dataset(dataset, day_set, grade_share=grade_share, seed=seed)
    log(f"daily: {change['grades_changed']} grades changed, {change['attendance_added']} attendance records of "
        f"{change['day']} added ({time.perf_counter() - t0:.1f} s, outside the run)")
    # The terms the extract DAG reads on that day (the current one, and the previous one only while it is
    # within closed_term_reread_days of its end), as it would choose them itself.
    daily_args = {**args, "full_refresh": False, "terms": daily_terms(change["day"])}
    log(f"daily: attendance of {', '.join(daily_args['terms'])} read again (the terms the DAG reads on {change['day']})")
    ran, index_seconds = _served(day_set, list(PIPELINE), daily_args, log, "daily ", worker=worker)
    total = _sum(ran, PIPELINE)
    remove_with_index(day_set)
    return {"change": change, "terms": daily_args["terms"], "server_index_seconds": index_seconds, "total_seconds": total,
            "peak_rss_mb": max(s["peak_rss_mb"] for s in ran.values()),
            "share_of_full": {n: _ratio(ran[n]["seconds"], full[n]["seconds"]) for n in ran if n in full},
            "stages": ran}


def daily_terms(day: str) -> list[str]:
    """The terms a daily extract on ``day`` reads (:func:`skolsam.ss12000.extract.resolve_terms`)."""
    import datetime as dt

    from .. import terms as terms_mod
    from ..settings import Settings
    from ..ss12000.extract import resolve_terms

    settings = Settings.load()
    calendar = terms_mod.load_calendar(settings.term_calendar or None)
    return [t.name for t in resolve_terms(None, calendar, today=dt.date.fromisoformat(day),
                                          reread_days=settings.closed_term_reread_days)]


def remove_with_index(dataset: Path) -> None:
    """Delete a dataset the bench made and the stand-in's index of it (the disk is finite at scale)."""
    from ..standin.dataset import source_state
    from ..standin.index import DatasetIndex

    index = DatasetIndex(dataset)._file_for(source_state(dataset))
    index.unlink(missing_ok=True)
    shutil.rmtree(dataset, ignore_errors=True)
