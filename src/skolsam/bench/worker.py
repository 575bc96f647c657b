"""The bench's stand-in for a Celery worker: one process that runs the worker's preload once, then forks one
task process per stage, as the deployed executor does.

Deployed, a Celery worker imports Great Expectations and skolsam at start (``worker_init``,
:mod:`skolsam.airflow.celery_config`), and the Task SDK supervisor starts each task with a bare
``os.fork()`` of it (Linux), so a task pays no import that the preload made. This process does the same:
:func:`skolsam.airflow.preload.preload` once, then for each request a fork that runs
:func:`.stages.run_stage` and exits. (The supervisor's own parsing of the DAG file and its Execution API
calls are not modelled: the cold mode never modelled them either.)

Protocol, one JSON line each way: the parent (:class:`ForkingWorker`) writes ``{"name", "args"}`` on the
worker's stdin; the worker answers on its original stdout, first ``{"preload": ...}`` once, then per stage
``{"seconds", "exit", "rusage_maxrss_kb", "lines"}``: the task process's seconds from the fork to its exit,
its ``BENCH_RESULT`` line and, if it failed, the end of its output. The task process's own stdout and
stderr go to a temporary file, so nothing it prints can break the protocol. Only counts, names and seconds
cross it, as in :mod:`.stages`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

TAIL = 30  # lines of a failed task process's output handed back


def _run_forked(name: str, args: dict) -> dict:
    from .stages import own_peak_rss_kb, run_stage

    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # the task process
            code = 1
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(out.fileno(), 2)
                before = set(sys.modules)
                result = run_stage(name, args)
                result["peak_rss_kb"] = own_peak_rss_kb()
                # What the stage still imported itself: how much the preload left to the task.
                result["modules_imported_by_task"] = len(set(sys.modules) - before)
                print("BENCH_RESULT " + json.dumps(result, default=str), flush=True)
                code = 0
            except BaseException:  # noqa: BLE001 - reported through the exit code and the output's tail
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)  # never the worker's atexit handlers or finalisers in a forked child
        _, status, rusage = os.wait4(pid, 0)
        seconds = time.perf_counter() - t0
        out.seek(0)
        lines = out.read().decode("utf-8", errors="replace").splitlines(keepends=True)
    code = os.waitstatus_to_exitcode(status)
    keep = [line for line in lines if line.startswith("BENCH_RESULT ")] if code == 0 else lines[-TAIL:]
    return {"seconds": seconds, "exit": code, "rusage_maxrss_kb": rusage.ru_maxrss, "lines": keep}


def main() -> None:
    # Answers go to the original stdout alone; anything else this process prints goes to stderr.
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    from ..airflow.preload import preload

    out = preload()
    # This process's resident memory after the preload: the pages every forked task process starts with
    # (shared copy-on-write), inside each stage's peak RSS.
    with open("/proc/self/status") as fh:
        out["rss_mb"] = next(round(int(line.split()[1]) / 1024, 1) for line in fh if line.startswith("VmRSS:"))
    reply.write(json.dumps({"preload": out}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        reply.write(json.dumps(_run_forked(request["name"], request["args"]), default=str) + "\n")


class ForkingWorker:
    """The parent's handle on a bench worker process: started (and preloaded) on entry, ended on exit."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.preload: dict = {}

    def __enter__(self) -> ForkingWorker:
        # -c, not -m: skolsam.bench imports this module, and runpy warns when -m runs an imported module.
        self.proc = subprocess.Popen([sys.executable, "-c", "from skolsam.bench.worker import main; main()"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.preload = self._read()["preload"]
        return self

    def _read(self) -> dict:
        assert self.proc is not None and self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the bench worker ended (exit {self.proc.wait()})")
        return json.loads(line)

    def run(self, name: str, args: dict) -> tuple[float, int, list[str], int]:
        """(the task process's seconds, its exit code, its output lines, its ru_maxrss in kB)."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"name": name, "args": args}, default=str) + "\n")
        self.proc.stdin.flush()
        answer = self._read()
        return answer["seconds"], answer["exit"], answer["lines"], answer["rusage_maxrss_kb"]

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            if self.proc.stdin:
                self.proc.stdin.close()  # the worker's loop ends at end of input
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
