"""An isolated Airflow home for tests: the same settings the demo uses, with quieter logging."""

from __future__ import annotations

from pathlib import Path

from skolsam.airflow import local

DAGS = local.PROJECT_ROOT / "dags"


def airflow_env(home: Path) -> dict[str, str]:
    return {**local.airflow_env(home), "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}
