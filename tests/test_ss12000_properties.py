"""Property-based tests of the SS 12000 record parsers (issue 11 item 4), with Hypothesis.

Spec-shaped grades and attendance records, with fields dropped, nulled, mistyped or filled with odd values
(NUL, huge numbers, far dates, `now`), go through the mappers on every decoding path (typed page, page split
into records, plain JSON) and, fewer of them, through a real extract into PostgreSQL from a recorded answer.
The properties: no page ever crashes; every record is loaded, or quarantined with a known reason code, or
dropped for a reason; a record the independent oracle below calls good is always loaded (so the watermark,
the largest loaded meta.modified, never passes a good record); nothing bad is loaded.

Derandomised with bounded example counts (``bounded``) so CI time stays modest.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import TEST_KEY

from skolsam.pseudonym import Pseudonymiser
from skolsam.ss12000 import schema
from skolsam.ss12000.client import ApiConfig, SS12000Client
from skolsam.ss12000.extract import extract_entity
from skolsam.ss12000.mappers.attendance import ATTENDANCE
from skolsam.ss12000.mappers.grades import GRADES
from skolsam.ss12000.pipeline import Run, _RAW_RECORDS, process_page
from skolsam.terms import load_calendar
from skolsam.warehouse.connection import connect

REASONS = {schema.REQUIRED_FIELD_MISSING, schema.FIELD_INVALID, schema.GRADE_VALUE_UNKNOWN, schema.TIMESTAMP_INVALID,
           schema.TIMESTAMP_IN_FUTURE, schema.CHARACTER_NOT_ALLOWED}
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def bounded(n: int) -> settings:
    return settings(max_examples=n, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# --------------------------------------------------------------------------------------------------------
# Records: valid ones, then mutated
# --------------------------------------------------------------------------------------------------------
uuids = st.uuids().map(str)
ODD = st.one_of(
    st.sampled_from(["", "now", "epoch", "infinity", "-infinity", "9999-12-31T23:59:59-01:00", "0000-01-01",
                     "2025-02-30", "2025-13-45T10:00:00Z", "2999-01-01T00:00:00Z", "a\u0000b", "\u0000",
                     "tab\there", "back\\slash", "ä" * 300]),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70), st.floats(allow_nan=False), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.sampled_from(["id", "x"]), st.integers(), max_size=2),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
)
timestamps = st.datetimes(min_value=dt.datetime(2015, 1, 1), max_value=dt.datetime(2026, 6, 1)).flatmap(
    lambda t: st.sampled_from([t.replace(microsecond=0).isoformat() + z for z in ("Z", "+01:00", "+02:00", "")]))
dates = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2026, 6, 30)).map(dt.date.isoformat)


@st.composite
def grade(draw) -> dict:
    g = {"id": draw(uuids), "meta": {"created": draw(timestamps), "modified": draw(timestamps)},
         "student": {"id": draw(uuids)}, "syllabus": {"id": draw(uuids)},
         "gradeValue": draw(st.sampled_from(sorted(schema.GRADE_VALUES))), "registeredDate": draw(dates),
         "trial": draw(st.booleans())}
    for key, value in (("organisation", {"id": draw(uuids)}), ("semester", draw(st.sampled_from(["HT", "VT"]))),
                       ("year", draw(st.integers(2015, 2026))),
                       ("correctionType", draw(st.sampled_from(["Ändring", "Rättelse"]))),
                       ("finalGrade", draw(st.booleans()))):
        if draw(st.booleans()):
            g[key] = value
    return g


@st.composite
def attendance(draw) -> dict:
    a = {"student": {"id": draw(uuids)}, "activity": {"id": draw(uuids)},
         "attendanceSum": draw(st.integers(0, 20_000))}
    for key in ("offeredSum", "validAbsenceSum", "invalidAbsenceSum", "otherAttendanceSum", "reportedSum"):
        if draw(st.booleans()):
            a[key] = draw(st.integers(0, 20_000))
    return a


PATHS = {"grade": ["id", "meta", "meta.modified", "student", "student.id", "syllabus", "syllabus.id", "gradeValue",
                   "registeredDate", "trial", "organisation", "organisation.id", "semester", "year",
                   "correctionType", "finalGrade"],
         "attendance": ["student", "student.id", "activity", "activity.id", "attendanceSum", "offeredSum",
                        "validAbsenceSum", "invalidAbsenceSum", "reportedSum"]}


@st.composite
def mutated(draw, base, kind: str) -> dict:
    """A record with up to two fields dropped, nulled or replaced by an odd value."""
    rec = json.loads(json.dumps(draw(base)))
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(PATHS[kind])).split(".")
        parent = rec
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        how = draw(st.sampled_from(["drop", "null", "odd"]))
        if how == "drop":
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = None if how == "null" else draw(ODD)
    return rec


# --------------------------------------------------------------------------------------------------------
# The oracle: written from the spec, apart from the extractor's own checks
# --------------------------------------------------------------------------------------------------------
def _uuid(v: Any) -> bool:
    if type(v) is not str or len(v) != 36:
        return False
    try:
        return str(uuid.UUID(v)) == v.lower()
    except ValueError:
        return False


def _date(v: Any) -> bool:
    if type(v) is not str or len(v) != 10:
        return False
    try:
        return 1 <= dt.date.fromisoformat(v).year
    except ValueError:
        return False


def _instant(v: Any) -> dt.datetime | None:
    """The UTC instant of an RFC 3339 date-time (no zone: Stockholm), if it is one PostgreSQL also reads."""
    if type(v) is not str or "\x00" in v or len(v) < 16 or v[10] not in "T " or not v[:4].isdigit():
        return None
    try:
        t = dt.datetime.fromisoformat(v)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=STOCKHOLM)
    try:
        t = t.astimezone(dt.timezone.utc)
    except OverflowError:
        return None
    return t if dt.datetime(1, 2, 1, tzinfo=dt.timezone.utc) < t < dt.datetime(9999, 12, 1, tzinfo=dt.timezone.utc) \
        else None


def _text(v: Any) -> bool:
    return type(v) is str and "\x00" not in v


def _opt_ref(v: Any) -> bool:
    return v is None or (isinstance(v, dict) and (v.get("id") is None or _uuid(v.get("id"))))


def good_grade(g: dict, now: dt.datetime) -> bool:
    meta, student, syllabus = g.get("meta"), g.get("student"), g.get("syllabus")
    org = g.get("organisation") if g.get("organisation") is not None else g.get("schoolUnit")
    modified = _instant(meta.get("modified")) if isinstance(meta, dict) else None
    return (_uuid(g.get("id")) and isinstance(student, dict) and _text(student.get("id")) and bool(student["id"])
            and isinstance(syllabus, dict) and _uuid(syllabus.get("id"))
            and type(g.get("gradeValue")) is str and g["gradeValue"] in schema.GRADE_VALUES
            and _date(g.get("registeredDate")) and modified is not None and modified <= now
            and _opt_ref(org) and _one_of(g.get("semester"), ("HT", "VT"))
            and (g.get("year") is None or (type(g["year"]) is int and 0 < g["year"] < 10000))
            and _one_of(g.get("correctionType"), ("Ändring", "Rättelse"))
            and type(g.get("trial", False)) is bool and (g.get("finalGrade") is None or type(g["finalGrade"]) is bool))


def _one_of(v: Any, allowed: tuple[str, ...]) -> bool:
    return v is None or (type(v) is str and v in allowed)


def good_attendance(a: dict) -> bool:
    student, activity = a.get("student"), a.get("activity")
    sums_ok = all(a.get(k) is None or (type(a[k]) is int and -2 ** 31 <= a[k] < 2 ** 31)
                  for k in ("offeredSum", "validAbsenceSum", "invalidAbsenceSum", "otherAttendanceSum",
                            "reportedSum"))
    return (isinstance(student, dict) and _text(student.get("id")) and bool(student["id"])
            and isinstance(activity, dict) and _uuid(activity.get("id"))
            and type(a.get("attendanceSum")) is int and -2 ** 31 <= a["attendanceSum"] < 2 ** 31 and sums_ok)


# --------------------------------------------------------------------------------------------------------
# Without a database: every decoding path of the mappers
# --------------------------------------------------------------------------------------------------------
class _Load:
    run_id = 7


def _run(target: str) -> Run:
    run = Run("grades", None, _Load(), Pseudonymiser(TEST_KEY))
    run.target = target
    run.term = load_calendar()[0]
    return run


def _every_path(mapper, records: list[dict]):
    """(path, PageOut) for the typed page (when it decodes), the split page and the plain JSON."""
    body = _dumps({"data": records, "pageToken": None})
    outs = []
    try:
        outs.append(("typed", process_page(_run("t"), mapper, schema.page_decoder(mapper.page_type).decode(body).data,
                                           0, typed=True)))
    except schema.DECODE_ERRORS:
        pass
    try:  # (a page with `Infinity` in it does not split: the pipeline then reads it as plain JSON)
        outs.append(("split", process_page(_run("t"), mapper, _RAW_RECORDS.decode(body).data, 0, split=True)))
    except schema.DECODE_ERRORS:
        pass
    outs.append(("strict", process_page(_run("t"), mapper, schema.loads_lenient(body)["data"], 0)))
    return outs


def _dumps(obj: Any) -> bytes:
    """JSON as a server writes it, integers of any size included (orjson stops at 64 bits)."""
    return json.dumps(obj, ensure_ascii=False).encode()


def _accounted(out) -> int:
    return sum(len(v) for v in out.text.values()) + len(out.rejects) + out.dropped + sum(out.counts.values())


@bounded(400)
@given(st.lists(mutated(grade(), "grade"), max_size=12))
def test_grade_pages_never_crash_and_every_record_is_accounted_for(records):
    far = dt.datetime(9999, 1, 1, tzinfo=dt.timezone.utc)
    for path, out in _every_path(GRADES, records):
        assert _accounted(out) == len(records), path
        assert {r.reason_code for r in out.rejects} <= REASONS
        assert all(r.content_hash for r in out.rejects)
        if path == "strict":  # the strict check is the last word (the others defer to it or to PostgreSQL)
            loaded = len(out.text.get("t", []))
            # A future timestamp is only caught after the load (against the server's clock): `far` here.
            assert loaded == sum(good_grade(g, far) for g in records)
        for line in out.text.get("t", []):
            fields = line.rstrip("\n").split("\t")
            assert len(fields) == 13 and fields[4] in schema.GRADE_VALUES and "\x00" not in line


@bounded(300)
@given(st.lists(mutated(attendance(), "attendance"), max_size=12))
def test_attendance_pages_never_crash_and_every_record_is_accounted_for(records):
    for path, out in _every_path(ATTENDANCE, records):
        assert _accounted(out) == len(records), path
        assert {r.reason_code for r in out.rejects} <= REASONS
        if path == "strict":
            assert len(out.text.get("t", [])) == sum(good_attendance(a) for a in records)


@bounded(500)
@given(ODD)
def test_timestamps_parse_or_are_refused_never_overflow(value):
    micros = schema.parse_timestamp(value)
    if micros is not None:
        assert schema.parse_timestamp(schema.format_timestamp(micros)) == micros
    assert schema.valid_ts(value) in (True, False)


# --------------------------------------------------------------------------------------------------------
# Into PostgreSQL, from a recorded answer
# --------------------------------------------------------------------------------------------------------
def _transport(records: list[dict], page_size: int) -> httpx.MockTransport:
    pages = [records[i:i + page_size] for i in range(0, len(records), page_size)] or [[]]

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 600})
        n = int(request.url.params.get("pageToken", "0"))
        token = str(n + 1) if n + 1 < len(pages) else None
        return httpx.Response(200, content=_dumps({"data": pages[n], "pageToken": token}))

    return httpx.MockTransport(handle)


@pytest.mark.postgres
@bounded(40)
@given(records=st.lists(mutated(grade(), "grade"), max_size=30), page_size=st.sampled_from([3, 7, 50]))
def test_extracted_grades_are_exactly_the_good_records_and_the_watermark_is_theirs(warehouse_url, pseudonymiser,
                                                                                   records, page_size):
    with connect(warehouse_url) as conn:
        conn.execute("TRUNCATE staging.ss12000_grade, audit.watermark, audit.quarantine, audit.extract_coverage")
        conn.commit()
    # Duplicate ids: the latest meta.modified wins, as in the upsert; keep one record per id for the oracle.
    by_id: dict = {}
    for g in records:
        by_id.setdefault(repr(g.get("id")), g)
    records = list(by_id.values())
    api = ApiConfig("https://sis.example.se/v2.0", client_id="id", client_secret="s", page_size=page_size)
    client = SS12000Client(api.base_url, transport=_transport(records, page_size))
    s = extract_entity("grades", warehouse_url, api, pseudonymiser, client=client, full_refresh=True)
    now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
    good = [g for g in records if good_grade(g, now)]
    with connect(warehouse_url) as conn:
        loaded = {str(r[0]) for r in conn.execute("SELECT id FROM staging.ss12000_grade")}
        reasons = {r[0] for r in conn.execute("SELECT reason_code FROM audit.quarantine")}
    assert loaded == {g["id"].lower() for g in good}
    assert s["rows_read"] == len(records) and s["rows_quarantined"] == len(records) - len(good)
    assert reasons <= REASONS
    if good:
        newest = max(_instant(g["meta"]["modified"]) for g in good)
        assert dt.datetime.fromisoformat(s["watermark"]) == newest
    else:
        assert s["watermark"] is None
