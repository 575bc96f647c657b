"""SS 12000 extraction into ``staging.ss12000_*``, one entity per call, pseudonymised at the door.

For every entity (``ENTITIES``, in dependency order) ``extract_entity``:

1. opens an ``audit.load_run`` row;
2. in ONE transaction: reads the entity's watermark (unless ``full_refresh``), streams the API's pages
   through a per-record check into PostgreSQL with COPY, page by page (records that break the schema go to
   ``audit.quarantine`` with a reason code and the rest of the page loads), merges what was loaded into
   staging (upsert by key; ``full_refresh`` replaces), sets the new watermark (``audit.set_watermark``) and
   closes the load_run row;
3. on any error rolls the whole transaction back (nothing half-loaded is visible, the watermark does not
   move), marks the load_run row failed and raises :class:`ExtractError`.

Streaming runs as a three-stage pipeline so that no stage waits for another: a background thread fetches
the next pages (:func:`.client.prefetch`; the next request goes out as soon as a body has arrived, its
pageToken read from the end of the body) and, for grades and attendance, decodes them with msgspec
(:mod:`.records`); the calling thread checks and pseudonymises a page and formats it as COPY text; a
database thread COPYs the previous page (PostgreSQL's own work runs in its process meanwhile). Memory
stays at a few pages whatever the size of the extract; the garbage collector runs rarely while pages
stream (``GC_THRESHOLD``).

The per-record check has two paths. The fast path (grades, attendance) checks presence, types and value
sets (in the typed decoder, or in Python for a page that did not fit it) and leaves the syntax of uuids,
dates and timestamps to PostgreSQL's COPY; if COPY refuses a page, the page's savepoint is rolled back and
the page goes through the strict path, which validates every field in Python and quarantines the records
at fault. Other entities always take the strict path. Hot paths format COPY text themselves (values are
checked for characters that would need escaping; such records take the escaped strict path) because
``warehouse.bulk.copy_rows``'s per-value adaptation costs more than the rest of the per-record work;
small tables and quarantine rows still go through ``copy_rows``.

Where rows go: into a session temp table, then an upsert into staging (``INSERT .. ON CONFLICT``, never
overwriting a newer ``meta.modified``, one row per key). When the staging table is empty at the start of
the load (a first load or a ``full_refresh``) and this session's role owns it, the pages are COPYed
straight into it with its indexes set aside and rebuilt at the end from their own definitions (the
usual bulk-load technique, about twice as fast as index maintenance row by row); duplicate keys are then
resolved the same way as in the upsert.

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
re-read per term window, the last window end loaded (informational). A watermark over an empty staging
table (wiped by hand) is ignored: everything is read again.

Attendance is read per term window (``skolsam.terms`` calendar) for the requested terms (default: every
term overlapping the last ``DEFAULT_TERM_LOOKBACK_DAYS`` days up to today), and each such term's rows in
staging are replaced by the new window's rows.

Deletions: ``grades``, ``organisations`` and ``syllabuses`` ids are removed from their staging tables and
recorded in ``staging.ss12000_deleted`` (later grade loads skip those ids); deleted ``persons`` lose their
staging rows (enrolments cascade) and their id is recorded nowhere.

Erased pupils (``audit.erased_key`` by student_key, ``audit.erased_ref`` by person_ref) are dropped at the
door; a person dropped by student_key has its person_ref added to ``audit.erased_ref`` so that its grades
and attendance are dropped too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import gc
import logging
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from .. import terms as terms_mod
from ..errors import SkolsamError
from ..identity import InvalidIdentity
from ..pseudonym import Pseudonymiser
from ..settings import Settings
from ..warehouse import audit
from ..warehouse.audit import LoadRun, QuarantineRow
from ..warehouse.bulk import copy_rows
from ..warehouse.connection import connect
from ..warehouse.locks import staging_write
from . import records
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
MAINTENANCE_WORK_MEM = "256MB"
PIPELINE_DEPTH = 2  # pages fetched ahead, and pages queued for the database thread
USE_TYPED_DECODERS = records.AVAILABLE  # msgspec decoders for grades and attendance (see .records)
GC_THRESHOLD = 200_000  # generation-0 threshold while pages stream (default 700)
_LOCK_BASE = 731_200_100

# Reason codes written to audit.quarantine (identity's pnr_* codes come from skolsam.identity).
REQUIRED_FIELD_MISSING = "required_field_missing"
FIELD_INVALID = "field_invalid"
GRADE_VALUE_UNKNOWN = "grade_value_unknown"

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}").fullmatch
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}").fullmatch
_TS = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)?").fullmatch
NULL = "\\N"
_UNSAFE = re.compile(r"[\\\t\n\r]").search  # what would need escaping in COPY text


class ExtractError(SkolsamError, RuntimeError):
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
# Field checks (strict path)
# --------------------------------------------------------------------------------------------------------
def _valid_date(v: Any) -> bool:
    if type(v) is not str or not _DATE(v):
        return False
    try:
        dt.date.fromisoformat(v)
    except ValueError:
        return False
    return True


def _valid_ts(v: Any) -> bool:
    return type(v) is str and _TS(v) is not None and parse_timestamp(v) is not None


def _valid_uuid(v: Any) -> bool:
    return type(v) is str and _UUID(v) is not None


def _opt(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _is_text(v: Any) -> bool:
    return type(v) is str


def _is_bool(v: Any) -> bool:
    return type(v) is bool


def _is_int4(v: Any) -> bool:
    return type(v) is int and -2_147_483_648 <= v <= 2_147_483_647


def _one_of(allowed: frozenset) -> Callable[[Any], bool]:
    return lambda v: type(v) is str and v in allowed


_opt_date, _opt_uuid, _opt_text, _opt_bool, _opt_int4 = (
    _opt(_valid_date), _opt(_valid_uuid), _opt(_is_text), _opt(_is_bool), _opt(_is_int4))


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


class _Drop(Exception):
    """The record belongs to an erased pupil."""


def _require(obj: Any, paths: Sequence[str], prefix: str = "") -> None:
    if not isinstance(obj, dict):
        raise _Reject(FIELD_INVALID, prefix.rstrip(".") or "object")
    for p in paths:
        if _get(obj, p) is None:
            raise _Reject(REQUIRED_FIELD_MISSING, prefix + p)


def _check(checks: Iterable[tuple[str, Callable[[Any], bool], Any]]) -> None:
    for name, ok, value in checks:
        if not ok(value):
            raise _Reject(FIELD_INVALID, name)


def _object_ref(obj: Any) -> str | None:
    """record_ref for a non-person object: its id, if it is a uuid (never free text)."""
    oid = obj.get("id") if isinstance(obj, dict) else None
    return oid if _valid_uuid(oid) else None


# --------------------------------------------------------------------------------------------------------
# COPY text
# --------------------------------------------------------------------------------------------------------
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


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


def _copy_text(conn: psycopg.Connection, table: str, columns: Sequence[str], text: str) -> None:
    schema, _, name = table.partition(".")
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(schema, name), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        copy.write(text)


# --------------------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------------------
@dataclass
class _PageOut:
    """A processed page: COPY text per table, quarantine rows, records dropped for erasure, and the largest
    meta.modified (UTC microseconds) among records that do not reach the table."""

    text: dict[str, list[str]] = field(default_factory=dict)
    rejects: list[QuarantineRow] = field(default_factory=list)
    dropped: int = 0
    side_max: int | None = None
    erased_refs: list[str] = field(default_factory=list)

    def note(self, obj: Any) -> None:
        self.note_value(_get(obj, "meta.modified"))

    def note_value(self, modified: Any) -> None:
        v = parse_timestamp(modified)
        if v is not None and (self.side_max is None or v > self.side_max):
            self.side_max = v

    def reject(self, exc: _Reject, n: int, ref: str | None, obj: Any) -> None:
        self.note(obj)
        detail = f"field={exc.field_name}" if exc.field_name else None
        self.rejects.append(QuarantineRow(exc.reason, row_number=n, record_ref=ref, detail=detail))


# Page processors take (run, page data, index of the page's first record - 1) and return a _PageOut.
Processor = Callable[["_Run", list, int], _PageOut]


def _strict(one: Callable[["_Run", Any, _PageOut], dict[str, list[tuple]] | None],
            ref_of: Callable[["_Run", Any], str | None]) -> Processor:
    """A strict page processor from a per-record function that raises _Reject or _Drop, or returns rows."""

    def process(run: "_Run", data: list, n0: int) -> _PageOut:
        out = _PageOut()
        for n, obj in enumerate(data, n0 + 1):
            try:
                rows = one(run, obj, out)
            except _Reject as exc:
                out.reject(exc, n, ref_of(run, obj), obj)
                continue
            except _Drop:
                out.dropped += 1
                out.note(obj)
                continue
            for table, table_rows in rows.items():
                out.text.setdefault(table, []).extend(copy_line(r) for r in table_rows)
        return out

    return process


def _obj_ref(run: "_Run", obj: Any) -> str | None:
    return _object_ref(obj)


def _student_ref(run: "_Run", obj: Any) -> str | None:
    sid = _get(obj, "student.id")
    return run.person_ref(sid) if type(sid) is str and sid else None


def _person_ref_of(run: "_Run", obj: Any) -> str | None:
    pid = obj.get("id") if isinstance(obj, dict) else None
    return run.person_ref(pid) if type(pid) is str and pid else None


# ---- organisations
ORG_TABLE = "staging.ss12000_organisation"
ORG_COLUMNS = ("id", "display_name", "organisation_type", "organisation_code", "school_unit_code",
               "municipality_code", "parent_id", "school_types", "start_date", "end_date", "modified_at", "run_id")


def _organisation(run: "_Run", o: Any, out: _PageOut):
    _require(o, ("id", "displayName", "organisationType", "meta.modified"))
    parent = _ref_id(o.get("parentOrganisation"))
    types = o.get("schoolTypes")
    _check((("id", _valid_uuid, o["id"]), ("displayName", _is_text, o["displayName"]),
            ("organisationType", _is_text, o["organisationType"]),
            ("organisationCode", _opt_text, o.get("organisationCode")),
            ("schoolUnitCode", _opt_text, o.get("schoolUnitCode")),
            ("municipalityCode", _opt_text, o.get("municipalityCode")),
            ("parentOrganisation", lambda v: v is None or isinstance(v, dict), o.get("parentOrganisation")),
            ("parentOrganisation.id", _opt_uuid, parent),
            ("schoolTypes", lambda v: v is None or (isinstance(v, list) and all(type(t) is str for t in v)), types),
            ("startDate", _opt_date, o.get("startDate")), ("endDate", _opt_date, o.get("endDate")),
            ("meta.modified", _valid_ts, o["meta"]["modified"])))
    return {"pg_temp.tmp_ss12000_organisation": [(
        o["id"], o["displayName"], o["organisationType"], o.get("organisationCode"), o.get("schoolUnitCode"),
        o.get("municipalityCode"), parent, types, o.get("startDate"), o.get("endDate"), o["meta"]["modified"],
        run.run_id)]}


# ---- syllabuses
SYLLABUS_TABLE = "staging.ss12000_syllabus"
SYLLABUS_COLUMNS = ("id", "subject_designation", "subject_code", "subject_name", "school_type", "language_code",
                    "official", "modified_at", "run_id")


def _syllabus(run: "_Run", o: Any, out: _PageOut):
    _require(o, ("id", "subjectName", "schoolType", "official", "meta.modified"))
    _check((("id", _valid_uuid, o["id"]), ("subjectName", _is_text, o["subjectName"]),
            ("schoolType", _is_text, o["schoolType"]), ("official", _is_bool, o["official"]),
            ("subjectDesignation", _opt_text, o.get("subjectDesignation")),
            ("subjectCode", _opt_text, o.get("subjectCode")), ("languageCode", _opt_text, o.get("languageCode")),
            ("meta.modified", _valid_ts, o["meta"]["modified"])))
    return {"pg_temp.tmp_ss12000_syllabus": [(
        o["id"], o.get("subjectDesignation"), o.get("subjectCode"), o["subjectName"], o["schoolType"],
        o.get("languageCode"), o["official"], o["meta"]["modified"], run.run_id)]}


# ---- persons
PERSON_TABLE = "staging.ss12000_person"
PERSON_COLUMNS = ("person_ref", "student_key", "sex", "birth_year", "protected", "modified_at", "run_id")
ENROLMENT_COLUMNS = ("person_ref", "ordinal", "school_unit_id", "school_type", "school_year", "start_date",
                     "end_date", "cancelled", "modified_at")
_SCHOOL_YEAR = lambda v: v is None or (type(v) is int and 0 <= v <= 10)  # noqa: E731
_IS_SEX = _one_of(SEXES)
_IS_MARKING = _one_of(SECURITY_MARKINGS)


def _person(run: "_Run", o: Any, out: _PageOut):
    _require(o, ("id", "meta.modified"))
    pid = o["id"]
    if type(pid) is not str or not pid:
        raise _Reject(FIELD_INVALID, "id")
    ref = run.person_ref(pid)
    civic = o.get("civicNo")
    try:
        student_key, ident = run.pseudo.key_for(civic.get("value") if isinstance(civic, dict) else None)
    except InvalidIdentity as exc:
        raise _Reject(exc.reason) from None
    sex = o.get("sex", "Okänt")
    marking = o.get("securityMarking", "Ingen")
    modified = o["meta"]["modified"]
    _check((("meta.modified", _valid_ts, modified), ("sex", _IS_SEX, sex), ("securityMarking", _IS_MARKING, marking)))
    enrols = o.get("enrolments") or []
    if not isinstance(enrols, list):
        raise _Reject(FIELD_INVALID, "enrolments")
    rows = []
    for ordinal, e in enumerate(enrols):
        _require(e, ("enroledAt.id", "schoolType", "startDate"), "enrolments.")
        unit, school_type, year = e["enroledAt"]["id"], e["schoolType"], e.get("schoolYear")
        _check((("enrolments.enroledAt.id", _valid_uuid, unit), ("enrolments.schoolType", _is_text, school_type),
                ("enrolments.schoolYear", _SCHOOL_YEAR, year), ("enrolments.startDate", _valid_date, e["startDate"]),
                ("enrolments.endDate", _opt_date, e.get("endDate")),
                ("enrolments.cancelled", _opt_bool, e.get("cancelled"))))
        rows.append((ref, ordinal, unit, school_type, year, e["startDate"], e.get("endDate"),
                     bool(e.get("cancelled") or False), modified))
    if ref in run.erased_refs or student_key in run.erased_keys:
        if ref not in run.erased_refs:
            out.erased_refs.append(ref)
        raise _Drop
    return {"pg_temp.tmp_ss12000_person": [(ref, student_key, sex, ident.birth_year, marking != "Ingen", modified,
                                            run.run_id)],
            "pg_temp.tmp_ss12000_enrolment": rows}


# ---- grades
GRADE_TABLE = "staging.ss12000_grade"
GRADE_COLUMNS = ("id", "person_ref", "organisation_id", "syllabus_id", "grade_value", "semester", "year",
                 "registered_date", "correction_type", "trial", "final_grade", "modified_at", "run_id")
_GRADE_REQUIRED = ("id", "student.id", "syllabus.id", "gradeValue", "registeredDate", "meta.modified")


def _grade(run: "_Run", o: Any, out: _PageOut):
    _require(o, _GRADE_REQUIRED)
    value = o["gradeValue"]
    if type(value) is not str or value not in GRADE_VALUES:
        raise _Reject(GRADE_VALUE_UNKNOWN, "gradeValue")
    # The spec names the school unit `organisation` but requires `schoolUnit` (2.1.0 slip): take either.
    org = o.get("organisation") if o.get("organisation") is not None else o.get("schoolUnit")
    student = o["student"]["id"]
    _check((("id", _valid_uuid, o["id"]), ("student.id", lambda v: type(v) is str and bool(v), student),
            ("syllabus.id", _valid_uuid, o["syllabus"]["id"]),
            ("organisation", lambda v: v is None or isinstance(v, dict), org),
            ("organisation.id", _opt_uuid, _ref_id(org)),
            ("registeredDate", _valid_date, o["registeredDate"]), ("meta.modified", _valid_ts, o["meta"]["modified"]),
            ("semester", _opt(_one_of(SEMESTERS)), o.get("semester")),
            ("year", _opt(lambda v: type(v) is int and 0 < v < 10000), o.get("year")),
            ("correctionType", _opt(_one_of(CORRECTION_TYPES)), o.get("correctionType")),
            ("trial", _is_bool, o.get("trial", False)), ("finalGrade", _opt_bool, o.get("finalGrade"))))
    ref = run.person_ref(student)
    if ref in run.erased_refs:
        raise _Drop
    return {run.grade_target: [(
        o["id"], ref, _ref_id(org), o["syllabus"]["id"], o["gradeValue"], o.get("semester"), o.get("year"),
        o["registeredDate"], o.get("correctionType"), o.get("trial", False), o.get("finalGrade"),
        o["meta"]["modified"], run.run_id)]}


_grades_strict = _strict(_grade, _obj_ref)


def _grades_fast(run: "_Run", data: list, n0: int) -> _PageOut:
    """Grades page, fast path: COPY lines built directly; anything unusual goes through _grade."""
    out = _PageOut()
    lines: list[str] = []
    append = lines.append
    refs, person_ref, erased = run.refs, run.person_ref, run.erased_refs
    values, semesters, corrections = GRADE_VALUES, SEMESTERS, CORRECTION_TYPES
    unsafe = _UNSAFE
    tail = f"\t{run.run_id}\n"
    for n, o in enumerate(data, n0 + 1):
        try:
            gid = o["id"]
            student = o["student"]["id"]
            syllabus = o["syllabus"]["id"]
            value = o["gradeValue"]
            registered = o["registeredDate"]
            modified = o["meta"]["modified"]
            org = o.get("organisation")
            if org is None:
                org = o.get("schoolUnit")
            org_id = None if org is None else org["id"]
            semester = o.get("semester")
            year = o.get("year")
            correction = o.get("correctionType")
            trial = o.get("trial", False)
            final = o.get("finalGrade")
            ok = (type(gid) is str and type(student) is str and student and type(syllabus) is str
                  and type(value) is str and value in values and type(registered) is str and type(modified) is str
                  and (org_id is None or type(org_id) is str) and (semester is None or semester in semesters)
                  and (year is None or type(year) is int) and (correction is None or correction in corrections)
                  and type(trial) is bool and (final is None or type(final) is bool))
        except (KeyError, TypeError, AttributeError):
            ok = False
        if ok:
            ref = refs.get(student) or person_ref(student)
            if ref not in erased and not unsafe(f"{gid}{syllabus}{registered}{modified}{org_id}"):
                append(f"{gid}\t{ref}\t{NULL if org_id is None else org_id}\t{syllabus}\t{value}\t"
                       f"{NULL if semester is None else semester}\t{NULL if year is None else year}\t"
                       f"{registered}\t{NULL if correction is None else correction}\t{'t' if trial else 'f'}\t"
                       f"{NULL if final is None else ('t' if final else 'f')}\t{modified}{tail}")
                continue
        # Unusual record: the strict check decides (quarantine, drop, or an escaped line).
        try:
            rows = _grade(run, o, out)
        except _Reject as exc:
            out.reject(exc, n, _object_ref(o), o)
            continue
        except _Drop:
            out.dropped += 1
            out.note(o)
            continue
        lines.extend(copy_line(r) for r in rows[run.grade_target])
    out.text[run.grade_target] = lines
    return out


def _grades_typed(run: "_Run", data: list, n0: int) -> _PageOut:
    """Grades page decoded into records.Grade structs (types and value sets already checked)."""
    out = _PageOut()
    lines: list[str] = []
    append = lines.append
    refs, person_ref, erased = run.refs, run.person_ref, run.erased_refs
    unsafe = _UNSAFE
    tail = f"\t{run.run_id}\n"
    for i, g in enumerate(data):
        org = g.organisation
        if org is None:
            org = g.schoolUnit
        org_id = None if org is None else org.id
        student = g.student.id
        gid, syllabus, registered, modified = g.id, g.syllabus.id, g.registeredDate, g.meta.modified
        if student and not unsafe(f"{gid}{syllabus}{registered}{modified}{org_id}"):
            ref = refs.get(student) or person_ref(student)
            if ref in erased:
                out.dropped += 1
                out.note_value(modified)
                continue
            year, semester, correction, final = g.year, g.semester, g.correctionType, g.finalGrade
            append(f"{gid}\t{ref}\t{NULL if org_id is None else org_id}\t{syllabus}\t{g.gradeValue}\t"
                   f"{NULL if semester is None else semester}\t{NULL if year is None else year}\t"
                   f"{registered}\t{NULL if correction is None else correction}\t{'t' if g.trial else 'f'}\t"
                   f"{NULL if final is None else ('t' if final else 'f')}\t{modified}{tail}")
            continue
        o = records.to_dict(g)
        try:
            rows = _grade(run, o, out)
        except _Reject as exc:
            out.reject(exc, n0 + i + 1, _object_ref(o), o)
            continue
        except _Drop:
            out.dropped += 1
            out.note(o)
            continue
        lines.extend(copy_line(r) for r in rows[run.grade_target])
    out.text[run.grade_target] = lines
    return out


# ---- attendance
ATTENDANCE_TABLE = "staging.ss12000_attendance"
ATTENDANCE_COLUMNS = ("person_ref", "activity_id", "term", "window_start", "window_end", "offered_minutes",
                      "attendance_minutes", "valid_absence_minutes", "invalid_absence_minutes",
                      "other_attendance_minutes", "reported_minutes", "run_id")
_SUMS = ("offeredSum", "attendanceSum", "validAbsenceSum", "invalidAbsenceSum", "otherAttendanceSum", "reportedSum")


def _attendance(run: "_Run", o: Any, out: _PageOut):
    _require(o, ("student.id", "activity.id", "attendanceSum"))
    student, activity = o["student"]["id"], o["activity"]["id"]
    _check((("student.id", lambda v: type(v) is str and bool(v), student), ("activity.id", _valid_uuid, activity),
            *((name, _opt_int4, o.get(name)) for name in _SUMS)))
    ref = run.person_ref(student)
    if ref in run.erased_refs:
        raise _Drop
    term = run.term
    return {run.attendance_target: [(
        ref, activity, term.name, term.start.isoformat(), term.end.isoformat(), *(o.get(name) for name in _SUMS),
        run.run_id)]}


_attendance_strict = _strict(_attendance, _student_ref)


def _attendance_fast(run: "_Run", data: list, n0: int) -> _PageOut:
    out = _PageOut()
    lines: list[str] = []
    append = lines.append
    refs, person_ref, erased = run.refs, run.person_ref, run.erased_refs
    term = run.term
    unsafe = _UNSAFE
    window = f"\t{term.name}\t{term.start.isoformat()}\t{term.end.isoformat()}\t"
    tail = f"\t{run.run_id}\n"
    for n, o in enumerate(data, n0 + 1):
        try:
            student = o["student"]["id"]
            activity = o["activity"]["id"]
            attended = o["attendanceSum"]
            offered = o.get("offeredSum")
            valid = o.get("validAbsenceSum")
            invalid = o.get("invalidAbsenceSum")
            other = o.get("otherAttendanceSum")
            reported = o.get("reportedSum")
            ok = (type(student) is str and student and type(activity) is str and type(attended) is int
                  and (offered is None or type(offered) is int) and (valid is None or type(valid) is int)
                  and (invalid is None or type(invalid) is int) and (other is None or type(other) is int)
                  and (reported is None or type(reported) is int))
        except (KeyError, TypeError, AttributeError):
            ok = False
        if ok:
            ref = refs.get(student) or person_ref(student)
            if ref not in erased:
                if not unsafe(activity):
                    append(f"{ref}\t{activity}{window}{NULL if offered is None else offered}\t{attended}\t"
                           f"{NULL if valid is None else valid}\t{NULL if invalid is None else invalid}\t"
                           f"{NULL if other is None else other}\t{NULL if reported is None else reported}{tail}")
                    continue
        try:
            rows = _attendance(run, o, out)
        except _Reject as exc:
            out.reject(exc, n, _student_ref(run, o), o)
            continue
        except _Drop:
            out.dropped += 1
            continue
        lines.extend(copy_line(r) for r in rows[run.attendance_target])
    out.text[run.attendance_target] = lines
    return out


def _attendance_typed(run: "_Run", data: list, n0: int) -> _PageOut:
    """Attendance page decoded into records.Attendance structs."""
    out = _PageOut()
    lines: list[str] = []
    append = lines.append
    refs, person_ref, erased = run.refs, run.person_ref, run.erased_refs
    term = run.term
    unsafe = _UNSAFE
    window = f"\t{term.name}\t{term.start.isoformat()}\t{term.end.isoformat()}\t"
    tail = f"\t{run.run_id}\n"
    for i, a in enumerate(data):
        student, activity = a.student.id, a.activity.id
        if student and not unsafe(activity):
            ref = refs.get(student) or person_ref(student)
            if ref in erased:
                out.dropped += 1
                continue
            offered, valid, invalid = a.offeredSum, a.validAbsenceSum, a.invalidAbsenceSum
            other, reported = a.otherAttendanceSum, a.reportedSum
            append(f"{ref}\t{activity}{window}{NULL if offered is None else offered}\t{a.attendanceSum}\t"
                   f"{NULL if valid is None else valid}\t{NULL if invalid is None else invalid}\t"
                   f"{NULL if other is None else other}\t{NULL if reported is None else reported}{tail}")
            continue
        o = records.to_dict(a)
        try:
            rows = _attendance(run, o, out)
        except _Reject as exc:
            out.reject(exc, n0 + i + 1, _student_ref(run, o), o)
            continue
        except _Drop:
            out.dropped += 1
            continue
        lines.extend(copy_line(r) for r in rows[run.attendance_target])
    out.text[run.attendance_target] = lines
    return out


# --------------------------------------------------------------------------------------------------------
# The database thread
# --------------------------------------------------------------------------------------------------------
class _DbWorker:
    """Runs database jobs in submission order on one thread, so COPY (and PostgreSQL's work) overlaps the
    fetching and checking of the next page. While it runs, only this thread uses the connection."""

    _STOP = object()

    def __init__(self, depth: int = PIPELINE_DEPTH):
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ss12000-db", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._q.get()
            if job is self._STOP:
                return
            if self._error is None:
                try:
                    job()
                except BaseException as exc:  # handed to the producer
                    self._error = exc

    def submit(self, job: Callable[[], None]) -> None:
        if self._error is not None:
            raise self._error
        while True:
            try:
                self._q.put(job, timeout=0.2)
                return
            except queue.Full:
                if self._error is not None:
                    raise self._error from None
                if not self._thread.is_alive():
                    raise RuntimeError("the database thread stopped")

    def finish(self) -> None:
        self._q.put(self._STOP)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        self._error = self._error or RuntimeError("aborted")
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass
        self._q.put(self._STOP)
        self._thread.join(timeout=60)


@contextlib.contextmanager
def _gc_relaxed() -> Iterator[None]:
    """Collect garbage rarely while pages stream: a parsed page is tens of thousands of young container
    objects, and the default thresholds would walk them again and again. Cycles (httpx keeps one per
    response) are still collected, a few pages later."""
    old = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, max(old[1], 20), max(old[2], 20))
    try:
        yield
    finally:
        gc.set_threshold(*old)


# --------------------------------------------------------------------------------------------------------
# Bulk loading into an empty table
# --------------------------------------------------------------------------------------------------------
class _BulkTarget:
    """Indexes of an empty staging table set aside for a load and rebuilt after it from their own
    definitions (pg_get_indexdef / pg_get_constraintdef); duplicate keys are resolved first, keeping the
    row with the latest modified_at. Only for tables this role owns and no foreign key points at."""

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
                removed += self._dedupe(cols, order_by)  # rare: the same key twice in one extract
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
        self.fallback_pages = 0
        self.side_max: int | None = None  # largest meta.modified among records that did not reach the table
        self.grade_target = "pg_temp.tmp_ss12000_grade"
        self.attendance_target = "pg_temp.tmp_ss12000_attendance"
        self.term: terms_mod.TermDates | None = None
        self.first_date: str | None = None
        self.stream_seconds = 0.0
        self.copied: dict[str, int] = {}

    def person_ref(self, source_id: str) -> str:
        ref = self.refs.get(source_id)
        if ref is None:
            ref = self.refs[source_id] = self.pseudo.source_ref("person", source_id)
        return ref

    def load_erasures(self) -> None:
        self.erased_refs = {r[0] for r in self.conn.execute("SELECT person_ref FROM audit.erased_ref")}
        self.erased_keys = {r[0] for r in self.conn.execute("SELECT student_key FROM audit.erased_key")}

    def stream(self, client: SS12000Client, path: str, params: dict, limit: int, *, fast: Processor,
               strict: Processor | None, columns: dict[str, Sequence[str]], typed: Processor | None = None) -> None:
        """Fetch every page and load it (see the module docstring: fetch thread, this thread, db thread).

        ``typed`` handles pages decoded by the path's msgspec decoder, ``fast`` pages parsed into dicts
        (when there is no decoder or the page did not fit it); ``strict`` redoes a page PostgreSQL refused.
        """
        decoder = records.DECODERS.get(path) if (typed is not None and USE_TYPED_DECODERS) else None

        def fetched() -> Iterator[tuple[Any, Any]]:  # runs in the prefetch thread
            for raw in client.raw_pages(path, params, limit=limit):
                decoded = None
                if decoder is not None:
                    try:
                        decoded = decoder.decode(raw.body)
                    except records.DECODE_ERRORS:
                        decoded = None
                    if decoded is not None and decoded.pageToken != raw.token:
                        decoded = None
                yield raw, decoded

        worker = _DbWorker()
        t0 = time.perf_counter()
        try:
            with _gc_relaxed():
                for raw, decoded in prefetch(fetched(), PIPELINE_DEPTH):
                    if raw.number == 1:
                        self.first_date = raw.date
                    if decoded is not None:
                        data, process = decoded.data, typed
                        body = raw.body

                        def as_dicts(body=body) -> list:
                            return orjson.loads(body)["data"]
                    else:
                        page = client.parse_page(raw)
                        data, process = page.data, fast
                        if not isinstance(data, list):
                            raise SS12000Error(f"GET {path} page {raw.number}: data is not a list")

                        def as_dicts(data=data) -> list:
                            return data
                    n0 = self.read
                    self.read += len(data)
                    self.pages += 1
                    out = process(self, data, n0)
                    worker.submit(lambda out=out, as_dicts=as_dicts, n0=n0:
                                  self._write(out, as_dicts, n0, strict, columns))
            worker.finish()
        except BaseException:
            worker.abort()
            raise
        finally:
            self.stream_seconds += time.perf_counter() - t0

    def _write(self, out: _PageOut, as_dicts: Callable[[], list], n0: int, strict: Processor | None,
               columns: dict[str, Sequence[str]]) -> None:
        """Database thread: COPY a page under a savepoint; if PostgreSQL refuses it, the strict path."""
        conn = self.conn
        try:
            with conn.transaction():
                for table, lines in out.text.items():
                    if lines:
                        _copy_text(conn, table, columns[table], "".join(lines))
        except (pg_errors.DataError, pg_errors.IntegrityError):
            if strict is None:
                raise
            self.fallback_pages += 1
            out = strict(self, as_dicts(), n0)
            with conn.transaction():
                for table, lines in out.text.items():
                    if lines:
                        _copy_text(conn, table, columns[table], "".join(lines))
        for table, lines in out.text.items():
            self.copied[table] = self.copied.get(table, 0) + len(lines)
        if out.rejects:
            self.quarantined += audit.quarantine(conn, self.run_id, SOURCE, self.entity, out.rejects)
        for ref in out.erased_refs:
            if ref not in self.erased_refs:
                self.erased_refs.add(ref)
                conn.execute("INSERT INTO audit.erased_ref (person_ref) VALUES (%s) ON CONFLICT DO NOTHING", (ref,))
        self.dropped += out.dropped
        if out.side_max is not None and (self.side_max is None or out.side_max > self.side_max):
            self.side_max = out.side_max

    def note_max(self, micros: int | None) -> None:
        if micros is not None and (self.side_max is None or micros > self.side_max):
            self.side_max = micros


# --------------------------------------------------------------------------------------------------------
# Merges and watermarks
# --------------------------------------------------------------------------------------------------------
def _ident(table: str) -> sql.Identifier:
    return sql.Identifier(*table.split("."))


def _temp_table(conn: psycopg.Connection, like: str, name: str, extra: str = "") -> None:
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS{}) ON COMMIT DROP").format(
        sql.Identifier(name), _ident(like), sql.SQL(extra)))


def _upsert(conn: psycopg.Connection, target: str, temp: str, key: str | Sequence[str],
            columns: Sequence[str], *, newest: bool = True) -> int:
    """Insert new rows and update changed ones, one row per key; with ``newest`` never over a row with a
    later modified_at (and among duplicates in the temp table the latest wins). Returns rows written."""
    keys = [key] if isinstance(key, str) else list(key)
    data_cols = [c for c in columns if c not in keys and c != "run_id"]
    ident = lambda cs: sql.SQL(", ").join(sql.Identifier(c) for c in cs)  # noqa: E731
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
    ).format(target=_ident(target), cols=ident(columns), key=ident(keys), temp=sql.Identifier(temp),
             order=order, sets=sets, guard=guard, old=old, new=new)
    return conn.execute(stmt).rowcount


def _max_modified(conn: psycopg.Connection, table: str) -> int | None:
    row = conn.execute(sql.SQL(
        "SELECT (extract(epoch FROM max(modified_at)) * 1000000)::bigint FROM {}").format(_ident(table))).fetchone()
    return row[0] if row else None


def _advance(run: _Run, entity: str, previous: str | None) -> str | None:
    """Set the entity's watermark to the largest meta.modified seen (never backwards); returns it."""
    candidates = [v for v in (run.side_max, parse_timestamp(previous) if previous else None) if v is not None]
    if not candidates:
        return previous
    value = format_timestamp(max(candidates))
    if value != previous:
        audit.set_watermark(run.conn, SOURCE, entity, value, run.run_id)
    return value


def _modified_params(previous: str | None) -> dict:
    return {"meta.modified.after": previous} if previous else {}


def _extract_simple(run: _Run, client: SS12000Client, limit: int, full_refresh: bool, previous: str | None,
                    entity: str, target: str, temp: str, columns: Sequence[str], one) -> dict:
    conn = run.conn
    _temp_table(conn, target, temp)
    process = _strict(one, _obj_ref)
    run.stream(client, f"/{entity}", _modified_params(previous), limit, fast=process, strict=None,
               columns={f"pg_temp.{temp}": columns})
    run.note_max(_max_modified(conn, f"pg_temp.{temp}"))
    if full_refresh:
        conn.execute(sql.SQL("DELETE FROM {}").format(_ident(target)))
    loaded = _upsert(conn, target, temp, "id", columns)
    return {"rows_loaded": loaded, "watermark": _advance(run, entity, previous)}


def _extract_organisations(run, client, limit, full_refresh, previous, terms):
    return _extract_simple(run, client, limit, full_refresh, previous, "organisations", ORG_TABLE,
                           "tmp_ss12000_organisation", ORG_COLUMNS, _organisation)


def _extract_syllabuses(run, client, limit, full_refresh, previous, terms):
    return _extract_simple(run, client, limit, full_refresh, previous, "syllabuses", SYLLABUS_TABLE,
                           "tmp_ss12000_syllabus", SYLLABUS_COLUMNS, _syllabus)


def _extract_persons(run, client, limit, full_refresh, previous, terms):
    conn = run.conn
    _temp_table(conn, PERSON_TABLE, "tmp_ss12000_person")
    _temp_table(conn, "staging.ss12000_enrolment", "tmp_ss12000_enrolment", ", modified_at timestamptz")
    process = _strict(_person, _person_ref_of)
    run.stream(client, "/persons", _modified_params(previous), limit, fast=process, strict=None,
               columns={"pg_temp.tmp_ss12000_person": PERSON_COLUMNS,
                        "pg_temp.tmp_ss12000_enrolment": ENROLMENT_COLUMNS})
    run.note_max(_max_modified(conn, "pg_temp.tmp_ss12000_person"))
    if full_refresh:
        conn.execute("TRUNCATE staging.ss12000_person CASCADE")
    loaded = _upsert(conn, PERSON_TABLE, "tmp_ss12000_person", "person_ref", PERSON_COLUMNS)
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
    return {"rows_loaded": loaded, "watermark": _advance(run, "persons", previous)}


def _bulk_possible(conn: psycopg.Connection, table: str, full_refresh: bool) -> bool:
    if not _BulkTarget.possible(conn, table):
        return False
    if full_refresh:
        return True
    return conn.execute(sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(_ident(table))).fetchone()[0]


def _extract_grades(run, client, limit, full_refresh, previous, terms):
    conn = run.conn
    params = _modified_params(previous)
    bulk = _bulk_possible(conn, GRADE_TABLE, full_refresh)
    if bulk:
        conn.execute("TRUNCATE staging.ss12000_grade")
        target = _BulkTarget(conn, GRADE_TABLE)
        target.set_aside()
        run.grade_target = GRADE_TABLE
        run.stream(client, "/grades", params, limit, typed=_grades_typed, fast=_grades_fast, strict=_grades_strict,
                   columns={GRADE_TABLE: GRADE_COLUMNS})
        run.note_max(_max_modified(conn, GRADE_TABLE))
        skipped = conn.execute(
            """DELETE FROM staging.ss12000_grade g USING staging.ss12000_deleted d
                WHERE d.entity = 'grades' AND d.id = g.id""").rowcount
        duplicates = target.rebuild("modified_at DESC, ctid DESC")
        loaded = run.copied.get(GRADE_TABLE, 0) - skipped - duplicates
        extra = {"bulk": True, "rows_duplicate": duplicates}
    else:
        if full_refresh:
            conn.execute("TRUNCATE staging.ss12000_grade")
        temp = "tmp_ss12000_grade"
        _temp_table(conn, GRADE_TABLE, temp)
        run.stream(client, "/grades", params, limit, typed=_grades_typed, fast=_grades_fast, strict=_grades_strict,
                   columns={run.grade_target: GRADE_COLUMNS})
        run.note_max(_max_modified(conn, run.grade_target))  # before skipping deleted ids: seen all the same
        # A grade once listed as deleted is never loaded again.
        skipped = conn.execute(
            """DELETE FROM tmp_ss12000_grade t USING staging.ss12000_deleted d
                WHERE d.entity = 'grades' AND d.id = t.id""").rowcount
        loaded = _upsert(conn, GRADE_TABLE, temp, "id", GRADE_COLUMNS)
        extra = {"bulk": False}
    return {"rows_loaded": loaded, "rows_skipped_deleted": skipped,
            "watermark": _advance(run, "grades", previous), **extra}


ATTENDANCE_KEY = ("person_ref", "activity_id", "window_start", "window_end")


def _extract_attendance(run, client, limit, full_refresh, previous, terms):
    conn = run.conn
    names = [t.name for t in terms]
    empty, others = conn.execute(
        """SELECT NOT EXISTS (SELECT 1 FROM staging.ss12000_attendance),
                  EXISTS (SELECT 1 FROM staging.ss12000_attendance WHERE term <> ALL(%s))""", (names,)).fetchone()
    bulk = (empty or (full_refresh and not others)) and _BulkTarget.possible(conn, ATTENDANCE_TABLE)
    columns = {ATTENDANCE_TABLE: ATTENDANCE_COLUMNS, "pg_temp.tmp_ss12000_attendance": ATTENDANCE_COLUMNS}
    removed = 0
    if bulk:
        removed = conn.execute("SELECT count(*) FROM staging.ss12000_attendance").fetchone()[0]
        conn.execute("TRUNCATE staging.ss12000_attendance")
        target = _BulkTarget(conn, ATTENDANCE_TABLE)
        target.set_aside()
        run.attendance_target = ATTENDANCE_TABLE
    else:
        _temp_table(conn, ATTENDANCE_TABLE, "tmp_ss12000_attendance")
    for term in terms:
        run.term = term
        params = {"startDate": term.start.isoformat(), "endDate": term.end.isoformat()}
        run.stream(client, "/aggregatedAttendance", params, limit, typed=_attendance_typed, fast=_attendance_fast,
                   strict=_attendance_strict, columns=columns)
    duplicates = 0
    if bulk:
        duplicates = target.rebuild(None)
        loaded = run.copied.get(ATTENDANCE_TABLE, 0) - duplicates
    else:
        # The terms' rows become the new windows' rows: stale ones go, changed ones are updated.
        if full_refresh:
            removed = conn.execute("DELETE FROM staging.ss12000_attendance WHERE term = ANY(%s)", (names,)).rowcount
        else:
            removed = conn.execute(
                """DELETE FROM staging.ss12000_attendance a
                    WHERE a.term = ANY(%s) AND NOT EXISTS (
                          SELECT 1 FROM tmp_ss12000_attendance t
                           WHERE t.person_ref = a.person_ref AND t.activity_id = a.activity_id
                             AND t.window_start = a.window_start AND t.window_end = a.window_end)""",
                (names,)).rowcount
        loaded = _upsert(conn, ATTENDANCE_TABLE, "tmp_ss12000_attendance", ATTENDANCE_KEY, ATTENDANCE_COLUMNS,
                         newest=False)
    watermark = previous
    if terms:
        last = max(t.end for t in terms).isoformat()
        watermark = max(previous, last) if previous else last
        if watermark != previous:
            audit.set_watermark(conn, SOURCE, "aggregatedAttendance", watermark, run.run_id)
    return {"rows_loaded": loaded, "rows_deleted": removed, "watermark": watermark, "terms": names,
            "bulk": bulk, "rows_duplicate": duplicates}


def _extract_deleted(run, client, limit, full_refresh, previous, terms):
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
        if not isinstance(page.data, dict):
            raise SS12000Error(f"GET /deletedEntities page {page.number}: data is not an object")
        rows, people, rejects = [], [], []
        for key, ids in page.data.items():
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
        if table is not None:
            removed += conn.execute(sql.SQL(
                "DELETE FROM {} x USING tmp_ss12000_deleted d WHERE d.entity = %s AND x.id = d.id").format(
                _ident(table)), (key,)).rowcount
    removed += conn.execute(
        """DELETE FROM staging.ss12000_person p USING tmp_ss12000_deleted_person d
            WHERE p.person_ref = d.person_ref""").rowcount
    # Answers carry no timestamps: the next read starts a little before this one's server time.
    server_now = _http_date(first_date) or dt.datetime.now(dt.timezone.utc)
    candidate = parse_timestamp((server_now - DELETED_OVERLAP).isoformat())
    prev = parse_timestamp(previous) if previous else None
    watermark = previous if prev is not None and prev >= candidate else format_timestamp(candidate)
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


_TARGETS = {"organisations": ORG_TABLE, "syllabuses": SYLLABUS_TABLE, "persons": PERSON_TABLE, "grades": GRADE_TABLE}

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
    if terms:
        return terms_mod.resolve(terms, calendar)
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
    summary without personal data (it goes to XCom). Raises ExtractError (nothing loaded) on failure.

    ``terms`` (aggregatedAttendance only): term names such as ``["HT2025", "VT2026"]`` or ``"HT2025,VT2026"``.
    ``client``: an open SS12000Client to reuse (its token and connections), else one is made from ``api``.
    """
    if entity not in _EXTRACTORS:
        raise ValueError(f"unknown SS 12000 entity {entity!r}; expected one of {', '.join(ENTITIES)}")
    settings = settings or Settings.load()
    chosen_terms: list[terms_mod.TermDates] = []
    if entity == "aggregatedAttendance":
        chosen_terms = resolve_terms(terms, terms_mod.load_calendar(settings.term_calendar or None))
    limit = max(1, int(api.page_size or settings.ss12000_page_size))
    own_client = client is None
    client = client or api.client()
    requests0, retries0 = client.stats["requests"], client.stats["retries"]
    load = LoadRun(warehouse_url, SOURCE, entity).open()
    t0 = time.perf_counter()
    run: _Run | None = None
    previous = None
    try:
        with connect(warehouse_url) as conn:
            with conn.transaction():
                conn.execute("SET LOCAL TIME ZONE 'UTC'")
                conn.execute(sql.SQL("SET LOCAL work_mem = {}").format(sql.Literal(WORK_MEM)))
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_BASE + ENTITIES.index(entity),))
                staging_write(conn)  # a build never reads staging while this load runs (warehouse.locks)
                previous = audit.get_watermark(conn, SOURCE, entity)
                if full_refresh and previous is not None:
                    audit.clear_watermarks(conn, SOURCE, [entity])
                read_from = None if full_refresh else previous
                if read_from is not None and entity in _TARGETS and conn.execute(sql.SQL(
                        "SELECT NOT EXISTS (SELECT 1 FROM {})").format(_ident(_TARGETS[entity]))).fetchone()[0]:
                    # A watermark over an empty table (staging wiped by hand): read everything again.
                    log.warning("ss12000 %s: staging is empty but a watermark is set; reading everything", entity)
                    read_from = None
                run = _Run(entity, conn, load, pseudonymiser)
                run.load_erasures()
                result = _EXTRACTORS[entity](run, client, limit, full_refresh, read_from, chosen_terms)
                load.rows_read = run.read
                load.rows_loaded = result.get("rows_loaded", 0)
                load.rows_quarantined = run.quarantined
                load.rows_deleted = result.get("rows_deleted", 0)
                load.watermark = result.get("watermark")
                message = (f"pages={run.pages} dropped_erased={run.dropped} fallback_pages={run.fallback_pages}"
                           + (" full_refresh" if full_refresh else "") + (" bulk" if result.get("bulk") else ""))
                load.close("success", message=message, conn=conn)
    except BaseException as exc:
        error = _safe_error(entity, exc)
        try:
            load.rows_read = run.read if run else 0
            load.rows_loaded = load.rows_quarantined = load.rows_deleted = 0
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
        "fallback_pages": run.fallback_pages,
        "requests": client.stats["requests"] - requests0,
        "retries": client.stats["retries"] - retries0,
        "seconds": seconds,
        "stream_seconds": round(run.stream_seconds, 3),
    }
    for k in ("terms", "rows_replaced", "rows_skipped_deleted", "rows_duplicate", "bulk"):
        if k in result:
            summary[k] = result[k]
    log.info("ss12000 %s: read %d, loaded %d, quarantined %d, deleted %d, dropped %d in %.1fs (%d pages, %d retries)",
             entity, summary["rows_read"], summary["rows_loaded"], summary["rows_quarantined"],
             summary["rows_deleted"], summary["rows_dropped_erased"], seconds, summary["pages"], summary["retries"])
    return summary


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
    """Every entity in dependency order, sharing one HTTP client; stops at the first failure."""
    out = []
    with api.client() as client:
        for entity in entities:
            out.append(extract_entity(entity, warehouse_url, api, pseudonymiser, full_refresh=full_refresh,
                                      terms=terms, settings=settings, client=client))
    return out
