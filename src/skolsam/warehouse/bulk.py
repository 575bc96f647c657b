"""Bulk loading with PostgreSQL COPY, streamed: rows go to the server as they are produced; COPY text
written by hand for hot paths; temp tables, upserts and index set-aside for loads into empty tables."""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

import psycopg
from psycopg import errors as pg_errors
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


# --------------------------------------------------------------------------------------------------------
# COPY text written by hand (hot paths: formatting lines directly costs less than copy_rows' adaptation)
# --------------------------------------------------------------------------------------------------------
NULL = "\\N"
UNSAFE = re.compile(r"[\\\t\n\r]").search  # what would need escaping in COPY text
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
MAINTENANCE_WORK_MEM = "256MB"


def _copy_value(v: Any) -> str:
    if v is None:
        return NULL
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, str):
        return v.translate(_ESCAPE)
    if isinstance(v, list):  # a text[] of plain strings
        inner = ",".join('"' + str(x).replace("\\", "\\\\").replace('"', '\\"') + '"' for x in v)
        return ("{" + inner + "}").translate(_ESCAPE)
    return str(v)


def copy_line(row: Sequence[Any]) -> str:
    """One row in COPY text format, every value escaped."""
    return "\t".join(map(_copy_value, row)) + "\n"


def copy_text(conn: psycopg.Connection, table: str, columns: Sequence[str], text: str) -> None:
    """COPY ready-made COPY text (lines from copy_line or formatted the same way) into ``table``."""
    schema, _, name = table.partition(".")
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(schema, name), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        copy.write(text)


# --------------------------------------------------------------------------------------------------------
# Temp tables, merges
# --------------------------------------------------------------------------------------------------------
def ident(table: str) -> sql.Identifier:
    return sql.Identifier(*table.split("."))


def temp_table(conn: psycopg.Connection, like: str, name: str, extra: str = "") -> None:
    """Like create_temp_like, with ``extra`` column definitions (``", col type"``) appended."""
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS{}) ON COMMIT DROP").format(
        sql.Identifier(name), ident(like), sql.SQL(extra)))


def is_empty(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute(sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(ident(table))).fetchone()[0]


def upsert(conn: psycopg.Connection, target: str, temp: str, key: str | Sequence[str],
           columns: Sequence[str], *, newest: bool = True) -> int:
    """Insert new rows and update changed ones, one row per key; with ``newest`` never over a row with a
    later modified_at (and among duplicates in the temp table the latest wins). Returns rows written."""
    keys = [key] if isinstance(key, str) else list(key)
    data_cols = [c for c in columns if c not in keys and c != "run_id"]
    idents = lambda cs: sql.SQL(", ").join(sql.Identifier(c) for c in cs)  # noqa: E731
    sets = sql.SQL(", ").join(sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
                              for c in [*data_cols, "run_id"])
    old = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in data_cols)
    new = sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in data_cols)
    guard = sql.SQL("EXCLUDED.modified_at >= t.modified_at AND ") if newest else sql.SQL("")
    order = sql.SQL(", modified_at DESC") if newest else sql.SQL("")
    stmt = sql.SQL(
        """INSERT INTO {target} AS t ({cols})
           SELECT DISTINCT ON ({key}) {cols} FROM {temp} ORDER BY {key}{order}
           ON CONFLICT ({key}) DO UPDATE SET {sets}
           WHERE {guard}({old}) IS DISTINCT FROM ({new})"""
    ).format(target=ident(target), cols=idents(columns), key=idents(keys), temp=sql.Identifier(temp),
             order=order, sets=sets, guard=guard, old=old, new=new)
    return conn.execute(stmt).rowcount


def max_modified(conn: psycopg.Connection, table: str) -> int | None:
    """The table's largest modified_at as UTC microseconds since 1970."""
    row = conn.execute(sql.SQL(
        "SELECT (extract(epoch FROM max(modified_at)) * 1000000)::bigint FROM {}").format(ident(table))).fetchone()
    return row[0] if row else None


# --------------------------------------------------------------------------------------------------------
# Bulk loading into an empty table
# --------------------------------------------------------------------------------------------------------
class BulkTarget:
    """Indexes of an empty table set aside for a load and rebuilt after it from their own definitions
    (pg_get_indexdef / pg_get_constraintdef): the usual bulk-load technique, about twice as fast as index
    maintenance row by row. Duplicate keys are resolved first, keeping the first row in ``order_by``.
    Only for tables this role owns and no foreign key points at (``possible``)."""

    def __init__(self, conn: psycopg.Connection, table: str):
        self.conn, self.table = conn, table
        self.schema, _, self.name = table.partition(".")
        self.saved: list[tuple[str | None, str | None, str, list[str], bool]] = []

    @staticmethod
    def possible(conn: psycopg.Connection, table: str) -> bool:
        row = conn.execute(
            """SELECT pg_has_role(c.relowner, 'MEMBER')
                      AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.confrelid = c.oid AND f.contype = 'f')
                 FROM pg_class c WHERE c.oid = %s::regclass""", (table,)).fetchone()
        return bool(row and row[0])

    def set_aside(self) -> None:
        rows = self.conn.execute(
            """SELECT con.conname, pg_get_constraintdef(con.oid), pg_get_indexdef(i.indexrelid),
                      ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                            ORDER BY k.ord)::text[],
                      i.indisunique, ic.relname
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                 LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
                WHERE i.indrelid = %s::regclass
                ORDER BY i.indisprimary DESC, ic.relname""", (self.table,)).fetchall()
        for conname, condef, indexdef, cols, unique, indexname in rows:
            if conname is not None:
                self.conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(self.schema, self.name), sql.Identifier(conname)))
            else:
                self.conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(self.schema, indexname)))
            self.saved.append((conname, condef, indexdef, list(cols), bool(unique)))

    def rebuild(self, order_by: str | None) -> int:
        """Recreate the indexes; returns the number of duplicate rows removed first."""
        removed = 0
        self.conn.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(MAINTENANCE_WORK_MEM)))
        for conname, condef, indexdef, cols, unique in self.saved:
            if conname is not None:
                stmt = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    sql.Identifier(self.schema, self.name), sql.Identifier(conname), sql.SQL(condef))
            else:
                stmt = sql.SQL(indexdef)
            try:
                with self.conn.transaction():
                    self.conn.execute(stmt)
            except pg_errors.UniqueViolation:
                if not unique:
                    raise
                removed += self._dedupe(cols, order_by)  # rare: the same key twice in one load
                self.conn.execute(stmt)
        return removed

    def _dedupe(self, cols: list[str], order_by: str | None) -> int:
        key = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
        target = sql.Identifier(self.schema, self.name)
        order = sql.SQL(order_by) if order_by else sql.SQL("ctid")
        return self.conn.execute(sql.SQL(
            """DELETE FROM {t} WHERE ctid IN (
                   SELECT ctid FROM (SELECT ctid, row_number() OVER (PARTITION BY {k} ORDER BY {o}) AS rn
                                       FROM {t}) x WHERE rn > 1)""").format(t=target, k=key, o=order)).rowcount
