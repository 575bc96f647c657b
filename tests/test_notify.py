"""Alerts (skolsam.airflow.notify) against a local SMTP sink and a local webhook: what a failure, a warning
and a missed deadline send, to whom, and that no pupil, key or exception text ever reaches a message."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest

from skolsam.airflow import notify
from smtp_sink import SmtpSink, body

PNR = "201001011234"


@pytest.fixture
def sink(monkeypatch):
    with SmtpSink() as s:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", s.connection())
        monkeypatch.setenv("SKOLSAM_ALERT_EMAILS", "oncall@example.org, dpo@example.org")
        monkeypatch.delenv("SKOLSAM_ALERT_WEBHOOK", raising=False)
        yield s


@pytest.fixture
def webhook(monkeypatch):
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SKOLSAM_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hook?token=abc123secret")
    yield received
    server.shutdown()


def _context(exception: BaseException | None, task_id: str | None = "extract_grades") -> dict:
    ti = SimpleNamespace(task_id=task_id, dag_id="skolsam_extract_education", run_id="scheduled__2026-12-01",
                         log_url="http://airflow.example/dags/skolsam_extract_education/runs/x/tasks/extract_grades")
    from airflow.sdk import DAG

    ctx = {"dag": DAG("skolsam_extract_education", schedule=None),
           "dag_run": SimpleNamespace(run_id="scheduled__2026-12-01", dag_id="skolsam_extract_education"),
           "exception": exception}
    if task_id:
        ctx["ti"] = ti
    return ctx


class GateFailed(RuntimeError):
    reason_code = "critical_gate_failed"


def test_task_failure_mail_names_dag_task_run_reason_and_no_pupil(sink):
    exc = ValueError(f"row with personnummer {PNR} and name Anna Andersson in lista_{PNR}.csv")
    notify.SkolsamFailureNotifier()(_context(exc))
    assert len(sink.messages) == 1
    mail = sink.messages[0]
    text = mail["Subject"] + "\n" + body(mail)
    assert set(a.strip() for a in mail["To"].split(",")) == {"oncall@example.org", "dpo@example.org"}
    for expected in ("skolsam_extract_education", "extract_grades", "scheduled__2026-12-01", "ValueError",
                     "http://airflow.example/dags/skolsam_extract_education", "audit.load_run"):
        assert expected in text, expected
    assert PNR not in text and "Anna" not in text and "lista_" not in text


def test_reason_code_of_the_exception_is_used(sink):
    notify.SkolsamFailureNotifier()(_context(GateFailed("staging.ss12000_grade: 3 of 80 checks failed")))
    mail = sink.messages[0]
    assert "critical_gate_failed" in mail["Subject"]
    assert "3 of 80" not in body(mail)
    # A "reason code" that is really a message is not sent either.
    bad = GateFailed()
    bad.reason_code = f"pnr {PNR}"
    assert notify.reason_code(bad) == "GateFailed"


def test_dag_failure_mail(sink):
    ctx = _context(None, task_id=None)
    ctx["reason"] = "task_failure"
    notify.SkolsamFailureNotifier()(ctx)
    mail = sink.messages[0]
    assert "skolsam_extract_education" in mail["Subject"] and "run" in mail["Subject"]
    assert "task_failure" in mail["Subject"]


def test_warning_and_intake_warnings(sink):
    assert notify.warning("quarantine_spike", "skolsam_ingest_enrollment", "manual__1", "audit.quarantine")
    assert "WARNING" in sink.messages[0]["Subject"] and "quarantine_spike" in sink.messages[0]["Subject"]
    summary = {"files": [{"name": f"lista_{PNR}.csv", "status": "rejected", "rows_read": 0},
                         {"name": "ok.csv", "status": "loaded", "rows_read": 10, "rows_quarantined": 4}],
               "rows_read": 10, "rows_quarantined": 4}
    codes = notify.intake_warnings(summary, "skolsam_ingest_enrollment", "scheduled__x", quarantine_share=0.2)
    assert codes == ["enrollment_list_rejected", "quarantine_spike"]
    texts = [m["Subject"] + body(m) for m in sink.messages[1:]]
    assert len(texts) == 2 and all(PNR not in t and "lista_" not in t for t in texts)
    assert notify.intake_warnings({"files": [], "rows_read": 100, "rows_quarantined": 5},
                                  "skolsam_ingest_enrollment", "r", quarantine_share=0.2) == []


def test_webhook_gets_the_same_message(sink, webhook):
    notify.SkolsamFailureNotifier()(_context(GateFailed()))
    assert len(webhook) == 1 and len(sink.messages) == 1
    assert webhook[0]["dag_id"] == "skolsam_extract_education" and webhook[0]["task_id"] == "extract_grades"
    assert webhook[0]["reason_code"] == "critical_gate_failed" and webhook[0]["level"] == "failure"


def test_no_recipients_sends_nothing_and_a_broken_channel_raises(monkeypatch, sink):
    monkeypatch.delenv("SKOLSAM_ALERT_EMAILS")
    assert notify.send(notify.failure_alert(_context(None))) == []
    assert sink.messages == []
    monkeypatch.setenv("SKOLSAM_ALERT_EMAILS", "oncall@example.org")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": 1, "extra": {"disable_ssl": True, "disable_tls": True,
                                                                         "retry_limit": 0, "timeout": 2}}))
    with pytest.raises(RuntimeError, match="alert not delivered"):
        notify.send(notify.failure_alert(_context(None)))
    assert notify.warning("quarantine_spike", "d", "r", "w") is False  # a warning never fails the load


POSTGRES_METADATA = "postgresql+psycopg2://airflow@db.example/airflow"


def test_extract_deadline_alert(monkeypatch, sink):
    monkeypatch.setenv("SKOLSAM_EXTRACT_DEADLINE_MINUTES", "90")
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "sqlite:////tmp/airflow.db")
    assert notify.extract_deadline() is None  # airflow dags test (the demo): no deadline
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", POSTGRES_METADATA)
    alert = notify.extract_deadline()
    from datetime import timedelta

    from airflow.sdk import AsyncCallback, DeadlineReference

    assert alert.interval == timedelta(minutes=90)
    assert alert.reference == DeadlineReference.DAGRUN_LOGICAL_DATE
    assert isinstance(alert.callback, AsyncCallback)
    assert alert.callback.path == "skolsam.airflow.notify.extract_deadline_missed"
    asyncio.run(notify.extract_deadline_missed(context={"dag_run": {"run_id": "scheduled__2026-12-01"}},
                                               **alert.callback.kwargs))
    mail = sink.messages[0]
    assert "DEADLINE" in mail["Subject"] and "skolsam_extract_education" in mail["Subject"]
    assert "scheduled__2026-12-01" in body(mail) and "90 minutes" in body(mail)


def test_every_dag_and_task_has_the_failure_notifiers(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", POSTGRES_METADATA)  # as deployed: the deadline is on

    from airflow_env import DAGS

    bag = DagBag(dag_folder=str(DAGS))
    assert not bag.import_errors
    for dag in bag.dags.values():
        assert any(isinstance(n, notify.SkolsamFailureNotifier) for n in dag.on_failure_callback), dag.dag_id
        for task in dag.tasks:
            callbacks = task.on_failure_callback or []
            assert any(isinstance(n, notify.SkolsamFailureNotifier) for n in callbacks), task.task_id
    extract = bag.dags["skolsam_extract_education"]
    assert extract.deadline and extract.deadline[0].callback.path.endswith("extract_deadline_missed")
