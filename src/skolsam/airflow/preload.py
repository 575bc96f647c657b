"""Import what the pipeline's tasks import, once, in the process that task processes are forked from.

Airflow 3's Celery worker runs each task through the Task SDK supervisor, which on Linux starts the task
process with a bare ``os.fork()`` of the Celery pool process; the pool processes are themselves forked
(billiard's default) from the worker's main process. So a module the main process imported before its pool
started is already in every task process's ``sys.modules``, shared copy-on-write: a gate task no longer
pays the 4-7 s import of Great Expectations, nor any task the ~0.5 s of skolsam, psycopg and SQLAlchemy.
:mod:`skolsam.airflow.celery_config` calls :func:`preload` from Celery's ``worker_init`` signal; the bench
(:mod:`skolsam.bench.worker`) calls the same function in its stand-in worker.

Fork safety, checked for this list (``tests/test_preload.py``): importing these starts no thread, opens no
file, socket, engine or connection (every engine and connection is made inside a task's call), so a fork
after it copies only code and constants. This module imports nothing heavy itself and never raises: a
module that fails to import is logged and left to the task to import (and fail on) lazily, as before.
"""

from __future__ import annotations

import importlib
import logging
import time

log = logging.getLogger(__name__)

# What the tasks import lazily (skolsam.services and the modules its functions import), the Great
# Expectations modules the gates import at their start, and the Task SDK-free runtime helpers. Ordered so
# the heaviest comes first: its figure in the log line is most of the total.
MODULES = (
    "great_expectations",
    "great_expectations.validator.v1_validator",
    "great_expectations.core.expectation_validation_result",
    "great_expectations.validator.validation_statistics",
    "great_expectations.core.run_identifier",
    "great_expectations.core.expectation_suite",
    "great_expectations.expectations.expectation_configuration",
    "great_expectations.data_context.types.base",
    "great_expectations.data_context.types.resource_identifiers",
    "skolsam.services",
    "skolsam.settings",
    "skolsam.pseudonym",
    "skolsam.quality.gate",
    "skolsam.quality.suites",
    "skolsam.ss12000.extract",
    "skolsam.enrollment.intake",
    "skolsam.enrollment.match",
    "skolsam.warehouse.build",
    "skolsam.warehouse.locks",
    "skolsam.warehouse.audit",
    "skolsam.warehouse.grants",
    "skolsam.warehouse.migrate",
    "skolsam.publication.signoff",
    # the termly report's draft task: the report model, its charts (matplotlib's Agg canvas), the HTML
    # template engine and the PDF printer's module (it starts Chromium per call, not at import)
    "skolsam.report.build",
    "skolsam.report.charts",
    "skolsam.report.pdf",
    "jinja2",
    "markupsafe",
    "skolsam.airflow.runtime",
)


def preload(modules: tuple[str, ...] = MODULES, *, logger: logging.Logger | None = None) -> dict:
    """Import ``modules``; log one line with the seconds it took. Returns ``{"seconds", "imported",
    "failed"}`` (``failed``: module name to the exception's type and message; a module's own text, which
    names modules, never data). Never raises an Exception: the worker must start even if one is broken."""
    logger = logger or log
    # GX logs ~200 INFO lines about its API-docs registry while it imports ("Skipping registering function
    # ..."): noise in the worker's log. Quietened unless an operator set that logger's level.
    noisy = logging.getLogger("great_expectations._docs_decorators")
    if noisy.level == logging.NOTSET:
        noisy.setLevel(logging.WARNING)
    t0 = time.perf_counter()
    imported: list[str] = []
    failed: dict[str, str] = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a broken import must not stop the worker; the task reports it
            failed[name] = f"{type(exc).__name__}: {exc}"
        else:
            imported.append(name)
    seconds = round(time.perf_counter() - t0, 2)
    logger.info("skolsam preload: %d modules imported in %.2f s before forking task processes%s", len(imported),
                seconds, f"; {len(failed)} failed, left to the tasks: {failed}" if failed else "")
    return {"seconds": seconds, "imported": imported, "failed": failed}


def gx_preloaded(logger: logging.Logger | None = None) -> bool:
    """Whether Great Expectations is already in this process's ``sys.modules``, asked by a gate task before it
    imports it: True under a worker that ran :func:`preload`, False where the task imports it itself
    (``airflow dags test``, another executor). Logged and returned in the gate's XCom; a module name only."""
    import sys

    preloaded = "great_expectations" in sys.modules
    (logger or log).info("great_expectations imported before this task: %s", preloaded)
    return preloaded
