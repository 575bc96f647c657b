"""Erasure down to the disk (issue 17 item 6): after the rows are deleted, the bytes go too.

A DELETE only marks a row version dead; its bytes stay in the table's files (and in the indexes') until
the page is rewritten, and a plain VACUUM compacts pages without clearing the space it frees. So after an
erasure every table it touched is rewritten with ``VACUUM FULL`` (new files; the old ones are unlinked),
``audit.quarantine`` included (its pointers to the pupil were cleared by an UPDATE). ``audit.erasure``
records when (``vacuumed_at``); what could not be vacuumed (a role that does not own the tables, a lock
timeout) is caught up by the maintenance DAG. The pseudonym itself stays in ``audit.erased_key`` on
purpose: it is what stops the pupil from being loaded again.

The raw lists in the landing folder's ``archive/`` hold the erased pupils' numbers and names: an archived
CSV list that names one is rewritten without those records (same encoding and separator; a list with no
record left, such as the erasure request itself, is removed); an archived workbook that names one is
removed. Lists in ``rejected/`` could not be read, so they are not searched; the retention purge removes them.

Out of reach here, and said so in docs/security.md: the write-ahead log and its archive, base backups,
the freed filesystem blocks of the unlinked files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import time
from typing import Any

from psycopg import sql

from .. import identity
from ..pseudonym import Pseudonymiser
from ..warehouse.connection import connect
from . import csvfile
from .landing import ARCHIVE

log = logging.getLogger(__name__)


# Any transaction or snapshot older than the erasure keeps its deleted row versions alive (VACUUM FULL copies
# them to the new files as "recently dead"), anywhere on the server: so the vacuum waits for them to end.
# Except a plain (lazy) VACUUM, autovacuum's included: PostgreSQL leaves a vacuuming backend's snapshot out of
# the horizon of what another vacuum may remove (PROC_IN_VACUUM), so it holds no erased row back. Autovacuum
# starts on the staging tables after every extract (4.7 s for the attendance table at 40,000 pupils, longer on
# bigger ones) and the intake may follow while it runs: counted, the wait would sit it out, or give up after
# erasure_vacuum_wait_seconds and leave the rewrite to the maintenance DAG. Such a backend is listed in
# pg_stat_progress_vacuum while its vacuum runs; VACUUM FULL is not (it reports under
# pg_stat_progress_cluster, and its snapshot counts), nor is ANALYZE, whose snapshot counts too.
_BLOCKERS = """
    SELECT (SELECT txid_snapshot_xmin(txid_current_snapshot())) <= %(xid)s
        OR EXISTS (SELECT 1 FROM pg_stat_activity a
                    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
                      AND a.backend_xmin IS NOT NULL
                      AND age(a.backend_xmin) >= age((%(xid)s %% 4294967296)::text::xid)
                      AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_vacuum v WHERE v.pid = a.pid))"""


def _wait_for_older_transactions(conn, xid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while conn.execute(_BLOCKERS, {"xid": xid}).fetchone()[0]:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
    return True


def vacuum_after_erasure(url: str, wait_seconds: float | None = None) -> list[str]:
    """VACUUM FULL every table an erasure touched that has not been vacuumed since; returns the tables.

    Waits (up to ``wait_seconds``, default the setting ``erasure_vacuum_wait_seconds``) for transactions
    older than the erasure to end first. A timeout or a failure (privilege, lock) is logged and leaves
    ``vacuumed_at`` unset for the maintenance DAG's next try."""
    from ..settings import Settings

    wait = Settings.load().erasure_vacuum_wait_seconds if wait_seconds is None else wait_seconds
    with connect(url) as conn:
        rows = conn.execute("""SELECT erasure_id, rows_removed, erased_xid FROM audit.erasure
                                WHERE vacuumed_at IS NULL ORDER BY 1""").fetchall()
    if not rows:
        return []
    tables = sorted({t for _, removed, _ in rows for t, n in (removed or {}).items() if n} | {"audit.quarantine"})
    xid = max((r[2] for r in rows if r[2] is not None), default=None)
    done: list[str] = []
    with connect(url, autocommit=True) as conn:
        if xid is not None and not _wait_for_older_transactions(conn, xid, wait):
            log.warning("erasure: transactions older than the erasure still run after %.0fs; the table files "
                        "are rewritten by the maintenance DAG's next run", wait)
            return done
        for table in tables:
            schema, _, name = table.partition(".")
            if conn.execute("SELECT to_regclass(%s) IS NULL", (table,)).fetchone()[0]:
                continue
            try:
                conn.execute(sql.SQL("VACUUM (FULL, ANALYZE) {}").format(sql.Identifier(schema, name)))
                done.append(table)
            except Exception as exc:  # stop: the next try does them all again
                log.warning("erasure: could not VACUUM FULL %s (%s); the maintenance DAG tries again", table,
                            type(exc).__name__)
                return done
        conn.execute("UPDATE audit.erasure SET vacuumed_at = now() WHERE erasure_id = ANY(%s)",
                     ([r[0] for r in rows],))
    log.info("erasure: %d table(s) rewritten on disk", len(done))
    return done


def _erased_keys(url: str) -> set[str]:
    with connect(url) as conn:
        return {k for (k,) in conn.execute("SELECT student_key FROM audit.erased_key")}


def _key(pseudonymiser: Pseudonymiser, raw: str) -> str | None:
    try:
        return pseudonymiser.student_key(identity.parse(raw).normalised)
    except identity.InvalidIdentity:
        return None


def _rewrite_csv(data: bytes, pseudonymiser: Pseudonymiser, erased: set[str],
                 kind: str = csvfile.ENROLLMENT) -> tuple[bytes | None, int]:
    """(new bytes or None when every record went, records removed); (data, 0) when nothing names the erased."""
    sniffed = csvfile.sniff(lambda: io.BytesIO(data))
    text = (data[3:] if sniffed.encoding == "utf-8-sig" else data).decode(
        "utf-8" if sniffed.encoding.startswith("utf-8") else sniffed.encoding)
    parsed = csvfile.parse(data, kind)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=parsed.delimiter, strict=False))
    header_at = next(i for i, r in enumerate(records) if any(c.strip() for c in r))
    names = [csvfile.normalise_header(c) for c in records[header_at]]
    column = names.index("personnummer")
    kept, removed, data_left = records[:header_at + 1], 0, 0
    for record in records[header_at + 1:]:
        if column < len(record) and _key(pseudonymiser, record[column]) in erased:
            removed += 1
            continue
        kept.append(record)
        data_left += any(c.strip() for c in record)
    if not removed:
        return data, 0
    if not data_left:
        return None, removed
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=parsed.delimiter, lineterminator="\r\n").writerows(kept)
    encoded = out.getvalue().encode("utf-8" if sniffed.encoding.startswith("utf-8") else sniffed.encoding)
    return (b"\xef\xbb\xbf" + encoded if sniffed.encoding == "utf-8-sig" else encoded), removed


def _record_rewritten(url: str, old_checksum: str, new_checksum: str) -> None:
    """The rewritten list is the same delivery: record its checksum as processed like the original's, so a
    coordinator re-delivering the archived copy changes nothing (the intake skips a known checksum)."""
    with connect(url) as conn:
        conn.execute(
            """INSERT INTO staging.enrollment_file (file_checksum, file_name, received_at, status, encoding,
                   delimiter, rows_read, rows_loaded, rows_quarantined, reject_reason, run_id,
                   rewritten_from)
               SELECT %s, file_name, received_at, status, encoding, delimiter, rows_read, rows_loaded,
                      rows_quarantined, reject_reason, run_id, file_checksum
               FROM staging.enrollment_file WHERE file_checksum = %s
               ON CONFLICT (file_checksum) DO NOTHING""", (new_checksum, old_checksum))
        conn.commit()


def erase_from_archive(landing: Any, url: str, pseudonymiser: Pseudonymiser) -> dict[str, int]:
    """Rewrite or remove the archived lists that name an erased pupil; returns {"rewritten": n, "removed": n,
    "records_removed": n}. Names no file in its log lines (they may carry a number before scrubbing)."""
    from .intake import _LIST_NAME, file_format, file_kind, landing_handler

    erased = _erased_keys(url)
    counts = {"rewritten": 0, "removed": 0, "records_removed": 0}
    folder = landing_handler(landing)
    if not erased or not folder.exists():
        return counts
    for name in folder.archived(ARCHIVE):
        if not _LIST_NAME.match(name):
            continue
        opener = folder.sub_opener(ARCHIVE, name)
        try:
            if file_format(name) == "csv":
                with opener() as fh:
                    data = fh.read()
                new, removed = _rewrite_csv(data, pseudonymiser, erased, file_kind(name))
            else:
                from . import xlsxfile

                parsed = xlsxfile.parse_stream(opener, file_kind(name))
                removed = sum(1 for r in parsed.rows if _key(pseudonymiser, r.values.get("personnummer", "")) in erased)
                new = None
        except (csvfile.FileRejected, ValueError, StopIteration, OSError):
            continue  # not readable as a list: nothing of it was loaded either
        if not removed:
            continue
        counts["records_removed"] += removed
        if new is None:
            folder.remove(ARCHIVE, name)
            counts["removed"] += 1
        else:
            folder.rewrite(ARCHIVE, name, new)
            _record_rewritten(url, hashlib.sha256(data).hexdigest(), hashlib.sha256(new).hexdigest())
            counts["rewritten"] += 1
    if counts["records_removed"]:
        log.info("erasure: archived lists: %(rewritten)d rewritten, %(removed)d removed, "
                 "%(records_removed)d record(s) of erased pupils gone", counts)
    return counts
