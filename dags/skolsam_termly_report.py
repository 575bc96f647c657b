"""The termly follow-up report, one run per school term once that term's grades are set.

Schedule: ``SchoolTermTimetable`` (skolsam.airflow.timetable, registered by plugins/skolsam_plugin.py):
a run ``SKOLSAM_REPORT_DELAY_DAYS`` (default 14) days after each term ends, data interval = the term.
A scheduled (or backfill) run reports the term of its data interval (and fails, then retries, if the mart lacks it).
A manual run reports the term given as ``term`` in the run's conf, else the latest term in
mart.group_term that had ended by its logical date (any term, without a logical date).
Output: ``$SKOLSAM_HOME/reports/<term>/``.

Wiring only; the work is in skolsam.report.
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import dag, task

from skolsam.airflow.defaults import dagrun_timeout, default_args
from skolsam.airflow.timetable import SchoolTermTimetable


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
    @task
    def build_report(params=None, data_interval_start=None, dag_run=None) -> dict:
        from skolsam.airflow import runtime
        from skolsam.airflow.timetable import term_name_for
        from skolsam.report import available_terms, build_report as build
        from skolsam.settings import project_home
        from skolsam.terms import load_calendar, parse_term

        settings = runtime.settings()
        url = runtime.warehouse_url()
        wanted = (params or {}).get("term")
        run_type = getattr(dag_run, "run_type", None)
        strict = str(getattr(run_type, "value", run_type)) in ("scheduled", "backfill")
        if wanted:
            term = parse_term(wanted).name
        elif strict:
            # The term of the data interval, and no other: a missing mart fails (and retries).
            term = term_name_for(data_interval_start, load_calendar(settings.term_calendar or None))
        else:
            # Manual: the latest term in the mart that had ended by the run's logical date (any, without one).
            terms = available_terms(url)
            if data_interval_start is not None:
                upto = parse_term(term_name_for(data_interval_start, load_calendar(settings.term_calendar or None)))
                terms = [t for t in terms if parse_term(t).order <= upto.order]
            if not terms:
                raise RuntimeError("mart.group_term has no term to report")
            term = terms[-1]
        html = build(url, term, project_home() / "reports" / term, settings=settings)
        pdf = html.with_suffix(".pdf")
        return {"term": term, "html": str(html), "pdf": str(pdf) if pdf.exists() else None}

    build_report()


skolsam_termly_report()
