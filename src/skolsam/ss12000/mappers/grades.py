"""Grades: typed records (:class:`..schema.Grade`) formatted straight to COPY text; a record that does not
fit, or holds a character COPY text would need escaped, takes the strict check."""

from __future__ import annotations

from typing import Any, Callable

from ...warehouse.bulk import NULL
from ..pipeline import Mapper, PageOut, Run
from ..schema import (
    CORRECTION_TYPES, DATE_RE, GRADE_VALUE_UNKNOWN, GRADE_VALUES, LINE_UNSAFE, SEMESTERS, TIMESTAMP_RE, Drop,
    GradePage, Reject, check, is_bool, is_nonempty_text, is_ref, object_ref, one_of, opt_bool, opt_uuid, optional,
    ref_id, require, valid_date, valid_ts, valid_uuid,
)

GRADE_TABLE = "staging.ss12000_grade"
GRADE_TEMP = "tmp_ss12000_grade"
GRADE_COLUMNS = ("id", "person_ref", "organisation_id", "syllabus_id", "grade_value", "semester", "year",
                 "registered_date", "correction_type", "trial", "final_grade", "modified_at", "run_id")
_REQUIRED = ("id", "student.id", "syllabus.id", "gradeValue", "registeredDate", "meta.modified")
_IS_SEMESTER = optional(one_of(SEMESTERS))
_IS_CORRECTION = optional(one_of(CORRECTION_TYPES))
_IS_YEAR = optional(lambda v: type(v) is int and 0 < v < 10000)


def _obj_ref(run: Run, obj: Any) -> str | None:
    return object_ref(obj)


def grade(run: Run, o: Any, out: PageOut) -> dict[str, list[tuple]]:
    require(o, _REQUIRED)
    value = o["gradeValue"]
    if type(value) is not str or value not in GRADE_VALUES:
        raise Reject(GRADE_VALUE_UNKNOWN, "gradeValue")
    # The spec names the school unit `organisation` but requires `schoolUnit` (2.1.0 slip): take either.
    org = o.get("organisation") if o.get("organisation") is not None else o.get("schoolUnit")
    student = o["student"]["id"]
    check((("id", valid_uuid, o["id"]), ("student.id", is_nonempty_text, student),
           ("syllabus.id", valid_uuid, o["syllabus"]["id"]),
           ("organisation", is_ref, org), ("organisation.id", opt_uuid, ref_id(org)),
           ("registeredDate", valid_date, o["registeredDate"]), ("meta.modified", valid_ts, o["meta"]["modified"]),
           ("semester", _IS_SEMESTER, o.get("semester")), ("year", _IS_YEAR, o.get("year")),
           ("correctionType", _IS_CORRECTION, o.get("correctionType")),
           ("trial", is_bool, o.get("trial", False)), ("finalGrade", opt_bool, o.get("finalGrade"))))
    ref = run.person_ref(student)
    if ref in run.erased_refs:
        raise Drop
    return {run.target: [(
        o["id"], ref, ref_id(org), o["syllabus"]["id"], o["gradeValue"], o.get("semester"), o.get("year"),
        o["registeredDate"], o.get("correctionType"), o.get("trial", False), o.get("finalGrade"),
        o["meta"]["modified"], run.run_id)]}


def grade_line(run: Run) -> Callable[[Any], str | None]:
    """This run's formatter of a typed grade (types and value sets already checked by the decoder)."""
    refs, person_ref, erased = run.refs, run.person_ref, run.erased_refs
    unsafe, is_ts, is_date = LINE_UNSAFE, TIMESTAMP_RE, DATE_RE
    stamps: set[str] = set()  # meta.modified values whose syntax was checked
    days: set[str] = set()  # and registeredDate values
    tail = f"\t{run.run_id}\n"

    def line(g: Any) -> str | None:
        org = g.organisation
        if org is None:
            org = g.schoolUnit
        org_id = None if org is None else org.id
        student = g.student.id
        gid, syllabus, registered, modified = g.id, g.syllabus.id, g.registeredDate, g.meta.modified
        # PostgreSQL would take `now`, `epoch` or `infinity` as a date or timestamp: the syntax is checked here
        # (once per distinct value: grades are registered on few days, at whole minutes).
        if not student or unsafe(f"{gid}{student}{syllabus}{registered}{modified}{org_id}"):
            return None
        if modified not in stamps:
            if not is_ts(modified):
                return None
            if len(stamps) > 200_000:
                stamps.clear()
            stamps.add(modified)
        if registered not in days:
            if not is_date(registered):
                return None
            days.add(registered)
        ref = refs.get(student) or person_ref(student)
        if ref in erased:
            return None
        year, semester, correction, final = g.year, g.semester, g.correctionType, g.finalGrade
        return (f"{gid}\t{ref}\t{NULL if org_id is None else org_id}\t{syllabus}\t{g.gradeValue}\t"
                f"{NULL if semester is None else semester}\t{NULL if year is None else year}\t"
                f"{registered}\t{NULL if correction is None else correction}\t{'t' if g.trial else 'f'}\t"
                f"{NULL if final is None else ('t' if final else 'f')}\t{modified}{tail}")

    return line


GRADES = Mapper("/grades", grade, _obj_ref, GradePage, grade_line)
