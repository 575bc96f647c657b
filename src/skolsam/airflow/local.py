"""Running the project's DAGs locally through Airflow itself (``airflow dags test``), as the demo does.

A local Airflow home under SKOLSAM_HOME with a SQLite metadata database: enough for ``dags test``,
which runs every task of one DAG run in-process. Production runs the same DAGs under a scheduler with
PostgreSQL as the metadata database (docker-compose.yml).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def airflow_env(home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    }


def ss12000_connection(base_url: str, client_id: str, client_secret: str) -> str:
    """AIRFLOW_CONN_SKOLSAM_SS12000 value (Airflow's JSON connection format)."""
    return json.dumps(
        {
            "conn_type": "ss12000",
            "host": base_url,
            "login": client_id,
            "password": client_secret,
            "extra": {"token_url": base_url.rstrip("/") + "/token"},
        }
    )


def _airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


def pools() -> dict[str, dict]:
    """The Airflow pools the DAGs name (``airflow pools import`` format): one per SS 12000 source, sized by
    the ``ss12000_pool_slots`` setting."""
    from skolsam.settings import Settings

    from skolsam.ss12000.sources import load_sources

    settings = Settings.load()
    names = {settings.ss12000_pool} | {s.pool for s in load_sources() if s.pool}
    return {name: {"slots": settings.ss12000_pool_slots, "include_deferred": False,
                   "description": "concurrent SS 12000 API tasks of one source"} for name in sorted(names)}


def create_pools(env: dict[str, str], folder: Path) -> list[str]:
    """Create or resize the pools in the Airflow of ``env`` (one CLI call). Returns their names."""
    wanted = pools()
    spec = Path(folder) / "skolsam_pools.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps(wanted))
    out = subprocess.run([_airflow_bin(), "pools", "import", str(spec)], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"airflow pools import failed: {(out.stderr or out.stdout)[-400:]}")
    return sorted(wanted)


def prepare_home(home: Path, extra_env: dict[str, str]) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **airflow_env(home), **extra_env}
    subprocess.run([_airflow_bin(), "db", "migrate"], env=env, check=True, capture_output=True)
    create_pools(env, home)
    return env


def dags_test(dag_id: str, env: dict[str, str], logical_date: str | None = None,
              conf: dict | None = None, log_file: Path | None = None,
              mark_success_pattern: str | None = None) -> None:
    """``airflow dags test``: one DAG run, every task in this process tree. Raises if the run fails.

    ``mark_success_pattern``: task ids marked success without running (the report's human approval)."""
    cmd = [_airflow_bin(), "dags", "test", dag_id]
    if logical_date:
        cmd.append(logical_date)
    if conf:
        cmd += ["--conf", json.dumps(conf)]
    if mark_success_pattern:
        cmd += ["--mark-success-pattern", mark_success_pattern]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    text = out.stdout + out.stderr
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text(text)
    finished = [line for line in text.splitlines() if "DagRun Finished" in line]
    if out.returncode != 0 or not finished or "state=success" not in finished[-1]:
        tail = "\n".join(text.splitlines()[-40:])
        raise RuntimeError(f"DAG {dag_id} failed (full log: {log_file}):\n{tail}")
