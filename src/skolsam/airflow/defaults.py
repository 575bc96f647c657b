"""Default task arguments shared by every skolsam DAG (light: read at parse time).

SKOLSAM_RETRY_DELAY_SECONDS shortens the wait between retries for local runs and tests; production keeps
the default of five minutes so a flapping source gets time to recover.
"""

from __future__ import annotations

import os
from datetime import timedelta

from skolsam.airflow import notify


def default_args(retry_delay_minutes: float = 5, retries: int = 2) -> dict:
    seconds = os.environ.get("SKOLSAM_RETRY_DELAY_SECONDS")
    delay = timedelta(seconds=float(seconds)) if seconds else timedelta(minutes=retry_delay_minutes)
    return {
        "owner": "skolsam",
        "retries": retries,
        "retry_delay": delay,
        "retry_exponential_backoff": not seconds,
        # Alerts on a task's final failure (skolsam.airflow.notify; the DAG-level one comes from the policy).
        "on_failure_callback": notify.failure_notifiers(),
    }
