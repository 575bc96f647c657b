"""Schema migrations: the versioned SQL files in ``sql/migrations`` applied once each, in order.

Idempotent: applied versions are recorded in audit.schema_migration with a checksum, and a changed file
that was already applied is an error rather than a silent drift. An advisory lock keeps two runs apart.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from .connection import connect
from .sqlfiles import sql_dir

log = logging.getLogger(__name__)
_LOCK_ID = 731_200_001
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    pass


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
