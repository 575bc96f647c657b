"""Telling people a report was published or a draft rejected.

A minimal hook until the project's notifiers (``skolsam.airflow.notify``) offer an announcement: if that
module has ``announce(subject, body, recipients)``, it is used; otherwise an e-mail goes out to the report's
recipients over Airflow's ``smtp_default`` Connection when one is defined, and in every case the
announcement is logged and appended to the store's ``announcements.jsonl`` (without the addresses). A
rejection is also a warning through ``notify.warning`` (the on-call alert channel) when that exists. Messages name the term, the location and the
decision: never a pupil or a key; the figures are the city totals already in the report.
"""

from __future__ import annotations

import logging

from .store import ReportStore, now_iso

log = logging.getLogger(__name__)

SMTP_CONN_ID = "smtp_default"


def recipients_from(text: str | None) -> list[str]:
    return [a.strip() for a in (text or "").replace(";", ",").split(",") if a.strip()]


def _send(subject: str, body: str, recipients: list[str]) -> str:
    """How the message went out: 'notify', 'smtp', or 'logged' (no channel configured)."""
    if not recipients:
        return "logged"
    try:
        from skolsam.airflow import notify  # the stack's notifiers, once they exist
    except ImportError:
        notify = None
    if notify is not None and hasattr(notify, "announce"):
        notify.announce(subject=subject, body=body, recipients=recipients)
        return "notify"
    try:
        from airflow.sdk import BaseHook

        BaseHook.get_connection(SMTP_CONN_ID)
    except Exception:  # no Airflow or no SMTP Connection: the log line and the store's record remain
        return "logged"
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=SMTP_CONN_ID) as hook:
        hook.send_email_smtp(to=recipients, subject=subject, html_content=body.replace("\n", "<br>\n"))
    return "smtp"


def _warn_on_call(term: str, location: str, run_id: str | None) -> None:
    try:
        from skolsam.airflow import notify
    except ImportError:
        return
    if hasattr(notify, "warning"):  # never raises: a warning must not fail the decision it reports
        notify.warning("report_rejected", "skolsam_termly_report", run_id or "-",
                       f"the draft of {term} at {location} (decision.json beside it)")


def announce(store: ReportStore, event: str, term: str, *, location: str, lines: list[str],
             recipients: list[str], run_id: str | None = None) -> dict:
    """Send (or at least record) one announcement; returns the record written to announcements.jsonl."""
    titles = {"published": f"Uppföljningsrapport {term} publicerad",
              "rejected": f"Utkast till uppföljningsrapport {term} avvisat"}
    subject = titles.get(event, f"Uppföljningsrapport {term}: {event}")
    body = "\n".join([subject, "", f"Plats: {location}", *lines])
    try:
        channel = _send(subject, body, recipients)
    except Exception as exc:  # the decision stands even if the mail server is down; say so loudly
        log.warning("announcement of %s for %s could not be sent: %s", event, term, type(exc).__name__)
        channel = "failed"
    if event == "rejected":
        _warn_on_call(term, location, run_id)
    record = {"event": event, "term": term, "at": now_iso(), "location": location, "subject": subject,
              "lines": lines, "recipients": len(recipients), "channel": channel, "run_id": run_id}
    store.log_announcement(record)
    log.info("announced %s of %s (%s, %d recipient(s))", event, term, channel, len(recipients))
    return record
