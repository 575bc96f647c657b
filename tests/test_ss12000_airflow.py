"""The SS 12000 hook, the provider metadata and the extraction DAG's wiring (no PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from airflow_env import DAGS, airflow_env

from skolsam.airflow.local import ss12000_connection
from skolsam.airflow.provider import get_provider_info


@pytest.fixture
def airflow_home(tmp_path, monkeypatch):
    for key, value in airflow_env(tmp_path / "airflow").items():
        monkeypatch.setenv(key, value)
    return tmp_path / "airflow"


def test_provider_registers_the_connection_type():
    info = get_provider_info()
    assert info["connection-types"] == [
        {"hook-class-name": "skolsam.airflow.ss12000_hook.SS12000Hook", "connection-type": "ss12000"}]
    assert info["package-name"] == "skolsam"


def test_hook_builds_the_api_config(airflow_home, monkeypatch):
    from skolsam.airflow.ss12000_hook import SS12000Hook

    monkeypatch.setenv("AIRFLOW_CONN_SKOLSAM_SS12000",
                       ss12000_connection("http://127.0.0.1:9/v2.0", "skolsam", "s3cret"))
    api = SS12000Hook().api_config(page_size=1234)
    assert (api.base_url, api.token_url, api.client_id, api.client_secret, api.page_size) == (
        "http://127.0.0.1:9/v2.0", "http://127.0.0.1:9/v2.0/token", "skolsam", "s3cret", 1234)
    assert "s3cret" not in repr(api)
    # a bare host name: https, port and schema as the path; the token URL defaults under the base URL
    monkeypatch.setenv("AIRFLOW_CONN_OTHER", json.dumps(
        {"conn_type": "ss12000", "host": "sis.example.se", "port": 8443, "schema": "v2.0", "login": "a",
         "password": "b"}))
    api = SS12000Hook("other").api_config()
    assert (api.base_url, api.token_url) == ("https://sis.example.se:8443/v2.0", "https://sis.example.se:8443/v2.0/token")
    assert SS12000Hook.conn_type == "ss12000" and "relabeling" in SS12000Hook.get_ui_field_behaviour()
    # Servers as they are: a static token, their time zone, filters resent on every page.
    monkeypatch.setenv("AIRFLOW_CONN_STATIC", json.dumps(
        {"conn_type": "ss12000", "host": "https://sis.example.se/v2.0", "extra": {
            "bearer_token": "t0k3n", "time_zone": "UTC", "resend_params": "meta.modified.after"}}))
    api = SS12000Hook("static").api_config()
    assert (api.static_token, api.time_zone, api.resend_params, api.allow_http) == (
        "t0k3n", "UTC", "meta.modified.after", False)
    assert "t0k3n" not in repr(api)


def test_extract_dag_wiring(airflow_home):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "skolsam_extract_education.py"))
    assert bag.import_errors == {}
    dag = bag.dags["skolsam_extract_education"]
    assert set(dag.tags) == {"skolsam", "ss12000"} and not dag.catchup
    order = ["migrate_schema"] + [f"extract_{e}" for e in (
        "organisations", "syllabuses", "persons", "grades", "deletedEntities", "aggregatedAttendance")] + [
        "entities_done"]
    assert sorted(t.task_id for t in dag.tasks) == sorted(order)
    for upstream, downstream in zip(order, order[1:]):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}
    for task in dag.tasks:
        assert task.retries >= 2 and task.retry_delay.total_seconds() > 0
    # A failing entity does not stop the later ones; the last step fails naming it and holds the outlet.
    assert [dag.get_task(t).trigger_rule for t in order[1:]] == ["all_success"] + ["all_done"] * 6
    outlets = dag.get_task("entities_done").outlets
    assert [getattr(o, "name", None) for o in outlets] == ["skolsam_staging_education"]
    assert all(not dag.get_task(t).outlets for t in order[:-1])
    assert dag.params["full_refresh"] is False and dag.params["terms"] is None


def test_entities_done_names_the_entities_that_were_not_loaded():
    from skolsam.airflow.entities import EntitiesFailed, entities_done

    class TI:
        def __init__(self, xcoms):
            self.xcoms = xcoms

        def xcom_pull(self, task_ids):
            return self.xcoms.get(task_ids)

    entities = ("organisations", "persons", "grades")
    assert entities_done(TI({f"extract_{e}": {"entity": e} for e in entities}), entities) == list(entities)
    with pytest.raises(EntitiesFailed, match=r"not loaded: persons, grades"):
        entities_done(TI({"extract_organisations": {"entity": "organisations"}}), entities)


def test_one_extract_dag_per_configured_source(airflow_home, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW_VAR_SKOLSAM_SOURCES", json.dumps({"sources": [
        {"id": "stockholm", "conn_id": "skolsam_ss12000"},
        {"id": "fristaende_a", "conn_id": "ss12000_a", "entities": ["persons", "grades"], "pool": "ss12000_a"}]}))
    bag = DagBag(dag_folder=str(DAGS / "skolsam_extract_education.py"))
    assert bag.import_errors == {}
    assert {"skolsam_extract_education", "skolsam_extract_education__fristaende_a"} <= set(bag.dags)
    other = bag.dags["skolsam_extract_education__fristaende_a"]
    assert sorted(t.task_id for t in other.tasks) == ["entities_done", "extract_grades", "extract_persons",
                                                       "migrate_schema"]
    assert other.get_task("extract_persons").pool == "ss12000_a"
    assert len(bag.dags["skolsam_extract_education"].tasks) == 8
