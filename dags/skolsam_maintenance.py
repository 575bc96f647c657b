"""Weekly housekeeping: the erasure safety net, audit retention, raw-file retention, planner statistics.

Wiring only; the work is in skolsam.maintenance.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from skolsam.airflow.defaults import default_args


@dag(
    dag_id="skolsam_maintenance",
    schedule="0 3 * * 0",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=default_args(),
    tags=["skolsam", "maintenance"],
    doc_md=__doc__,
)
def skolsam_maintenance():
    @task
    def enforce_erasures() -> dict:
        from skolsam import maintenance
        from skolsam.airflow import runtime

        from skolsam.enrollment.intake import landing_location

        url = runtime.warehouse_url()
        removed = maintenance.enforce_erasures(url, runtime.mart_pseudonymiser())
        # and down to the disk: archived lists naming an erased pupil, table files (issue 17 item 6)
        disk = maintenance.erase_to_disk(url, landing_location(runtime.settings()), runtime.pseudonymiser())
        return {"rows_removed": removed, "archive": disk["archive"], "vacuumed": len(disk["vacuumed"])}

    @task
    def purge_audit() -> dict:
        from skolsam import maintenance
        from skolsam.airflow import runtime

        return maintenance.purge_audit(runtime.warehouse_url(), runtime.settings().audit_retention_days)

    @task
    def purge_landing_archive() -> int:
        from skolsam import maintenance
        from skolsam.airflow import runtime
        from skolsam.enrollment.intake import landing_location

        settings = runtime.settings()
        return maintenance.purge_landing_archive(landing_location(settings), settings.landing_archive_retention_days)

    @task
    def analyze() -> None:
        from skolsam import maintenance
        from skolsam.airflow import runtime

        maintenance.analyze(runtime.warehouse_url())

    enforce_erasures() >> purge_audit() >> purge_landing_archive() >> analyze()


skolsam_maintenance()
