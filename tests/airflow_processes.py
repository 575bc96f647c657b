"""Airflow components as processes for tests: free ports, one log file per process, and a stop that ends
exactly the processes a test started (each in its own session, so its children go with it; by pid, never
by name)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Started:
    name: str
    proc: subprocess.Popen
    log: Path


@dataclass
class Processes:
    """The processes one test started, stopped together (SIGTERM to each one's process group, then SIGKILL)."""
    log_dir: Path
    started: list[Started] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> Started:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        fh = open(log, "ab")
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        fh.close()
        item = Started(name, proc, log)
        self.started.append(item)
        return item

    def check_alive(self) -> None:
        for item in self.started:
            if item.proc.poll() is not None:
                tail = "\n".join(item.log.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"{item.name} exited with {item.proc.returncode}:\n{tail}")

    def stop(self) -> None:
        for item in reversed(self.started):
            if item.proc.poll() is None:
                try:
                    os.killpg(item.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 20
        for item in self.started:
            try:
                item.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # whatever is left of its group (a Celery pool child, a task runner)
                os.killpg(item.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            item.proc.wait(timeout=10)

    def __enter__(self) -> "Processes":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_http(url: str, processes: Processes, timeout: float = 120) -> None:
    """Wait until ``url`` answers (any status below 500); fail early if a started process died."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        processes.check_alive()
        try:
            if httpx.get(url, timeout=5).status_code < 500:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s ({last})")


def airflow(*args: str) -> list[str]:
    return [str(BIN / "airflow"), *args]
