"""Aggregated attendance over one term window (``run.term``): typed records formatted straight to COPY
text; a record that does not fit takes the strict check."""

from __future__ import annotations

from typing import Any, Callable

from ...warehouse.bulk import NULL
from ..pipeline import Mapper, PageOut, Run
from ..schema import (
    ATTENDANCE_SUMS, LINE_UNSAFE, AttendancePage, Drop, check, get, is_nonempty_text, opt_int4, require, valid_uuid,
)

ATTENDANCE_TABLE = "staging.ss12000_attendance"
ATTENDANCE_TEMP = "tmp_ss12000_attendance"
ATTENDANCE_COLUMNS = ("person_ref", "activity_id", "term", "window_start", "window_end", "offered_minutes",
                      "attendance_minutes", "valid_absence_minutes", "invalid_absence_minutes",
                      "other_attendance_minutes", "reported_minutes", "run_id")
ATTENDANCE_KEY = ("person_ref", "activity_id", "window_start", "window_end")
# The sums in the order of the columns above (offered, attended, valid, invalid, other, reported).
_SUMS = ("offeredSum", "attendanceSum", "validAbsenceSum", "invalidAbsenceSum", "otherAttendanceSum", "reportedSum")
assert set(_SUMS) == set(ATTENDANCE_SUMS)


def _student_ref(run: Run, obj: Any) -> str | None:
    sid = get(obj, "student.id")
    return run.person_ref(sid) if type(sid) is str and sid else None


def attendance(run: Run, o: Any, out: PageOut) -> dict[str, list[tuple]]:
    require(o, ("student.id", "activity.id", "attendanceSum"))
    student, activity = o["student"]["id"], o["activity"]["id"]
    check((("student.id", is_nonempty_text, student), ("activity.id", valid_uuid, activity),
           *((name, opt_int4, o.get(name)) for name in _SUMS)))
    ref = run.person_ref(student)
    if ref in run.erased_refs:
        raise Drop
    term = run.term
    return {run.target: [(
        ref, activity, term.name, term.start.isoformat(), term.end.isoformat(), *(o.get(name) for name in _SUMS),
        run.run_id)]}


def attendance_line(run: Run) -> Callable[[Any], str | None]:
    """This run's formatter of a typed attendance record for the current term window."""
    refs, person_ref, erased = run.refs, run.person_ref, run.erased_refs
    term = run.term
    unsafe = LINE_UNSAFE
    window = f"\t{term.name}\t{term.start.isoformat()}\t{term.end.isoformat()}\t"
    tail = f"\t{run.run_id}\n"

    def line(a: Any) -> str | None:
        student, activity = a.student.id, a.activity.id
        if not student or unsafe(f"{student}{activity}"):
            return None
        ref = refs.get(student) or person_ref(student)
        if ref in erased:
            return None
        offered, valid, invalid = a.offeredSum, a.validAbsenceSum, a.invalidAbsenceSum
        other, reported = a.otherAttendanceSum, a.reportedSum
        return (f"{ref}\t{activity}{window}{NULL if offered is None else offered}\t{a.attendanceSum}\t"
                f"{NULL if valid is None else valid}\t{NULL if invalid is None else invalid}\t"
                f"{NULL if other is None else other}\t{NULL if reported is None else reported}{tail}")

    return line


ATTENDANCE = Mapper("/aggregatedAttendance", attendance, _student_ref, AttendancePage, attendance_line)
