"""msgspec structs for reading dataset lines into the stand-in's index: every field optional, so that only
a line of the wrong shape falls back to a dict (about twice as fast as building dicts)."""

from __future__ import annotations

from typing import Any, Optional

import msgspec


class LooseRef(msgspec.Struct, gc=False):
    id: Optional[str] = None


class LooseMeta(msgspec.Struct, gc=False):
    created: Optional[str] = None
    modified: Optional[str] = None


class AttendanceLine(msgspec.Struct, gc=False):
    student: Optional[LooseRef] = None
    activity: Optional[LooseRef] = None
    startDate: Optional[str] = None
    endDate: Optional[str] = None
    offeredSum: Optional[int] = None
    attendanceSum: Optional[int] = None
    validAbsenceSum: Optional[int] = None
    invalidAbsenceSum: Optional[int] = None
    otherAttendanceSum: Optional[int] = None
    reportedSum: Optional[int] = None


class GradeLine(msgspec.Struct, gc=False):
    id: Optional[str] = None
    meta: Optional[LooseMeta] = None
    student: Optional[LooseRef] = None
    organisation: Optional[LooseRef] = None
    schoolUnit: Optional[LooseRef] = None
    registeredBy: Optional[LooseRef] = None
    registeredDate: Optional[str] = None


ATTENDANCE_LINE_DECODER: Any = msgspec.json.Decoder(AttendanceLine)
GRADE_LINE_DECODER: Any = msgspec.json.Decoder(GradeLine)
DECODE_ERRORS: tuple[type[BaseException], ...] = (msgspec.ValidationError, msgspec.DecodeError)
