"""Running the stand-in: in this process (a thread) or as a child process, and ``skolsam ss12000-serve``."""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from starlette.applications import Starlette

from .dataset import dataset_sources
from .index import DatasetIndex
from .params import BASE_PATH
from .server import create_app
from .state import Faults, Quirks, ServerState

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------------------------
class ServerURL(str):
    """The base URL (``http://127.0.0.1:PORT/v2.0``), carrying the running app's switches when in-process."""

    app: Starlette | None
    state: ServerState | None

    def __new__(cls, url: str, app: Starlette | None = None):
        obj = super().__new__(cls, url)
        obj.app = app
        obj.state = app.state.ss12000 if app is not None else None
        return obj

    @property
    def token_url(self) -> str:
        return self + "/token"

    @property
    def quirks(self) -> Quirks:
        if self.state is None:
            raise RuntimeError("quirk switches are only reachable on an in-process server")
        return self.state.quirks

    @property
    def faults(self) -> Faults:
        if self.state is None:
            raise RuntimeError("fault switches are only reachable on an in-process server")
        return self.state.faults

    @property
    def index(self) -> DatasetIndex:
        if self.state is None:
            raise RuntimeError("the index is only reachable on an in-process server")
        return self.state.index


def _uvicorn_config(app: Starlette, log_level: str = "warning"):
    import uvicorn

    # The app writes the Date header itself (the no_date_header quirk can leave it out).
    return uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off", timeout_keep_alive=60,
                          server_header=False, date_header=False)


def _bind(host: str, port: int) -> socket.socket:
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the stand-in server listens on %s, not only on the loopback interface", host)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def running_server(dataset: Path, *, host: str = "127.0.0.1", port: int = 0, in_process: bool = True,
                   startup_timeout: float = 600.0, **options: Any) -> Iterator[ServerURL]:
    """Serve ``dataset`` for the length of the ``with`` block; yields the base URL (incl. ``/v2.0``).

    ``options`` go to :func:`create_app` (demo, quirks, client_id, client_secret, fail_rate, fail_kinds, fault_seed,
    retry_after, slow_seconds, fault_paths, fault_skip, token_ttl, max_page_size, index_dir). In-process
    (the default) the server runs in a thread and the yielded URL carries ``.faults``, ``.index`` and
    ``.state``; with ``in_process=False`` it runs in a child process (no shared GIL; what the benchmark
    uses) and only the command-line options apply.
    """
    if not in_process:
        with _subprocess_server(Path(dataset), host, port, startup_timeout, options) as url:
            yield url
        return
    import uvicorn

    app = create_app(Path(dataset), **options)
    app.state.index.ensure()
    sock = _bind(host, port)
    server = uvicorn.Server(_uvicorn_config(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="ss12000-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the stand-in SS 12000 server did not start")
        time.sleep(0.01)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    try:
        yield ServerURL(f"http://{shown}:{bound_port}{BASE_PATH}", app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        app.state.index.close()


@contextlib.contextmanager
def running_sources(dataset: Path, *, host: str = "127.0.0.1", in_process: bool = True,
                    per_source: dict[str, dict[str, Any]] | None = None,
                    **options: Any) -> Iterator[dict[str, ServerURL]]:
    """Serve every source (school system) of ``dataset``, one stand-in each on its own port, for the length
    of the ``with`` block; yields ``{source_id: base URL}`` in the dataset's order (the city's own system
    first). A one-system dataset (``DATASET/ss12000/``) is the one source ``stockholm``.

    ``options`` go to every server as in :func:`running_server`; ``per_source`` adds or overrides options of
    one source (e.g. ``{"fristaende_1": {"fail_rate": 1.0}}``). Every server is stopped on the way out."""
    per_source = per_source or {}
    folders = dataset_sources(Path(dataset))
    unknown = sorted(set(per_source) - set(folders))
    if unknown:
        raise ValueError(f"per_source names sources the dataset does not hold: {', '.join(unknown)}")
    with contextlib.ExitStack() as stack:
        urls = {sid: stack.enter_context(running_server(folder, host=host, in_process=in_process,
                                                        **{**options, **per_source.get(sid, {})}))
                for sid, folder in folders.items()}
        yield urls


_READY = "SS 12000 stand-in server ready: "


@contextlib.contextmanager
def _subprocess_server(dataset: Path, host: str, port: int, startup_timeout: float,
                       options: dict[str, Any]) -> Iterator[ServerURL]:
    cmd = [sys.executable, "-m", "skolsam.cli", "ss12000-serve", "--dataset", str(dataset),
           "--host", host, "--port", str(port)]
    flags = {"client_id": "--client-id", "client_secret": "--client-secret", "fail_rate": "--fail-rate",
             "fault_seed": "--fault-seed", "retry_after": "--retry-after", "slow_seconds": "--slow-seconds",
             "token_ttl": "--token-ttl", "max_page_size": "--max-page-size", "index_dir": "--index-dir"}
    for name, value in options.items():
        if name == "demo":
            cmd += ["--demo"] if value else []
        elif name == "fail_kinds":
            cmd += ["--fail-kinds", value if isinstance(value, str) else ",".join(value)]
        elif name in flags:
            if value is not None:
                cmd += [flags[name], str(value)]
        else:
            raise TypeError(f"option {name} is not available for a server in a child process")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True)
    try:
        url = _wait_ready(proc, startup_timeout)
        yield ServerURL(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen, timeout: float) -> str:
    found: list[str] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(_READY) and not found:
                found.append(line[len(_READY):].strip())
        # keep draining so the child never blocks on a full pipe

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    while not found:
        if proc.poll() is not None:
            raise RuntimeError(f"the stand-in SS 12000 server exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("the stand-in SS 12000 server did not start in time")
        time.sleep(0.05)
    return found[0]


def serve(dataset: Path, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning",
          echo: Callable[[str], None] = print, **options: Any) -> None:
    """Index the dataset, then serve it until interrupted (the ``skolsam ss12000-serve`` command)."""
    import uvicorn

    app = create_app(Path(dataset), **options)
    t0 = time.perf_counter()
    app.state.index.ensure()
    counts = app.state.index.counts
    echo(f"indexed {sum(counts.values())} records in {time.perf_counter() - t0:.1f}s: "
         + ", ".join(f"{k}={v}" for k, v in counts.items()))
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    echo(f"{_READY}http://{shown}:{bound}{BASE_PATH}")
    try:
        uvicorn.Server(_uvicorn_config(app, log_level)).run(sockets=[sock])
    finally:
        sock.close()
