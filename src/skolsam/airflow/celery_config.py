"""The Celery app's configuration for skolsam's workers: Airflow's default, plus a preload at worker start.

Set ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=skolsam.airflow.celery_config.CELERY_CONFIG`` on every Airflow
component (docker-compose.yml, deploy/env.example): Airflow reads it with ``conf.getimport`` as the Celery
app's config dict. The dict is Airflow's own ``DEFAULT_CELERY_CONFIG`` unchanged (broker, result backend,
queues and their options all still come from ``[celery]``); importing this module is what matters, because
it connects :func:`_preload_task_modules` to Celery's ``worker_init`` signal.

Why ``worker_init``: it is sent in the worker's main process (``WorkController.setup_instance``) before the
prefork pool exists. The pool processes are forked from that process, and ``execute_workload`` runs in a
pool process, whose Task SDK supervisor forks the task process (``os.fork`` on Linux). One import there is
inherited by every pool process and task, shared copy-on-write, and survives pool-process recycling
(``worker_process_init`` would import once per pool process instead). The scheduler, the api-server and
the dag-processor import this module too (through Airflow's celery executor) but never start a Celery
worker, so the signal never fires there and they import nothing more.
"""

from __future__ import annotations

import logging

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import worker_init

log = logging.getLogger(__name__)

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG}


@worker_init.connect(weak=False)  # weak=False: the module keeps the function alive anyway; be explicit
def _preload_task_modules(sender=None, **_kwargs) -> dict | None:
    """Celery's ``worker_init`` handler. Never raises: a failed preload leaves the tasks to import lazily."""
    try:
        from skolsam.airflow.preload import preload

        return preload(logger=log)
    except Exception:  # noqa: BLE001 - e.g. the preload module itself broken: the worker must still start
        log.exception("skolsam preload failed; tasks import their modules themselves")
        return None
