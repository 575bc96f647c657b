"""The termly report DAG under ``airflow dags test``: unpaused before its term's marts exist, it waits
(the sensor reschedules itself, holding no worker) and goes on once the marts are published; with no marts
it fails at the sensor after ``report_marts_wait_hours`` and drafts nothing. The approval is skipped the
way the demo skips it (``--mark-success-pattern approve_report``), and the publication says so."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_env import airflow_env
from publication_fixtures import published_warehouse
from skolsam.publication.store import ReportStore

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
DAG_ID = "skolsam_termly_report"


def start(tmp_path: Path, url: str, wait_hours: float) -> tuple[subprocess.Popen, Path, Path, dict]:
    home = tmp_path / "airflow"
    home.mkdir()
    env = {**__import__("os").environ, **airflow_env(home), "SKOLSAM_WAREHOUSE_URL": url,
           "SKOLSAM_HOME": str(tmp_path / "home"), "SKOLSAM_REPORT_LOCATION": str(tmp_path / "reports"),
           "SKOLSAM_REPORT_MARTS_POKE_MINUTES": "0.05", "SKOLSAM_REPORT_MARTS_WAIT_HOURS": str(wait_hours),
           "SKOLSAM_RETRY_DELAY_SECONDS": "1"}
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    log = tmp_path / "dags_test.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([airflow, "dags", "test", DAG_ID, "--conf", json.dumps({"term": "VT2026"}),
                                 "--mark-success-pattern", "approve_report"], env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc, home / "airflow.db", log, env


def states(db: Path) -> dict[str, str]:
    with sqlite3.connect(db, timeout=30) as conn:
        return dict(conn.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ?", (DAG_ID,)).fetchall())


def run_state(db: Path) -> str:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute("SELECT state FROM dag_run WHERE dag_id = ? ORDER BY id DESC", (DAG_ID,)).fetchone()[0]


def test_waits_for_the_marts_then_drafts_and_publishes(warehouse_url, tmp_path):
    proc, db, log, _ = start(tmp_path, warehouse_url, wait_hours=0.2)
    try:
        deadline = time.monotonic() + 240
        seen = None
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    seen = states(db).get("wait_for_marts")
                except sqlite3.OperationalError:
                    seen = None
            if seen == "up_for_reschedule":
                break
            time.sleep(1)
        assert seen == "up_for_reschedule", log.read_text()[-3000:]  # waiting, not failed
        published_warehouse(warehouse_url)  # the build publishes the term's marts
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert run_state(db) == "success", log.read_text()[-3000:]
    got = states(db)
    assert got["publish_report"] == "success" and got["reject_report"] == "skipped"
    pub = ReportStore(str(tmp_path / "reports")).publication("VT2026")
    assert pub and pub["approved_by"] is None and "skipped" in pub["how"]


def test_no_marts_fails_at_the_sensor_and_drafts_nothing(warehouse_url, tmp_path):
    proc, db, log, _ = start(tmp_path, warehouse_url, wait_hours=0.004)  # about 15 seconds
    try:
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert run_state(db) == "failed", log.read_text()[-3000:]
    got = states(db)
    assert got["wait_for_marts"] == "failed" and got["build_draft"] == "upstream_failed"
    assert not (tmp_path / "reports" / "drafts").exists()
