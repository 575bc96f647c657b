"""SS 12000 extraction into ``staging.ss12000_*``, one entity per call, pseudonymised at the door.

For every entity (``ENTITIES``, in dependency order) ``extract_entity``:

1. opens an ``audit.load_run`` row;
2. in ONE transaction: reads the entity's watermark (unless ``full_refresh``), streams the API's pages
   through the entity's mapper into PostgreSQL with COPY, page by page (:mod:`.pipeline`; records that break
   the schema go to ``audit.quarantine`` with a reason code and the rest of the page loads), merges what was
   loaded into staging (:mod:`.loaders`: upsert by key; ``full_refresh`` replaces), sets the new watermark
   and closes the load_run row;
3. on any error rolls the whole transaction back (nothing half-loaded is visible, the watermark does not
   move), marks the load_run row failed and raises :class:`ExtractError`.

Where things are: the HTTP client and its config in :mod:`.client`; what a record may hold (typed structs,
value sets, validators, timestamps) in :mod:`.schema`; one mapper per entity family in :mod:`.mappers`;
COPY text, temp tables, upserts and bulk loads in :mod:`skolsam.warehouse.bulk`.

Privacy: a person's civic number is parsed and turned into ``student_key`` in memory
(``Pseudonymiser.key_for``); the SS 12000 person id only ever becomes ``person_ref``
(``Pseudonymiser.source_ref("person", id)``), for persons and for the ``student`` of grades and attendance.
Names, civic numbers, addresses and source person ids are never written, logged or put in an error.
Quarantine rows carry a reason code, a machine-made detail (the field name) and as ``record_ref`` the
object's id for non-person entities (only if it is a uuid) or the ``person_ref`` for persons and attendance.

A watermark over an empty staging table (wiped by hand) is ignored: everything is read again.
History and backfill (DESIGN 3.1.3, :func:`resolve_terms`): the first read of an entity (no watermark, or a
full refresh) covers every term from the setting ``history_start_term`` on, later runs the current and the
previous term (until it has been over for ``closed_term_reread_days``), named terms a backfill. Attendance is read per term window (``skolsam.terms`` calendar) for
those terms, and each such term's rows in staging are replaced by the new window's rows. Every run records
per term what it read in ``audit.extract_coverage``; the build turns it into ``core.term_attendance_status``.

Erased pupils (``audit.erased_key`` by student_key, ``audit.erased_ref`` by person_ref) are dropped at the
door; a person dropped by student_key has its person_ref added to ``audit.erased_ref`` so that its grades
and attendance are dropped too.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zlib
from typing import Iterable, Sequence

import psycopg
from psycopg import sql

from .. import terms as terms_mod
from ..errors import SkolsamError
from ..pseudonym import Pseudonymiser
from ..settings import Settings
from ..warehouse import audit
from ..warehouse.audit import LoadRun
from ..warehouse.connection import connect
from ..warehouse.locks import staging_write
from .client import ApiConfig, SS12000Client, SS12000Error
from .config import PageBudget, _resend_names
from .loaders import LOADERS, TARGETS
from .pipeline import SOURCE, Run
from .schema import time_zone
from .sources import ENTITIES  # in dependency order; declared there so the DAG file can read it cheaply

__all__ = ["ENTITIES", "ApiConfig", "ExtractError", "extract_all", "extract_entity", "resolve_terms"]

log = logging.getLogger(__name__)

WORK_MEM = "256MB"
_LOCK_BASE = 731_200_100


class ExtractError(SkolsamError, RuntimeError):
    """An entity's extraction failed; nothing of it was loaded. The message holds no personal data.
    From ``extract_all``: ``failed`` names the entities that failed, ``summaries`` those that did not."""

    def __init__(self, message: str, *, failed: Sequence[str] = (), summaries: Sequence[dict] = ()):
        super().__init__(message)
        self.failed, self.summaries = list(failed), list(summaries)


def resolve_terms(terms: Iterable[str] | str | None, calendar: list[terms_mod.TermDates],
                  today: dt.date | None = None, *, first: bool = False,
                  history_start: str | None = None,
                  reread_days: int | None = None) -> list[terms_mod.TermDates]:
    """The terms a run reads (DESIGN 3.1.3), in calendar order:

    * named ``terms``: those (a backfill);
    * ``first`` (no watermark yet, or a full refresh): every term from ``history_start`` (default the
      calendar's first) to the latest finished one, and the term in progress;
    * otherwise the current term (the one in progress, or between terms the last one started) and the one
      before it while it ended at most ``reread_days`` ago (``closed_term_reread_days``; None: always).
      A closed term's attendance no longer changes, and reading it again every day doubled the daily
      extract of attendance for nothing.
    """
    by_name = terms_mod.calendar_by_name(calendar)
    if terms:
        return terms_mod.resolve(terms, calendar)
    today = today or dt.date.today()
    started = [t for t in calendar if t.start <= today]
    if not started:
        return []
    if first:
        start = terms_mod.parse_term(history_start).order if history_start else calendar[0].term.order
        if history_start and terms_mod.parse_term(history_start).name not in by_name:
            raise ValueError(f"history_start_term {history_start} is not in the term calendar")
        return [t for t in started if t.term.order >= start]
    chosen = started[-2:]
    if reread_days is not None and len(chosen) == 2 and (today - chosen[0].end).days > reread_days:
        chosen = chosen[1:]
    return chosen


def _record_coverage(conn, entity: str, run: Run, terms: list[terms_mod.TermDates]) -> None:
    """audit.extract_coverage: this run read ``entity`` for these terms (attendance: the window, its rows)."""
    for term in terms:
        window = run.windows.get(term.name)
        conn.execute(
            """INSERT INTO audit.extract_coverage (source, term, entity, window_start, window_end, rows_read, run_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (source, term, entity) DO UPDATE SET window_start = EXCLUDED.window_start,
                      window_end = EXCLUDED.window_end, rows_read = EXCLUDED.rows_read, run_id = EXCLUDED.run_id,
                      read_at = now()""",
            (run.source, term.name, entity, term.start if window else None, term.end if window else None,
             window if window is not None else run.read, run.run_id))


def extract_entity(
    entity: str,
    warehouse_url: str,
    api: ApiConfig,
    pseudonymiser: Pseudonymiser,
    *,
    full_refresh: bool = False,
    terms: Sequence[str] | str | None = None,
    settings: Settings | None = None,
    client: SS12000Client | None = None,
    source: str = SOURCE,
) -> dict:
    """Extract one entity into staging (see the module docstring). Returns a small JSON-serialisable
    summary without personal data (it goes to XCom). Raises ExtractError (nothing loaded) on failure.

    ``terms`` (aggregatedAttendance only): term names such as ``["HT2025", "VT2026"]`` or ``"HT2025,VT2026"``.
    ``client``: an open SS12000Client to reuse (its token and connections), else one is made from ``api``.
    ``source``: the school system (a configured source's id): its own watermarks, audit rows and staging rows.
    """
    if entity not in LOADERS:
        raise ValueError(f"unknown SS 12000 entity {entity!r}; expected one of {', '.join(ENTITIES)}")
    settings = settings or Settings.load()
    calendar = terms_mod.load_calendar(settings.term_calendar or None)
    if terms:
        resolve_terms(terms, calendar)  # an unknown term fails before anything is read
    limit = max(1, int(api.page_size or settings.ss12000_page_size))
    own_client = client is None
    load = LoadRun(warehouse_url, source, entity)
    t0 = time.perf_counter()
    run: Run | None = None
    previous = None
    chosen_terms: list[terms_mod.TermDates] = []
    requests0 = retries0 = 0
    try:
        zone = api.time_zone or settings.ss12000_time_zone
        time_zone(zone)  # an unknown zone fails here, before anything is read
        client = client or api.client()
        requests0, retries0 = client.stats["requests"], client.stats["retries"]
        client.resend = _resend_names(api.resend_params if api.resend_params is not None
                                      else settings.ss12000_resend_params)
        client.budget = PageBudget(settings.ss12000_max_pages or None, settings.ss12000_time_budget_seconds or None)
        with connect(warehouse_url) as conn:
            with conn.transaction():
                # Timestamps without a zone are read in the source's zone (PostgreSQL parses them in COPY).
                conn.execute(sql.SQL("SET LOCAL TIME ZONE {}").format(sql.Literal(zone)))
                conn.execute(sql.SQL("SET LOCAL work_mem = {}").format(sql.Literal(WORK_MEM)))
                conn.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                             (_LOCK_BASE, zlib.crc32(f"{source}:{entity}".encode()) - 2 ** 31))
                staging_write(conn)  # a build never reads staging while this load runs (warehouse.locks)
                # Opened under the lock: any other `running` row of this entity is a run that died.
                load.open()
                _close_stale_runs(warehouse_url, source, entity, load.run_id)
                previous = audit.get_watermark(conn, source, entity)
                if full_refresh and previous is not None:
                    audit.clear_watermarks(conn, source, [entity])
                read_from = None if full_refresh else previous
                if read_from is not None and entity in TARGETS and conn.execute(sql.SQL(
                        "SELECT NOT EXISTS (SELECT 1 FROM {} WHERE source = %s)").format(
                        sql.Identifier(*TARGETS[entity].split("."))), (source,)).fetchone()[0]:
                    # A watermark over an empty table (staging wiped by hand): read everything again.
                    log.warning("ss12000 %s: staging is empty but a watermark is set; reading everything", entity)
                    read_from = None
                # First read of this source's entity (or a full refresh): the whole history; else the current
                # and previous term; named terms are a backfill.
                chosen_terms = resolve_terms(terms, calendar, first=read_from is None,
                                             history_start=settings.history_start_term or None,
                                             reread_days=settings.closed_term_reread_days)
                run = Run(entity, conn, load, pseudonymiser, source)
                run.time_zone = zone
                run.clock_margin = float(settings.ss12000_clock_margin_seconds)
                run.load_erasures()
                result = LOADERS[entity](run, client, limit, full_refresh, read_from, chosen_terms)
                _record_coverage(conn, entity, run, chosen_terms)
                load.rows_read = run.read
                load.rows_loaded = result.get("rows_loaded", 0)
                load.rows_quarantined = run.quarantined
                load.rows_deleted = result.get("rows_deleted", 0)
                load.watermark = result.get("watermark")
                message = (f"pages={run.pages} dropped_erased={run.dropped} fallback_pages={run.fallback_pages}"
                           + "".join(f" {k}={v}" for k, v in sorted(run.counts.items()))
                           + (" full_refresh" if full_refresh else "") + (" bulk" if result.get("bulk") else ""))
                load.close("success", message=message, conn=conn)
    except BaseException as exc:
        error = _safe_error(entity, exc)
        try:
            if load.run_id is None:
                load.open()
            load.rows_read = run.read if run else 0
            load.rows_loaded = load.rows_quarantined = load.rows_deleted = 0
            load.close("failed", message=str(error)[:1000])
        except Exception:  # the database may be what failed; the original error matters more
            log.exception("could not record the failed %s run", entity)
        if isinstance(exc, Exception):
            raise error from exc
        raise
    finally:
        if client is not None:
            client.budget = None
            if own_client:
                client.close()
    seconds = round(time.perf_counter() - t0, 3)
    summary = {
        "entity": entity,
        "run_id": load.run_id,
        "status": "success",
        "full_refresh": bool(full_refresh),
        "rows_read": load.rows_read,
        "rows_loaded": load.rows_loaded,
        "rows_quarantined": load.rows_quarantined,
        "rows_deleted": load.rows_deleted,
        "rows_dropped_erased": run.dropped,
        "previous_watermark": previous,
        "watermark": load.watermark,
        "pages": run.pages,
        "fallback_pages": run.fallback_pages,
        "requests": client.stats["requests"] - requests0,
        "retries": client.stats["retries"] - retries0,
        "seconds": seconds,
        "stream_seconds": round(run.stream_seconds, 3),
        "quarantine_new": run.quarantine_new,
        "counts": dict(sorted(run.counts.items())),
    }
    summary["terms_covered"] = [t.name for t in chosen_terms]
    for k in ("terms", "rows_replaced", "rows_skipped_deleted", "rows_duplicate", "bulk"):
        if k in result:
            summary[k] = result[k]
    log.info("ss12000 %s: read %d, loaded %d, quarantined %d, deleted %d, dropped %d in %.1fs (%d pages, %d retries)",
             entity, summary["rows_read"], summary["rows_loaded"], summary["rows_quarantined"],
             summary["rows_deleted"], summary["rows_dropped_erased"], seconds, summary["pages"], summary["retries"])
    return summary


def _close_stale_runs(warehouse_url: str, source: str, entity: str, current: int | None) -> int:
    """Close as failed the `running` rows of this entity other than ``current``: runs killed before they
    could record their end (this runs under the entity's lock, which every live run holds while open)."""
    with connect(warehouse_url, autocommit=True) as conn:
        n = conn.execute(
            """UPDATE audit.load_run SET status = 'failed', finished_at = now(),
                      message = 'stale: the run ended without recording it (killed or lost its connection)'
                WHERE source = %s AND entity = %s AND status = 'running' AND run_id <> %s""",
            (source, entity, current)).rowcount
    if n:
        log.warning("ss12000 %s: closed %d stale running load_run row(s) as failed", entity, n)
    return n


def _safe_error(entity: str, exc: BaseException) -> ExtractError:
    """An error message without record content: ours as they are, database errors by class and SQLSTATE."""
    if isinstance(exc, psycopg.Error):
        state = getattr(getattr(exc, "diag", None), "sqlstate", None) or ""
        text = f"database error {type(exc).__name__} {state}".strip()
    elif isinstance(exc, (SS12000Error, ExtractError, ValueError)):
        text = str(exc)
    else:
        text = type(exc).__name__
    return ExtractError(f"SS 12000 {entity}: {text}; nothing of this run was loaded")


def extract_all(warehouse_url: str, api: ApiConfig, pseudonymiser: Pseudonymiser, *,
                entities: Sequence[str] = ENTITIES, full_refresh: bool = False,
                terms: Sequence[str] | str | None = None, settings: Settings | None = None) -> list[dict]:
    """Every entity in dependency order, sharing one HTTP client. A failing entity is recorded (its
    load_run row) and the others still run; then ExtractError lists the failed ones."""
    out, failed = [], []
    with api.client() as client:
        for entity in entities:
            try:
                out.append(extract_entity(entity, warehouse_url, api, pseudonymiser, full_refresh=full_refresh,
                                          terms=terms, settings=settings, client=client))
            except ExtractError as exc:
                log.error("%s", exc)
                failed.append(entity)
    if failed:
        raise ExtractError(f"SS 12000: {len(failed)} of {len(entities)} entities failed: {', '.join(failed)} "
                           f"(see audit.load_run); the others were loaded", failed=failed, summaries=out)
    return out
