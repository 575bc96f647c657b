"""Where the project's SQL lives, and reading it."""

from __future__ import annotations

import os
from pathlib import Path


def sql_dir() -> Path:
    env = os.environ.get("SKOLSAM_SQL_DIR")
    if env:
        return Path(env).resolve()
    # src/skolsam/warehouse/sqlfiles.py -> project root / sql
    return Path(__file__).resolve().parents[3] / "sql"


def read(relative: str) -> str:
    return (sql_dir() / relative).read_text(encoding="utf-8")
