"""The SS 12000 sources configuration (DESIGN 3.1.1): config/sources.yaml, the Variable override, checks,
and what a source's settings do to the extract (no PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from airflow_env import airflow_env

from skolsam.airflow.local import ss12000_connection
from skolsam.ss12000.extract import ENTITIES
from skolsam.ss12000.sources import Source, SourcesError, load_sources


def test_the_repository_lists_the_city_as_its_one_source():
    (source,) = load_sources(override="")
    assert source == Source("stockholm", "skolsam_ss12000")
    assert source.entities == ENTITIES


def test_the_variable_replaces_the_file(monkeypatch):
    value = json.dumps({"sources": [
        {"id": "fristaende_a", "conn_id": "ss12000_a", "entities": ["aggregatedAttendance", "persons"],
         "page_size": 500, "pool": "ss12000_a", "history_start": "ht2024", "time_zone": "UTC"},
        {"id": "stockholm", "conn_id": "skolsam_ss12000"}]})
    monkeypatch.setenv("AIRFLOW_VAR_SKOLSAM_SOURCES", value)
    a, b = load_sources()
    assert a.entities == ("persons", "aggregatedAttendance")  # dependency order, whatever the list says
    assert (a.page_size, a.pool, a.history_start, a.time_zone) == (500, "ss12000_a", "HT2024", "UTC")
    assert b.id == "stockholm"


@pytest.mark.parametrize("sources, message", [
    ([], "non-empty list"),
    ([{"id": "Stockholm", "conn_id": "c"}], "slug"),
    ([{"id": "a"}], "conn_id is required"),
    ([{"id": "a", "conn_id": "c", "entities": ["pupils"]}], "entities must be among"),
    ([{"id": "a", "conn_id": "c", "page_size": 0}], "page_size"),
    ([{"id": "a", "conn_id": "c", "history_start": "autumn"}], "history_start"),
    ([{"id": "a", "conn_id": "c", "time_zone": "Mars/Olympus"}], "time_zone"),
    ([{"id": "a", "conn_id": "c", "password": "x"}], "unknown field password"),
    ([{"id": "a", "conn_id": "c"}, {"id": "a", "conn_id": "d"}], "unique"),
])
def test_a_wrong_configuration_is_refused_saying_where(sources, message):
    with pytest.raises(SourcesError, match=message):
        load_sources(override=json.dumps({"sources": sources}))


def test_a_source_settings_reach_the_extract(tmp_path, monkeypatch):
    for key, value in airflow_env(tmp_path / "airflow").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AIRFLOW_CONN_SS12000_A", ss12000_connection("http://127.0.0.1:9/v2.0", "a", "s"))
    monkeypatch.setenv("AIRFLOW_VAR_SKOLSAM_SOURCES", json.dumps({"sources": [
        {"id": "fristaende_a", "conn_id": "ss12000_a", "page_size": 500, "history_start": "HT2024",
         "time_zone": "UTC", "resend_params": "all"}]}))
    from skolsam.airflow.ss12000_hook import source_call

    api, settings = source_call("fristaende_a")
    assert (api.base_url, api.page_size, api.time_zone, api.resend_params) == (
        "http://127.0.0.1:9/v2.0", 500, "UTC", "all")
    assert settings.history_start_term == "HT2024"
    with pytest.raises(ValueError, match="not configured"):
        source_call("stockholm")
