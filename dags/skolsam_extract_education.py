"""Daily SS 12000 extraction into staging: organisations, syllabuses, persons, grades, deletions, attendance.

Wiring only; the work is in skolsam.ss12000.extract (one entity per task, each in one transaction with
its watermark, so a failed task leaves staging and the watermark as they were and its retry starts over).
Params: ``full_refresh`` ignores the watermarks and replaces staging; ``terms`` (e.g. ["HT2025",
"VT2026"]) chooses the attendance windows (default: the terms of the last ~13 months). The last task
updates the STAGING_EDUCATION asset, which triggers the warehouse build.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, setup, task, teardown

from skolsam.airflow.assets import STAGING_EDUCATION
from skolsam.airflow.defaults import dagrun_timeout, default_args, ss12000_pool

# Dependency order (skolsam.ss12000.extract.ENTITIES, repeated here so parsing the DAG imports nothing heavy).
ENTITIES = ("organisations", "syllabuses", "persons", "grades", "deletedEntities", "aggregatedAttendance")


def _extract_task(entity: str, outlets: list | None = None):
    # The pool bounds how many tasks call the source at once, across every worker.
    @task(task_id=f"extract_{entity}", outlets=outlets or [], pool=ss12000_pool())
    def extract(params: dict | None = None) -> dict:
        from skolsam import services
        from skolsam.airflow import runtime

        params = params or {}
        return services.extract(
            entity,
            runtime.warehouse_url(),
            runtime.ss12000_api(),
            runtime.pseudonymiser(),
            runtime.settings(),
            full_refresh=bool(params.get("full_refresh")),
            terms=params.get("terms") or None,
        )

    return extract


@dag(
    dag_id="skolsam_extract_education",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dagrun_timeout(),
    default_args=default_args(),
    tags=["skolsam", "ss12000"],
    params={
        "full_refresh": Param(False, type="boolean", description="ignore watermarks and replace staging"),
        "terms": Param(None, type=["null", "array", "string"],
                       description='attendance terms, e.g. ["HT2025", "VT2026"]; default the last ~13 months'),
    },
    doc_md=__doc__,
)
def skolsam_extract_education():
    @task
    def check_schema() -> dict:
        from skolsam import services
        from skolsam.airflow import runtime

        return services.check_schema(runtime.warehouse_url())

    # The run is one staging batch from its first entity to its teardown: a build waits until it is closed,
    # so it never reads today's persons beside yesterday's grades (skolsam.warehouse.locks).
    @setup
    def begin_staging_load(dag_run=None) -> int:
        from skolsam import services
        from skolsam.airflow import runtime

        return services.begin_education_load(runtime.warehouse_url(), runtime.settings(),
                                             getattr(dag_run, "run_id", None))

    @teardown
    def end_staging_load(batch_id: int) -> None:
        from skolsam import services
        from skolsam.airflow import runtime

        services.end_education_load(runtime.warehouse_url(), batch_id)

    batch = begin_staging_load()
    check_schema() >> batch
    previous = batch
    for entity in ENTITIES:
        current = _extract_task(entity, [STAGING_EDUCATION] if entity == ENTITIES[-1] else None)()
        previous >> current
        previous = current
    previous >> end_staging_load(batch)


skolsam_extract_education()
