"""Schema migrations: the versioned SQL files in ``sql/migrations`` applied once each, in order.

Idempotent: applied versions are recorded in audit.schema_migration with a checksum, and a changed file
that was already applied is an error rather than a silent drift. An advisory lock keeps two runs apart.

Migrations run in one place, once per deploy: ``skolsam warehouse migrate`` (airflow-init in
docker-compose, the demo before its first DAG). The DAGs only ``check_current``: a warehouse behind the
code (or a changed applied migration) fails their first task at once instead of being altered by
whichever task happens to run first, possibly while another holds the tables.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from ..errors import DeterministicError
from .connection import connect
from .sqlfiles import sql_dir

log = logging.getLogger(__name__)
_LOCK_ID = 731_200_001
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class MigrationError(DeterministicError, RuntimeError):
    pass


class SchemaNotCurrent(MigrationError):
    """The warehouse lacks migrations this code needs: run ``skolsam warehouse migrate`` (deploy step)."""


def migration_files(root: Path | None = None) -> list[tuple[int, Path]]:
    folder = (root or sql_dir()) / "migrations"
    out = []
    for path in sorted(folder.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"migration file name must look like 001_name.sql: {path.name}")
        out.append((int(m.group(1)), path))
    versions = [v for v, _ in out]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return out


def migrate(url: str, root: Path | None = None) -> list[str]:
    """Apply pending migrations. Returns the names applied by this call."""
    applied_now: list[str] = []
    with connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute("CREATE SCHEMA IF NOT EXISTS audit")
            conn.execute(
                """CREATE TABLE IF NOT EXISTS audit.schema_migration (
                       version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {v: (n, c) for v, n, c in conn.execute("SELECT version, name, checksum FROM audit.schema_migration")}
            for version, path in migration_files(root):
                text = path.read_text(encoding="utf-8")
                checksum = hashlib.sha256(text.encode()).hexdigest()
                if version in done:
                    if done[version][1] != checksum:
                        raise MigrationError(f"migration {path.name} changed after it was applied; add a new one instead")
                    continue
                with conn.transaction():
                    conn.execute(text)
                    conn.execute(
                        "INSERT INTO audit.schema_migration (version, name, checksum) VALUES (%s, %s, %s)",
                        (version, path.name, checksum),
                    )
                applied_now.append(path.name)
                log.info("applied migration %s", path.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied_now


def status(url: str, root: Path | None = None) -> list[str]:
    """The migrations not applied yet (names, in order). Raises MigrationError when an applied one changed."""
    files = migration_files(root)
    with connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('audit.schema_migration') IS NOT NULL").fetchone()[0]
        done = ({v: c for v, c in conn.execute("SELECT version, checksum FROM audit.schema_migration")}
                if exists else {})
    pending = []
    for version, path in files:
        checksum = hashlib.sha256(path.read_text(encoding="utf-8").encode()).hexdigest()
        if version not in done:
            pending.append(path.name)
        elif done[version] != checksum:
            raise MigrationError(f"migration {path.name} changed after it was applied; add a new one instead")
    return pending


def check_current(url: str, root: Path | None = None) -> int:
    """Fail (SchemaNotCurrent, deterministic) unless every migration is applied unchanged; return how many are."""
    pending = status(url, root)
    if pending:
        raise SchemaNotCurrent(
            f"the warehouse is {len(pending)} migration(s) behind ({', '.join(pending)}): "
            "run `skolsam warehouse migrate` (the deploy step) first")
    return len(migration_files(root))
