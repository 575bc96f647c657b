"""Alerts: who is told when something fails or looks wrong, and what they are told.

- Failures: ``failure_notifiers()`` (in every task's default args) and the DAG-level ``on_failure_callback``
  (set on every skolsam DAG by the ``airflow.policy`` hook in skolsam.airflow.policy) send an e-mail over the
  ``smtp_default`` Connection to the addresses in the Variable ``skolsam_alert_emails`` (or the environment
  ``SKOLSAM_ALERT_EMAILS``; comma-separated), and, if the Variable ``skolsam_alert_webhook`` (or
  ``SKOLSAM_ALERT_WEBHOOK``) names a URL, POST the same message to it as JSON.
- Warnings: ``warning(reason_code, dag_id, run_id, where)``, for a rejected enrollment list or a
  quarantine spike; ``intake_warnings(summary, ...)`` decides that from the intake's counts.
- The deadline: ``extract_deadline()``, a Deadline Alert on the daily extract; when it has not finished
  ``extract_deadline_minutes`` (a setting) after its scheduled time, the triggerer sends an alert.

A message names the DAG, the task, the run, a reason code and where to look (the task log, the audit
tables). It never carries a pupil, a key, an exception's text or a file's content: an exception message
may hold a file name or a value from a row, so only its type (or its ``reason_code``) is sent, and the
log, which is behind Airflow's access control and masks secrets, has the rest.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
from dataclasses import asdict, dataclass
from datetime import timedelta

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

SMTP_CONN_ID = "smtp_default"
EMAILS_VARIABLE = "skolsam_alert_emails"
WEBHOOK_VARIABLE = "skolsam_alert_webhook"
EXTRACT_DAG_ID = "skolsam_extract_education"
# A reason code is a short identifier; anything else (a message, a value) is not sent.
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Alert:
    level: str            # "failure", "warning" or "deadline"
    dag_id: str
    run_id: str
    task_id: str | None
    reason_code: str
    where: str

    @property
    def subject(self) -> str:
        what = f"task {self.task_id}" if self.task_id else "run"
        return f"[skolsam {self.level.upper()}] {self.dag_id}: {what} ({self.reason_code})"

    def text(self) -> str:
        lines = [f"level: {self.level}", f"DAG: {self.dag_id}", f"run: {self.run_id}"]
        if self.task_id:
            lines.append(f"task: {self.task_id}")
        lines += [f"reason code: {self.reason_code}", f"where to look: {self.where}"]
        return "\n".join(lines)

    def html(self) -> str:
        return "<pre>" + html.escape(self.text()) + "</pre>"


def reason_code(error: BaseException | None, default: str = "task_failed") -> str:
    """A code for an exception: its ``reason_code`` attribute if it has a well-formed one, else its type."""
    if error is None:
        return default
    code = getattr(error, "reason_code", None)
    if isinstance(code, str) and _CODE.match(code):
        return code
    return type(error).__name__


# --- configuration (read when an alert is sent, never at parse time) --------------------------------------

def _variable(key: str, env: str) -> str:
    value = os.environ.get(env)
    if value is not None:
        return value
    try:
        from airflow.sdk import Variable

        return Variable.get(key, default=None) or ""
    except Exception:  # outside a task context, or no such Variable
        return ""


def recipients() -> list[str]:
    raw = _variable(EMAILS_VARIABLE, "SKOLSAM_ALERT_EMAILS")
    return [a.strip() for a in re.split(r"[,;\s]+", raw) if a.strip()]


def webhook_url() -> str:
    return _variable(WEBHOOK_VARIABLE, "SKOLSAM_ALERT_WEBHOOK").strip()


# --- channels -----------------------------------------------------------------------------------------------

def send_email(alert: Alert, to: list[str], conn_id: str = SMTP_CONN_ID) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(to=to, subject=alert.subject, html_content=alert.html(),
                             from_email=hook.from_email or "skolsam-alerts@localhost")


def send_webhook(alert: Alert, url: str) -> None:
    import httpx

    from skolsam.airflow.secrets import mask

    mask(url)  # a webhook URL often carries its token
    httpx.post(url, json={**asdict(alert), "subject": alert.subject}, timeout=10).raise_for_status()


def send(alert: Alert) -> list[str]:
    """Send over every configured channel; returns the channels used. Raises if a configured one fails."""
    used, errors = [], []
    to = recipients()
    if to:
        try:
            send_email(alert, to)
            used.append("email")
        except Exception as exc:  # try the webhook too, then report
            errors.append(f"email: {type(exc).__name__}: {exc}")
    url = webhook_url()
    if url:
        try:
            send_webhook(alert, url)
            used.append("webhook")
        except Exception as exc:
            errors.append(f"webhook: {type(exc).__name__}")
    if not to and not url:
        log.warning("no alert recipients configured (Variable %s / SKOLSAM_ALERT_EMAILS); %s not sent",
                    EMAILS_VARIABLE, alert.subject)
    if errors:
        raise RuntimeError("alert not delivered: " + "; ".join(errors))
    return used


# --- failures -------------------------------------------------------------------------------------------

def _where(context) -> str:
    ti = context.get("ti") or context.get("task_instance")
    url = getattr(ti, "log_url", None) if ti is not None else None
    parts = [f"task log: {url}" if url else "the task log in the Airflow UI"]
    parts.append("audit.load_run (status, message) and audit.quarantine in the warehouse")
    return "; ".join(parts)


def failure_alert(context, level: str = "failure") -> Alert:
    dag_run = context.get("dag_run")
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = getattr(dag, "dag_id", None) or getattr(dag_run, "dag_id", None) or getattr(ti, "dag_id", "?")
    run_id = getattr(dag_run, "run_id", None) or context.get("run_id") or getattr(ti, "run_id", "?")
    task_id = getattr(ti, "task_id", None) if ti is not None else None
    if context.get("reason") and not task_id:  # DAG-level callback: Airflow's reason, e.g. task_failure
        code = str(context["reason"]) if _CODE.match(str(context["reason"])) else "dagrun_failed"
    else:
        code = reason_code(context.get("exception"))
    return Alert(level=level, dag_id=str(dag_id), run_id=str(run_id), task_id=task_id, reason_code=code,
                 where=_where(context))


class SkolsamFailureNotifier(BaseNotifier):
    """Task or DAG failure: e-mail (smtp_default) and the optional webhook."""

    def notify(self, context) -> None:
        send(failure_alert(context))


def failure_notifiers() -> list[BaseNotifier]:
    """For ``on_failure_callback`` (task default args and DAGs)."""
    return [SkolsamFailureNotifier()]


# --- warnings -------------------------------------------------------------------------------------------

def warning(reason_code: str, dag_id: str, run_id: str, where: str) -> bool:
    """A warning notification (the run stays green). Returns True when it was sent; never raises, since a
    warning must not fail the load that found it; a delivery failure is logged as an error."""
    code = reason_code if _CODE.match(reason_code or "") else "warning"
    alert = Alert(level="warning", dag_id=dag_id, run_id=run_id, task_id=None, reason_code=code, where=where)
    try:
        return bool(send(alert))
    except Exception as exc:
        log.error("warning %s for %s/%s was not delivered: %s", code, dag_id, run_id, exc)
        return False


def intake_warnings(summary: dict, dag_id: str, run_id: str, quarantine_share: float) -> list[str]:
    """Warnings for an enrollment intake summary (skolsam.enrollment.intake.ingest_landing): a rejected list;
    a quarantine spike (at least ``quarantine_share`` of the rows read in this run quarantined). Returns the
    reason codes sent. Only counts reach the message, never a file name (it may carry a personnummer)."""
    codes = []
    rejected = sum(1 for f in summary.get("files") or [] if f.get("status") == "rejected")
    if rejected:
        codes.append("enrollment_list_rejected")
        warning("enrollment_list_rejected", dag_id, run_id,
                f"{rejected} list(s) moved to rejected/ in the landing folder, each with a .reason.txt; "
                "audit.load_run (source enrollment, status rejected)")
    read, quarantined = summary.get("rows_read") or 0, summary.get("rows_quarantined") or 0
    if read and quarantined / read >= quarantine_share:
        codes.append("quarantine_spike")
        warning("quarantine_spike", dag_id, run_id,
                f"{quarantined} of {read} rows quarantined in this run (threshold {quarantine_share:.0%}); "
                "audit.quarantine grouped by reason (skolsam ingest --json)")
    return codes


# --- the deadline ---------------------------------------------------------------------------------------

async def extract_deadline_missed(context=None, **kwargs) -> None:
    """Deadline Alert callback (runs in the triggerer)."""
    import asyncio

    dag_run = context.get("dag_run") if isinstance(context, dict) else None
    run_id = dag_run.get("run_id", "?") if isinstance(dag_run, dict) else getattr(dag_run, "run_id", "?")
    alert = Alert(level="deadline", dag_id=kwargs.get("dag_id", EXTRACT_DAG_ID), run_id=str(run_id), task_id=None,
                  reason_code="extract_deadline_missed",
                  where=f"the run has not finished {kwargs.get('minutes', '?')} minutes after its scheduled time: "
                        "the DAG's grid view in the Airflow UI; audit.load_run for the entity still running")
    await asyncio.to_thread(send, alert)


def _sqlite_metadata() -> bool:
    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    if url is None:
        try:
            from airflow.configuration import conf

            url = conf.get("database", "sql_alchemy_conn", fallback="")
        except Exception:
            url = ""
    return str(url).startswith("sqlite")


def extract_deadline(minutes: int | None = None, dag_id: str = EXTRACT_DAG_ID):
    """The Deadline Alert for the daily extract: not finished ``minutes`` after the run's logical date.

    None (no deadline) when ``minutes`` is 0, and on a SQLite metadata database: that is ``airflow dags test``
    (the demo), where Deadline Alerts never fire and Airflow 3.3 fails the run looking one up (``'dict' object
    has no attribute 'hex'``). Every deployment has PostgreSQL metadata and gets the deadline."""
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    from skolsam.settings import Settings

    minutes = minutes if minutes is not None else Settings.load().extract_deadline_minutes
    if minutes <= 0 or _sqlite_metadata():
        return None
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=timedelta(minutes=minutes),
        callback=AsyncCallback(extract_deadline_missed, kwargs={"dag_id": dag_id, "minutes": minutes}),
    )
