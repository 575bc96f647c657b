"""The pseudonym key is read on the worker only (never from the metadata database an Execution API token can
read), and every secret the tasks read is registered with Airflow's secrets masker."""

from __future__ import annotations

import json
import secrets

import pytest

from skolsam.airflow import runtime
from skolsam.airflow import secrets as local_secrets


def _redacted(text: str) -> str:
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    return str(_secrets_masker().redact(text))


class ExecutionAPISecretsBackend:
    """Stands in for the worker's last backend: the api-server's answer from the metadata database."""

    def __init__(self, conn):
        self.conn = conn

    def get_connection(self, conn_id):
        return self.conn if conn_id == runtime.PSEUDONYM_CONN_ID else None


class EnvironmentVariablesBackend:
    def get_connection(self, conn_id):
        return None


def _conn(password: str):
    from airflow.sdk import Connection

    return Connection(conn_id=runtime.PSEUDONYM_CONN_ID, conn_type="generic", password=password)


def test_key_from_the_worker_environment_is_used_and_masked(monkeypatch):
    key = secrets.token_hex(32)
    monkeypatch.setenv("AIRFLOW_CONN_SKOLSAM_PSEUDONYM", json.dumps({"conn_type": "generic", "password": key}))
    monkeypatch.delenv("SKOLSAM_PSEUDONYM_KEY")
    p = runtime.pseudonymiser()
    from skolsam.pseudonym import Pseudonymiser

    assert p.student_key("201001011234") == Pseudonymiser(key).student_key("201001011234")
    assert key not in _redacted(f"connecting with {key}")


def test_key_only_in_the_metadata_database_is_refused(monkeypatch):
    monkeypatch.setattr(local_secrets, "_backends",
                        lambda: [EnvironmentVariablesBackend(), ExecutionAPISecretsBackend(_conn(secrets.token_hex(32)))])
    with pytest.raises(local_secrets.SecretNotLocal, match="metadata database"):
        runtime.pseudonymiser()


def test_worker_backend_wins_and_the_api_is_not_needed(monkeypatch):
    key = secrets.token_hex(32)

    class VaultBackend:  # a workers' secrets backend, first in the chain
        def get_connection(self, conn_id):
            return _conn(key)

    monkeypatch.setattr(local_secrets, "_backends", lambda: [VaultBackend(), ExecutionAPISecretsBackend(None)])
    assert local_secrets.worker_local_connection(runtime.PSEUDONYM_CONN_ID).password == key


def test_key_from_skolsam_environment_is_masked(monkeypatch):
    key = secrets.token_hex(32)
    monkeypatch.setenv("SKOLSAM_PSEUDONYM_KEY", key)
    runtime.pseudonymiser()
    assert key not in _redacted(f"the key {key} leaked")


def test_warehouse_password_is_masked(monkeypatch):
    password = "pw-" + secrets.token_hex(12)
    monkeypatch.setenv("AIRFLOW_CONN_SKOLSAM_WAREHOUSE", f"postgres://loader:{password}@db.example:5432/skolsam")
    url = runtime.warehouse_url()
    assert password in url
    assert password not in _redacted(f"url {url}")


def test_mart_key_only_in_the_metadata_database_is_refused(monkeypatch):
    class Api(ExecutionAPISecretsBackend):
        def get_connection(self, conn_id):
            return self.conn if conn_id == runtime.MART_PSEUDONYM_CONN_ID else None

    Api.__name__ = "ExecutionAPISecretsBackend"
    monkeypatch.setattr(local_secrets, "_backends", lambda: [EnvironmentVariablesBackend(), Api(_conn(secrets.token_hex(32)))])
    with pytest.raises(local_secrets.SecretNotLocal, match="skolsam_mart_pseudonym"):
        runtime.mart_pseudonymiser()
