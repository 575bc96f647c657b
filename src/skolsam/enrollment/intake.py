"""The landing folder for enrollment lists: new files in, checksummed, loaded, archived or rejected.

The landing folder is a local path (by default ``$SKOLSAM_HOME/landing``) or a URL for any filesystem
fsspec knows (``sftp://``, ``s3://``, ``file://``, ...), set by the ``enrollment_landing`` setting. Inside
Airflow a URL whose scheme has an Airflow filesystem goes through ``ObjectStoragePath``, so credentials
come from an Airflow Connection (``s3://aws_default@bucket/landing``); elsewhere (the command line, tests, a
scheme Airflow has no filesystem for) plain fsspec is used, with its own credential lookup.

Each ``*.csv`` or ``*.xlsx`` (and ``*.xlsm``, to reject it) directly in the folder is one delivery,
processed in name order. File operations are safe against symbolic links (skolsam.enrollment.landing); a
file larger than ``enrollment_max_file_bytes`` is rejected without being read into memory; the file is
read as a stream (csvfile, xlsxfile). The file's name is scrubbed of anything that looks like a
personnummer (identity.scrub) before it is stored, logged, returned or used as its archive name.

- its sha256 is computed; a checksum already in ``staging.enrollment_file`` is a re-delivery: nothing
  changes in the warehouse (an ``audit.load_run`` row says 'skipped') and the file is moved on;
- ``radering*`` / ``erasure*`` lists are erasure requests (column ``personnummer``, optional ``orsak``),
  every other file is an enrollment list (DESIGN 3.2);
- a file that cannot be read as a list (empty, binary, missing required columns, ...) is rejected whole:
  moved to ``rejected/`` with ``<name>.reason.txt`` beside it (the reason code, the checksum, never content),
  with a 'rejected' row in ``staging.enrollment_file`` and ``audit.load_run``;
- otherwise it is loaded (skolsam.enrollment.load) in one transaction together with its
  ``staging.enrollment_file`` row and the counts of its ``audit.load_run`` row, then moved to ``archive/``.

The warehouse commits before the file moves: if the move fails, the next run finds the file again,
recognises its checksum and only moves it. A file that fails for another reason (the warehouse is down)
stays where it is, is reported as 'failed' and is tried again by the next run; the other files still load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import posixpath
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from .. import identity
from ..pseudonym import Pseudonymiser
from ..settings import Settings, project_home
from ..warehouse.audit import LoadRun
from ..warehouse.connection import connect
from . import csvfile
from .landing import ARCHIVE, REJECTED, UnsafeLanding, open_landing
from .load import SOURCE, load_parsed

log = logging.getLogger(__name__)

__all__ = ["ARCHIVE", "REJECTED", "UnsafeLanding", "ingest_file", "ingest_landing", "landing_location"]

REASON_SUFFIX = ".reason.txt"
_ERASURE_NAME = re.compile(r"^(radering|erasure)[^/]*\.(csv|xlsx|xlsm)$", re.IGNORECASE)
# No hidden files, no Excel lock files (~$x.csv); .xlsm is picked up only to be rejected (macros).
_LIST_NAME = re.compile(r"^[^.~][^/]*\.(csv|xlsx|xlsm)$", re.IGNORECASE)
_LOCK_ID = 731_200_101  # one intake at a time merges into staging.enrollment
_RUN_LOCK_ID = 731_200_102  # held (session) by a whole landing run: see close_stale_runs
NOT_REGULAR = "not_regular_file"
CHUNK = 1 << 16

Opener = Callable[[], Any]


class IntakeError(RuntimeError):
    """A file could not be processed for a reason other than its content. The message names the file
    (scrubbed) and the kind of error only."""


class LandingNotFound(IntakeError):
    pass


@dataclass
class FileResult:
    name: str  # scrubbed of personnummer-like runs (identity.scrub)
    status: str  # loaded | rejected | skipped | failed
    kind: str  # enrollment | erasure
    checksum: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_quarantined: int = 0
    rows_erased: int = 0
    reason: str | None = None
    reasons: dict[str, int] | None = None
    moved_to: str | None = None
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_kind(name: str) -> str:
    return csvfile.ERASURE if _ERASURE_NAME.match(name) else csvfile.ENROLLMENT


def file_format(name: str) -> str:
    """'csv', 'xlsx' or 'xlsm' by the name's ending."""
    return name.rsplit(".", 1)[-1].lower() if "." in name else "csv"


def shown_name(name: str) -> str:
    """The name as stored, logged and archived: personnummer-like runs replaced (issue 17, finding 7)."""
    return identity.scrub(name)


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_stream(open_stream: Opener) -> tuple[str, int]:
    """(sha256, size) of a file, read in chunks."""
    sha = hashlib.sha256()
    size = 0
    with open_stream() as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


# ---------------------------------------------------------------------------------------------------------
# filesystem


def landing_location(settings: Settings | None = None) -> str:
    """The configured landing folder, or ``$SKOLSAM_HOME/landing``."""
    settings = settings or Settings.load()
    return settings.enrollment_landing or str(project_home() / "landing")


def _is_local(location: str) -> bool:
    return "://" not in location or location.split("://", 1)[0].lower() in ("file", "local")


def landing_fs(landing: Any):
    """(fsspec filesystem, root path) for a landing location: a path, a URL or an ObjectStoragePath."""
    if hasattr(landing, "fs") and hasattr(landing, "path"):  # ObjectStoragePath / UPath
        return landing.fs, landing.path
    location = str(landing)
    import fsspec

    if _is_local(location):
        path = location.split("://", 1)[1] if "://" in location else location
        return fsspec.filesystem("file"), os.path.realpath(Path(path).expanduser())
    scheme = location.split("://", 1)[0].lower()
    if os.environ.get("AIRFLOW_CTX_DAG_ID"):  # inside an Airflow task: Connections can be resolved
        try:
            from airflow.sdk import ObjectStoragePath
            from airflow.sdk.io.fs import has_fs

            if has_fs(scheme):
                p = ObjectStoragePath(location)
                return p.fs, p.path
        except Exception:  # no Airflow filesystem for the scheme: plain fsspec below
            pass
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(location)
    return fs, root


def landing_handler(landing: Any):
    """The symlink-safe handler (landing.LocalLanding / RemoteLanding) of a landing location."""
    return open_landing(*landing_fs(landing))


def _reason_text(result: FileResult, detail: str | None) -> str:
    lines = [
        f"reason: {result.reason}",
        f"file_checksum: {result.checksum}",
        f"rejected_at: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
    ]
    if detail:
        lines.append(f"detail: {detail}")
    lines.append("The file could not be read as a list (DESIGN 3.2); fix it and deliver it again.")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------
# one file


def _known(conn, digest: str) -> tuple[str, str | None] | None:
    return conn.execute(
        "SELECT status, reject_reason FROM staging.enrollment_file WHERE file_checksum = %s", (digest,)
    ).fetchone()


def _record_file(conn, result: FileResult) -> None:
    conn.execute(
        """INSERT INTO staging.enrollment_file (file_checksum, file_name, status, encoding, delimiter, rows_read,
                                                rows_loaded, rows_quarantined, reject_reason, run_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (result.checksum, result.name, result.status, result.encoding, result.delimiter, result.rows_read,
         result.rows_loaded, result.rows_quarantined, result.reason, result.run_id),
    )


def parse_delivery(name: str, open_stream: Opener, kind: str) -> csvfile.ParsedFile:
    """Read a delivery by its format; raises csvfile.FileRejected with a reason code."""
    fmt = file_format(name)
    if fmt == "csv":
        return csvfile.parse_stream(open_stream, kind)
    from . import xlsxfile

    if fmt == "xlsm":
        raise csvfile.FileRejected(xlsxfile.MACROS, "a macro-enabled workbook (.xlsm)")
    return xlsxfile.parse_stream(open_stream, kind)


def process_stream(name: str, open_stream: Opener, warehouse_url: str, pseudonymiser: Pseudonymiser,
                   settings: Settings | None = None, *, mart_pseudonymiser=None) -> tuple[FileResult, str | None]:
    """Load one delivery read through ``open_stream`` (called for each pass over the file). Returns the
    result and, for a rejected file, a detail for its reason file. Raises IntakeError (with no content in
    it) when the warehouse work fails.

    The file is checksummed in chunks first; one larger than ``enrollment_max_file_bytes`` is rejected
    without being parsed (issue 17, finding 6)."""
    settings = settings or Settings.load()
    kind = file_kind(name)
    shown = shown_name(name)
    result = FileResult(name=shown, status="failed", kind=kind)
    try:
        digest, size = hash_stream(open_stream)
    except OSError as exc:
        raise IntakeError(f"enrollment file {shown}: {type(exc).__name__}") from None
    result.checksum = digest

    try:
        with connect(warehouse_url) as conn:
            seen = _known(conn, digest)
        if seen is not None:
            return _skipped(result, seen, warehouse_url)
        run = LoadRun(warehouse_url, SOURCE, shown).open()
    except Exception as exc:
        raise IntakeError(f"enrollment file {shown}: {type(exc).__name__}") from None
    result.run_id = run.run_id
    detail: str | None = None
    try:
        parsed = None
        limit = settings.enrollment_max_file_bytes
        if limit and size > limit:
            result.status, result.reason = "rejected", "file_too_large"
            detail = f"{size} bytes, limit {limit} (setting enrollment_max_file_bytes)"
        else:
            try:
                parsed = parse_delivery(name, open_stream, kind)
            except csvfile.FileRejected as rejected:
                result.status, result.reason, detail = "rejected", rejected.reason, rejected.detail
        with connect(warehouse_url) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            seen = _known(conn, digest)
            if seen is not None:  # another run took it meanwhile
                result.status = "skipped"
                result.reason = "already_rejected" if seen[0] == "rejected" else "already_loaded"
                run.close("skipped", result.reason, conn=conn)
                return result, (f"rejected earlier: {seen[1]}" if seen[0] == "rejected" else None)
            if parsed is None:
                _record_file(conn, result)
                run.close("rejected", result.reason, conn=conn)
                return result, detail
            result.encoding, result.delimiter = parsed.encoding, parsed.delimiter or None
            outcome = load_parsed(conn, parsed, pseudonymiser, file_name=shown, file_checksum=digest,
                                  run_id=run.run_id, mart_pseudonymiser=mart_pseudonymiser)
            result.status = "loaded"
            result.rows_read = outcome.rows_read
            result.rows_inserted, result.rows_updated = outcome.inserted, outcome.updated
            result.rows_loaded = outcome.rows_loaded
            result.rows_quarantined = outcome.quarantined
            result.rows_erased = outcome.rows_erased
            result.reasons = dict(sorted(outcome.reasons.items()))
            _record_file(conn, result)
            run.rows_read, run.rows_loaded = outcome.rows_read, outcome.rows_loaded
            run.rows_quarantined, run.rows_deleted = outcome.quarantined, outcome.rows_erased
            if parsed.kind == csvfile.ERASURE:
                message = f"erasure request: {outcome.erased_pupils} pupil(s), {outcome.rows_erased} row(s) removed"
            else:
                message = f"inserted {outcome.inserted}, updated {outcome.updated}, erased {outcome.rows_erased}"
            run.close("success", message, conn=conn)
        return result, None
    except Exception as exc:
        kind_of_error = type(exc).__name__
        try:
            run.close("failed", kind_of_error)
        except Exception:
            pass
        # The original exception may quote a value (a database error can echo a row): not chained.
        raise IntakeError(f"enrollment file {shown}: {kind_of_error}") from None


def process_bytes(name: str, data: bytes, warehouse_url: str, pseudonymiser: Pseudonymiser,
                  settings: Settings | None = None, **kw) -> tuple[FileResult, str | None]:
    """:func:`process_stream` over bytes held in memory (small files, tests)."""
    import io

    return process_stream(name, lambda: io.BytesIO(data), warehouse_url, pseudonymiser, settings, **kw)


def _skipped(result: FileResult, seen: tuple[str, str | None], warehouse_url: str) -> tuple[FileResult, str | None]:
    """A re-delivery: nothing changes but an audit row. For a file rejected before, the earlier reason."""
    previous_status, previous_reason = seen
    result.status = "skipped"
    result.reason = "already_rejected" if previous_status == "rejected" else "already_loaded"
    run = LoadRun(warehouse_url, SOURCE, result.name).open()
    result.run_id = run.run_id
    run.close("skipped", result.reason)
    return result, (f"rejected earlier: {previous_reason}" if previous_status == "rejected" else None)


def _file_opener(location: str) -> tuple[str, Opener]:
    """(base name, opener) for one file given as a local path or URL; a local link is not followed."""
    if _is_local(location):
        p = Path(location.split("://", 1)[1] if "://" in location else location).expanduser()
        from .landing import LocalLanding

        return p.name, LocalLanding(str(p.parent)).opener(p.name)
    from fsspec.core import url_to_fs

    fs, fpath = url_to_fs(location)
    return posixpath.basename(fpath), (lambda: fs.open(fpath, "rb"))


def ingest_file(path: Any, warehouse_url: str, pseudonymiser: Pseudonymiser,
                settings: Settings | None = None, *, mart_pseudonymiser=None) -> dict[str, Any]:
    """Load one file (a local path or URL) into the warehouse; the file is left where it is.

    Returns the file's summary (JSON-serialisable, no personal data): name, status ('loaded', 'rejected',
    'skipped' or 'failed'), kind, checksum, rows_read, rows_loaded, rows_quarantined, rows_erased, reason.
    """
    name, opener = _file_opener(str(path))
    try:
        result, _ = process_stream(name, opener, warehouse_url, pseudonymiser, settings,
                                   mart_pseudonymiser=mart_pseudonymiser)
    except IntakeError as exc:
        return FileResult(name=shown_name(name), status="failed", kind=file_kind(name), reason=str(exc)).as_dict()
    return result.as_dict()


# ---------------------------------------------------------------------------------------------------------
# the landing folder


def _reject_link(folder, entry, warehouse_url: str) -> FileResult:
    """A delivery that is a symbolic link (or a fifo, a device): not read; the link itself goes to rejected/."""
    shown = shown_name(entry.name)
    result = FileResult(name=shown, status="rejected", kind=file_kind(entry.name), reason=NOT_REGULAR)
    run = LoadRun(warehouse_url, SOURCE, shown).open()
    result.run_id = run.run_id
    run.close("rejected", NOT_REGULAR)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    target = folder.move(entry.name, REJECTED, shown, stamp)
    folder.write_new(REJECTED, posixpath.basename(target) + REASON_SUFFIX,
                     _reason_text(result, "a symbolic link or special file; deliver the file itself").encode())
    result.moved_to = target
    return result


def ingest_landing(landing: Any, warehouse_url: str, pseudonymiser: Pseudonymiser,
                   settings: Settings | None = None, *, create: bool = False,
                   mart_pseudonymiser=None) -> dict[str, Any]:
    """Process every waiting delivery in the landing folder; returns a JSON-serialisable summary.

    ``{"files": [per-file summary, ...], "loaded": n, "rejected": n, "skipped": n, "failed": n,
    "rows_read": n, "rows_loaded": n, "rows_quarantined": n, "rows_erased": n, "changed": bool}``.
    ``changed`` is true when a file was loaded (staging.enrollment or an erasure may have changed).
    A missing landing folder is an error unless ``create`` is set; a symlinked ``archive/`` or
    ``rejected/`` is an error (landing.UnsafeLanding) before any file is touched.
    """
    settings = settings or Settings.load()
    folder = landing_handler(landing)
    if not folder.exists():
        if not create:
            raise LandingNotFound("the enrollment landing folder does not exist (setting enrollment_landing)")
        folder.makedirs()
    folder.check()
    lock_conn = _hold_run_lock(warehouse_url)
    try:
        if lock_conn is not None:
            close_stale_runs(lock_conn)
        return _ingest_entries(folder, landing, warehouse_url, pseudonymiser, settings, mart_pseudonymiser)
    finally:
        if lock_conn is not None:
            lock_conn.close()


def _ingest_entries(folder, landing, warehouse_url, pseudonymiser, settings, mart_pseudonymiser) -> dict[str, Any]:
    results: list[FileResult] = []
    entries = sorted(folder.entries(), key=lambda e: e.name)
    for entry in entries:
        if not _LIST_NAME.match(entry.name):
            continue
        shown = shown_name(entry.name)
        if not entry.regular:
            try:
                results.append(_reject_link(folder, entry, warehouse_url))
                log.warning("enrollment file %s: not a regular file (a link?); rejected unread", shown)
            except Exception as exc:
                log.error("enrollment file %s: not a regular file, and could not be set aside (%s)", shown,
                          type(exc).__name__)
                results.append(FileResult(name=shown, status="failed", kind=file_kind(entry.name),
                                          reason=NOT_REGULAR))
            continue
        try:
            result, detail = process_stream(entry.name, folder.opener(entry.name), warehouse_url, pseudonymiser,
                                            settings, mart_pseudonymiser=mart_pseudonymiser)
        except IntakeError as exc:
            log.error("%s; left in the landing folder for the next run", exc)
            results.append(FileResult(name=shown, status="failed", kind=file_kind(entry.name), reason="load_failed"))
            # Later lists may update this one's rows (a closing date, a district): loading them first would
            # give another result than the delivery order. They wait for the next run too.
            later = sum(1 for e in entries if e.name > entry.name and _LIST_NAME.match(e.name))
            if later:
                log.warning("%d later enrollment file(s) left for the next run, to keep the delivery order", later)
            break
        rejected = result.status == "rejected" or (result.status == "skipped" and result.reason == "already_rejected")
        sub = REJECTED if rejected else ARCHIVE
        try:
            target = folder.move(entry.name, sub, shown, (result.checksum or "")[:12] + "-" +
                                 dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f"))
            if rejected:
                folder.write_new(sub, posixpath.basename(target) + REASON_SUFFIX,
                                 _reason_text(result, detail).encode("utf-8"))
            result.moved_to = target
        except UnsafeLanding:
            raise
        except Exception as exc:  # loaded, but still in the landing folder: the next run only moves it
            log.warning("enrollment file %s: processed but not moved (%s)", shown, type(exc).__name__)
        log.info("enrollment file %s: %s (%d read, %d loaded, %d quarantined%s)", shown, result.status,
                 result.rows_read, result.rows_loaded, result.rows_quarantined,
                 f", reason {result.reason}" if result.reason else "")
        results.append(result)
    if any(r.status == "loaded" and (r.rows_erased or r.kind == csvfile.ERASURE) for r in results):
        _erase_to_disk(landing, warehouse_url, pseudonymiser)
    return summarise(results)


def _erase_to_disk(landing: Any, warehouse_url: str, pseudonymiser: Pseudonymiser) -> None:
    """After an erasure: archived lists naming the pupil rewritten or removed, touched tables rewritten on
    disk (skolsam.enrollment.disk_erasure). A failure here is logged; the maintenance DAG tries again."""
    from .disk_erasure import erase_from_archive, vacuum_after_erasure

    try:
        erase_from_archive(landing, warehouse_url, pseudonymiser)
    except Exception as exc:
        log.warning("erasure: archived lists not yet cleaned (%s)", type(exc).__name__)
    vacuum_after_erasure(warehouse_url)


def _hold_run_lock(warehouse_url: str):
    """A connection holding the intake's run lock (session), or None when another intake holds it. Closing
    the connection releases it, also when the process is killed."""
    try:
        conn = connect(warehouse_url, autocommit=True)
        if conn.execute("SELECT pg_try_advisory_lock(%s)", (_RUN_LOCK_ID,)).fetchone()[0]:
            return conn
        conn.close()
    except Exception as exc:  # the warehouse is down: each file then fails on its own and stays
        log.warning("enrollment: warehouse not reachable for the run lock (%s)", type(exc).__name__)
    return None


def close_stale_runs(lock_conn) -> int:
    """Close as failed the intake's ``running`` audit.load_run rows: with the run lock held (every landing
    run holds it while it works), a row still 'running' belongs to a run that died (SIGKILL, a lost
    connection) before it could record its end."""
    n = lock_conn.execute(
        """UPDATE audit.load_run SET status = 'failed', finished_at = now(),
                  message = 'stale: the run ended without recording it (killed or lost its connection)'
            WHERE source = %s AND status = 'running'""", (SOURCE,)).rowcount
    if n:
        log.warning("enrollment: closed %d stale running load_run row(s) as failed", n)
    return n


def summarise(results: list[FileResult]) -> dict[str, Any]:
    files = [r.as_dict() for r in results]
    totals = {s: sum(1 for r in results if r.status == s) for s in ("loaded", "rejected", "skipped", "failed")}
    return {
        "files": files,
        **totals,
        "rows_read": sum(r.rows_read for r in results),
        "rows_loaded": sum(r.rows_loaded for r in results),
        "rows_quarantined": sum(r.rows_quarantined for r in results),
        "rows_erased": sum(r.rows_erased for r in results),
        "changed": totals["loaded"] > 0,
    }
