"""Writing the audit trail: one audit.load_run row per task run, quarantine rows with reason codes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import psycopg

from .bulk import copy_rows
from .connection import connect


def _airflow_context() -> dict[str, str | None]:
    # Set by Airflow in every task process; absent in plain CLI runs.
    return {
        "dag_id": os.environ.get("AIRFLOW_CTX_DAG_ID"),
        "task_id": os.environ.get("AIRFLOW_CTX_TASK_ID"),
        "airflow_run_id": os.environ.get("AIRFLOW_CTX_DAG_RUN_ID"),
    }


@dataclass
class LoadRun:
    """A row of audit.load_run. Open it before the work, close it with the counts after."""

    url: str
    source: str
    entity: str
    run_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_deleted: int = 0
    watermark: str | None = None
    extra: dict = field(default_factory=dict)

    def open(self) -> "LoadRun":
        ctx = _airflow_context()
        with connect(self.url, autocommit=True) as conn:
            self.run_id = conn.execute(
                """INSERT INTO audit.load_run (source, entity, dag_id, task_id, airflow_run_id)
                   VALUES (%s, %s, %s, %s, %s) RETURNING run_id""",
                (self.source, self.entity, ctx["dag_id"], ctx["task_id"], ctx["airflow_run_id"]),
            ).fetchone()[0]
        return self

    def close(self, status: str, message: str | None = None, conn: psycopg.Connection | None = None) -> None:
        stmt = """UPDATE audit.load_run SET finished_at = now(), status = %s, rows_read = %s, rows_loaded = %s,
                      rows_quarantined = %s, rows_deleted = %s, watermark = %s, message = %s
                  WHERE run_id = %s"""
        args = (status, self.rows_read, self.rows_loaded, self.rows_quarantined, self.rows_deleted,
                self.watermark, message, self.run_id)
        if conn is not None:
            conn.execute(stmt, args)
            return
        with connect(self.url, autocommit=True) as c:
            c.execute(stmt, args)


@dataclass(frozen=True)
class QuarantineRow:
    reason_code: str
    row_number: int | None = None
    record_ref: str | None = None
    detail: str | None = None
    content_hash: str | None = None  # keyed hash of the record and reason: quarantined once until it changes


QUARANTINE_COLUMNS = ("run_id", "source", "entity", "file_checksum", "row_number", "record_ref", "reason_code", "detail",
                      "content_hash")


def quarantine(
    conn: psycopg.Connection,
    run_id: int | None,
    source: str,
    entity: str,
    rows: Iterable[QuarantineRow],
    file_checksum: str | None = None,
) -> int:
    return copy_rows(
        conn,
        "audit.quarantine",
        QUARANTINE_COLUMNS,
        ((run_id, source, entity, file_checksum, r.row_number, r.record_ref, r.reason_code, r.detail, r.content_hash)
         for r in rows),
    )


def new_quarantine(conn: psycopg.Connection, source: str, entity: str,
                   rows: Sequence[QuarantineRow]) -> list[QuarantineRow]:
    """The rows not quarantined before: those without a content_hash, or whose hash is not yet there."""
    hashes = [r.content_hash for r in rows if r.content_hash]
    if not hashes:
        return list(rows)
    seen = {h for (h,) in conn.execute(
        """SELECT content_hash FROM audit.quarantine
            WHERE source = %s AND entity = %s AND content_hash = ANY(%s)""", (source, entity, hashes))}
    out, batch = [], set()
    for r in rows:
        if r.content_hash and (r.content_hash in seen or r.content_hash in batch):
            continue
        batch.add(r.content_hash)
        out.append(r)
    return out


def get_watermark(conn: psycopg.Connection, source: str, entity: str) -> str | None:
    row = conn.execute(
        "SELECT watermark FROM audit.watermark WHERE source = %s AND entity = %s", (source, entity)
    ).fetchone()
    return row[0] if row else None


def set_watermark(conn: psycopg.Connection, source: str, entity: str, value: str, run_id: int | None) -> None:
    """Call inside the transaction that commits the load, so the two move together."""
    conn.execute(
        """INSERT INTO audit.watermark (source, entity, watermark, run_id) VALUES (%s, %s, %s, %s)
           ON CONFLICT (source, entity) DO UPDATE SET watermark = EXCLUDED.watermark, run_id = EXCLUDED.run_id,
                                                     updated_at = now()""",
        (source, entity, value, run_id),
    )


def clear_watermarks(conn: psycopg.Connection, source: str, entities: Sequence[str] | None = None) -> None:
    if entities:
        conn.execute("DELETE FROM audit.watermark WHERE source = %s AND entity = ANY(%s)", (source, list(entities)))
    else:
        conn.execute("DELETE FROM audit.watermark WHERE source = %s", (source,))
