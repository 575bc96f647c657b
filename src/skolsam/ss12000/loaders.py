"""Per-entity loaders: where an entity's rows go, how they merge into staging, and its watermark.

Rows go into a session temp table, then an upsert into staging (``INSERT .. ON CONFLICT``, never
overwriting a newer ``meta.modified``, one row per key). When the staging table is empty at the start of
the load (a first load or a ``full_refresh``) and this session's role owns it, grades and attendance are
COPYed straight into it with its indexes set aside and rebuilt at the end (:class:`..warehouse.bulk.BulkTarget`);
duplicate keys are then resolved the same way as in the upsert.

Watermarks (``audit.watermark``, source ``ss12000``): for organisations, syllabuses, persons and grades
the largest ``meta.modified`` seen (UTC, RFC 3339), passed back as ``meta.modified.after`` (exclusive);
for deletedEntities the server's Date of the first answer minus ``DELETED_OVERLAP`` (answers carry no
timestamps; re-reading a deletion is harmless), passed as ``after``; for aggregatedAttendance, which is
re-read per term window, the last window end loaded (informational).

Deletions: ``grades``, ``organisations`` and ``syllabuses`` ids are removed from their staging tables and
recorded in ``staging.ss12000_deleted`` (later grade loads skip those ids); deleted ``persons`` lose their
staging rows (enrolments cascade) and their id is recorded nowhere.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
from typing import Any, Callable, Sequence

from psycopg import sql

from .. import terms as terms_mod
from ..warehouse import audit
from ..warehouse.audit import QuarantineRow
from ..warehouse.bulk import BulkTarget, copy_rows, ident, is_empty, max_modified, temp_table, upsert
from .client import SS12000Client, SS12000Error, prefetch
from .mappers import attendance as att
from .mappers import catalogue, grades, persons
from .pipeline import SOURCE, Mapper, Run
from .schema import FIELD_INVALID, TIMESTAMP_IN_FUTURE, format_timestamp, parse_timestamp, valid_uuid

log = logging.getLogger(__name__)

DELETED_ENTITIES = {  # answer key -> (EndPointsEnum value, staging table or None)
    "grades": ("Grade", grades.GRADE_TABLE),
    "organisations": ("Organisation", catalogue.ORG_TABLE),
    "syllabuses": ("Syllabus", catalogue.SYLLABUS_TABLE),
    "persons": ("Person", None),
}
DELETED_OVERLAP = dt.timedelta(minutes=5)

# The staging table whose emptiness means "read everything again" despite a watermark.
TARGETS = {"organisations": catalogue.ORG_TABLE, "syllabuses": catalogue.SYLLABUS_TABLE,
           "persons": persons.PERSON_TABLE, "grades": grades.GRADE_TABLE}


def server_clock_limit(run: Run) -> int:
    """The latest meta.modified a record may carry: the server's clock (the Date of its latest answer, else
    ours) plus ``run.clock_margin`` seconds, as UTC microseconds."""
    now = http_date(run.last_date) or dt.datetime.now(dt.timezone.utc)
    return parse_timestamp(now.isoformat()) + int(run.clock_margin * 1_000_000)


def _settle(run: Run, table: str, ref_column: str) -> int:
    """After a stream into ``table``: rows whose meta.modified lies past the server's clock are taken out and
    quarantined (``timestamp_in_future``: one such record would freeze incremental loading); the largest
    meta.modified of the rows that stay is what may move the watermark. Returns the rows taken out."""
    conn = run.conn
    newest = max_modified(conn, table)
    limit = server_clock_limit(run)
    removed = 0
    if newest is not None and newest > limit:
        refs = conn.execute(sql.SQL(
            """DELETE FROM {} WHERE modified_at > 'epoch'::timestamptz + %s * interval '1 microsecond'
               RETURNING {}::text, modified_at::text""").format(ident(table), sql.Identifier(ref_column)),
            (limit,)).fetchall()
        rows = [QuarantineRow(TIMESTAMP_IN_FUTURE, record_ref=r[0], detail="field=meta.modified",
                              content_hash=run.content_hash(TIMESTAMP_IN_FUTURE, r[0], r[1])) for r in refs]
        run.quarantine(rows)
        removed = len(rows)
        newest = max_modified(conn, table)
    run.note_loaded(newest)
    return removed


def _advance(run: Run, entity: str, previous: str | None) -> str | None:
    """Set the entity's watermark to the largest meta.modified loaded (never backwards, and never past the
    server's clock plus the margin: a watermark left in the future by an older version comes back); returns it."""
    candidates = [v for v in (run.loaded_max, parse_timestamp(previous) if previous else None) if v is not None]
    if not candidates:
        return previous
    value = format_timestamp(min(max(candidates), server_clock_limit(run)))
    if value != previous:
        audit.set_watermark(run.conn, run.source, entity, value, run.run_id)
    return value


def _temp(run: Run, like: str, name: str, extra: str = "") -> None:
    """A temp table shaped like ``like`` whose rows carry this run's source."""
    temp_table(run.conn, like, name, extra)
    run.conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN source SET DEFAULT {}").format(
        sql.Identifier(name), sql.Literal(run.source)))


def _replace_own(run: Run, table: str) -> None:
    """A full refresh: this source's rows of ``table`` go (other sources' stay)."""
    run.conn.execute(sql.SQL("DELETE FROM {} WHERE source = %s").format(ident(table)), (run.source,))


def _only_source(run: Run, table: str) -> bool:
    """Whether ``table`` holds no rows of another source (then it may be truncated and bulk loaded)."""
    return run.conn.execute(sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {} WHERE source <> %s)").format(
        ident(table)), (run.source,)).fetchone()[0]


def _modified_params(previous: str | None) -> dict:
    return {"meta.modified.after": previous} if previous else {}


def _load_simple(run: Run, client: SS12000Client, limit: int, full_refresh: bool, previous: str | None,
                 entity: str, mapper: Mapper, target: str, temp: str, columns: Sequence[str]) -> dict:
    conn = run.conn
    _temp(run, target, temp)
    run.stream(client, mapper, _modified_params(previous), limit, columns={f"pg_temp.{temp}": columns})
    _settle(run, f"pg_temp.{temp}", "id")
    if full_refresh:
        _replace_own(run, target)
    loaded = upsert(conn, target, temp, "id", (*columns, "source"))
    return {"rows_loaded": loaded, "watermark": _advance(run, entity, previous)}


def load_organisations(run, client, limit, full_refresh, previous, terms):
    return _load_simple(run, client, limit, full_refresh, previous, "organisations", catalogue.ORGANISATIONS,
                        catalogue.ORG_TABLE, catalogue.ORG_TEMP, catalogue.ORG_COLUMNS)


def load_syllabuses(run, client, limit, full_refresh, previous, terms):
    return _load_simple(run, client, limit, full_refresh, previous, "syllabuses", catalogue.SYLLABUSES,
                        catalogue.SYLLABUS_TABLE, catalogue.SYLLABUS_TEMP, catalogue.SYLLABUS_COLUMNS)


def load_persons(run, client, limit, full_refresh, previous, terms):
    conn = run.conn
    _temp(run, persons.PERSON_TABLE, persons.PERSON_TEMP)
    _temp(run, persons.ENROLMENT_TABLE, persons.ENROLMENT_TEMP, ", modified_at timestamptz")
    run.stream(client, persons.PERSONS, _modified_params(previous), limit,
               columns={f"pg_temp.{persons.PERSON_TEMP}": persons.PERSON_COLUMNS,
                        f"pg_temp.{persons.ENROLMENT_TEMP}": persons.ENROLMENT_COLUMNS})
    _settle(run, f"pg_temp.{persons.PERSON_TEMP}", "person_ref")
    if full_refresh:
        _replace_own(run, persons.PERSON_TABLE)  # enrolments cascade
    loaded = upsert(conn, persons.PERSON_TABLE, persons.PERSON_TEMP, "person_ref", (*persons.PERSON_COLUMNS, "source"))
    # Enrolments of every person (re)written by this run: replaced by those of the version kept.
    conn.execute(
        """DELETE FROM staging.ss12000_enrolment e USING staging.ss12000_person p
            WHERE p.person_ref = e.person_ref AND p.run_id = %s""", (run.run_id,))
    cols = (*persons.ENROLMENT_COLUMNS[:-1], "source")
    conn.execute(sql.SQL(
        """INSERT INTO staging.ss12000_enrolment ({cols})
           SELECT {ecols} FROM tmp_ss12000_enrolment e
           JOIN staging.ss12000_person p ON p.person_ref = e.person_ref AND p.run_id = %s
                                        AND p.modified_at = e.modified_at
           ON CONFLICT (person_ref, ordinal) DO NOTHING""").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in cols),
        ecols=sql.SQL(", ").join(sql.SQL("e.{}").format(sql.Identifier(c)) for c in cols)), (run.run_id,))
    return {"rows_loaded": loaded, "watermark": _advance(run, "persons", previous)}


def _bulk_possible(run: Run, table: str, full_refresh: bool) -> bool:
    """COPY straight into the staging table: when the table is empty or holds nothing of another source
    that a full refresh must keep."""
    conn = run.conn
    return (BulkTarget.possible(conn, table)
            and (is_empty(conn, table) or (full_refresh and _only_source(run, table))))


def _bulk_source(run: Run, table: str, during: bool) -> None:
    """The COPY lines carry no source: during a bulk load of a named source (a configured school system such
    as ``stockholm``) the column's default is that source, and the default source again after it. Both in
    the load's transaction, which holds the table exclusively already (TRUNCATE, indexes set aside), so a
    failed load leaves the default as it was and no other load sees the change."""
    if run.source != SOURCE:
        run.conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN source SET DEFAULT {}").format(
            ident(table), sql.Literal(run.source if during else SOURCE)))


def load_grades(run, client, limit, full_refresh, previous, terms):
    conn = run.conn
    params = _modified_params(previous)
    table, columns = grades.GRADE_TABLE, grades.GRADE_COLUMNS
    bulk = _bulk_possible(run, table, full_refresh)
    if bulk:
        conn.execute("TRUNCATE staging.ss12000_grade")
        target = BulkTarget(conn, table)
        target.set_aside()
        run.target = table
        _bulk_source(run, table, during=True)
        run.stream(client, grades.GRADES, params, limit, columns={table: columns})
        _bulk_source(run, table, during=False)
        future = _settle(run, table, "id")
        skipped = conn.execute(
            """DELETE FROM staging.ss12000_grade g USING staging.ss12000_deleted d
                WHERE d.entity = 'grades' AND d.id = g.id""").rowcount
        duplicates = target.rebuild("modified_at DESC, ctid DESC")
        loaded = run.copied.get(table, 0) - future - skipped - duplicates
        extra = {"bulk": True, "rows_duplicate": duplicates}
    else:
        if full_refresh:
            _replace_own(run, table)
        _temp(run, table, grades.GRADE_TEMP)
        run.target = f"pg_temp.{grades.GRADE_TEMP}"
        run.stream(client, grades.GRADES, params, limit, columns={run.target: columns})
        _settle(run, run.target, "id")  # before skipping deleted ids: seen all the same
        # A grade once listed as deleted is never loaded again.
        skipped = conn.execute(
            """DELETE FROM tmp_ss12000_grade t USING staging.ss12000_deleted d
                WHERE d.entity = 'grades' AND d.id = t.id""").rowcount
        loaded = upsert(conn, table, grades.GRADE_TEMP, "id", (*columns, "source"))
        extra = {"bulk": False}
    return {"rows_loaded": loaded, "rows_skipped_deleted": skipped,
            "watermark": _advance(run, "grades", previous), **extra}


def load_attendance(run, client, limit, full_refresh, previous, terms: list[terms_mod.TermDates]):
    conn = run.conn
    table, temp, columns = att.ATTENDANCE_TABLE, att.ATTENDANCE_TEMP, att.ATTENDANCE_COLUMNS
    names = [t.name for t in terms]
    empty, others = conn.execute(
        """SELECT NOT EXISTS (SELECT 1 FROM staging.ss12000_attendance),
                  EXISTS (SELECT 1 FROM staging.ss12000_attendance WHERE term <> ALL(%s) OR source <> %s)""",
        (names, run.source)).fetchone()
    bulk = (empty or (full_refresh and not others)) and BulkTarget.possible(conn, table)
    removed = 0
    if bulk:
        removed = conn.execute("SELECT count(*) FROM staging.ss12000_attendance").fetchone()[0]
        conn.execute("TRUNCATE staging.ss12000_attendance")
        target = BulkTarget(conn, table)
        target.set_aside()
        run.target = table
        _bulk_source(run, table, during=True)
    else:
        _temp(run, table, temp)
        run.target = f"pg_temp.{temp}"
    for term in terms:
        run.term = term
        params = {"startDate": term.start.isoformat(), "endDate": term.end.isoformat()}
        before = run.read
        run.stream(client, att.ATTENDANCE, params, limit, columns={run.target: columns})
        run.windows[term.name] = run.read - before
    duplicates = 0
    if bulk:
        _bulk_source(run, table, during=False)
        duplicates = target.rebuild(None)
        loaded = run.copied.get(table, 0) - duplicates
    else:
        # The terms' rows become the new windows' rows: stale ones go, changed ones are updated.
        if full_refresh:
            removed = conn.execute("DELETE FROM staging.ss12000_attendance WHERE term = ANY(%s) AND source = %s",
                                   (names, run.source)).rowcount
        else:
            removed = conn.execute(
                """DELETE FROM staging.ss12000_attendance a
                    WHERE a.term = ANY(%s) AND a.source = %s AND NOT EXISTS (
                          SELECT 1 FROM tmp_ss12000_attendance t
                           WHERE t.person_ref = a.person_ref AND t.activity_id = a.activity_id
                             AND t.window_start = a.window_start AND t.window_end = a.window_end)""",
                (names, run.source)).rowcount
        loaded = upsert(conn, table, temp, att.ATTENDANCE_KEY, (*columns, "source"), newest=False)
    watermark = previous
    if terms:
        last = max(t.end for t in terms).isoformat()
        watermark = max(previous, last) if previous else last
        if watermark != previous:
            audit.set_watermark(conn, run.source, "aggregatedAttendance", watermark, run.run_id)
    return {"rows_loaded": loaded, "rows_deleted": removed, "watermark": watermark, "terms": names,
            "bulk": bulk, "rows_duplicate": duplicates}


def load_deleted(run, client, limit, full_refresh, previous, terms):
    conn = run.conn
    conn.execute("CREATE TEMP TABLE tmp_ss12000_deleted (entity text NOT NULL, id uuid NOT NULL) ON COMMIT DROP")
    conn.execute('CREATE TEMP TABLE tmp_ss12000_deleted_person (person_ref text COLLATE "C" NOT NULL) ON COMMIT DROP')
    params: dict[str, Any] = {"entities": [v[0] for v in DELETED_ENTITIES.values()]}
    if previous:
        params["after"] = previous
    first_date: str | None = None
    for page in prefetch(client.pages("/deletedEntities", params, limit=limit)):
        if page.number == 1:
            first_date = page.date
        run.pages += 1
        rows, people, rejects = [], [], []
        for key, ids in _deleted_ids(page.data, page.number):
            if key not in DELETED_ENTITIES or not isinstance(ids, list):
                continue  # an entity we do not keep (also the spec's misspelt `activitites`)
            for oid in ids:
                run.read += 1
                if not valid_uuid(oid):
                    rejects.append(QuarantineRow(FIELD_INVALID, row_number=run.read, detail=f"field={key}",
                                                 content_hash=run.content_hash(FIELD_INVALID, key, repr(oid))))
                elif key == "persons":
                    people.append((run.person_ref(oid),))
                else:
                    rows.append((key, oid))
        if rows:
            copy_rows(conn, "pg_temp.tmp_ss12000_deleted", ("entity", "id"), rows)
        if people:
            copy_rows(conn, "pg_temp.tmp_ss12000_deleted_person", ("person_ref",), people)
        run.quarantine(rejects)
    recorded = conn.execute(
        """INSERT INTO staging.ss12000_deleted (entity, id, run_id)
           SELECT DISTINCT entity, id, %s FROM tmp_ss12000_deleted
           ON CONFLICT (entity, id) DO NOTHING""", (run.run_id,)).rowcount
    removed = 0
    for key, (_enum, table) in DELETED_ENTITIES.items():
        if table is not None:
            removed += conn.execute(sql.SQL(
                "DELETE FROM {} x USING tmp_ss12000_deleted d WHERE d.entity = %s AND x.id = d.id").format(
                ident(table)), (key,)).rowcount
    removed += conn.execute(
        """DELETE FROM staging.ss12000_person p USING tmp_ss12000_deleted_person d
            WHERE p.person_ref = d.person_ref""").rowcount
    # Answers carry no timestamps: the next read starts a little before this one's server time.
    server_now = http_date(first_date) or dt.datetime.now(dt.timezone.utc)
    candidate = parse_timestamp((server_now - DELETED_OVERLAP).isoformat())
    prev = parse_timestamp(previous) if previous else None
    watermark = previous if prev is not None and prev >= candidate else format_timestamp(candidate)
    if watermark != previous:
        audit.set_watermark(conn, run.source, "deletedEntities", watermark, run.run_id)
    return {"rows_loaded": recorded, "rows_deleted": removed, "watermark": watermark}


_KEY_OF = {enum.lower(): key for key, (enum, _table) in DELETED_ENTITIES.items()} | {k: k for k in DELETED_ENTITIES}


def _deleted_ids(data: Any, number: int) -> list[tuple[str, list]]:
    """(answer key, ids) of a /deletedEntities page: the spec's ``{"grades": [ids], ...}``, or a flat list
    (``[]``, or objects naming their entity: ``{"entity"|"entityType"|"type": "Grade", "id": ...}``)."""
    if isinstance(data, dict):
        return list(data.items())
    if not isinstance(data, list):
        raise SS12000Error(f"GET /deletedEntities page {number}: data is neither an object nor a list")
    grouped: dict[str, list] = {}
    for item in data:
        name = next((item.get(k) for k in ("entity", "entityType", "type") if isinstance(item, dict)
                     and isinstance(item.get(k), str)), None)
        key = _KEY_OF.get(name.lower()) if name else None
        if key is not None:
            grouped.setdefault(key, []).append(item.get("id"))
        else:  # an entity we do not keep, or an item that names none: counted in the log, not loaded
            grouped.setdefault("", []).append(None)
    skipped = len(grouped.pop("", []))
    if skipped:
        log.info("GET /deletedEntities page %d: %d items of other entities or without one skipped", number, skipped)
    return list(grouped.items())


def http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


LOADERS: dict[str, Callable[..., dict]] = {
    "organisations": load_organisations,
    "syllabuses": load_syllabuses,
    "persons": load_persons,
    "grades": load_grades,
    "deletedEntities": load_deleted,
    "aggregatedAttendance": load_attendance,
}
