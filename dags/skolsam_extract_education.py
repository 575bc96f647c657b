"""Daily SS 12000 extraction into staging: organisations, syllabuses, persons, grades, deletions, attendance,
one DAG per school system (source) of config/sources.yaml.

Wiring only; the work is in skolsam.ss12000.extract (one entity per task, each in one transaction with
its watermark, so a failed task leaves staging and the watermark as they were and its retry starts over).
Params: ``full_refresh`` ignores the watermarks and replaces staging; ``terms`` (e.g. ["HT2025",
"VT2026"]) is a backfill of those terms' attendance windows (default: every term from the setting
``history_start_term`` on at a source's first run, then the current term, and the previous one for
``closed_term_reread_days`` after it ended). A failing entity
does not stop the later ones (each runs when the one before is done, whatever its outcome); the last task,
``entities_done``, fails listing the entities that failed, and updates the STAGING_EDUCATION asset (which
triggers the warehouse build) only when every entity was loaded. ``check_schema`` fails at once if the
warehouse lacks a migration (``skolsam warehouse migrate``); the run is one staging batch from the setup
task ``begin_staging_load`` to the teardown ``end_staging_load``, so a build never reads half of it; the
extract tasks run in the source's pool (default the setting ``ss12000_pool``).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, setup, task, teardown

from skolsam.airflow.assets import STAGING_EDUCATION
from skolsam.airflow.defaults import dagrun_timeout, default_args, ss12000_pool
from skolsam.airflow.notify import extract_deadline
from skolsam.ss12000.sources import Source, extract_dag_id, load_sources  # light: config only, no database

# One DAG per school system (config/sources.yaml, or the Variable skolsam_sources): each with its own
# Connection, entities, pool, watermarks and failure. The first keeps the name skolsam_extract_education.
SOURCES = load_sources()


def dag_id_for(source: Source) -> str:
    return extract_dag_id(source, SOURCES)


def _extract_task(source: Source, entity: str, trigger_rule: str = "all_success"):
    # The pool bounds how many tasks call the source at once, across every worker.
    @task(task_id=f"extract_{entity}", trigger_rule=trigger_rule, pool=source.pool or ss12000_pool())
    def extract(params: dict | None = None) -> dict:
        from skolsam import services
        from skolsam.airflow import runtime
        from skolsam.airflow.ss12000_hook import source_call

        params = params or {}
        url = runtime.warehouse_url()
        api, settings = source_call(source.id, runtime.settings())
        return services.extract(
            entity,
            url,
            api,
            runtime.pseudonymiser(),
            settings,
            full_refresh=bool(params.get("full_refresh")),
            terms=params.get("terms") or None,
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
        dagrun_timeout=dagrun_timeout(),
        default_args=default_args(),
        deadline=extract_deadline(dag_id=dag_id_for(source)),  # alert when not finished in time (notify)
        tags=["skolsam", "ss12000"],
        params={
            "full_refresh": Param(False, type="boolean", description="ignore watermarks and replace this source's "
                                                                     "staging rows"),
            "terms": Param(None, type=["null", "array", "string"],
                           description='backfill: terms to read again, e.g. ["HT2025", "VT2026"]; default: all '
                                       "terms from history_start_term at the first run, then the current term "
                                       "(and the previous one for closed_term_reread_days after it ended)"),
        },
        doc_md=__doc__ + f"\n\nSource: `{source.id}` (Connection `{source.conn_id}`).",
    )
    def extract_education():
        @task
        def check_schema() -> dict:
            from skolsam import services
            from skolsam.airflow import runtime

            return services.check_schema(runtime.warehouse_url())

        # One staging batch from the first entity to the teardown: a build waits until it is closed, so it
        # never reads today's persons beside yesterday's grades (skolsam.warehouse.locks).
        @setup
        def begin_staging_load(dag_run=None) -> int:
            from skolsam import services
            from skolsam.airflow import runtime

            return services.begin_education_load(runtime.warehouse_url(), runtime.settings(),
                                                 getattr(dag_run, "run_id", None), source=source.id)

        @teardown
        def end_staging_load(batch_id: int) -> None:
            from skolsam import services
            from skolsam.airflow import runtime

            services.end_education_load(runtime.warehouse_url(), batch_id)

        @task(trigger_rule="all_done", outlets=[STAGING_EDUCATION])
        def entities_done(**context) -> list[str]:
            from skolsam.airflow.entities import entities_done as check

            return check(context["ti"], entities)

        batch = begin_staging_load()
        check_schema() >> batch
        previous = batch
        for entity in entities:
            # The first waits for the schema check and the batch; the others run whatever became of the one before.
            current = _extract_task(source, entity, "all_success" if entity == entities[0] else "all_done")()
            previous >> current
            previous = current
        done = entities_done()
        previous >> done >> end_staging_load(batch)

    return extract_education()


for _source in SOURCES:
    globals()[dag_id_for(_source)] = extract_dag(_source)
