"""``skolsam bench``: the whole pipeline at a given size, timed stage by stage, with peak memory.

Each stage runs in a child process of its own (as an Airflow task would), so its peak RSS is its own:
read from the kernel's rusage of that child (``os.wait4``), not sampled. The stand-in SS 12000 server
runs in a further process, as the education system would. Figures are printed, never asserted in tests.

load_vs_copy compares the extract's load of grades, attendance and persons into staging (HTTP, JSON,
pseudonymisation, COPY and merge) with a plain server-side ``COPY FROM`` of the same rows as CSV into a
table of the same shape: the floor any loader could reach.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .settings import Settings, project_home
from .warehouse import connection, migrate

STAGES = ("extract", "ingest", "quality_staging", "build", "report")
COPY_TABLES = ("staging.ss12000_grade", "staging.ss12000_attendance", "staging.ss12000_person")
COPY_ENTITIES = ("grades", "aggregatedAttendance", "persons")


# --- child side -------------------------------------------------------------------------------------------

def _stage(name: str, args: dict) -> dict:
    from .pseudonym import Pseudonymiser, load_key

    url = args["url"]
    settings = Settings.load()
    pseudonymiser = Pseudonymiser(load_key())
    if name == "extract":
        from .ss12000.extract import ENTITIES, ApiConfig, extract_entity

        api = ApiConfig(base_url=args["base_url"], token_url=args["base_url"] + "/token",
                        client_id="skolsam", client_secret="skolsam", page_size=settings.ss12000_page_size)
        per_entity = {}
        records = 0
        t0 = time.perf_counter()
        for entity in ENTITIES:
            t = time.perf_counter()
            summary = extract_entity(entity, url, api, pseudonymiser, full_refresh=True, terms=args.get("terms"))
            n = int(summary.get("rows_read", 0))
            per_entity[entity] = {"records": n, "seconds": round(time.perf_counter() - t, 3)}
            records += n
        seconds = time.perf_counter() - t0
        return {"records": records, "records_per_second": records / seconds if seconds else None,
                "entities": per_entity}
    if name == "ingest":
        from .enrollment.intake import ingest_landing

        files = ingest_landing(args["landing"], url, pseudonymiser, settings)
        return {"files": len(files.get("files", files)) if isinstance(files, dict) else len(files)}
    if name == "quality_staging":
        from .quality.gate import staging_gate

        result = staging_gate(url, settings=settings)
        return {"checks": len(result.checks), "warnings": len(result.warnings)}
    if name == "build":
        from .quality.gate import mart_gate
        from .warehouse.build import build_warehouse

        out = build_warehouse(url, settings, gate=lambda u, schema: mart_gate(u, schema, settings=settings))
        return {"build": out if isinstance(out, dict) else str(out)}
    if name == "report":
        from .report import build_report

        path = build_report(url, args["term"], Path(args["out"]), settings=settings)
        return {"report": str(path)}
    raise ValueError(name)


def _child_main() -> None:
    name, raw = sys.argv[2], sys.argv[3]
    result = _stage(name, json.loads(raw))
    print("BENCH_RESULT " + json.dumps(result, default=str))


# --- parent side ------------------------------------------------------------------------------------------

def _run_child(name: str, args: dict, log) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "skolsam.bench", "stage", name, json.dumps(args)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    out_lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        out_lines.append(line)
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"bench stage {name} failed:\n" + "".join(out_lines[-30:]))
    result = next(json.loads(l[len("BENCH_RESULT "):]) for l in out_lines if l.startswith("BENCH_RESULT "))
    stage = {"seconds": round(seconds, 2), "peak_rss_mb": round(rusage.ru_maxrss / 1024, 1), **result}
    log(f"  {name:<16} {stage['seconds']:>8.2f} s   peak RSS {stage['peak_rss_mb']:>7.1f} MB")
    return stage


def _fresh_database(admin_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    with connection.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _copy_baseline(url: str, workdir: Path) -> float:
    """Seconds for a plain COPY FROM of the staged rows (CSV) into same-shaped tables."""
    total = 0.0
    with connection.connect(url, autocommit=True) as conn:
        for table in COPY_TABLES:
            schema, name = table.split(".")
            data = workdir / f"{name}.csv"
            with open(data, "wb") as fh, conn.cursor().copy(f"COPY {table} TO STDOUT (FORMAT csv)") as cp:
                for chunk in cp:
                    fh.write(chunk)
            conn.execute(f"DROP TABLE IF EXISTS public.bench_{name}")
            conn.execute(f"CREATE TABLE public.bench_{name} (LIKE {table} INCLUDING ALL)")
            t0 = time.perf_counter()
            with conn.cursor().copy(f"COPY public.bench_{name} FROM STDIN (FORMAT csv)") as cp, open(data, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    cp.write(chunk)
            total += time.perf_counter() - t0
            conn.execute(f"DROP TABLE public.bench_{name}")
            data.unlink()
    return total


_PARSE_PROBE = (
    "import runpy, sys, time\n"
    "import airflow.sdk\n"  # paid once by the DAG processor, not per file
    "t = time.perf_counter(); runpy.run_path(sys.argv[1]); print(time.perf_counter() - t)\n"
)


def dag_parse_seconds() -> dict[str, float]:
    """Seconds each DAG file takes to parse in a fresh interpreter, after Airflow itself is imported."""
    from .airflow.local import PROJECT_ROOT, airflow_env

    env = {**os.environ, **airflow_env(project_home() / "bench" / "airflow")}
    out = {}
    for path in sorted((PROJECT_ROOT / "dags").glob("*.py")):
        res = subprocess.run([sys.executable, "-c", _PARSE_PROBE, str(path)], env=env,
                             capture_output=True, text=True, check=True)
        out[path.name] = round(float(res.stdout.strip().splitlines()[-1]), 3)
    return out


def run_bench(pupils: int = 40000, seed: int = 1, terms: list[str] | None = None,
              warehouse_url: str | None = None, log=print) -> dict:
    from .generate import generate_dataset
    from .standin.running import running_server

    terms = terms or ["HT2025", "VT2026"]
    home = project_home() / "bench"
    dataset = home / f"city-{pupils}-{seed}-{'-'.join(terms)}"
    stages: dict[str, dict] = {}
    t_all = time.perf_counter()

    if (dataset / "manifest.json").exists():
        log(f"dataset: {dataset} (reused)")
    else:
        log(f"generating {pupils} pupils into {dataset} ...")
        t0 = time.perf_counter()
        generate_dataset(dataset, pupils=pupils, seed=seed, terms=terms)
        stages["generate"] = {"seconds": round(time.perf_counter() - t0, 2)}

    admin = connection.resolve_url(warehouse_url)
    url = _fresh_database(admin, "skolsam_bench")
    migrate.migrate(url)
    landing = home / "landing"
    shutil.rmtree(landing, ignore_errors=True)
    landing.mkdir(parents=True)
    for f in (dataset / "enrollment").glob("*.csv"):
        shutil.copy2(f, landing / f.name)

    log(f"warehouse: {connection.redact(url)}")
    t0 = time.perf_counter()
    with running_server(dataset, in_process=False, demo=True) as base_url:
        stages["server_index"] = {"seconds": round(time.perf_counter() - t0, 2)}
        log(f"  {'server_index':<16} {stages['server_index']['seconds']:>8.2f} s   (outside the pipeline)")
        t_pipeline = time.perf_counter()
        args = {"url": url, "base_url": str(base_url), "landing": str(landing), "terms": terms,
                "term": terms[-1], "out": str(home / "reports")}
        for name in STAGES:
            stages[name] = _run_child(name, args, log)
        pipeline_seconds = time.perf_counter() - t_pipeline

    copy_seconds = _copy_baseline(url, home)
    parse = dag_parse_seconds()
    log("  dag parse seconds: " + ", ".join(f"{k} {v}" for k, v in parse.items()))
    extract = stages["extract"]
    load_seconds = sum(extract["entities"][e]["seconds"] for e in COPY_ENTITIES if e in extract["entities"])
    result = {
        "pupils": pupils,
        "seed": seed,
        "terms": terms,
        "total_seconds": round(pipeline_seconds, 2),
        "wall_seconds_including_setup": round(time.perf_counter() - t_all, 2),
        "peak_rss_mb": max(s.get("peak_rss_mb", 0) for s in stages.values()),
        "extract_records": extract["records"],
        "extract_records_per_second": round(extract["records_per_second"] or 0),
        "load_seconds": round(load_seconds, 2),
        "copy_seconds": round(copy_seconds, 2),
        "load_vs_copy": round(load_seconds / copy_seconds, 2) if copy_seconds else None,
        "dag_parse_seconds_max": max(parse.values()),
        "dag_parse_seconds": parse,
        "stages": stages,
    }
    return result


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "stage":
        _child_main()
