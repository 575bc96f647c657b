"""The SS 12000 sources configuration (DESIGN 3.1.1): config/sources.yaml, the Variable override, checks,
and what a source's settings do to the extract (no PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from airflow_env import airflow_env

from skolsam.airflow.local import ss12000_connection
from skolsam.ss12000.extract import ENTITIES
from skolsam.ss12000.sources import Source, SourcesError, load_sources
from ss12000_fixtures import dataset  # noqa: F401 (fixture)


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


# --------------------------------------------------------------------------------------------------------
# Two school systems into one warehouse
# --------------------------------------------------------------------------------------------------------
def _second_system(dataset, root):
    """The same city as another school system answers it: other person and grade ids."""
    import shutil

    from ss12000_fixtures import read_jsonl, uid, write_jsonl

    other = root / "other"
    shutil.copytree(dataset, other)
    folder = other / "ss12000"
    persons = read_jsonl(folder / "persons.jsonl")
    for p in persons:
        p["id"] = uid("other", p["id"])
    write_jsonl(folder / "persons.jsonl", persons)
    grades = read_jsonl(folder / "grades.jsonl")
    for g in grades:
        g["id"], g["student"]["id"] = uid("other", g["id"]), uid("other", g["student"]["id"])
    write_jsonl(folder / "grades.jsonl", grades)
    attendance = read_jsonl(folder / "aggregatedAttendance.jsonl")
    for a in attendance:
        a["student"]["id"] = uid("other", a["student"]["id"])
    write_jsonl(folder / "aggregatedAttendance.jsonl", attendance)
    (folder / "deletedEntities.jsonl").write_text("")
    return other


@pytest.mark.postgres
def test_each_source_keeps_its_own_watermarks_audit_and_staging_rows(warehouse_url, dataset, tmp_path, pseudonymiser):
    from ss12000_fixtures import api_config, rows

    from skolsam.ss12000.extract import extract_entity
    from skolsam.standin.running import running_server

    other = _second_system(dataset, tmp_path)
    entities = ("persons", "grades", "aggregatedAttendance")
    with running_server(dataset, index_dir=tmp_path / "ia", demo=True) as a, \
            running_server(other, index_dir=tmp_path / "ib", demo=True) as b:
        for source, url in (("stad", a), ("fristaende_a", b)):
            for e in entities:
                extract_entity(e, warehouse_url, api_config(url, 100), pseudonymiser, source=source,
                               terms=["HT2025", "VT2026"])
        count = lambda t: dict(rows(warehouse_url, f"SELECT source, count(*) FROM staging.{t} GROUP BY 1"))  # noqa: E731
        before = {t: count(t) for t in ("ss12000_person", "ss12000_grade", "ss12000_attendance")}
        assert all(set(c) == {"stad", "fristaende_a"} and len(set(c.values())) == 1 for c in before.values())
        marks = rows(warehouse_url, "SELECT source, entity FROM audit.watermark ORDER BY 1, 2")
        assert marks == sorted((s, e) for s in ("stad", "fristaende_a") for e in entities)
        # One source's full refresh and daily attendance leave the other's rows alone.
        for e in entities:
            extract_entity(e, warehouse_url, api_config(a, 100), pseudonymiser, source="stad", full_refresh=True,
                           terms=["HT2025", "VT2026"])
        extract_entity("aggregatedAttendance", warehouse_url, api_config(a, 100), pseudonymiser, source="stad",
                       terms=["HT2025"])
        assert {t: count(t) for t in before} == before
    assert {r[0] for r in rows(warehouse_url, "SELECT DISTINCT source FROM audit.load_run")} == {"stad", "fristaende_a"}
    assert {r[0] for r in rows(warehouse_url, "SELECT DISTINCT source FROM audit.extract_coverage")} == {
        "stad", "fristaende_a"}
    # The same pupils under two systems: one student_key each, known to both.
    keys = rows(warehouse_url, "SELECT student_key, count(DISTINCT source) FROM staging.ss12000_person GROUP BY 1")
    assert keys and all(n == 2 for _, n in keys)
