"""Core layer of the warehouse build, and the staging helpers the build tests share.

``Staging`` fills the staging tables by hand (the contract of sql/migrations/003 and 004), the way the
SS 12000 extractor and the enrollment intake would: student keys and person refs here are made-up
pseudonyms, never derived from a real-looking personnummer.
"""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import make_url

from skolsam.settings import Settings
from skolsam.warehouse import build, connection, migrate
from skolsam.warehouse.bulk import copy_rows

pytestmark = pytest.mark.postgres

TERMS = {  # from src/skolsam/data/term_calendar.csv
    "VT2025": (dt.date(2025, 1, 8), dt.date(2025, 6, 13)),
    "HT2025": (dt.date(2025, 8, 18), dt.date(2025, 12, 19)),
    "VT2026": (dt.date(2026, 1, 8), dt.date(2026, 6, 12)),
}
STAMP = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


def _uuid(*parts: object) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "skolsam-test:" + ":".join(str(p) for p in parts))


class Staging:
    """Rows for the staging tables, collected in memory and written with COPY by ``flush``."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple]] = {k: [] for k in COLUMNS}
        self._units: dict[str, uuid.UUID] = {}
        self._parents: dict[str, uuid.UUID] = {}
        self._syllabi: dict[str, uuid.UUID] = {}
        self._grade_no = 0

    # organisations -----------------------------------------------------------------------------------
    def parent(self, display_name: str, organisation_type: str = "Förvaltning") -> uuid.UUID:
        if display_name not in self._parents:
            oid = _uuid("org", display_name)
            self._parents[display_name] = oid
            self.rows["staging.ss12000_organisation"].append(
                (oid, display_name, organisation_type, None, None, "0180", None, None, STAMP))
        return self._parents[display_name]

    def unit(self, code: str, district: str | None = "Järva", parent: uuid.UUID | None = None) -> uuid.UUID:
        if code not in self._units:
            if parent is None and district is not None:
                parent = self.parent(district)
            oid = _uuid("unit", code)
            self._units[code] = oid
            self.rows["staging.ss12000_organisation"].append(
                (oid, f"Skola {code}", "Skolenhet", None, code, "0180", parent, ["GR"], STAMP))
        return self._units[code]

    def syllabus(self, designation: str) -> uuid.UUID:
        if designation not in self._syllabi:
            sid = _uuid("syllabus", designation)
            self._syllabi[designation] = sid
            self.rows["staging.ss12000_syllabus"].append(
                (sid, designation, None, f"Ämne {designation}", "GR", None, True, STAMP))
        return self._syllabi[designation]

    # persons -----------------------------------------------------------------------------------------
    def pupil(self, key: str, sex: str = "Kvinna", *, unit: str | None = "U1", school_year: int | None = 9,
              protected: bool = False, birth_year: int = 2010, start: dt.date = dt.date(2025, 8, 1),
              end: dt.date | None = dt.date(2026, 6, 30)) -> str:
        """A person in SS 12000; ``key`` becomes the student_key, the person_ref is derived from it."""
        ref = f"ref-{key}"
        self.rows["staging.ss12000_person"].append((ref, key, sex, birth_year, protected, STAMP))
        if unit is not None:
            self.enrolment(ref, unit, school_year, start, end)
        return ref

    def enrolment(self, ref: str, unit: str, school_year: int | None, start: dt.date, end: dt.date | None = None,
                  *, cancelled: bool = False, school_type: str = "GR") -> None:
        ordinal = sum(1 for r in self.rows["staging.ss12000_enrolment"] if r[0] == ref)
        self.rows["staging.ss12000_enrolment"].append(
            (ref, ordinal, self.unit(unit), school_type, school_year, start, end, cancelled))

    def grade(self, ref: str, subject: str, value: str, term: str = "HT2025", *,
              registered: dt.date | None = None, modified: dt.datetime | None = None) -> uuid.UUID:
        self._grade_no += 1
        gid = _uuid("grade", ref, self._grade_no)
        semester, year = term[:2], int(term[2:])
        registered = registered or (TERMS[term][1] - dt.timedelta(days=5) if term in TERMS else dt.date(year, 6, 1))
        self.rows["staging.ss12000_grade"].append(
            (gid, ref, None, self.syllabus(subject), value, semester, year, registered, None, False, None,
             modified or STAMP))
        return gid

    def grades(self, ref: str, grades: dict[str, str], term: str = "HT2025") -> None:
        for subject, value in grades.items():
            self.grade(ref, subject, value, term)

    def deleted(self, gid: uuid.UUID) -> None:
        self.rows["staging.ss12000_deleted"].append(("grades", gid))

    def attendance(self, ref: str, term: str, offered: int | None, valid: int | None, invalid: int | None,
                   *, activity: int = 1, window: tuple[dt.date, dt.date] | None = None) -> None:
        start, end = window or TERMS[term]
        absent = (valid or 0) + (invalid or 0)
        attended = max((offered or 0) - absent, 0)
        self.rows["staging.ss12000_attendance"].append(
            (ref, _uuid("activity", activity), term, start, end, offered, attended, valid, invalid))

    # enrollment lists --------------------------------------------------------------------------------
    def enroll(self, key: str, programme: str = "PPSS", start: dt.date = dt.date(2025, 9, 1),
               end: dt.date | None = dt.date(2025, 12, 31), district: str = "Järva",
               delivered: str | None = None) -> None:
        n = len(self.rows["staging.enrollment"])
        self.rows["staging.enrollment"].append(
            (key, programme, start, end, delivered or district, district, None, "test-file", n + 1))

    def flush(self, url: str) -> None:
        with connection.transaction(url) as conn:
            for table, cols in COLUMNS.items():
                if self.rows[table]:
                    copy_rows(conn, table, cols, self.rows[table])
                    self.rows[table] = []


COLUMNS = {
    "staging.ss12000_organisation": ("id", "display_name", "organisation_type", "organisation_code",
                                     "school_unit_code", "municipality_code", "parent_id", "school_types",
                                     "modified_at"),
    "staging.ss12000_syllabus": ("id", "subject_designation", "subject_code", "subject_name", "school_type",
                                 "language_code", "official", "modified_at"),
    "staging.ss12000_person": ("person_ref", "student_key", "sex", "birth_year", "protected", "modified_at"),
    "staging.ss12000_enrolment": ("person_ref", "ordinal", "school_unit_id", "school_type", "school_year",
                                  "start_date", "end_date", "cancelled"),
    "staging.ss12000_grade": ("id", "person_ref", "organisation_id", "syllabus_id", "grade_value", "semester",
                              "year", "registered_date", "correction_type", "trial", "final_grade",
                              "modified_at"),
    "staging.ss12000_deleted": ("entity", "id"),
    "staging.ss12000_attendance": ("person_ref", "activity_id", "term", "window_start", "window_end",
                                   "offered_minutes", "attendance_minutes", "valid_absence_minutes",
                                   "invalid_absence_minutes"),
    "staging.enrollment": ("student_key", "programme", "start_date", "end_date", "district_delivered",
                           "district", "school_unit_code", "file_checksum", "source_row"),
}


@contextmanager
def fresh_warehouse(admin_url: str):
    """A migrated database of its own, for module-scoped fixtures (conftest's are per test)."""
    name = f"skolsam_test_{uuid.uuid4().hex[:12]}"
    with connection.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.migrate(url)
        yield url
    finally:
        with connection.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(url: str, stmt: str, params: tuple | dict | None = None) -> list[tuple]:
    with connection.connect(url) as conn:
        return conn.execute(stmt, params).fetchall()


def query_dicts(url: str, stmt: str, params: tuple | dict | None = None) -> list[dict]:
    from psycopg.rows import dict_row

    with connection.connect(url) as conn:
        with conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(stmt, params).fetchall()


# ------------------------------------------------------------------------------------------------------
# Core tests
# ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def core_url(pg_admin_url):
    s = Staging()
    # School units: under a district Förvaltning (historical name), under a non-district Förvaltning
    # through an intermediate Skola, and with no parent at all.
    s.unit("U1", district="Rinkeby-Kista stadsdelsförvaltning")
    skola = _uuid("org", "skola-x")
    s.rows["staging.ss12000_organisation"].append(
        (skola, "Skola X", "Skola", None, None, "0180", s.parent("Farsta"), None, STAMP))
    s.unit("U2", district=None, parent=skola)
    s.unit("U3", district=None, parent=s.parent("Utbildningsförvaltningen"))
    s.unit("U4", district=None)

    # Enrolments: the longer overlap with HT2025 wins; a cancelled one never counts; a fritidshem
    # enrolment (no school year) loses to the school one.
    ref = s.pupil("p-move", unit="U1", school_year=8, start=dt.date(2025, 8, 1), end=dt.date(2025, 9, 15))
    s.enrolment(ref, "U2", 8, dt.date(2025, 9, 16), dt.date(2026, 6, 30))
    s.enrolment(ref, "U3", 8, dt.date(2025, 8, 1), dt.date(2026, 6, 30), cancelled=True)
    ref = s.pupil("p-fritids", unit="U4", school_year=None, start=dt.date(2025, 1, 1), end=None,
                  )
    s.enrolment(ref, "U1", 7, dt.date(2025, 10, 1), dt.date(2025, 12, 1), school_type="GR")

    # Two source persons with one student_key: one of them protected.
    s.rows["staging.ss12000_person"].append(("ref-twin-a", "p-twin", "Man", 2011, False, STAMP))
    s.rows["staging.ss12000_person"].append(("ref-twin-b", "p-twin", "Man", 2011, True,
                                             STAMP + dt.timedelta(days=1)))

    # Attendance: a stale mid-term window and the full window for the same term; only the latest counts.
    ref = s.pupil("p-att")
    s.attendance(ref, "HT2025", 500, 50, 0, window=(dt.date(2025, 8, 18), dt.date(2025, 10, 1)))
    s.attendance(ref, "HT2025", 1000, 60, 40, activity=1)
    s.attendance(ref, "HT2025", 1000, 100, 0, activity=2)

    # Subjects of every kind, and one syllabus without a designation (never a subject).
    for d in ("MA", "sv", "SVA", "M1SPA", "M2FRA", "MLARA"):
        s.syllabus(d)
    s.rows["staging.ss12000_syllabus"].append(
        (_uuid("syllabus", "none"), None, None, "Utan beteckning", "GR", None, True, STAMP))

    # Enrollment: short overlap with HT2025 (2025-12-15..19 = 5 days), a historical district name.
    s.pupil("p-short")
    s.enroll("p-short", start=dt.date(2025, 12, 15), end=dt.date(2026, 1, 2), district="Järva",
             delivered="Spånga-Tensta")
    with fresh_warehouse(pg_admin_url) as url:
        s.flush(url)
        build.prepare(url, Settings())
        yield url


def test_dim_school_unit_district_from_the_nearest_forvaltning(core_url):
    got = dict(query(core_url, "SELECT school_unit_code, district FROM core.dim_school_unit"))
    # U1 sits under "Rinkeby-Kista stadsdelsförvaltning": a historical name, today's district Järva.
    # U2 sits under a Skola under Farsta. U3 under a Förvaltning that is no district. U4 has no parent.
    assert got == {"U1": "Järva", "U2": "Farsta", "U3": None, "U4": None}


def test_dim_subject_kinds_and_the_sv_sva_slot(core_url):
    got = {r[0]: (r[1], r[2]) for r in query(core_url, "SELECT subject_designation, kind, slot FROM core.dim_subject")}
    assert got == {
        "MA": ("ordinary", "MA"), "SV": ("ordinary", "SV/SVA"), "SVA": ("ordinary", "SV/SVA"),
        "M1SPA": ("moderna_sprak", "M1SPA"), "M2FRA": ("moderna_sprak", "M2FRA"),
        "MLARA": ("modersmal", "MLARA"),
    }


def test_dim_pupil_one_row_per_key_and_protected_if_any_record_is(core_url):
    rows = query(core_url, "SELECT sex, protected FROM core.dim_pupil WHERE student_key = 'p-twin'")
    assert rows == [("Man", True)]


def test_fact_pupil_term_takes_the_enrolment_with_most_overlap(core_url):
    got = {(r[0], r[1]): (r[2], r[3]) for r in query(
        core_url, "SELECT student_key, term, school_unit_code, school_year FROM core.fact_pupil_term")}
    # HT2025 is 2025-08-18..12-19: U1 overlaps 29 days (to 09-15), U2 95 days; the cancelled U3 never counts.
    assert got[("p-move", "HT2025")] == ("U2", 8)
    # The open fritidshem enrolment (no school year) overlaps more but the school enrolment wins.
    assert got[("p-fritids", "HT2025")] == ("U1", 7)
    assert got[("p-fritids", "VT2025")] == ("U4", None)


def test_fact_term_attendance_counts_only_the_latest_window(core_url):
    rows = query(core_url, """SELECT offered_minutes, valid_absence_minutes, invalid_absence_minutes
                                FROM core.fact_term_attendance WHERE student_key = 'p-att'""")
    # Full window: 1000 + 1000 offered, 60 + 100 valid, 40 + 0 invalid; the stale 500-minute window is ignored.
    assert rows == [(2000, 160, 40)]


def test_participation_overlap_threshold_and_district_mapping(core_url, pg_admin_url):
    rows = query(core_url, "SELECT term, district, overlap_days FROM core.fact_participation WHERE student_key = 'p-short'")
    # 2025-12-15..12-19 inside HT2025 = 5 days >= 1 (default); 2026-01-08..01-02 does not overlap VT2026.
    assert rows == [("HT2025", "Järva", 5)]
    with fresh_warehouse(pg_admin_url) as url:
        s = Staging()
        s.pupil("p-short")
        s.enroll("p-short", start=dt.date(2025, 12, 15), end=dt.date(2026, 1, 2))
        s.flush(url)
        build.prepare(url, Settings(participation_min_overlap_days=6))
        assert query(url, "SELECT count(*) FROM core.fact_participation") == [(0,)]
        assert query(url, "SELECT value FROM core.build_parameter WHERE name = 'participation_min_overlap_days'") == [("6",)]


def test_models_run_in_layer_then_numeric_order():
    names = [m.key for m in build.models()]
    assert names[0] == "core/005_analyze_staging.sql" and names[1] == "core/010_dim_term.sql"
    layers = [k.split("/")[0] for k in names]
    assert layers == sorted(layers, key=build.LAYERS.index)
    for layer in build.LAYERS:
        orders = [m.order for m in build.models() if m.layer == layer]
        assert orders == sorted(orders)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        build.build_parameters(Settings(absence_high=0.3, absence_very_high=0.2))
    with pytest.raises(ValueError):
        build.build_parameters(Settings(suppression_min_n=0))
