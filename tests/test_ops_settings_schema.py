"""One settings path (issue 9.5), one term resolver, migrations checked rather than run by the DAGs (9.4),
and the build DAG's visible steps."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from airflow_env import DAGS, airflow_env

from skolsam import terms
from skolsam.settings import Settings, setting


def test_environment_beats_variables_beats_default(monkeypatch):
    monkeypatch.delenv("SKOLSAM_SUPPRESSION_MIN_N", raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_SKOLSAM_SUPPRESSION_MIN_N", "12")
    assert Settings.load().suppression_min_n == 12 and setting("suppression_min_n") == 12
    monkeypatch.setenv("SKOLSAM_SUPPRESSION_MIN_N", "15")
    assert Settings.load().suppression_min_n == 15 and setting("suppression_min_n") == 15
    assert Settings.load({"suppression_min_n": 3}).suppression_min_n == 3
    with pytest.raises(KeyError):
        setting("no_such_setting")


PROBE = r"""
import json
import airflow.sdk  # inside an Airflow process
from airflow.sdk import Variable

# Stands in for the metadata database (or a secrets backend): what an operator set in the UI.
STORED = {"skolsam_report_delay_days": "21", "skolsam_match_rate_min": "0.9"}
Variable.get = classmethod(lambda cls, key, default=None, **kw: STORED.get(key, default))

from skolsam.airflow import runtime, timetable
from skolsam.settings import setting
print(json.dumps({"task": runtime.settings().report_delay_days, "timetable": timetable.default_delay_days(),
                  "match": setting("match_rate_min")}))
"""


def test_tasks_and_the_timetable_read_the_same_variables(tmp_path):
    """The timetable used to read the environment only, the tasks also the Variables: now both take the one
    path, so a Variable set in the metadata database reaches the scheduler as well as the task."""
    env = {**os.environ, **airflow_env(tmp_path)}
    env.pop("SKOLSAM_REPORT_DELAY_DAYS", None)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == '{"task": 21, "timetable": 21, "match": 0.9}'


def test_the_plain_command_line_does_not_load_airflow():
    out = subprocess.run([sys.executable, "-c",
                          "import sys; from skolsam.settings import Settings; Settings.load(); "
                          "print('airflow' in sys.modules)"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_one_term_resolver():
    calendar = terms.load_calendar()
    names = [t.name for t in terms.resolve(" vt2026,HT2025, HT2025 ", calendar)]
    assert names == ["HT2025", "VT2026"]
    assert [t.name for t in terms.resolve(["VT2026", "ht2025"], calendar)] == ["HT2025", "VT2026"]
    assert terms.resolve([], calendar) == []
    with pytest.raises(ValueError, match="HT1990"):
        terms.resolve(["HT1990"], calendar)
    with pytest.raises(ValueError):
        terms.resolve("autumn", calendar)
    # the extractor's attendance windows go through it
    from skolsam.ss12000.extract import resolve_terms

    assert resolve_terms("VT2026,HT2025", calendar) == terms.resolve(["HT2025", "VT2026"], calendar)


@pytest.mark.postgres
def test_the_schema_is_checked_not_changed(empty_database_url, tmp_path):
    from skolsam import services
    from skolsam.warehouse import migrate

    with pytest.raises(migrate.SchemaNotCurrent, match="skolsam warehouse migrate"):
        services.check_schema(empty_database_url)
    assert migrate.status(empty_database_url) == [p.name for _, p in migrate.migration_files()]  # unchanged
    services.migrate_warehouse(empty_database_url)
    assert services.check_schema(empty_database_url) == {"migrations": len(migrate.migration_files())}

    # a migration edited after it was applied: the check refuses (and changes nothing)
    (tmp_path / "migrations").mkdir()
    for _, path in migrate.migration_files():
        (tmp_path / "migrations" / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    first = sorted((tmp_path / "migrations").glob("*.sql"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8")
    with pytest.raises(migrate.MigrationError, match="changed after it was applied"):
        migrate.check_current(empty_database_url, root=tmp_path)


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    saved = dict(os.environ)
    os.environ.update(airflow_env(tmp_path_factory.mktemp("airflow_home")))
    try:
        from airflow.dag_processing.dagbag import DagBag

        yield DagBag(dag_folder=str(DAGS))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_the_build_is_visible_steps_sharing_one_build(dagbag):
    dag = dagbag.dags["skolsam_build_warehouse"]
    chain = ["check_schema", "staging_quality_gate", "match_rate_gate", "prepare_candidates",
             "mart_quality_gate", "publish", "apply_grants"]
    assert sorted(t.task_id for t in dag.tasks) == sorted(chain)
    for upstream, downstream in zip(chain, chain[1:]):
        assert upstream in dag.get_task(downstream).upstream_task_ids
    # the gate and publish take the prepared build (its id) from prepare's XCom, not from a rebuild
    assert "prepare_candidates" in dag.get_task("publish").upstream_task_ids
    assert [o.name for o in dag.get_task("apply_grants").outlets] == ["skolsam_marts"]


def test_no_dag_migrates_each_dag_checks_first(dagbag):
    for dag_id in ("skolsam_extract_education", "skolsam_ingest_enrollment", "skolsam_build_warehouse",
                   "skolsam_maintenance"):
        dag = dagbag.dags[dag_id]
        assert "migrate_schema" not in dag.task_ids
        roots = [t.task_id for t in dag.roots]
        assert roots == ["check_schema"], (dag_id, roots)
