"""What the extractor accepts from an SS 12000 server: typed records, value sets, validators, timestamps.

The msgspec structs below are the one declaration of the fields the extractor keeps from the two big
entities and of their value sets; the sets the strict checks use (``GRADE_VALUES``, ``SEMESTERS``, ...)
are derived from the structs' ``Literal`` annotations, never written a second time. Decoding a page
straight into the structs is about three times faster than building dicts and checks presence, types and
value sets on the way; a page that does not fit raises ``DECODE_ERRORS`` and the extractor takes it
through the strict per-record check instead (:mod:`.pipeline`).

The strict check (``require``/``check`` with the validators here) raises :class:`Reject` with a reason
code and the field name; :class:`Drop` marks a record of an erased pupil.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import typing
from typing import Any, Callable, Iterable, Literal, Optional, Sequence

import msgspec
import orjson

# --------------------------------------------------------------------------------------------------------
# Value sets (SS 12000 2.1.0 enums)
# --------------------------------------------------------------------------------------------------------
GradeValue = Literal["A", "B", "C", "D", "E", "F", "-"]
Semester = Literal["HT", "VT"]
CorrectionType = Literal["Ändring", "Rättelse"]
Sex = Literal["Man", "Kvinna", "Okänt"]
SecurityMarking = Literal["Ingen", "Sekretessmarkering", "Skyddad folkbokföring"]


def values_of(literal: Any) -> frozenset[str]:
    """The values of a ``Literal`` type: the one place the value sets below come from."""
    return frozenset(typing.get_args(literal))


GRADE_VALUES = values_of(GradeValue)
SEMESTERS = values_of(Semester)
CORRECTION_TYPES = values_of(CorrectionType)
SEXES = values_of(Sex)
SECURITY_MARKINGS = values_of(SecurityMarking)


# --------------------------------------------------------------------------------------------------------
# Typed records
# --------------------------------------------------------------------------------------------------------
class Ref(msgspec.Struct, gc=False):
    id: str


class Meta(msgspec.Struct, gc=False):
    modified: str


class Grade(msgspec.Struct, gc=False):
    id: str
    meta: Meta
    student: Ref
    syllabus: Ref
    gradeValue: GradeValue
    registeredDate: str
    # The spec's Grade calls the school unit `organisation` but requires `schoolUnit` (2.1.0 slip).
    organisation: Optional[Ref] = None
    schoolUnit: Optional[Ref] = None
    semester: Optional[Semester] = None
    year: Optional[int] = None
    correctionType: Optional[CorrectionType] = None
    trial: bool = False
    finalGrade: Optional[bool] = None


class GradePage(msgspec.Struct, gc=False):
    data: list[Grade]
    pageToken: Optional[str] = None


class Attendance(msgspec.Struct, gc=False):
    student: Ref
    activity: Ref
    attendanceSum: int
    offeredSum: Optional[int] = None
    validAbsenceSum: Optional[int] = None
    invalidAbsenceSum: Optional[int] = None
    otherAttendanceSum: Optional[int] = None
    reportedSum: Optional[int] = None


class AttendancePage(msgspec.Struct, gc=False):
    data: list[Attendance]
    pageToken: Optional[str] = None


class CivicNo(msgspec.Struct, gc=False):
    value: Optional[str] = None


class Enrolment(msgspec.Struct, gc=False):
    enroledAt: Ref
    schoolType: str
    startDate: str
    endDate: Optional[str] = None
    cancelled: Optional[bool] = None
    schoolYear: Optional[int] = None


class Person(msgspec.Struct, gc=False):
    """Only what the persons mapper reads: names, addresses and the rest are never decoded."""

    id: str
    meta: Meta
    enrolments: Optional[list[Enrolment]] = None
    civicNo: Optional[CivicNo] = None
    sex: Optional[str] = None  # the strict check counts a value outside the set; the typed line leaves it to it
    securityMarking: Optional[str] = None


class PersonPage(msgspec.Struct, gc=False):
    data: list[Person]
    pageToken: Optional[str] = None


ATTENDANCE_SUMS = tuple(f for f in Attendance.__struct_fields__ if f.endswith("Sum"))
DECODE_ERRORS: tuple[type[BaseException], ...] = (msgspec.ValidationError, msgspec.DecodeError)


def loads_lenient(body: bytes | str) -> Any:
    """JSON as plain data. orjson first (fast); what it refuses but Python's json reads (a number beyond a
    double such as ``1e999``, a lone surrogate escape) is read by the latter, so that the strict check can
    quarantine the one record at fault instead of the page failing."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise orjson.JSONDecodeError("not JSON", "", 0) from None


def page_decoder(page_type: type) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(page_type)


def to_dict(record: Any) -> dict:
    """A decoded record back as plain JSON data (for the strict check)."""
    return msgspec.to_builtins(record)


# --------------------------------------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------------------------------------
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICRO = dt.timedelta(microseconds=1)
_MAX_MICROS = (dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone.utc) - _EPOCH) // _MICRO
_MIN_MICROS = (dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc) - _EPOCH) // _MICRO
_ZONED = re.compile(r"(Z|z|[+-]\d{2}(:?\d{2})?)$").search


def parse_timestamp(value: Any, tz: dt.tzinfo = dt.timezone.utc) -> int | None:
    """RFC 3339 date-time -> UTC microseconds since 1970 (a value without a zone is taken in ``tz``); None if
    invalid or outside years 1-9999 in UTC (``9999-12-31T23:59:59-01:00`` is, and would overflow later)."""
    if not isinstance(value, str):
        return None
    try:
        t = dt.datetime.fromisoformat(value)
        if t.tzinfo is None:
            t = t.replace(tzinfo=tz)
        micros = (t - _EPOCH) // _MICRO
    except (ValueError, OverflowError):
        return None
    return micros if _MIN_MICROS <= micros <= _MAX_MICROS else None


def format_timestamp(micros: int) -> str:
    """UTC microseconds -> RFC 3339 with a Z, the inverse of parse_timestamp."""
    return (_EPOCH + dt.timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def has_zone(value: Any) -> bool:
    """Whether an RFC 3339 date-time names its offset (``Z`` or ``+01:00``)."""
    return isinstance(value, str) and _ZONED(value) is not None


def time_zone(name: str) -> dt.tzinfo:
    """The named IANA time zone; ValueError naming it if unknown."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name such as Europe/Stockholm)") from None


# --------------------------------------------------------------------------------------------------------
# Strict checks
# --------------------------------------------------------------------------------------------------------
# Reason codes written to audit.quarantine (identity's pnr_* codes come from skolsam.identity).
REQUIRED_FIELD_MISSING = "required_field_missing"
FIELD_INVALID = "field_invalid"
GRADE_VALUE_UNKNOWN = "grade_value_unknown"
TIMESTAMP_INVALID = "timestamp_invalid"  # not an RFC 3339 date-time (also `now`, `epoch`, `infinity`)
TIMESTAMP_IN_FUTURE = "timestamp_in_future"  # later than the server's own clock plus a margin
CHARACTER_NOT_ALLOWED = "character_not_allowed"  # NUL or a lone surrogate: PostgreSQL text refuses them

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}").fullmatch
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}").fullmatch
TIMESTAMP_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)?").fullmatch
BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]").search
# What a typed COPY line cannot take as it is: characters COPY text would need escaped, and the ones above.
LINE_UNSAFE = re.compile("[\\\\\t\n\r\x00\ud800-\udfff]").search
_UUID, _DATE, _TS = UUID_RE, DATE_RE, TIMESTAMP_RE


class Reject(Exception):
    """The record breaks the schema: quarantined with ``reason`` (and the field name as detail)."""

    def __init__(self, reason: str, field_name: str | None = None):
        self.reason, self.field_name = reason, field_name


class Drop(Exception):
    """The record belongs to an erased pupil."""


class Skip(Exception):
    """The record is not one we keep (a person who is no pupil): counted under ``what``, not quarantined."""

    def __init__(self, what: str):
        self.what = what


def valid_date(v: Any) -> bool:
    if type(v) is not str or not _DATE(v):
        return False
    try:
        dt.date.fromisoformat(v)
    except ValueError:
        return False
    return True


def valid_ts(v: Any) -> bool:
    return type(v) is str and _TS(v) is not None and parse_timestamp(v) is not None


def valid_uuid(v: Any) -> bool:
    return type(v) is str and _UUID(v) is not None


def optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def is_text(v: Any) -> bool:
    return type(v) is str and not BAD_CHARACTERS(v)


def is_nonempty_text(v: Any) -> bool:
    return type(v) is str and bool(v) and not BAD_CHARACTERS(v)


def is_bool(v: Any) -> bool:
    return type(v) is bool


def is_int4(v: Any) -> bool:
    return type(v) is int and -2_147_483_648 <= v <= 2_147_483_647


def is_ref(v: Any) -> bool:
    return v is None or isinstance(v, dict)


def is_text_list(v: Any) -> bool:
    return v is None or (isinstance(v, list) and all(is_text(t) for t in v))


def one_of(allowed: frozenset) -> Callable[[Any], bool]:
    return lambda v: type(v) is str and v in allowed


opt_date, opt_uuid, opt_text, opt_bool, opt_int4 = (
    optional(valid_date), optional(valid_uuid), optional(is_text), optional(is_bool), optional(is_int4))


def get(obj: Any, path: str) -> Any:
    """``obj["a"]["b"]`` for ``"a.b"``; None where a step is missing or not an object."""
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def ref_id(v: Any) -> Any:
    return v.get("id") if isinstance(v, dict) else None


def require(obj: Any, paths: Sequence[str], prefix: str = "") -> None:
    if not isinstance(obj, dict):
        raise Reject(FIELD_INVALID, prefix.rstrip(".") or "object")
    for p in paths:
        if get(obj, p) is None:
            raise Reject(REQUIRED_FIELD_MISSING, prefix + p)


def check(checks: Iterable[tuple[str, Callable[[Any], bool], Any]]) -> None:
    for name, ok, value in checks:
        if not ok(value):
            raise Reject(reason_for(ok, value), name)


def reason_for(ok: Callable[[Any], bool], value: Any) -> str:
    """The reason code for a value a check refused."""
    if type(value) is str and BAD_CHARACTERS(value):
        return CHARACTER_NOT_ALLOWED
    if ok is valid_ts:
        return TIMESTAMP_INVALID
    return FIELD_INVALID


def object_ref(obj: Any) -> str | None:
    """record_ref for a non-person object: its id, if it is a uuid (never free text)."""
    oid = obj.get("id") if isinstance(obj, dict) else None
    return oid if valid_uuid(oid) else None
