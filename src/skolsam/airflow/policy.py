"""Airflow cluster policy (registered through the ``airflow.policy`` entry point in pyproject.toml): every
skolsam DAG gets the failure notifiers as its DAG-level ``on_failure_callback``, so a DAG added later cannot
be forgotten. Task-level notifiers come with the shared default args (skolsam.airflow.defaults)."""

from __future__ import annotations

from airflow.policies import hookimpl


@hookimpl
def dag_policy(dag) -> None:
    if dag.dag_id.startswith("skolsam_") and not dag.on_failure_callback:
        from skolsam.airflow.notify import failure_notifiers

        dag.on_failure_callback = failure_notifiers()
