"""SS 12000 extraction into ``staging.ss12000_*``, one entity per call, pseudonymised at the door.

For every entity (``ENTITIES``, in dependency order) ``extract_entity``:

1. opens an ``audit.load_run`` row;
2. in ONE transaction: reads the entity's watermark (unless ``full_refresh``), streams the API's pages
   (fetched one page ahead in a background thread) through a per-record check and COPYs them into a
   session temp table, page by page, with the records that break the schema going to ``audit.quarantine``
   with a reason code; then merges the temp table into staging (upsert by key, or replace on a full
   refresh), sets the new watermark (``audit.set_watermark``) and closes the load_run row;
3. on any error rolls the whole transaction back, so nothing half-loaded is visible and the watermark does
   not move, marks the load_run row failed and raises.

Privacy: a person's civic number is parsed and turned into ``student_key`` in memory
(``Pseudonymiser.key_for``); the SS 12000 person id only ever becomes ``person_ref``
(``Pseudonymiser.source_ref("person", id)``), for persons and for the ``student`` of grades and attendance.
Names, civic numbers, addresses and source person ids are never written, logged or put in an error.
Quarantine rows carry a reason code, a machine-made detail (the field name) and as ``record_ref`` the
object's id for non-person entities (only if it is a uuid) or the ``person_ref`` for persons and attendance.

Watermarks (``audit.watermark``, source ``ss12000``): for organisations, syllabuses, persons and grades
the largest ``meta.modified`` seen (UTC, RFC 3339), passed back as ``meta.modified.after`` (exclusive);
for deletedEntities the server's Date of the first answer minus ``DELETED_OVERLAP`` (answers carry no
timestamps; re-reading a deletion is harmless), passed as ``after``; for aggregatedAttendance, which is
re-read per term window, the last window end loaded (informational).

Attendance is read per term window (``skolsam.terms`` calendar) for the requested terms (default: every
term overlapping the last ``DEFAULT_TERM_LOOKBACK_DAYS`` days up to today), and each term's rows in
staging are replaced by the new window's rows.

Deletions: ``grades``, ``organisations`` and ``syllabuses`` ids are removed from their staging tables and
recorded in ``staging.ss12000_deleted`` (later loads skip those grade ids); deleted ``persons`` lose their
staging rows (enrolments cascade). A person id is not recorded anywhere.

Erased pupils (``audit.erased_key`` by student_key, ``audit.erased_ref`` by person_ref) are dropped at the
door; a person dropped by student_key has its person_ref added to ``audit.erased_ref`` so that its grades
and attendance are dropped too.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import psycopg
from psycopg import sql

from .. import terms as terms_mod
from ..identity import InvalidIdentity
from ..pseudonym import Pseudonymiser
from ..settings import Settings
from ..warehouse import audit
from ..warehouse.audit import LoadRun, QuarantineRow
from ..warehouse.bulk import copy_rows
from ..warehouse.connection import connect
from .client import RetryPolicy, SS12000Client, SS12000Error, prefetch
from .index import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)

SOURCE = "ss12000"
ENTITIES = ("organisations", "syllabuses", "persons", "grades", "deletedEntities", "aggregatedAttendance")
GRADE_VALUES = frozenset({"A", "B", "C", "D", "E", "F", "-"})
SEMESTERS = frozenset({"HT", "VT"})
CORRECTION_TYPES = frozenset({"Ändring", "Rättelse"})
SEXES = frozenset({"Man", "Kvinna", "Okänt"})
SECURITY_MARKINGS = frozenset({"Ingen", "Sekretessmarkering", "Skyddad folkbokföring"})
DELETED_ENTITIES = {  # answer key -> (EndPointsEnum value, staging table or None)
    "grades": ("Grade", "staging.ss12000_grade"),
    "organisations": ("Organisation", "staging.ss12000_organisation"),
    "syllabuses": ("Syllabus", "staging.ss12000_syllabus"),
    "persons": ("Person", None),
}
DELETED_OVERLAP = dt.timedelta(minutes=5)
DEFAULT_TERM_LOOKBACK_DAYS = 395  # about 13 months
WORK_MEM = "256MB"
_LOCK_BASE = 731_200_100

# Reason codes written to audit.quarantine (identity's pnr_* codes come from skolsam.identity).
REQUIRED_FIELD_MISSING = "required_field_missing"
FIELD_INVALID = "field_invalid"
GRADE_VALUE_UNKNOWN = "grade_value_unknown"

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}").fullmatch
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}").fullmatch
_TS = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)?").fullmatch
_fromisodate = dt.date.fromisoformat


class ExtractError(RuntimeError):
    """An entity's extraction failed; nothing of it was loaded. The message holds no personal data."""


@dataclass(frozen=True)
class ApiConfig:
    """Where and how to reach the SS 12000 API. ``client_secret`` never shows in a repr."""

    base_url: str
    token_url: str | None = None
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    page_size: int = 5000
    timeout: float = 60.0
    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    def client(self) -> SS12000Client:
        return SS12000Client(
            self.base_url,
            self.token_url or self.base_url.rstrip("/") + "/token",
            self.client_id,
            self.client_secret,
            timeout=self.timeout,
            retry=RetryPolicy(max_attempts=self.max_attempts, backoff_base=self.backoff_base,
                              backoff_max=self.backoff_max),
        )


# --------------------------------------------------------------------------------------------------------
# Record checks
# --------------------------------------------------------------------------------------------------------
def _valid_date(v: Any) -> bool:
    if type(v) is not str or not _DATE(v):
        return False
    try:
        _fromisodate(v)
    except ValueError:
        return False
    return True


def _valid_ts(v: Any) -> bool:
    return type(v) is str and _TS(v) is not None and parse_timestamp(v) is not None


def _valid_uuid(v: Any) -> bool:
    return type(v) is str and _UUID(v) is not None


def _opt_date(v: Any) -> bool:
    return v is None or _valid_date(v)


def _opt_uuid(v: Any) -> bool:
    return v is None or _valid_uuid(v)


def _opt_text(v: Any) -> bool:
    return v is None or type(v) is str


def _opt_bool(v: Any) -> bool:
    return v is None or type(v) is bool


def _opt_int(v: Any) -> bool:
    return v is None or (type(v) is int and -2_147_483_648 <= v <= 2_147_483_647)


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _ref_id(v: Any) -> Any:
    return v.get("id") if isinstance(v, dict) else None


class _Reject(Exception):
    def __init__(self, reason: str, field_name: str | None = None):
        self.reason, self.field_name = reason, field_name


def _require(obj: Any, paths: Sequence[str], prefix: str = "") -> None:
    for p in paths:
        if _get(obj, p) is None:
            raise _Reject(REQUIRED_FIELD_MISSING, prefix + p)


def _one_of(allowed: frozenset) -> Callable[[Any], bool]:
    return lambda v: type(v) is str and v in allowed


def _check(checks: Sequence[tuple[str, Callable[[Any], bool], Any]]) -> None:
    for name, ok, value in checks:
        if not ok(value):
            raise _Reject(FIELD_INVALID, name)


# --------------------------------------------------------------------------------------------------------
# One entity run
# --------------------------------------------------------------------------------------------------------
class _Run:
    """State of one entity's extraction: connection, counts, caches of person refs and erasures."""

    def __init__(self, entity: str, conn: psycopg.Connection, load: LoadRun, pseudonymiser: Pseudonymiser):
        self.entity = entity
        self.conn = conn
        self.load = load
        self.run_id = load.run_id
        self.pseudo = pseudonymiser
        self.refs: dict[str, str] = {}
        self.erased_refs: set[str] = set()
        self.erased_keys: set[str] = set()
        self.read = 0
        self.quarantined = 0
        self.dropped = 0
        self.pages = 0
        self.max_side_modified: int | None = None  # largest meta.modified among records not in the temp table

    def person_ref(self, source_id: str) -> str:
        ref = self.refs.get(source_id)
        if ref is None:
            ref = self.refs[source_id] = self.pseudo.source_ref("person", source_id)
        return ref

    def load_erasures(self) -> None:
        self.erased_refs = {r[0] for r in self.conn.execute("SELECT person_ref FROM audit.erased_ref")}
        self.erased_keys = {r[0] for r in self.conn.execute("SELECT student_key FROM audit.erased_key")}

    def note_modified(self, obj: Any) -> None:
        v = parse_timestamp(_get(obj, "meta.modified"))
        if v is not None and (self.max_side_modified is None or v > self.max_side_modified):
            self.max_side_modified = v

    def stream(self, client: SS12000Client, path: str, params: dict, limit: int,
               process: Callable[[list, int], tuple[dict[str, list], list[QuarantineRow]]],
               tables: dict[str, Sequence[str]]) -> Page0:
        """Fetch every page, process it, COPY its rows into the temp tables and its rejects into quarantine."""
        first = Page0()
        for page in prefetch(client.pages(path, params, limit=limit)):
            if page.number == 1:
                first.date = page.date
            data = page.data
            if not isinstance(data, list):
                raise SS12000Error(f"GET {path} page {page.number}: data is not a list")
            self.pages += 1
            rows_by_table, rejects = process(data, self.read)
            self.read += len(data)
            for table, rows in rows_by_table.items():
                if rows:
                    copy_rows(self.conn, "pg_temp." + table, tables[table], rows)
            if rejects:
                self.quarantined += audit.quarantine(self.conn, self.run_id, SOURCE, self.entity, rejects)
        return first

    def reject(self, exc: _Reject, n: int, ref: str | None, obj: Any) -> QuarantineRow:
        self.note_modified(obj)
        detail = f"field={exc.field_name}" if exc.field_name else None
        return QuarantineRow(exc.reason, row_number=n, record_ref=ref, detail=detail)


@dataclass
class Page0:
    date: str | None = None


def _object_ref(obj: Any) -> str | None:
    """record_ref for a non-person object: its id, if it is a uuid (never free text)."""
    oid = obj.get("id") if isinstance(obj, dict) else None
    return oid if _valid_uuid(oid) else None


# --------------------------------------------------------------------------------------------------------
# Page processors: a page of API objects -> rows for the temp tables, and quarantine rows
# --------------------------------------------------------------------------------------------------------
ORG_COLUMNS = ("id", "display_name", "organisation_type", "organisation_code", "school_unit_code",
               "municipality_code", "parent_id", "school_types", "start_date", "end_date", "modified_at", "run_id")


def _organisations_page(run: _Run, data: list, n0: int):
    rows, rejects = [], []
    for i, o in enumerate(data, n0 + 1):
        try:
            if not isinstance(o, dict):
                raise _Reject(FIELD_INVALID, "object")
            _require(o, ("id", "displayName", "organisationType", "meta.modified"))
            parent = _ref_id(o.get("parentOrganisation"))
            types = o.get("schoolTypes")
            _check((("id", _valid_uuid, o["id"]), ("displayName", _opt_text, o["displayName"]),
                    ("organisationType", _opt_text, o["organisationType"]),
                    ("organisationCode", _opt_text, o.get("organisationCode")),
                    ("schoolUnitCode", _opt_text, o.get("schoolUnitCode")),
                    ("municipalityCode", _opt_text, o.get("municipalityCode")),
                    ("parentOrganisation.id", _opt_uuid, parent),
                    ("schoolTypes", lambda v: v is None or (isinstance(v, list) and all(type(t) is str for t in v)),
                     types),
                    ("startDate", _opt_date, o.get("startDate")), ("endDate", _opt_date, o.get("endDate")),
                    ("meta.modified", _valid_ts, o["meta"]["modified"])))
        except _Reject as exc:
            rejects.append(run.reject(exc, i, _object_ref(o), o))
            continue
        rows.append((o["id"], o["displayName"], o["organisationType"], o.get("organisationCode"),
                     o.get("schoolUnitCode"), o.get("municipalityCode"), parent, types,
                     o.get("startDate"), o.get("endDate"), o["meta"]["modified"], run.run_id))
    return {"tmp_ss12000_organisation": rows}, rejects


SYLLABUS_COLUMNS = ("id", "subject_designation", "subject_code", "subject_name", "school_type", "language_code",
                    "official", "modified_at", "run_id")


def _syllabuses_page(run: _Run, data: list, n0: int):
    rows, rejects = [], []
    for i, o in enumerate(data, n0 + 1):
        try:
            if not isinstance(o, dict):
                raise _Reject(FIELD_INVALID, "object")
            _require(o, ("id", "subjectName", "schoolType", "official", "meta.modified"))
            _check((("id", _valid_uuid, o["id"]), ("subjectName", _opt_text, o["subjectName"]),
                    ("schoolType", _opt_text, o["schoolType"]), ("official", _opt_bool, o["official"]),
                    ("subjectDesignation", _opt_text, o.get("subjectDesignation")),
                    ("subjectCode", _opt_text, o.get("subjectCode")),
                    ("languageCode", _opt_text, o.get("languageCode")),
                    ("meta.modified", _valid_ts, o["meta"]["modified"])))
        except _Reject as exc:
            rejects.append(run.reject(exc, i, _object_ref(o), o))
            continue
        rows.append((o["id"], o.get("subjectDesignation"), o.get("subjectCode"), o["subjectName"], o["schoolType"],
                     o.get("languageCode"), o["official"], o["meta"]["modified"], run.run_id))
    return {"tmp_ss12000_syllabus": rows}, rejects


PERSON_COLUMNS = ("person_ref", "student_key", "sex", "birth_year", "protected", "modified_at", "run_id")
ENROLMENT_COLUMNS = ("person_ref", "ordinal", "school_unit_id", "school_type", "school_year", "start_date",
                     "end_date", "cancelled", "modified_at")


def _persons_page(run: _Run, data: list, n0: int):
    persons, enrolments, rejects = [], [], []
    key_for = run.pseudo.key_for
    for i, o in enumerate(data, n0 + 1):
        ref = None
        try:
            if not isinstance(o, dict):
                raise _Reject(FIELD_INVALID, "object")
            _require(o, ("id", "meta.modified"))
            pid = o["id"]
            if type(pid) is not str or not pid:
                raise _Reject(FIELD_INVALID, "id")
            ref = run.person_ref(pid)
            civic = o.get("civicNo")
            try:
                student_key, ident = key_for(civic.get("value") if isinstance(civic, dict) else None)
            except InvalidIdentity as exc:
                raise _Reject(exc.reason) from None
            sex = o.get("sex", "Okänt")
            marking = o.get("securityMarking", "Ingen")
            modified = o["meta"]["modified"]
            _check((("meta.modified", _valid_ts, modified), ("sex", _one_of(SEXES), sex),
                    ("securityMarking", _one_of(SECURITY_MARKINGS), marking)))
            enrols = o.get("enrolments") or []
            if not isinstance(enrols, list):
                raise _Reject(FIELD_INVALID, "enrolments")
            rows = []
            for ordinal, e in enumerate(enrols):
                _require(e, ("enroledAt.id", "schoolType", "startDate"), "enrolments.")
                unit, school_type, year = e["enroledAt"]["id"], e["schoolType"], e.get("schoolYear")
                _check((("enrolments.enroledAt.id", _valid_uuid, unit),
                        ("enrolments.schoolType", _opt_text, school_type),
                        ("enrolments.schoolYear", lambda v: v is None or (type(v) is int and 0 <= v <= 10), year),
                        ("enrolments.startDate", _valid_date, e["startDate"]),
                        ("enrolments.endDate", _opt_date, e.get("endDate")),
                        ("enrolments.cancelled", _opt_bool, e.get("cancelled"))))
                rows.append((ref, ordinal, unit, school_type, year, e["startDate"], e.get("endDate"),
                             bool(e.get("cancelled") or False), modified))
        except _Reject as exc:
            rejects.append(run.reject(exc, i, ref, o))
            continue
        if ref in run.erased_refs or student_key in run.erased_keys:
            run.dropped += 1
            run.note_modified(o)
            if ref not in run.erased_refs:
                run.erased_refs.add(ref)
                run.conn.execute("INSERT INTO audit.erased_ref (person_ref) VALUES (%s) ON CONFLICT DO NOTHING",
                                 (ref,))
            continue
        persons.append((ref, student_key, sex, ident.birth_year, marking != "Ingen", modified, run.run_id))
        enrolments.extend(rows)
    return {"tmp_ss12000_person": persons, "tmp_ss12000_enrolment": enrolments}, rejects


GRADE_COLUMNS = ("id", "person_ref", "organisation_id", "syllabus_id", "grade_value", "semester", "year",
                 "registered_date", "correction_type", "trial", "final_grade", "modified_at", "run_id")
_GRADE_REQUIRED = ("id", "student.id", "syllabus.id", "gradeValue", "registeredDate", "meta.modified")


def _grades_page(run: _Run, data: list, n0: int):
    rows, rejects = [], []
    append = rows.append
    refs = run.refs
    person_ref = run.person_ref
    erased = run.erased_refs
    run_id = run.run_id
    uuid_ok, date_re, ts_re, fromdate, ts_parse = _UUID, _DATE, _TS, _fromisodate, parse_timestamp
    values, semesters, corrections = GRADE_VALUES, SEMESTERS, CORRECTION_TYPES
    for i, o in enumerate(data, n0 + 1):
        try:
            gid = o["id"]
            student = o["student"]["id"]
            syllabus = o["syllabus"]["id"]
            value = o["gradeValue"]
            registered = o["registeredDate"]
            modified = o["meta"]["modified"]
            if gid is None or student is None or syllabus is None or value is None or registered is None \
                    or modified is None:
                raise KeyError
        except (KeyError, TypeError, AttributeError):
            try:
                if not isinstance(o, dict):
                    raise _Reject(FIELD_INVALID, "object")
                _require(o, _GRADE_REQUIRED)
                raise _Reject(FIELD_INVALID, "student" if not isinstance(o.get("student"), dict) else "syllabus")
            except _Reject as exc:
                rejects.append(run.reject(exc, i, _object_ref(o), o))
            continue
        if value not in values:
            rejects.append(run.reject(_Reject(GRADE_VALUE_UNKNOWN, "gradeValue"), i, _object_ref(o), o))
            continue
        # The spec names the school unit `organisation` but requires `schoolUnit` (2.1.0 slip): take either.
        org = o.get("organisation") or o.get("schoolUnit")
        org_id = org.get("id") if type(org) is dict else None
        semester = o.get("semester")
        year = o.get("year")
        correction = o.get("correctionType")
        trial = o.get("trial", False)
        final = o.get("finalGrade")
        if not (type(gid) is str and uuid_ok(gid) and type(syllabus) is str and uuid_ok(syllabus)
                and type(student) is str and student
                and (org_id is None or (type(org_id) is str and uuid_ok(org_id)))
                and type(registered) is str and date_re(registered)
                and type(modified) is str and ts_re(modified)
                and (semester is None or semester in semesters)
                and (year is None or (type(year) is int and 0 < year < 10000))
                and (correction is None or correction in corrections)
                and type(trial) is bool and (final is None or type(final) is bool)):
            rejects.append(run.reject(_Reject(FIELD_INVALID, _grade_bad_field(o, org)), i, _object_ref(o), o))
            continue
        try:
            fromdate(registered)
            if ts_parse(modified) is None:
                raise ValueError
        except ValueError:
            rejects.append(run.reject(_Reject(FIELD_INVALID, "registeredDate or meta.modified"), i,
                                      _object_ref(o), o))
            continue
        ref = refs.get(student) or person_ref(student)
        if ref in erased:
            run.dropped += 1
            run.note_modified(o)
            continue
        append((gid, ref, org_id, syllabus, value, semester, year, registered, correction, trial, final,
                modified, run_id))
    return {"tmp_ss12000_grade": rows}, rejects


def _grade_bad_field(o: dict, org: Any) -> str:
    checks = (
        ("id", _valid_uuid(o.get("id"))), ("syllabus.id", _valid_uuid(_get(o, "syllabus.id"))),
        ("student.id", type(_get(o, "student.id")) is str and bool(_get(o, "student.id"))),
        ("organisation.id", _opt_uuid(_ref_id(org)) and (org is None or isinstance(org, dict))),
        ("registeredDate", _valid_date(o.get("registeredDate"))), ("meta.modified", _valid_ts(_get(o, "meta.modified"))),
        ("semester", o.get("semester") is None or o.get("semester") in SEMESTERS),
        ("year", o.get("year") is None or (type(o.get("year")) is int and 0 < o["year"] < 10000)),
        ("correctionType", o.get("correctionType") is None or o.get("correctionType") in CORRECTION_TYPES),
        ("trial", type(o.get("trial", False)) is bool), ("finalGrade", _opt_bool(o.get("finalGrade"))),
    )
    for name, ok in checks:
        if not ok:
            return name
    return "unknown"


ATTENDANCE_COLUMNS = ("person_ref", "activity_id", "term", "window_start", "window_end", "offered_minutes",
                      "attendance_minutes", "valid_absence_minutes", "invalid_absence_minutes",
                      "other_attendance_minutes", "reported_minutes", "run_id")


def _attendance_page(run: _Run, data: list, n0: int, term: terms_mod.TermDates):
    rows, rejects = [], []
    refs = run.refs
    person_ref = run.person_ref
    erased = run.erased_refs
    run_id = run.run_id
    name, ws, we = term.name, term.start.isoformat(), term.end.isoformat()
    uuid_ok = _UUID
    for i, o in enumerate(data, n0 + 1):
        try:
            student = o["student"]["id"]
            activity = o["activity"]["id"]
            attended = o["attendanceSum"]
            if student is None or activity is None or attended is None:
                raise KeyError
        except (KeyError, TypeError, AttributeError):
            exc = _Reject(REQUIRED_FIELD_MISSING, next((p for p in ("student.id", "activity.id", "attendanceSum")
                                                        if _get(o, p) is None), "student"))
            sid = _get(o, "student.id")
            rejects.append(run.reject(exc, i, run.person_ref(sid) if type(sid) is str and sid else None, o))
            continue
        offered, valid, invalid = o.get("offeredSum"), o.get("validAbsenceSum"), o.get("invalidAbsenceSum")
        other, reported = o.get("otherAttendanceSum"), o.get("reportedSum")
        if not (type(student) is str and student and type(activity) is str and uuid_ok(activity)
                and _opt_int(attended) and attended is not None and _opt_int(offered) and _opt_int(valid)
                and _opt_int(invalid) and _opt_int(other) and _opt_int(reported)):
            bad = next(n for n, ok in (("student.id", type(student) is str and bool(student)),
                                       ("activity.id", _valid_uuid(activity)), ("attendanceSum", _opt_int(attended)),
                                       ("offeredSum", _opt_int(offered)), ("validAbsenceSum", _opt_int(valid)),
                                       ("invalidAbsenceSum", _opt_int(invalid)),
                                       ("otherAttendanceSum", _opt_int(other)), ("reportedSum", _opt_int(reported)))
                       if not ok)
            ref = run.person_ref(student) if type(student) is str and student else None
            rejects.append(run.reject(_Reject(FIELD_INVALID, bad), i, ref, o))
            continue
        ref = refs.get(student) or person_ref(student)
        if ref in erased:
            run.dropped += 1
            continue
        rows.append((ref, activity, name, ws, we, offered, attended, valid, invalid, other, reported, run_id))
    return {"tmp_ss12000_attendance": rows}, rejects


# --------------------------------------------------------------------------------------------------------
# Merges
# --------------------------------------------------------------------------------------------------------
def _temp_table(conn: psycopg.Connection, like: str, name: str, extra: str = "") -> None:
    schema, _, table = like.partition(".")
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS{}) ON COMMIT DROP").format(
        sql.Identifier(name), sql.Identifier(schema, table), sql.SQL(extra)))


def _upsert(conn: psycopg.Connection, target: str, temp: str, key: str, columns: Sequence[str]) -> int:
    """Insert new rows, update changed ones (never with an older meta.modified); one row per key."""
    schema, _, table = target.partition(".")
    data_cols = [c for c in columns if c not in (key, "run_id")]
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    sets = sql.SQL(", ").join(sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
                              for c in [*data_cols, "run_id"])
    old = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in data_cols)
    new = sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in data_cols)
    stmt = sql.SQL(
        """INSERT INTO {target} AS t ({cols})
           SELECT DISTINCT ON ({key}) {cols} FROM {temp} ORDER BY {key}, modified_at DESC
           ON CONFLICT ({key}) DO UPDATE SET {sets}
           WHERE EXCLUDED.modified_at >= t.modified_at AND ({old}) IS DISTINCT FROM ({new})"""
    ).format(target=sql.Identifier(schema, table), cols=cols, key=sql.Identifier(key), temp=sql.Identifier(temp),
             sets=sets, old=old, new=new)
    return conn.execute(stmt).rowcount


def _max_modified(conn: psycopg.Connection, temp: str) -> int | None:
    row = conn.execute(sql.SQL(
        "SELECT (extract(epoch FROM max(modified_at)) * 1000000)::bigint FROM {}").format(sql.Identifier(temp))
    ).fetchone()
    return row[0] if row else None


def _advance(run: _Run, conn: psycopg.Connection, entity: str, temp: str, previous: str | None) -> str | None:
    """Set the entity's watermark to the largest meta.modified seen (never backwards); returns it."""
    candidates = [v for v in (_max_modified(conn, temp), run.max_side_modified) if v is not None]
    prev = parse_timestamp(previous) if previous else None
    if prev is not None:
        candidates.append(prev)
    if not candidates:
        return previous
    value = format_timestamp(max(candidates))
    if value != previous:
        audit.set_watermark(conn, SOURCE, entity, value, run.run_id)
    return value


def _modified_params(previous: str | None) -> dict:
    return {"meta.modified.after": previous} if previous else {}


def _extract_simple(run: _Run, client: SS12000Client, limit: int, full_refresh: bool, previous: str | None,
                    entity: str, target: str, temp: str, columns: Sequence[str], process) -> dict:
    conn = run.conn
    _temp_table(conn, target, temp)
    run.stream(client, f"/{entity}", _modified_params(previous), limit,
               lambda data, n0: process(run, data, n0), {temp: columns})
    if full_refresh:
        conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(*target.split("."))))
    loaded = _upsert(conn, target, temp, "id", columns)
    return {"rows_loaded": loaded, "watermark": _advance(run, conn, entity, temp, previous)}


def _extract_organisations(run, client, limit, full_refresh, previous, terms, calendar):
    return _extract_simple(run, client, limit, full_refresh, previous, "organisations",
                           "staging.ss12000_organisation", "tmp_ss12000_organisation", ORG_COLUMNS,
                           _organisations_page)


def _extract_syllabuses(run, client, limit, full_refresh, previous, terms, calendar):
    return _extract_simple(run, client, limit, full_refresh, previous, "syllabuses", "staging.ss12000_syllabus",
                           "tmp_ss12000_syllabus", SYLLABUS_COLUMNS, _syllabuses_page)


def _extract_persons(run, client, limit, full_refresh, previous, terms, calendar):
    conn = run.conn
    _temp_table(conn, "staging.ss12000_person", "tmp_ss12000_person")
    _temp_table(conn, "staging.ss12000_enrolment", "tmp_ss12000_enrolment", ", modified_at timestamptz")
    run.stream(client, "/persons", _modified_params(previous), limit,
               lambda data, n0: _persons_page(run, data, n0),
               {"tmp_ss12000_person": PERSON_COLUMNS, "tmp_ss12000_enrolment": ENROLMENT_COLUMNS})
    if full_refresh:
        conn.execute("TRUNCATE staging.ss12000_person CASCADE")
    loaded = _upsert(conn, "staging.ss12000_person", "tmp_ss12000_person", "person_ref", PERSON_COLUMNS)
    # Enrolments of every person (re)written by this run: replaced by those of the version kept.
    conn.execute(
        """DELETE FROM staging.ss12000_enrolment e USING staging.ss12000_person p
            WHERE p.person_ref = e.person_ref AND p.run_id = %s""", (run.run_id,))
    cols = ENROLMENT_COLUMNS[:-1]
    conn.execute(sql.SQL(
        """INSERT INTO staging.ss12000_enrolment ({cols})
           SELECT {ecols} FROM tmp_ss12000_enrolment e
           JOIN staging.ss12000_person p ON p.person_ref = e.person_ref AND p.run_id = %s
                                        AND p.modified_at = e.modified_at
           ON CONFLICT (person_ref, ordinal) DO NOTHING""").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in cols),
        ecols=sql.SQL(", ").join(sql.SQL("e.{}").format(sql.Identifier(c)) for c in cols)), (run.run_id,))
    return {"rows_loaded": loaded,
            "watermark": _advance(run, conn, "persons", "tmp_ss12000_person", previous)}


def _extract_grades(run, client, limit, full_refresh, previous, terms, calendar):
    conn = run.conn
    temp = "tmp_ss12000_grade"
    _temp_table(conn, "staging.ss12000_grade", temp)
    run.stream(client, "/grades", _modified_params(previous), limit,
               lambda data, n0: _grades_page(run, data, n0), {temp: GRADE_COLUMNS})
    seen = _max_modified(conn, temp)  # before skipping deleted ids: they were seen all the same
    if seen is not None and (run.max_side_modified is None or seen > run.max_side_modified):
        run.max_side_modified = seen
    # A grade once listed as deleted is never loaded again.
    skipped = conn.execute(
        """DELETE FROM tmp_ss12000_grade t USING staging.ss12000_deleted d
            WHERE d.entity = 'grades' AND d.id = t.id""").rowcount
    if full_refresh:
        conn.execute("TRUNCATE staging.ss12000_grade")
    loaded = _upsert(conn, "staging.ss12000_grade", temp, "id", GRADE_COLUMNS)
    return {"rows_loaded": loaded, "rows_skipped_deleted": skipped,
            "watermark": _advance(run, conn, "grades", temp, previous)}


def _extract_deleted(run, client, limit, full_refresh, previous, terms, calendar):
    conn = run.conn
    conn.execute("CREATE TEMP TABLE tmp_ss12000_deleted (entity text NOT NULL, id uuid NOT NULL) ON COMMIT DROP")
    conn.execute("CREATE TEMP TABLE tmp_ss12000_deleted_person (person_ref text NOT NULL) ON COMMIT DROP")
    params: dict[str, Any] = {"entities": [v[0] for v in DELETED_ENTITIES.values()]}
    if previous:
        params["after"] = previous
    first_date: str | None = None
    for page in prefetch(client.pages("/deletedEntities", params, limit=limit)):
        if page.number == 1:
            first_date = page.date
        run.pages += 1
        data = page.data if isinstance(page.data, dict) else None
        if data is None:
            raise SS12000Error(f"GET /deletedEntities page {page.number}: data is not an object")
        rows, people, rejects = [], [], []
        for key, ids in data.items():
            if key not in DELETED_ENTITIES or not isinstance(ids, list):
                continue  # an entity we do not keep
            for oid in ids:
                run.read += 1
                if not _valid_uuid(oid):
                    rejects.append(QuarantineRow(FIELD_INVALID, row_number=run.read, detail=f"field={key}"))
                elif key == "persons":
                    people.append((run.person_ref(oid),))
                else:
                    rows.append((key, oid))
        if rows:
            copy_rows(conn, "pg_temp.tmp_ss12000_deleted", ("entity", "id"), rows)
        if people:
            copy_rows(conn, "pg_temp.tmp_ss12000_deleted_person", ("person_ref",), people)
        if rejects:
            run.quarantined += audit.quarantine(conn, run.run_id, SOURCE, "deletedEntities", rejects)
    recorded = conn.execute(
        """INSERT INTO staging.ss12000_deleted (entity, id, run_id)
           SELECT DISTINCT entity, id, %s FROM tmp_ss12000_deleted
           ON CONFLICT (entity, id) DO NOTHING""", (run.run_id,)).rowcount
    removed = 0
    for key, (_enum, table) in DELETED_ENTITIES.items():
        if table is None:
            continue
        removed += conn.execute(sql.SQL(
            "DELETE FROM {} x USING tmp_ss12000_deleted d WHERE d.entity = %s AND x.id = d.id").format(
            sql.Identifier(*table.split("."))), (key,)).rowcount
    removed += conn.execute(
        """DELETE FROM staging.ss12000_person p USING tmp_ss12000_deleted_person d
            WHERE p.person_ref = d.person_ref""").rowcount
    # Answers carry no timestamps: the next read starts a little before this one's server time.
    server_now = _http_date(first_date) or dt.datetime.now(dt.timezone.utc)
    candidate = format_timestamp(parse_timestamp((server_now - DELETED_OVERLAP).isoformat()))
    prev = parse_timestamp(previous) if previous else None
    watermark = previous if prev is not None and prev >= parse_timestamp(candidate) else candidate
    if watermark != previous:
        audit.set_watermark(conn, SOURCE, "deletedEntities", watermark, run.run_id)
    return {"rows_loaded": recorded, "rows_deleted": removed, "watermark": watermark}


def _http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _extract_attendance(run, client, limit, full_refresh, previous, terms, calendar):
    conn = run.conn
    temp = "tmp_ss12000_attendance"
    _temp_table(conn, "staging.ss12000_attendance", temp)
    for term in terms:
        params = {"startDate": term.start.isoformat(), "endDate": term.end.isoformat()}
        run.stream(client, "/aggregatedAttendance", params, limit,
                   lambda data, n0, t=term: _attendance_page(run, data, n0, t), {temp: ATTENDANCE_COLUMNS})
    names = [t.name for t in terms]
    removed = conn.execute("DELETE FROM staging.ss12000_attendance WHERE term = ANY(%s)", (names,)).rowcount
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in ATTENDANCE_COLUMNS)
    loaded = conn.execute(sql.SQL(
        "INSERT INTO staging.ss12000_attendance ({c}) SELECT {c} FROM {t} ON CONFLICT DO NOTHING").format(
        c=cols, t=sql.Identifier(temp))).rowcount
    watermark = previous
    if terms:
        last = max(t.end for t in terms).isoformat()
        watermark = max(previous, last) if previous else last
        if watermark != previous:
            audit.set_watermark(conn, SOURCE, "aggregatedAttendance", watermark, run.run_id)
    return {"rows_loaded": loaded, "rows_replaced": removed, "watermark": watermark, "terms": names}


_EXTRACTORS = {
    "organisations": _extract_organisations,
    "syllabuses": _extract_syllabuses,
    "persons": _extract_persons,
    "grades": _extract_grades,
    "deletedEntities": _extract_deleted,
    "aggregatedAttendance": _extract_attendance,
}


# --------------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------------
def resolve_terms(terms: Iterable[str] | str | None, calendar: list[terms_mod.TermDates],
                  today: dt.date | None = None) -> list[terms_mod.TermDates]:
    """The term windows to read attendance for: the named terms, or every calendar term that overlaps the
    last ``DEFAULT_TERM_LOOKBACK_DAYS`` days and has started by today."""
    by_name = terms_mod.calendar_by_name(calendar)
    if terms:
        names = [t for t in (terms.split(",") if isinstance(terms, str) else terms) if str(t).strip()]
        out = []
        for raw in names:
            name = terms_mod.parse_term(str(raw)).name
            if name not in by_name:
                raise ValueError(f"term {name} is not in the term calendar")
            if by_name[name] not in out:
                out.append(by_name[name])
        return sorted(out, key=lambda t: t.term.order)
    today = today or dt.date.today()
    since = today - dt.timedelta(days=DEFAULT_TERM_LOOKBACK_DAYS)
    return [t for t in calendar if t.start <= today and t.end >= since]


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
) -> dict:
    """Extract one entity into staging (see the module docstring). Returns a small JSON-serialisable
    summary without personal data (it goes to XCom). Raises ExtractError (nothing loaded) on failure."""
    if entity not in _EXTRACTORS:
        raise ValueError(f"unknown SS 12000 entity {entity!r}; expected one of {', '.join(ENTITIES)}")
    settings = settings or Settings.load()
    chosen_terms: list[terms_mod.TermDates] = []
    if entity == "aggregatedAttendance":
        chosen_terms = resolve_terms(terms, terms_mod.load_calendar(settings.term_calendar or None))
    limit = max(1, int(api.page_size or settings.ss12000_page_size))
    own_client = client is None
    client = client or api.client()
    load = LoadRun(warehouse_url, SOURCE, entity).open()
    t0 = time.perf_counter()
    run: _Run | None = None
    try:
        with connect(warehouse_url) as conn:
            with conn.transaction():
                conn.execute("SET LOCAL TIME ZONE 'UTC'")
                conn.execute(sql.SQL("SET LOCAL work_mem = {}").format(sql.Literal(WORK_MEM)))
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_BASE + ENTITIES.index(entity),))
                previous = audit.get_watermark(conn, SOURCE, entity)
                if full_refresh and previous is not None:
                    audit.clear_watermarks(conn, SOURCE, [entity])
                    previous_for_read = None
                else:
                    previous_for_read = previous
                run = _Run(entity, conn, load, pseudonymiser)
                run.load_erasures()
                result = _EXTRACTORS[entity](run, client, limit, full_refresh, previous_for_read, chosen_terms,
                                             None)
                load.rows_read = run.read
                load.rows_loaded = result.get("rows_loaded", 0)
                load.rows_quarantined = run.quarantined
                load.rows_deleted = result.get("rows_deleted", 0)
                load.watermark = result.get("watermark")
                message = f"pages={run.pages} dropped_erased={run.dropped}" + (" full_refresh" if full_refresh else "")
                load.close("success", message=message, conn=conn)
    except BaseException as exc:
        error = _safe_error(entity, exc)
        try:
            load.rows_read = run.read if run else 0
            load.rows_loaded = 0
            load.rows_quarantined = 0
            load.close("failed", message=str(error)[:1000])
        except Exception:  # the database may be what failed; the original error matters more
            log.exception("could not record the failed %s run", entity)
        if isinstance(exc, Exception):
            raise error from exc
        raise
    finally:
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
        "requests": client.stats["requests"],
        "retries": client.stats["retries"],
        "seconds": seconds,
    }
    for k in ("terms", "rows_replaced", "rows_skipped_deleted"):
        if k in result:
            summary[k] = result[k]
    log.info("ss12000 %s: read %d, loaded %d, quarantined %d, deleted %d, dropped %d in %.1fs (%d pages, %d retries)",
             entity, summary["rows_read"], summary["rows_loaded"], summary["rows_quarantined"],
             summary["rows_deleted"], summary["rows_dropped_erased"], seconds, summary["pages"], summary["retries"])
    return summary


def _safe_error(entity: str, exc: BaseException) -> ExtractError:
    """An error message without record content: ours as they are, database errors by class and SQLSTATE."""
    if isinstance(exc, (SS12000Error, ExtractError, ValueError)) and not isinstance(exc, psycopg.Error):
        text = str(exc)
    elif isinstance(exc, psycopg.Error):
        state = getattr(getattr(exc, "diag", None), "sqlstate", None) or ""
        text = f"database error {type(exc).__name__} {state}".strip()
    else:
        text = type(exc).__name__
    return ExtractError(f"SS 12000 {entity}: {text}; nothing of this run was loaded")


def extract_all(warehouse_url: str, api: ApiConfig, pseudonymiser: Pseudonymiser, *,
                entities: Sequence[str] = ENTITIES, full_refresh: bool = False,
                terms: Sequence[str] | str | None = None, settings: Settings | None = None) -> list[dict]:
    """Every entity in dependency order, sharing one HTTP client; stops at the first failure."""
    out = []
    with api.client() as client:
        for entity in entities:
            out.append(extract_entity(entity, warehouse_url, api, pseudonymiser, full_refresh=full_refresh,
                                      terms=terms, settings=settings, client=client))
    return out
