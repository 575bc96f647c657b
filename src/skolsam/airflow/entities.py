"""The extract DAG's last step: which entities were loaded, and a clear failure naming those that were not."""

from __future__ import annotations

from typing import Any, Sequence


class EntitiesFailed(RuntimeError):
    """Some SS 12000 entities were not loaded this run (each has its failed task and load_run row)."""


def entities_done(ti: Any, entities: Sequence[str]) -> list[str]:
    """The entities whose extract task returned a summary this run; raises EntitiesFailed naming the others
    (a task that failed or was skipped leaves no summary)."""
    missing = [e for e in entities if not ti.xcom_pull(task_ids=f"extract_{e}")]
    if missing:
        raise EntitiesFailed(f"SS 12000 entities not loaded: {', '.join(missing)} (see their tasks and "
                             "audit.load_run); the other entities were loaded")
    return list(entities)
