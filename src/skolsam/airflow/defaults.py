"""Default task and DAG arguments shared by every skolsam DAG (light: read at parse time).

All from settings (skolsam.settings, the one path; at parse time the DAG processor reads the same
Variables a task does): ``retries`` with exponential backoff from ``retry_delay_seconds`` up to
``retry_delay_max_seconds`` (the demo and tests shorten the delay with SKOLSAM_RETRY_DELAY_SECONDS), the
fail-fast retry policy (deterministic failures never retry, skolsam.airflow.failfast), an
``execution_timeout`` on every task and a ``dagrun_timeout`` on every DAG.
"""

from __future__ import annotations

from datetime import timedelta

from skolsam.airflow.failfast import SkolsamRetryPolicy
from skolsam.settings import setting

from skolsam.airflow import notify

# Doubling between retries (Airflow's multiplier; 0 would mean a constant delay).
BACKOFF_MULTIPLIER = 2.0


def default_args(retry_delay_minutes: float | None = None, retries: int | None = None) -> dict:
    delay = timedelta(minutes=retry_delay_minutes) if retry_delay_minutes is not None \
        else timedelta(seconds=setting("retry_delay_seconds"))
    return {
        "owner": "skolsam",
        "retries": setting("retries") if retries is None else retries,
        "retry_delay": delay,
        "retry_exponential_backoff": BACKOFF_MULTIPLIER,
        "max_retry_delay": timedelta(seconds=max(setting("retry_delay_max_seconds"), delay.total_seconds())),
        "retry_policy": SkolsamRetryPolicy(),
        "execution_timeout": timedelta(minutes=setting("task_timeout_minutes")),
        # Alerts on a task's final failure (skolsam.airflow.notify; the DAG-level one comes from the policy).
        "on_failure_callback": notify.failure_notifiers(),
    }


def dagrun_timeout() -> timedelta:
    """How long one run of any skolsam DAG may take before Airflow fails it."""
    return timedelta(minutes=setting("dagrun_timeout_minutes"))


def ss12000_pool() -> str:
    """The Airflow pool that bounds concurrent calls to the SS 12000 source."""
    return str(setting("ss12000_pool"))
