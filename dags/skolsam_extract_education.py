"""Daily SS 12000 extraction into staging: organisations, syllabuses, persons, grades, deletions, attendance.

Wiring only; the work is in skolsam.ss12000.extract (one entity per task, each in one transaction with
its watermark, so a failed task leaves staging and the watermark as they were and its retry starts over).
Params: ``full_refresh`` ignores the watermarks and replaces staging; ``terms`` (e.g. ["HT2025",
"VT2026"]) chooses the attendance windows (default: the terms of the last ~13 months). The last task
updates the STAGING_EDUCATION asset, which triggers the warehouse build.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task

from skolsam.airflow.assets import STAGING_EDUCATION
from skolsam.airflow.defaults import default_args
from skolsam.airflow.notify import extract_deadline

# Dependency order (skolsam.ss12000.extract.ENTITIES, repeated here so parsing the DAG imports nothing heavy).
ENTITIES = ("organisations", "syllabuses", "persons", "grades", "deletedEntities", "aggregatedAttendance")


def _extract_task(entity: str, outlets: list | None = None):
    @task(task_id=f"extract_{entity}", outlets=outlets or [])
    def extract(params: dict | None = None) -> dict:
        from skolsam.airflow import runtime
        from skolsam.ss12000.extract import extract_entity

        params = params or {}
        return extract_entity(
            entity,
            runtime.warehouse_url(),
            runtime.ss12000_api(),
            runtime.pseudonymiser(),
            full_refresh=bool(params.get("full_refresh")),
            terms=params.get("terms") or None,
            settings=runtime.settings(),
        )

    return extract


@dag(
    dag_id="skolsam_extract_education",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    deadline=extract_deadline(),  # alert when not finished extract_deadline_minutes after the scheduled time
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
    def migrate_schema() -> list[str]:
        from skolsam.airflow import runtime
        from skolsam.warehouse import migrate

        return migrate.migrate(runtime.warehouse_url())

    previous = migrate_schema()
    for entity in ENTITIES:
        current = _extract_task(entity, [STAGING_EDUCATION] if entity == ENTITIES[-1] else None)()
        previous >> current
        previous = current


skolsam_extract_education()
