"""The command line and the DAG run the same build steps (skolsam.services), and the deploy step."""

from __future__ import annotations

import os

import pytest

from skolsam import cli, services
from skolsam.quality.gate import QualityGateFailed
from skolsam.settings import Settings
from test_build_core import query
from test_build_e2e import AS_OF, synthetic_staging  # noqa: F401 (AS_OF documents the staging's date)

pytestmark = pytest.mark.postgres


def test_the_cli_build_is_the_dags_steps(warehouse_url, capsys):
    staging, _ = synthetic_staging(pupils=200, seed=3)
    staging.flush(warehouse_url)
    assert cli.main(["build", "--warehouse-url", warehouse_url, "--no-gate"]) == 0
    out = capsys.readouterr().out
    assert "published mart.group_term" in out
    steps = [r[0] for r in query(warehouse_url, "SELECT entity FROM audit.load_run WHERE source = 'warehouse' "
                                               "ORDER BY run_id")]
    assert steps == ["prepare", "publish"]
    assert query(warehouse_url, "SELECT count(*) FROM mart.group_term")[0][0] > 0


def test_the_cli_stops_on_a_deterministic_failure_with_one_line(warehouse_url, capsys, monkeypatch):
    """With the gates on, a failed critical check ends the command with exit code 1 and a message, the marts
    untouched (here: empty SS 12000 staging fails the row-count floors)."""
    assert cli.main(["build", "--warehouse-url", warehouse_url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skolsam build: quality gate failed") and "row_count_floor" in err
    assert query(warehouse_url, "SELECT count(*) FROM mart.group_term")[0][0] == 0
    with pytest.raises(QualityGateFailed):
        services.build_all(warehouse_url, Settings())


def test_a_cli_command_refuses_an_unmigrated_warehouse(empty_database_url, capsys):
    assert cli.main(["build", "--warehouse-url", empty_database_url, "--no-gate"]) == 1
    assert "skolsam warehouse migrate" in capsys.readouterr().err


def test_airflow_init_migrates_and_creates_the_pools(empty_database_url, tmp_path, monkeypatch, capsys):
    import subprocess
    import sys

    from airflow_env import airflow_env

    env = airflow_env(tmp_path / "airflow")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SKOLSAM_SS12000_POOL_SLOTS", "3")
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    subprocess.run([airflow, "db", "migrate"], env=dict(os.environ), check=True, capture_output=True)
    assert cli.main(["airflow-init", "--warehouse-url", empty_database_url]) == 0
    assert "pools: skolsam_ss12000" in capsys.readouterr().out
    assert services.check_schema(empty_database_url)["migrations"] > 0
    out = subprocess.run([airflow, "pools", "get", "skolsam_ss12000", "--output", "json"], env=dict(os.environ),
                         check=True, capture_output=True, text=True).stdout
    import json

    pool = json.loads(out[out.index("["):])[0]
    assert (pool["pool"], str(pool["slots"])) == ("skolsam_ss12000", "3")


def test_airflow_init_never_starts_an_embedded_warehouse(monkeypatch):
    monkeypatch.delenv("SKOLSAM_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SKOLSAM_WAREHOUSE", raising=False)
    with pytest.raises(SystemExit, match="warehouse-url"):
        cli.main(["airflow-init", "--no-pools"])
