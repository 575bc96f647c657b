"""Build the warehouse after staging changed: staging gate, match rate, core and candidates, mart gate, publish.

Wiring only; the work is in skolsam.services (the command line runs the same steps). The steps are tasks
of their own, sharing the build id of ``prepare_candidates`` through its XCom, so a retried mart gate or
publish never rebuilds core, and the UI shows where a build stopped:

    check_schema >> staging_quality_gate >> match_rate_gate >> prepare_candidates
                 >> mart_quality_gate >> publish >> apply_grants (announces the marts Asset)

Staging is read under the exclusive staging lock (skolsam.warehouse.locks): the gate and the build wait
for running loads and for an extract run still open, so a build started by the enrollment Asset never
reads half of an education extract; if staging changed between the gate and the build, prepare checks it
again. A failed critical check, a too-low match rate or a schema behind the code fails at once (no
retries) before anything is published; the published marts stay as they were.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from skolsam.airflow.assets import MARTS, STAGING_EDUCATION, STAGING_ENROLLMENT
from skolsam.airflow.defaults import dagrun_timeout, default_args


@dag(
    dag_id="skolsam_build_warehouse",
    schedule=(STAGING_EDUCATION | STAGING_ENROLLMENT),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dagrun_timeout(),
    default_args=default_args(),
    tags=["skolsam", "warehouse"],
    params={"terms": None},
    doc_md=__doc__,
)
def skolsam_build_warehouse():
    @task
    def check_schema() -> dict:
        from skolsam import services
        from skolsam.airflow import runtime

        return services.check_schema(runtime.warehouse_url())

    @task
    def staging_quality_gate() -> dict:
        from skolsam.airflow.preload import gx_preloaded

        preloaded = gx_preloaded()  # asked before this task imports GX: did the worker's preload run?
        from skolsam import services
        from skolsam.airflow import runtime

        summary = services.staging_quality_gate(runtime.warehouse_url(), runtime.settings())
        return {**summary, "gx_preloaded": preloaded}

    @task
    def match_rate_gate() -> dict:
        from skolsam import services
        from skolsam.airflow import runtime

        return services.match_rate_gate(runtime.warehouse_url(), runtime.settings())

    @task
    def prepare_candidates(gated: dict, params=None) -> dict:
        from skolsam import services
        from skolsam.airflow import runtime

        prepared = services.prepare_candidates(runtime.warehouse_url(), runtime.settings(),
                                               (params or {}).get("terms") or None,
                                               gated_version=gated.get("staging_version"),
                                               mart_pseudonymiser=runtime.mart_pseudonymiser())
        prepared.pop("parameters", None)  # every setting: in core.build_parameter, not needed in the XCom
        return prepared

    @task
    def mart_quality_gate(prepared: dict) -> dict:
        from skolsam.airflow.preload import gx_preloaded

        preloaded = gx_preloaded()  # asked before this task imports GX: did the worker's preload run?
        from skolsam import services
        from skolsam.airflow import runtime

        summary = services.mart_quality_gate(runtime.warehouse_url(), runtime.settings(), prepared)
        return {**summary, "gx_preloaded": preloaded}

    @task
    def publish(prepared: dict) -> dict:
        from skolsam import services
        from skolsam.airflow import runtime

        return services.publish(runtime.warehouse_url(), prepared)

    @task(outlets=[MARTS])
    def apply_grants() -> list[str]:
        from skolsam import services
        from skolsam.airflow import runtime

        return services.apply_grants(runtime.warehouse_url())

    gated = staging_quality_gate()
    matched = match_rate_gate()
    prepared = prepare_candidates(gated)
    check_schema() >> gated >> matched >> prepared
    mart_quality_gate(prepared) >> publish(prepared) >> apply_grants()


skolsam_build_warehouse()
