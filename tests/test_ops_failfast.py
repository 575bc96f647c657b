"""Fail fast on deterministic failures, retry transient ones (issue 10.5, 9.5): the classification of
skolsam's exceptions, the Airflow retry policy built on it, and that every task and DAG carries it with
timeouts. No PostgreSQL server is needed: the database errors are psycopg's own classes."""

from __future__ import annotations

import os
from datetime import timedelta

import httpx
import psycopg
import pytest

from airflow_env import DAGS, airflow_env

from skolsam import errors
from skolsam.enrollment.intake import IntakeError, LandingNotFound
from skolsam.enrollment.match import MatchRate, MatchRateTooLow
from skolsam.quality.gate import QualityGateFailed
from skolsam.ss12000.client import SS12000AuthError, SS12000Error
from skolsam.ss12000.extract import ExtractError
from skolsam.warehouse.build import BuildError, CandidatesReplaced
from skolsam.warehouse.locks import StagingBusy
from skolsam.warehouse.migrate import MigrationError, SchemaNotCurrent


def _wrapped(outer_cls, inner: BaseException, message: str = "wrapped") -> BaseException:
    """``outer_cls(message)`` raised from ``inner``, as the extractor and the build wrap their causes."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer_cls(message) from exc
    except BaseException as outer:
        return outer


def _gate_failure() -> QualityGateFailed:
    exc = QualityGateFailed.__new__(QualityGateFailed)
    RuntimeError.__init__(exc, "quality gate failed: 1 critical check(s) failed")
    exc.result = None
    return exc


DETERMINISTIC = {
    "critical quality check": _gate_failure(),
    "match rate": MatchRateTooLow(MatchRate(enrolled=10, matched=1, rate=0.1), 0.8),
    "rejected credentials": _wrapped(ExtractError, SS12000AuthError("token request refused: HTTP 401", status=401)),
    "changed applied migration": MigrationError("migration 001_x.sql changed after it was applied"),
    "schema behind the code": SchemaNotCurrent("1 migration(s) behind"),
    "missing Connection in production": errors.ConfigurationError("no pseudonym key"),
    "a model's SQL error": _wrapped(BuildError, psycopg.errors.UndefinedTable("relation does not exist")),
    "candidates of another build": CandidatesReplaced("another build"),
    "configured landing folder missing": LandingNotFound("landing folder not found"),
    "SS 12000 answer the client cannot use": SS12000Error("the server repeated a page token"),
}
TRANSIENT = {
    "dropped database connection": psycopg.OperationalError("server closed the connection unexpectedly"),
    "database connection lost inside a build": _wrapped(BuildError, psycopg.OperationalError("connection lost")),
    "extract hit a dropped connection": _wrapped(ExtractError, psycopg.OperationalError("terminating connection")),
    "SS 12000 429/5xx after the client's retries": _wrapped(
        ExtractError, SS12000Error("GET /grades failed after 6 attempts; last problem: HTTP 503", retryable=True)),
    "network": httpx.ConnectError("connection refused"),
    "staging locked by loads": StagingBusy("staging stayed locked"),
    "warehouse unreachable": ConnectionRefusedError(),
}


@pytest.mark.parametrize("case", sorted(DETERMINISTIC))
def test_deterministic_failures_are_classified_so(case):
    exc = DETERMINISTIC[case]
    assert isinstance(exc, errors.SkolsamError)
    assert errors.classify(exc) == errors.DETERMINISTIC


@pytest.mark.parametrize("case", sorted(TRANSIENT))
def test_transient_failures_are_classified_so(case):
    assert errors.classify(TRANSIENT[case]) == errors.TRANSIENT


def test_unknown_failures_are_left_to_airflows_retries():
    assert errors.classify(KeyError("x")) is None
    assert errors.classify(IntakeError("enrollment file a.csv: OSError")) is None


def test_every_skolsam_exception_class_has_the_common_base():
    from skolsam.enrollment.csvfile import FileRejected
    from skolsam.identity import InvalidIdentity
    from skolsam.quality.suites import SuiteError
    from skolsam.report.data import ReportError
    from skolsam.enrollment.landing import UnsafeLanding
    from skolsam.pseudonym import WeakKey
    from skolsam.standin.dataset import DatasetError

    classes = (BuildError, MigrationError, QualityGateFailed, SuiteError, ExtractError, SS12000Error,
               SS12000AuthError, DatasetError, IntakeError, LandingNotFound, MatchRateTooLow, FileRejected,
               ReportError, InvalidIdentity, UnsafeLanding, WeakKey)
    assert all(issubclass(c, errors.SkolsamError) for c in classes)
    # and the builtin bases the callers catch stay as they were
    assert issubclass(InvalidIdentity, ValueError) and issubclass(SuiteError, ValueError)
    assert issubclass(QualityGateFailed, RuntimeError) and issubclass(ExtractError, RuntimeError)


def test_the_retry_policy_fails_deterministic_and_defers_the_rest():
    from airflow.sdk.definitions.retry_policy import RetryAction

    from skolsam.airflow.failfast import SkolsamRetryPolicy

    policy = SkolsamRetryPolicy()
    for exc in DETERMINISTIC.values():
        decision = policy.evaluate(exc, try_number=1, max_tries=3)
        assert decision.action == RetryAction.FAIL
        assert type(exc).__name__ in decision.reason
    for exc in list(TRANSIENT.values()) + [KeyError("x")]:
        assert policy.evaluate(exc, try_number=1, max_tries=3).action == RetryAction.DEFAULT
    assert SkolsamRetryPolicy.deserialize(policy.serialize()) == policy


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    saved = dict(os.environ)
    os.environ.update(airflow_env(tmp_path_factory.mktemp("airflow_home")))
    os.environ["SKOLSAM_TASK_TIMEOUT_MINUTES"] = "45"
    os.environ["SKOLSAM_DAGRUN_TIMEOUT_MINUTES"] = "300"
    try:
        from airflow.dag_processing.dagbag import DagBag

        yield DagBag(dag_folder=str(DAGS))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_every_task_fails_fast_retries_with_backoff_and_times_out(dagbag):
    from skolsam.airflow.failfast import SkolsamRetryPolicy

    assert dagbag.import_errors == {}
    for dag in dagbag.dags.values():
        assert dag.dagrun_timeout == timedelta(minutes=300), dag.dag_id
        for t in dag.tasks:
            where = f"{dag.dag_id}.{t.task_id}"
            assert isinstance(t.retry_policy, SkolsamRetryPolicy), where
            assert t.execution_timeout == timedelta(minutes=45), where
            assert t.retries >= 2 and t.retry_exponential_backoff >= 2, where
            assert t.max_retry_delay >= t.retry_delay, where


def test_a_deterministic_failure_runs_once_under_airflow(tmp_path, monkeypatch):
    """Through Airflow itself (dag.test): a task raising a deterministic error is not retried, a transient
    one is (retries=2, so three tries)."""
    for key, value in airflow_env(tmp_path / "airflow").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SKOLSAM_RETRY_DELAY_SECONDS", "0")
    counts = tmp_path / "tries"
    counts.mkdir()
    dag_file = tmp_path / "dags" / "probe_failfast.py"
    dag_file.parent.mkdir()
    dag_file.write_text(f'''
from datetime import datetime
from pathlib import Path
from airflow.sdk import dag, task
from skolsam.airflow.defaults import default_args

COUNTS = Path({str(counts)!r})

@dag(dag_id="probe_failfast", schedule=None, start_date=datetime(2026, 1, 1), default_args=default_args())
def probe():
    @task
    def deterministic():
        with open(COUNTS / "deterministic", "a") as fh:
            fh.write("x")
        from skolsam.warehouse.migrate import SchemaNotCurrent
        raise SchemaNotCurrent("behind")

    @task
    def transient():
        with open(COUNTS / "transient", "a") as fh:
            fh.write("x")
        raise ConnectionResetError("dropped")

    deterministic()
    transient()

probe()
''')
    import subprocess
    import sys

    env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(dag_file.parent)}
    subprocess.run([str(os.path.join(os.path.dirname(sys.executable), "airflow")), "db", "migrate"],
                   env=env, check=True, capture_output=True)
    subprocess.run([str(os.path.join(os.path.dirname(sys.executable), "airflow")), "dags", "test",
                    "probe_failfast"], env=env, capture_output=True, text=True)
    assert (counts / "deterministic").read_text() == "x"
    assert (counts / "transient").read_text() == "xxx"
