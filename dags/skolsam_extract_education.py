"""Daily SS 12000 extraction into staging: organisations, syllabuses, persons, grades, deletions, attendance,
one DAG per school system (source) of config/sources.yaml.

Wiring only; the work is in skolsam.ss12000.extract (one entity per task, each in one transaction with
its watermark, so a failed task leaves staging and the watermark as they were and its retry starts over).
Params: ``full_refresh`` ignores the watermarks and replaces staging; ``terms`` (e.g. ["HT2025",
"VT2026"]) is a backfill of those terms' attendance windows (default: every term from the setting
``history_start_term`` on at a source's first run, then the current and previous term). A failing entity
does not stop the later ones (each runs when the one before is done, whatever its outcome); the last task,
``entities_done``, fails listing the entities that failed, and updates the STAGING_EDUCATION asset (which
triggers the warehouse build) only when every entity was loaded.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task

from skolsam.airflow.assets import STAGING_EDUCATION
from skolsam.airflow.defaults import default_args
from skolsam.ss12000.sources import Source, load_sources  # light: the config file, no database, no HTTP

# One DAG per school system (config/sources.yaml, or the Variable skolsam_sources): each with its own
# Connection, entities, pool, watermarks and failure. The first keeps the name skolsam_extract_education.
SOURCES = load_sources()


def dag_id_for(source: Source) -> str:
    return "skolsam_extract_education" if source == SOURCES[0] else f"skolsam_extract_education__{source.id}"


def _extract_task(source: Source, entity: str, trigger_rule: str = "all_success"):
    @task(task_id=f"extract_{entity}", trigger_rule=trigger_rule, **({"pool": source.pool} if source.pool else {}))
    def extract(params: dict | None = None) -> dict:
        from skolsam.airflow import runtime
        from skolsam.airflow.ss12000_hook import source_call
        from skolsam.ss12000.extract import extract_entity

        params = params or {}
        api, settings = source_call(source.id, runtime.settings())
        return extract_entity(
            entity,
            runtime.warehouse_url(),
            api,
            runtime.pseudonymiser(),
            full_refresh=bool(params.get("full_refresh")),
            terms=params.get("terms") or None,
            settings=settings,
            source=source.id,
        )

    return extract


def extract_dag(source: Source):
    entities = source.entities  # in dependency order

    @dag(
        dag_id=dag_id_for(source),
        schedule="@daily",
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        tags=["skolsam", "ss12000"],
        params={
            "full_refresh": Param(False, type="boolean", description="ignore watermarks and replace this source's "
                                                                     "staging rows"),
            "terms": Param(None, type=["null", "array", "string"],
                           description='backfill: terms to read again, e.g. ["HT2025", "VT2026"]; default: all '
                                       "terms from history_start_term at the first run, then the current and "
                                       "previous term"),
        },
        doc_md=__doc__ + f"\n\nSource: `{source.id}` (Connection `{source.conn_id}`).",
    )
    def extract_education():
        @task
        def migrate_schema() -> list[str]:
            from skolsam.airflow import runtime
            from skolsam.warehouse import migrate

            return migrate.migrate(runtime.warehouse_url())

        @task(trigger_rule="all_done", outlets=[STAGING_EDUCATION])
        def entities_done(**context) -> list[str]:
            from skolsam.airflow.entities import entities_done as check

            return check(context["ti"], entities)

        previous = migrate_schema()
        for entity in entities:
            # The first waits for the migration; the others run whatever became of the entity before.
            current = _extract_task(source, entity, "all_success" if entity == entities[0] else "all_done")()
            previous >> current
            previous = current
        previous >> entities_done()

    return extract_education()


for _source in SOURCES:
    globals()[dag_id_for(_source)] = extract_dag(_source)
