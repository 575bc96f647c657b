"""The bench's measuring tools: a stage in a child process with its peak RSS from the kernel, a fresh
database, the plain-COPY baseline, the staged row counts and the DAG parse times.

Peak RSS is the kernel's high-water mark of the child's own memory (``VmHWM``, read by the child as it
ends, with its own children's ``ru_maxrss``), not sampled, so a stage's figure is that of its process
alone, as an Airflow task's would be. A task process forked from the bench worker (the default) starts
with the worker's resident pages (the preloaded modules, shared copy-on-write) in that figure, as a task
forked from a Celery worker does. The child's ``ru_maxrss`` from ``os.wait4`` is kept beside it
(``rusage_maxrss_mb``): Linux carries the parent's RSS at the fork into it, so for a small stage it shows
the bench parent's size; for a large one the two agree.

The COPY baseline: every staged SS 12000 table is copied out as CSV to a file, then timed while a plain
server-side ``COPY FROM STDIN`` reads that file into a table ``LIKE`` it ``INCLUDING ALL`` (same columns,
defaults, keys and indexes; and the storage parameters, which LIKE leaves out): the floor any loader of the
same rows into the same shape could reach; and into a bare table of the same columns (no index), to show
what the indexes cost the COPY itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ..settings import project_home
from ..warehouse import connection

# What the extract stages (staging.ss12000_*) and, of those, what load_vs_copy has always compared: the
# three big entities (grades, attendance and persons) against their tables.
LOAD_ENTITIES = {"grades": "ss12000_grade", "aggregatedAttendance": "ss12000_attendance",
                 "persons": "ss12000_person"}


class StageFailed(RuntimeError):
    """A bench stage's child process failed; the message holds the end of its output."""


def _cold_child(name: str, args: dict) -> tuple[float, int, list[str], int]:
    """Stage ``name`` in a fresh interpreter (``--cold``): (seconds, exit code, output lines, ru_maxrss kB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "skolsam.bench.stages", name, json.dumps(args)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    out_lines = list(proc.stdout)
    _, status, rusage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t0, os.waitstatus_to_exitcode(status), out_lines, rusage.ru_maxrss


def run_child(name: str, args: dict, log, *, label: str | None = None, worker=None) -> tuple[dict, dict]:
    """Run stage ``name`` in a task process: forked from ``worker`` (a :class:`.worker.ForkingWorker`, the
    deployed executor's model) or, without one, a fresh interpreter. Returns (the figures: seconds, peak
    RSS, rows, details; the stage's whole result, for the stages after it)."""
    wall, code, out_lines, maxrss_kb = (worker.run if worker is not None else _cold_child)(name, args)
    if code != 0:
        raise StageFailed(f"bench stage {name} failed (exit {code}):\n" + "".join(out_lines[-30:]))
    result = next(json.loads(line[len("BENCH_RESULT "):]) for line in out_lines if line.startswith("BENCH_RESULT "))
    figures = {
        "seconds": round(wall, 2),   # the task process: its start (fork or interpreter), imports, the call
        "call_seconds": round(result.pop("seconds"), 2),      # the service call alone
        "rows": result.pop("rows", None),
        "peak_rss_mb": round(result.pop("peak_rss_kb") / 1024, 1),
        "rusage_maxrss_mb": round(maxrss_kb / 1024, 1),
        **{k: v for k, v in result.items() if k not in ("build_id", "run_id", "terms", "staging_version")},
    }
    rows = "" if figures["rows"] is None else f"{figures['rows']:>11,} rows"
    log(f"  {label or name:<16} {figures['seconds']:>8.2f} s (call {figures['call_seconds']:>7.2f} s)  "
        f"peak RSS {figures['peak_rss_mb']:>7.1f} MB  {rows}")
    return figures, result


def fresh_database(admin_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    with connection.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    with connection.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def staged_tables(url: str) -> dict[str, int]:
    """Rows per staging.ss12000_* table (exact counts), the tables the extract wrote."""
    with connection.connect(url, autocommit=True) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'staging' AND tablename LIKE 'ss12000\\_%' "
            "ORDER BY tablename").fetchall()]
        return {n: conn.execute(f'SELECT count(*) FROM staging."{n}"').fetchone()[0] for n in names}


def copy_baseline(url: str, tables: list[str], workdir: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds of a plain COPY FROM of each staging table's rows (CSV): (into a same-shaped table, keys and
    indexes included; into a bare table of the same columns, no index). The first is the baseline of the
    ratios; the second shows what the indexes cost the COPY itself (on random hex keys it grows faster
    than the rows once the indexes outgrow shared_buffers)."""
    shaped: dict[str, float] = {}
    bare: dict[str, float] = {}
    workdir.mkdir(parents=True, exist_ok=True)
    with connection.connect(url, autocommit=True) as conn:
        for name in tables:
            data = workdir / f"{name}.csv"
            options = conn.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass",
                                   (f"staging.{name}",)).fetchone()[0] or []
            with open(data, "wb") as fh, conn.cursor().copy(f"COPY staging.{name} TO STDOUT (FORMAT csv)") as cp:
                for chunk in cp:
                    fh.write(chunk)
            for like, out in (("INCLUDING ALL", shaped), ("INCLUDING DEFAULTS", bare)):
                conn.execute(f"DROP TABLE IF EXISTS public.bench_{name}")
                conn.execute(f"CREATE TABLE public.bench_{name} (LIKE staging.{name} {like})")
                if out is shaped and options:  # LIKE copies no storage parameters (fillfactor, migration 090)
                    conn.execute(f"ALTER TABLE public.bench_{name} SET ({', '.join(options)})")
                t0 = time.perf_counter()
                with conn.cursor().copy(f"COPY public.bench_{name} FROM STDIN (FORMAT csv)") as cp, \
                        open(data, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        cp.write(chunk)
                out[name] = round(time.perf_counter() - t0, 3)
                conn.execute(f"DROP TABLE public.bench_{name}")
            data.unlink()
    return shaped, bare


def server_version(url: str) -> str:
    with connection.connect(url, autocommit=True) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


_PARSE_PROBE = (
    "import runpy, sys, time\n"
    "import airflow.sdk\n"  # paid once by the DAG processor, not per file
    "t = time.perf_counter(); runpy.run_path(sys.argv[1]); print(time.perf_counter() - t)\n"
)


def dag_parse_seconds() -> dict[str, float]:
    """Seconds each DAG file takes to parse in a fresh interpreter, after Airflow itself is imported."""
    from ..airflow.local import PROJECT_ROOT, airflow_env

    env = {**os.environ, **airflow_env(project_home() / "bench" / "airflow")}
    out = {}
    for path in sorted((PROJECT_ROOT / "dags").glob("*.py")):
        res = subprocess.run([sys.executable, "-c", _PARSE_PROBE, str(path)], env=env,
                             capture_output=True, text=True, check=True)
        out[path.name] = round(float(res.stdout.strip().splitlines()[-1]), 3)
    return out


def machine() -> dict:
    """What the figures were measured on: cores, memory, the load when asked."""
    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {"cpus": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()]}
