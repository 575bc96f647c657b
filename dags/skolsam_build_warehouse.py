"""Build the warehouse whenever staging changes: quality gate, match-rate gate, core, marts, gate, publish.

Wiring only; the work is in skolsam.quality, skolsam.enrollment.match and skolsam.warehouse.build.
A critical quality failure or a too-low match rate stops the run before the published marts change.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from skolsam.airflow.assets import MARTS, STAGING_EDUCATION, STAGING_ENROLLMENT
from skolsam.airflow.defaults import default_args


@dag(
    dag_id="skolsam_build_warehouse",
    schedule=(STAGING_EDUCATION | STAGING_ENROLLMENT),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["skolsam", "warehouse"],
    params={"terms": None},
    doc_md=__doc__,
)
def skolsam_build_warehouse():
    @task
    def migrate_schema() -> list[str]:
        from skolsam.airflow import runtime
        from skolsam.warehouse import migrate

        return migrate.migrate(runtime.warehouse_url())

    @task
    def staging_quality_gate() -> dict:
        from skolsam.airflow import runtime
        from skolsam.quality.gate import staging_gate

        return staging_gate(runtime.warehouse_url(), settings=runtime.settings()).summary()

    @task
    def match_rate_gate() -> dict:
        from skolsam.airflow import runtime
        from skolsam.enrollment.match import check_match_rate

        return check_match_rate(runtime.warehouse_url(), runtime.settings()).as_dict()

    @task
    def build_and_publish(params=None) -> dict:
        from skolsam.airflow import runtime
        from skolsam.quality.gate import mart_gate
        from skolsam.warehouse.build import build_warehouse

        settings = runtime.settings()
        url = runtime.warehouse_url()
        terms = (params or {}).get("terms") or None

        def gate(warehouse_url: str, schema: str) -> None:
            mart_gate(warehouse_url, schema, settings=settings)

        return build_warehouse(url, settings, terms=terms, gate=gate,
                               mart_pseudonymiser=runtime.mart_pseudonymiser())

    @task(outlets=[MARTS])
    def apply_grants() -> None:
        from skolsam.airflow import runtime
        from skolsam.warehouse.grants import apply_grants as grant

        grant(runtime.warehouse_url())

    migrated = migrate_schema()
    checked = staging_quality_gate()
    matched = match_rate_gate()
    built = build_and_publish()
    migrated >> checked >> matched >> built >> apply_grants()


skolsam_build_warehouse()
