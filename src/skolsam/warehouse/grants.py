"""Roles and privileges: the SQL files in sql/grants, applied in order after each build."""

from __future__ import annotations

from .connection import connect
from .sqlfiles import sql_dir


def apply_grants(url: str) -> list[str]:
    applied = []
    with connect(url) as conn, conn.transaction():
        for path in sorted((sql_dir() / "grants").glob("*.sql")):
            conn.execute(path.read_text(encoding="utf-8"))
            applied.append(path.name)
    return applied
