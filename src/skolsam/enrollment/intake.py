"""The landing folder for enrollment lists: new files in, checksummed, loaded, archived or rejected.

The landing folder is a local path (by default ``$SKOLSAM_HOME/landing``) or a URL for any filesystem
fsspec knows (``sftp://``, ``s3://``, ``file://``, ...), set by the ``enrollment_landing`` setting. Inside
Airflow a URL whose scheme has an Airflow filesystem goes through ``ObjectStoragePath``, so credentials
come from an Airflow Connection (``s3://aws_default@bucket/landing``); elsewhere (the command line, tests, a
scheme Airflow has no filesystem for) plain fsspec is used, with its own credential lookup.

Each ``*.csv`` directly in the folder is one delivery, processed in name order:

- its sha256 is computed; a checksum already in ``staging.enrollment_file`` is a re-delivery: nothing
  changes in the warehouse (an ``audit.load_run`` row says 'skipped') and the file is moved on;
- ``radering*.csv`` / ``erasure*.csv`` are erasure requests (column ``personnummer``, optional ``orsak``),
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
from typing import Any

from ..errors import SkolsamError
from ..pseudonym import Pseudonymiser
from ..settings import Settings, project_home
from ..warehouse.audit import LoadRun
from ..warehouse.connection import connect
from ..warehouse.locks import staging_write
from . import csvfile
from .load import SOURCE, load_parsed

log = logging.getLogger(__name__)

ARCHIVE = "archive"
REJECTED = "rejected"
REASON_SUFFIX = ".reason.txt"
_ERASURE_NAME = re.compile(r"^(radering|erasure)[^/]*\.csv$", re.IGNORECASE)
_LIST_NAME = re.compile(r"^[^.~][^/]*\.csv$", re.IGNORECASE)  # no hidden files, no Excel lock files (~$x.csv)
_LOCK_ID = 731_200_101  # one intake at a time merges into staging.enrollment


class IntakeError(SkolsamError, RuntimeError):
    """A file could not be processed for a reason other than its content. The message names the file
    and the kind of error only."""


class LandingNotFound(IntakeError):
    transient = False  # a configured landing folder that does not exist: fix the setting


@dataclass
class FileResult:
    name: str
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


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
        return fsspec.filesystem("file"), str(Path(path).expanduser().resolve())
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


def list_new_files(fs, root: str) -> list[str]:
    """Paths of the deliveries waiting in the landing folder (``*.csv``, not in a subfolder), by name."""
    found = []
    for entry in fs.ls(root, detail=True):
        if entry.get("type") != "file":
            continue
        name = posixpath.basename(str(entry["name"]).rstrip("/"))
        if _LIST_NAME.match(name):
            found.append(str(entry["name"]))
    return sorted(found, key=lambda p: posixpath.basename(p))


def _free_name(fs, folder: str, name: str, digest: str | None) -> str:
    target = posixpath.join(folder, name)
    if not fs.exists(target):
        return target
    stem, dot, ext = name.rpartition(".")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    tag = f"{(digest or '')[:12]}-{stamp}".strip("-")
    return posixpath.join(folder, f"{stem}.{tag}{dot}{ext}" if dot else f"{name}.{tag}")


def _move(fs, root: str, path: str, sub: str, digest: str | None) -> str:
    folder = posixpath.join(root, sub)
    fs.makedirs(folder, exist_ok=True)
    target = _free_name(fs, folder, posixpath.basename(path), digest)
    fs.mv(path, target)
    return target


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


def process_bytes(name: str, data: bytes, warehouse_url: str, pseudonymiser: Pseudonymiser,
                  settings: Settings | None = None) -> tuple[FileResult, str | None]:
    """Load one delivery given as bytes. Returns the result and, for a rejected file, a detail for its
    reason file. Raises IntakeError (with no content in it) when the warehouse work fails.

    ``settings`` is accepted for the callers' sake; the row rules are the list contract's (DESIGN 3.2) and
    take no thresholds today."""
    kind = file_kind(name)
    digest = checksum(data)
    result = FileResult(name=name, status="failed", kind=kind, checksum=digest)

    try:
        with connect(warehouse_url) as conn:
            seen = _known(conn, digest)
        if seen is not None:
            return _skipped(result, seen, warehouse_url)
        run = LoadRun(warehouse_url, SOURCE, name).open()
    except Exception as exc:
        raise IntakeError(f"enrollment file {name}: {type(exc).__name__}") from None
    result.run_id = run.run_id
    detail: str | None = None
    try:
        try:
            parsed = csvfile.parse(data, kind)
        except csvfile.FileRejected as rejected:
            parsed = None
            result.status, result.reason, detail = "rejected", rejected.reason, rejected.detail
        with connect(warehouse_url) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            staging_write(conn)  # a build never reads staging while this file loads (warehouse.locks)
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
            result.encoding, result.delimiter = parsed.encoding, parsed.delimiter
            outcome = load_parsed(conn, parsed, pseudonymiser, file_name=name, file_checksum=digest,
                                  run_id=run.run_id)
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
        raise IntakeError(f"enrollment file {name}: {kind_of_error}") from None


def _skipped(result: FileResult, seen: tuple[str, str | None], warehouse_url: str) -> tuple[FileResult, str | None]:
    """A re-delivery: nothing changes but an audit row. For a file rejected before, the earlier reason."""
    previous_status, previous_reason = seen
    result.status = "skipped"
    result.reason = "already_rejected" if previous_status == "rejected" else "already_loaded"
    run = LoadRun(warehouse_url, SOURCE, result.name).open()
    result.run_id = run.run_id
    run.close("skipped", result.reason)
    return result, (f"rejected earlier: {previous_reason}" if previous_status == "rejected" else None)


def ingest_file(path: Any, warehouse_url: str, pseudonymiser: Pseudonymiser,
                settings: Settings | None = None) -> dict[str, Any]:
    """Load one file (a local path or URL) into the warehouse; the file is left where it is.

    Returns the file's summary (JSON-serialisable, no personal data): name, status ('loaded', 'rejected',
    'skipped' or 'failed'), kind, checksum, rows_read, rows_loaded, rows_quarantined, rows_erased, reason.
    """
    location = str(path)
    if _is_local(location):
        p = Path(location.split("://", 1)[1] if "://" in location else location)
        name, data = p.name, p.read_bytes()
    else:
        from fsspec.core import url_to_fs

        fs, fpath = url_to_fs(location)
        name, data = posixpath.basename(fpath), fs.cat_file(fpath)
    try:
        result, _ = process_bytes(name, data, warehouse_url, pseudonymiser, settings)
    except IntakeError as exc:
        return FileResult(name=name, status="failed", kind=file_kind(name), reason=str(exc)).as_dict()
    return result.as_dict()


# ---------------------------------------------------------------------------------------------------------
# the landing folder


def ingest_landing(landing: Any, warehouse_url: str, pseudonymiser: Pseudonymiser,
                   settings: Settings | None = None, *, create: bool = False) -> dict[str, Any]:
    """Process every waiting delivery in the landing folder; returns a JSON-serialisable summary.

    ``{"files": [per-file summary, ...], "loaded": n, "rejected": n, "skipped": n, "failed": n,
    "rows_read": n, "rows_loaded": n, "rows_quarantined": n, "rows_erased": n, "changed": bool}``.
    ``changed`` is true when a file was loaded (staging.enrollment or an erasure may have changed).
    A missing landing folder is an error unless ``create`` is set.
    """
    fs, root = landing_fs(landing)
    if not fs.exists(root):
        if not create:
            raise LandingNotFound("the enrollment landing folder does not exist (setting enrollment_landing)")
        fs.makedirs(root, exist_ok=True)
    results: list[FileResult] = []
    for path in list_new_files(fs, root):
        name = posixpath.basename(path)
        try:
            data = fs.cat_file(path)
        except Exception as exc:
            log.warning("enrollment file %s: could not be read (%s); left in place", name, type(exc).__name__)
            results.append(FileResult(name=name, status="failed", kind=file_kind(name), reason="unreadable_file"))
            continue
        try:
            result, detail = process_bytes(name, data, warehouse_url, pseudonymiser, settings)
        except IntakeError as exc:
            log.error("%s; left in the landing folder for the next run", exc)
            results.append(FileResult(name=name, status="failed", kind=file_kind(name), checksum=checksum(data),
                                      reason="load_failed"))
            continue
        finally:
            data = b""
        rejected = result.status == "rejected" or (result.status == "skipped" and result.reason == "already_rejected")
        sub = REJECTED if rejected else ARCHIVE
        try:
            target = _move(fs, root, path, sub, result.checksum)
            if rejected:
                fs.pipe_file(target + REASON_SUFFIX, _reason_text(result, detail).encode("utf-8"))
            result.moved_to = posixpath.relpath(target, root)
        except Exception as exc:  # loaded, but still in the landing folder: the next run only moves it
            log.warning("enrollment file %s: processed but not moved (%s)", name, type(exc).__name__)
        log.info("enrollment file %s: %s (%d read, %d loaded, %d quarantined%s)", name, result.status,
                 result.rows_read, result.rows_loaded, result.rows_quarantined,
                 f", reason {result.reason}" if result.reason else "")
        results.append(result)
    return summarise(results)


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
