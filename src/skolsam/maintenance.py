"""Housekeeping for the warehouse: audit retention, re-applying erasures, statistics."""

from __future__ import annotations

import logging

from .warehouse.connection import connect

log = logging.getLogger(__name__)


def purge_audit(url: str, retention_days: int) -> dict[str, int]:
    """Delete audit rows older than the retention period. Erasure records and erased keys are kept:
    they are what stops an erased pupil from coming back."""
    removed = {}
    with connect(url) as conn, conn.transaction():
        for table, column in (
            ("audit.quarantine", "quarantined_at"),
            ("audit.dq_result", "checked_at"),
        ):
            cur = conn.execute(
                f"DELETE FROM {table} WHERE {column} < now() - make_interval(days => %s)", (retention_days,)
            )
            removed[table] = cur.rowcount
        cur = conn.execute(
            """DELETE FROM audit.load_run r WHERE r.started_at < now() - make_interval(days => %s)
               AND NOT EXISTS (SELECT 1 FROM audit.watermark w WHERE w.run_id = r.run_id)""",
            (retention_days,),
        )
        removed["audit.load_run"] = cur.rowcount
    return removed


def enforce_erasures(url: str, mart_pseudonymiser=None) -> dict[str, int]:
    """Delete, in every schema, any row about a pupil on the erasure lists (a safety net behind the loads)."""
    removed: dict[str, int] = {}
    with connect(url) as conn, conn.transaction():
        tables = conn.execute(
            """SELECT table_schema, table_name, column_name FROM information_schema.columns
               WHERE table_schema IN ('staging', 'core', 'mart', 'mart_candidate')
                 AND column_name IN ('student_key', 'person_ref')
               ORDER BY 1, 2"""
        ).fetchall()
        from .mart_pseudonym import TERM_KEYED, erase_term_keyed

        for schema, table, column in tables:
            if (schema, table) in TERM_KEYED:
                continue  # per-term pseudonyms: below
            kind = conn.execute(
                "SELECT table_type FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                (schema, table),
            ).fetchone()
            if not kind or kind[0] != "BASE TABLE":
                continue
            source = "audit.erased_key" if column == "student_key" else "audit.erased_ref"
            cur = conn.execute(
                f'DELETE FROM "{schema}"."{table}" t USING {source} e WHERE t.{column} = e.{column}'
            )
            if cur.rowcount:
                removed[f"{schema}.{table}"] = cur.rowcount
        erased = [k for (k,) in conn.execute("SELECT student_key FROM audit.erased_key")]
        for name, n in erase_term_keyed(conn, erased, mart_pseudonymiser).items():
            if n:
                removed[name] = n
    return removed


def analyze(url: str) -> None:
    with connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def purge_landing_archive(landing, retention_days: int, *, now: float | None = None) -> int:
    """Delete archived and rejected enrollment lists older than the retention period.

    Those files are the raw deliveries: personnummer and names. The warehouse keeps only pseudonyms, so
    the raw files are kept just long enough to re-process a delivery, then removed. Returns the count.
    Deletes regular files only and follows no link (issue 17, finding 3).
    """
    import time

    from .enrollment.intake import ARCHIVE, REJECTED, landing_handler

    folder = landing_handler(landing)
    if not folder.exists():
        return 0
    cutoff = (now if now is not None else time.time()) - retention_days * 86400
    # Only regular files, never through a link (a symlinked archive/ raises landing.UnsafeLanding).
    return sum(folder.purge(sub, cutoff) for sub in (ARCHIVE, REJECTED))


def erase_to_disk(url: str, landing, pseudonymiser) -> dict:
    """The disk side of erasure (skolsam.enrollment.disk_erasure), as a safety net behind the intake:
    archived lists naming an erased pupil rewritten or removed, touched tables VACUUM FULL-ed."""
    from .enrollment.disk_erasure import erase_from_archive, vacuum_after_erasure

    archive = erase_from_archive(landing, url, pseudonymiser)
    return {"archive": archive, "vacuumed": vacuum_after_erasure(url)}
