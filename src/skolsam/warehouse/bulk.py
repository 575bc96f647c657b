"""Bulk loading with PostgreSQL COPY, streamed: rows go to the server as they are produced."""

from __future__ import annotations

from typing import Iterable, Sequence

import psycopg
from psycopg import sql


def copy_rows(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
) -> int:
    """COPY rows into ``schema.table`` (binary-safe text protocol via psycopg). Returns the row count."""
    schema, _, name = table.partition(".")
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(schema, name), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    n = 0
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def create_temp_like(conn: psycopg.Connection, table: str, temp_name: str) -> None:
    """A session-local table shaped like ``table`` without its constraints, dropped at commit."""
    schema, _, name = table.partition(".")
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
            sql.Identifier(temp_name), sql.Identifier(schema, name)
        )
    )
