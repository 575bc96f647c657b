"""The termly follow-up report, one run per school term: wait for the marts, draft, analyst's sign-off, publish.

Schedule: ``SchoolTermTimetable`` (skolsam.airflow.timetable, registered by plugins/skolsam_plugin.py):
a run ``SKOLSAM_REPORT_DELAY_DAYS`` (default 14) days after each term ends, data interval = the term.
A scheduled (or backfill) run reports the term of its data interval; a manual run the term given as
``term`` in the run's conf, else the latest term in mart.group_term that had ended by its logical date.

1. ``wait_for_marts``: a sensor in reschedule mode (no worker slot held) until mart.group_term has the
   term, for at most ``report_marts_wait_hours``: unpausing early waits instead of failing.
2. ``build_draft``: the report (HTML + PDF) with its build id and gate status into
   ``<report_location>/drafts/<term>/<draft_id>/``; ``export_figures`` adds the group tables (CSV, XLSX).
3. ``approve_report``: Airflow's human-in-the-loop task. The analyst sees the draft's location, the gates'
   status and the headline, and approves or rejects with a comment (UI: Required Actions).
4. ``publish_report`` renders an approved draft again from the inputs it was drawn from, as "Slutlig" with
   the sign-off date (refused if the marts were republished since), into
   ``<report_location>/published/<term>/`` (an earlier publication of the term moves to ``earlier/``) and
   announces it; ``reject_report`` keeps the draft,
   records why and announces the rejection.

``airflow dags test`` (and ``skolsam demo``) cannot answer the approval: they pass
``--mark-success-pattern approve_report``, and the published report then says "Ej granskad" (not reviewed).
Wiring only; the work is in skolsam.publication.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import dag, task

from skolsam.airflow.defaults import dagrun_timeout, default_args
from skolsam.airflow.report_approval import DECISION_KEY, ReportApprovalOperator
from skolsam.airflow.timetable import SchoolTermTimetable
from skolsam.settings import Settings

_WAIT = Settings.load()  # environment only (cheap, no database): the sensor's timing is fixed at parse time


@dag(
    dag_id="skolsam_termly_report",
    schedule=SchoolTermTimetable(),
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dagrun_timeout(),
    default_args=default_args(),
    tags=["skolsam", "report"],
    params={"term": None},
    doc_md=__doc__,
)
def skolsam_termly_report():
    @task.sensor(mode="reschedule", poke_interval=timedelta(minutes=_WAIT.report_marts_poke_minutes),
                 timeout=timedelta(hours=_WAIT.report_marts_wait_hours))
    def wait_for_marts(params=None, data_interval_start=None, dag_run=None):
        from airflow.sdk import PokeReturnValue

        from skolsam.airflow import runtime
        from skolsam.publication.signoff import marts_ready, resolve_term

        run_type = getattr(dag_run, "run_type", None)
        strict = str(getattr(run_type, "value", run_type)) in ("scheduled", "backfill")
        url = runtime.warehouse_url()
        term = resolve_term(url, runtime.settings(), wanted=(params or {}).get("term"), strict=strict,
                            data_interval_start=data_interval_start)
        ready = marts_ready(url, term)
        return PokeReturnValue(is_done=ready, xcom_value=term if ready else None)

    @task
    def build_draft(term: str, run_id=None) -> dict:
        from skolsam.airflow import runtime
        from skolsam.publication.signoff import build_draft as draft

        return draft(runtime.warehouse_url(), term, runtime.settings(), run_id=run_id)

    @task
    def export_figures(draft: dict) -> list[str]:
        from skolsam.airflow import runtime
        from skolsam.publication.signoff import export_into_draft

        return export_into_draft(runtime.warehouse_url(), draft, runtime.settings())

    approve = ReportApprovalOperator(
        task_id="approve_report",
        subject="Approve the termly report {{ ti.xcom_pull(task_ids='build_draft')['term'] }}?",
        body="{{ ti.xcom_pull(task_ids='build_draft')['approval_body'] }}",
        publish_task_id="publish_report",
        reject_task_id="reject_report",
        response_timeout=timedelta(days=_WAIT.report_approval_days),
    )

    @task
    def publish_report(draft: dict, ti=None, run_id=None) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from skolsam.airflow import runtime
        from skolsam.publication.signoff import APPROVED, decision_when_skipped, publish_draft

        decision = ti.xcom_pull(task_ids="approve_report", key=DECISION_KEY) or decision_when_skipped()
        if decision["decision"] != APPROVED:
            raise AirflowSkipException("the draft was rejected")
        return publish_draft(runtime.warehouse_url(), draft, decision, runtime.settings(), run_id=run_id)

    @task
    def reject_report(draft: dict, ti=None, run_id=None) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from skolsam.airflow import runtime
        from skolsam.publication.signoff import REJECTED, reject_draft

        decision = ti.xcom_pull(task_ids="approve_report", key=DECISION_KEY)
        if not decision or decision["decision"] != REJECTED:
            raise AirflowSkipException("the draft was not rejected")
        return reject_draft(draft, decision, runtime.settings(), run_id=run_id)

    draft = build_draft(wait_for_marts())
    export_figures(draft) >> approve >> [publish_report(draft), reject_report(draft)]


skolsam_termly_report()
