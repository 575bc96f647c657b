"""Pick up new enrollment lists from the landing folder: checksum, validate, pseudonymise, load, archive.

Wiring only; the work is in skolsam.enrollment.intake. Polls every 30 minutes; an Airflow 3 asset watcher
(AssetWatcher on a file or message trigger) or a FileSensor in deferrable mode could replace the polling.

- ``ingest_files`` processes every waiting file. A file that fails for a reason other than its content
  (e.g. the warehouse is down) stays in the landing folder and is tried again by the next run; it does not
  stop the other files. The task returns counts only (no personal data reaches XCom).
- ``announce_staging`` updates the STAGING_ENROLLMENT Asset, which schedules the warehouse build, only
  when a file was loaded; otherwise it is skipped and emits no Asset event.
- ``flag_failed_files`` fails the run when a file failed, so it shows up, after the Asset was announced.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from skolsam.airflow.assets import STAGING_ENROLLMENT
from skolsam.airflow.defaults import default_args


@dag(
    dag_id="skolsam_ingest_enrollment",
    schedule=timedelta(minutes=30),  # polling; an AssetWatcher or a deferrable FileSensor could replace it
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["skolsam", "enrollment"],
    doc_md=__doc__,
)
def skolsam_ingest_enrollment():
    @task
    def ingest_files() -> dict:
        from skolsam.airflow import runtime
        from skolsam.enrollment.intake import ingest_landing, landing_location
        from skolsam.warehouse import migrate

        settings = runtime.settings()
        url = runtime.warehouse_url()
        migrate.migrate(url)
        return ingest_landing(
            landing_location(settings), url, runtime.pseudonymiser(), settings,
            create=not settings.enrollment_landing,  # the default folder is made; a configured one must exist
            mart_pseudonymiser=runtime.mart_pseudonymiser(),  # an erasure finds the pupil's per-term mart rows
        )

    @task(outlets=[STAGING_ENROLLMENT])
    def announce_staging(summary: dict) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        if not summary.get("changed"):
            raise AirflowSkipException("no enrollment file was loaded")
        return {k: summary[k] for k in ("loaded", "rows_loaded", "rows_quarantined", "rows_erased")}

    @task(trigger_rule="none_failed")
    def flag_failed_files(summary: dict) -> None:
        failed = [f["name"] for f in summary.get("files", []) if f.get("status") == "failed"]
        if failed:
            raise RuntimeError(f"{len(failed)} enrollment file(s) failed and stay in the landing folder: {failed}")

    summary = ingest_files()
    announced = announce_staging(summary)
    announced >> flag_failed_files(summary)


skolsam_ingest_enrollment()
