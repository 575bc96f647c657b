"""The Celery worker's preload (skolsam.airflow.celery_config, skolsam.airflow.preload): the Celery config is
Airflow's default and nothing else; the ``worker_init`` handler imports Great Expectations and the task
modules, survives a broken module, and leaves the process safe to fork (no thread, no connection); only a
worker runs it. Each check that depends on what is already imported runs in a fresh interpreter."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from skolsam.airflow import preload

from airflow_env import DAGS


def _fresh(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_celery_config_is_airflows_default_unchanged():
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

    from skolsam.airflow.celery_config import CELERY_CONFIG

    assert CELERY_CONFIG == DEFAULT_CELERY_CONFIG
    assert CELERY_CONFIG is not DEFAULT_CELERY_CONFIG  # a copy: nothing here can change Airflow's own dict


def test_the_handler_is_connected_to_worker_init_only():
    from celery import signals

    from skolsam.airflow import celery_config

    def receivers(signal):
        return [r() if callable(r) and not hasattr(r, "__code__") else r for _, r in signal.receivers]

    assert celery_config._preload_task_modules in receivers(signals.worker_init)
    for other in (signals.worker_process_init, signals.import_modules, signals.celeryd_init):
        assert celery_config._preload_task_modules not in receivers(other)


def test_importing_the_config_imports_nothing_heavy():
    """The scheduler and the api-server import the config too (through Airflow's celery executor): there the
    signal never fires, so neither GX nor the task modules are imported."""
    got = _fresh("import json, sys\nimport skolsam.airflow.celery_config\n"
                 "print(json.dumps({m: m in sys.modules for m in ('great_expectations', 'skolsam.services', "
                 "'skolsam.quality.gate')}))")
    assert got == {"great_expectations": False, "skolsam.services": False, "skolsam.quality.gate": False}


def test_the_handler_imports_the_task_modules_and_leaves_the_process_fork_safe():
    got = _fresh(
        "import gc, json, os, sys, threading\n"
        "from skolsam.airflow import celery_config, preload\n"
        "import psycopg\nfrom sqlalchemy.engine import Engine\n"
        "def count(kind):\n    return sum(isinstance(o, kind) for o in gc.get_objects())\n"
        # Airflow's own metadata engine exists once airflow is imported: count what the preload adds.
        "before = set(os.listdir('/proc/self/fd')), count(Engine), count(psycopg.Connection)\n"
        "threads = threading.active_count()\n"
        "out = celery_config._preload_task_modules(sender=None)\n"
        "print(json.dumps({'out': out, 'present': [m for m in preload.MODULES if m in sys.modules],\n"
        "  'threads_before': threads, 'threads': [t.name for t in threading.enumerate()],\n"
        "  'new_fds': sorted(set(os.listdir('/proc/self/fd')) - before[0]),\n"
        "  'engines': count(Engine) - before[1], 'connections': count(psycopg.Connection) - before[2]}))")
    assert got["out"]["failed"] == {}
    assert got["out"]["imported"] == list(preload.MODULES) == got["present"]
    assert "great_expectations" in got["present"] and "skolsam.services" in got["present"]
    assert got["out"]["seconds"] > 0
    # What a bare fork copies safely: one thread, no new file or socket, no engine or connection.
    assert got["threads_before"] == 1 and got["threads"] == ["MainThread"]
    assert got["new_fds"] == []
    assert got["engines"] == 0 and got["connections"] == 0


def test_a_broken_module_is_logged_and_the_rest_still_imported(caplog):
    caplog.set_level(logging.INFO, logger="skolsam.airflow.preload")
    out = preload.preload(("skolsam.no_such_module_for_the_test", "json"))
    assert out["imported"] == ["json"]
    assert list(out["failed"]) == ["skolsam.no_such_module_for_the_test"]
    assert out["failed"]["skolsam.no_such_module_for_the_test"].startswith("ModuleNotFoundError")
    line = [r.getMessage() for r in caplog.records if "skolsam preload" in r.getMessage()]
    assert len(line) == 1 and "1 modules imported" in line[0] and "1 failed" in line[0]


def test_the_signal_handler_survives_a_failing_preload(monkeypatch, caplog):
    from skolsam.airflow import celery_config

    def broken(**_):
        raise RuntimeError("broken preload")

    monkeypatch.setattr(preload, "preload", broken)
    with caplog.at_level(logging.ERROR, logger="skolsam.airflow.celery_config"):
        assert celery_config._preload_task_modules(sender=None) is None
    assert any("skolsam preload failed" in r.getMessage() for r in caplog.records)


def test_the_gate_flag_means_the_preload():
    """The build DAG's file and the flag's helper import no GX: a gate task that finds GX imported found the
    worker's preload, not its own DAG file's imports."""
    got = _fresh("import json, runpy, sys\n"
                 f"runpy.run_path({str(DAGS / 'skolsam_build_warehouse.py')!r})\n"
                 "from skolsam.airflow.preload import gx_preloaded\n"
                 "before = gx_preloaded()\n"
                 "import great_expectations\n"
                 "print(json.dumps({'before': before, 'after': gx_preloaded()}))")
    assert got == {"before": False, "after": True}
