"""No silent fallback in production (issue 10.3): outside the local demo a missing pseudonym key or
warehouse is an error at task start, never a new key file or an embedded server; the demo keeps both."""

from __future__ import annotations

import json
import socket

import pytest

from airflow_env import airflow_env

from skolsam.airflow import runtime
from skolsam.errors import ConfigurationError, is_deterministic


@pytest.fixture
def airflow_home(tmp_path, monkeypatch):
    for key, value in airflow_env(tmp_path / "airflow").items():
        monkeypatch.setenv(key, value)
    for key in ("SKOLSAM_ENV", "SKOLSAM_PSEUDONYM_KEY", "SKOLSAM_MART_PSEUDONYM_KEY", "SKOLSAM_WAREHOUSE_URL",
                "AIRFLOW_CONN_SKOLSAM_PSEUDONYM", "AIRFLOW_CONN_SKOLSAM_MART_PSEUDONYM",
                "AIRFLOW_CONN_SKOLSAM_WAREHOUSE"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _key_files(home) -> list:
    return list((home / "skolsam_home").glob("secrets/*"))


def test_the_demo_set_up_is_the_demo(airflow_home):
    assert runtime.environment() == runtime.DEMO


@pytest.mark.parametrize("env", [
    {"SKOLSAM_ENV": "production"},
    {"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"},
    {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:pw@db/airflow"},
])
def test_anything_but_the_demo_is_production(airflow_home, monkeypatch, env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert runtime.environment() == runtime.PRODUCTION


def test_an_unknown_env_name_is_refused(airflow_home, monkeypatch):
    monkeypatch.setenv("SKOLSAM_ENV", "staging-ish")
    with pytest.raises(ConfigurationError):
        runtime.environment()


def test_production_refuses_to_create_a_pseudonym_key(airflow_home, monkeypatch):
    monkeypatch.setenv("SKOLSAM_ENV", "production")
    with pytest.raises(ConfigurationError, match="skolsam_pseudonym") as caught:
        runtime.pseudonymiser()
    assert is_deterministic(caught.value)
    with pytest.raises(ConfigurationError, match="skolsam_mart_pseudonym"):
        runtime.mart_pseudonymiser()
    assert _key_files(airflow_home) == []


def test_production_refuses_an_embedded_warehouse(airflow_home, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    with pytest.raises(ConfigurationError, match="skolsam_warehouse") as caught:
        runtime.warehouse_url()
    assert is_deterministic(caught.value)
    assert not (airflow_home / "skolsam_home" / "pgdata").exists()


def test_production_fails_fast_on_an_unreachable_warehouse_and_retries(airflow_home, monkeypatch):
    monkeypatch.setenv("SKOLSAM_ENV", "production")
    port = _free_port()
    monkeypatch.setenv("AIRFLOW_CONN_SKOLSAM_WAREHOUSE", json.dumps(
        {"conn_type": "postgres", "host": "127.0.0.1", "port": port, "login": "skolsam", "password": "pw",
         "schema": "skolsam"}))
    with pytest.raises(runtime.WarehouseUnreachable) as caught:
        runtime.warehouse_url()
    assert "pw" not in str(caught.value) and "skolsam_warehouse" in str(caught.value)
    assert not is_deterministic(caught.value)  # a restarting database is worth a retry


def test_production_uses_what_is_configured(airflow_home, monkeypatch, pg_admin_url):
    monkeypatch.setenv("SKOLSAM_ENV", "production")
    from conftest import TEST_KEY, TEST_MART_KEY

    key = TEST_KEY
    monkeypatch.setenv("AIRFLOW_CONN_SKOLSAM_PSEUDONYM", json.dumps({"conn_type": "generic", "password": key}))
    monkeypatch.setenv("SKOLSAM_MART_PSEUDONYM_KEY", TEST_MART_KEY)
    monkeypatch.setenv("SKOLSAM_WAREHOUSE_URL", pg_admin_url)
    from skolsam.pseudonym import Pseudonymiser

    assert runtime.pseudonymiser().student_key("200001011234") == Pseudonymiser(key).student_key("200001011234")
    assert runtime.warehouse_url() == pg_admin_url
    assert runtime.mart_pseudonymiser() is not None
    assert _key_files(airflow_home) == []


def test_the_demo_keeps_its_key_file_default(airflow_home, monkeypatch):
    monkeypatch.setenv("SKOLSAM_ENV", "demo")
    first = runtime.pseudonymiser()
    assert len(_key_files(airflow_home)) == 1
    assert runtime.pseudonymiser().student_key("200001011234") == first.student_key("200001011234")
