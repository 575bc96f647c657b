"""Quality gates on real PostgreSQL: broken data stops the pipeline, warnings pass, clean data passes.

``QualityData`` fills the staging tables and the candidate marts with a small, consistent dataset by hand
(synthetic pseudonyms: student keys are SHA-256 of a label, person refs HMACs of a label); each test then
breaks it in one way. The mart tables come from migration 005; ``ensure_mart_tables`` creates them with the
DESIGN 5 columns should that migration be missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import re

import pytest

from skolsam import identity
from skolsam.pseudonym import Pseudonymiser
from skolsam.quality import privacy
from skolsam.quality.gate import QualityGateFailed, mart_gate, run_gate, staging_gate
from skolsam.quality.suites import ALL_SUITES
from skolsam.warehouse import connection

pytestmark = pytest.mark.postgres

AS_OF = dt.date(2026, 1, 20)          # HT2025 is over (and fresh); nothing registered after it
HT2025 = (dt.date(2025, 8, 18), dt.date(2025, 12, 19))
STAMP = dt.datetime(2025, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
UNIT_ID = "6f0c64a4-3c3e-4d0f-9a39-4a3c8d1b0001"
SYLLABI = {"SV": "6f0c64a4-3c3e-4d0f-9a39-4a3c8d1b0101", "EN": "6f0c64a4-3c3e-4d0f-9a39-4a3c8d1b0102",
           "MA": "6f0c64a4-3c3e-4d0f-9a39-4a3c8d1b0103"}
# Per pupil: grades SV, EN, MA; 11 participants (PPSS, Järva) and one comparison pupil.
GRADES = ["ABC", "BCE", "CDF", "EEE", "AAB", "FFE", "BBB", "CCD", "DEF", "ABE", "CCC", "EEF"]
POINTS = {"A": 20.0, "B": 17.5, "C": 15.0, "D": 12.5, "E": 10.0, "F": 0.0, "-": 0.0}
N_PARTICIPANTS = 11

PARTICIPANT_COLUMNS = (
    "student_key", "programme", "term", "district", "school_unit_code", "school_year", "sex",
    "subjects_graded", "subjects_passed", "share_passed", "merit_value",
    "eligible_vocational", "eligible_hp_ek_hu_sa", "eligible_hp_na_te", "eligible_hp_es",
    "offered_minutes", "attended_minutes", "valid_absence_minutes", "invalid_absence_minutes",
    "absence_rate", "invalid_absence_rate", "absence_band",
    "prev_term", "prev_share_passed", "share_passed_change", "prev_merit_value", "merit_value_change",
    "prev_absence_rate", "absence_rate_change", "absence_status", "prev_absence_status",
)
GROUP_COLUMNS = (
    "term", "population", "programme", "district", "sex", "school_year",
    "n_students", "share_passed_mean", "improved_share", "merit_value_mean", "eligible_vocational_share",
    "absence_rate_mean", "high_absence_share", "very_high_absence_share", "suppressed", "absence_status",
)
_MART_DDL = """
CREATE SCHEMA IF NOT EXISTS mart;
CREATE SCHEMA IF NOT EXISTS mart_candidate;
CREATE TABLE IF NOT EXISTS {schema}.participant_term (
    student_key text NOT NULL, programme text NOT NULL, term text NOT NULL, district text NOT NULL,
    school_unit_code text, school_year integer, sex text NOT NULL,
    subjects_graded integer NOT NULL, subjects_passed integer NOT NULL, share_passed double precision,
    merit_value numeric(4, 1), eligible_vocational boolean, eligible_hp_ek_hu_sa boolean,
    eligible_hp_na_te boolean, eligible_hp_es boolean, offered_minutes bigint, attended_minutes bigint,
    valid_absence_minutes bigint, invalid_absence_minutes bigint, absence_rate double precision,
    invalid_absence_rate double precision, absence_band text, prev_term text NOT NULL,
    prev_share_passed double precision, share_passed_change double precision, prev_merit_value numeric(4, 1),
    merit_value_change numeric(4, 1), prev_absence_rate double precision, absence_rate_change double precision,
    absence_status text NOT NULL, prev_absence_status text NOT NULL,
    PRIMARY KEY (term, programme, student_key));
CREATE TABLE IF NOT EXISTS {schema}.group_term (
    term text NOT NULL, population text NOT NULL, programme text NOT NULL, district text NOT NULL,
    sex text NOT NULL, school_year text NOT NULL, n_students integer, share_passed_mean double precision,
    improved_share double precision, merit_value_mean double precision,
    eligible_vocational_share double precision, absence_rate_mean double precision,
    high_absence_share double precision, very_high_absence_share double precision, suppressed boolean NOT NULL,
    absence_status text NOT NULL, PRIMARY KEY (term, population, programme, district, sex, school_year));
"""


def ensure_mart_tables(url: str) -> None:
    """The mart tables with the DESIGN 5 columns, unless a migration made them already."""
    with connection.transaction(url) as conn:
        for schema in ("mart", "mart_candidate"):
            conn.execute(_MART_DDL.format(schema=schema))


def student_key(label: str) -> str:
    return hashlib.sha256(f"skolsam-quality-test:{label}".encode()).hexdigest()


def synthetic_personnummer(day: int = 15) -> str:
    """A made-up 12-digit number with a valid check digit (built with the identity helpers)."""
    nine = f"1203{day:02d}987"  # YYMMDDNNN
    return f"20{nine}{identity.luhn_check_digit(nine)}"


class QualityData:
    """A small consistent warehouse: staging rows and candidate marts for HT2025."""

    def __init__(self, url: str, pseudonymiser: Pseudonymiser):
        self.url = url
        self.keys = [student_key(f"pupil-{i}") for i in range(len(GRADES))]
        self.refs = [pseudonymiser.source_ref("person", f"pupil-{i}") for i in range(len(GRADES))]

    def sex(self, i: int) -> str:
        return "Kvinna" if i % 2 == 0 else "Man"

    def load(self) -> "QualityData":
        ensure_mart_tables(self.url)
        with connection.transaction(self.url) as conn:
            conn.execute(
                """INSERT INTO staging.ss12000_organisation (id, display_name, organisation_type, school_unit_code,
                                                          municipality_code, modified_at)
                   VALUES (%s, 'Skola U1', 'Skolenhet', '12345678', '0180', %s)""", (UNIT_ID, STAMP))
            for subject, sid in SYLLABI.items():
                conn.execute(
                    """INSERT INTO staging.ss12000_syllabus (id, subject_designation, subject_name, school_type,
                                                           official, modified_at)
                       VALUES (%s, %s, %s, 'GR', true, %s)""", (sid, subject, f"Ämne {subject}", STAMP))
            for i, (key, ref) in enumerate(zip(self.keys, self.refs)):
                conn.execute(
                    """INSERT INTO staging.ss12000_person (person_ref, student_key, sex, birth_year, protected, modified_at)
                       VALUES (%s, %s, %s, 2010, false, %s)""", (ref, key, self.sex(i), STAMP))
                conn.execute(
                    """INSERT INTO staging.ss12000_enrolment (person_ref, ordinal, school_unit_id, school_type,
                                                            school_year, start_date, end_date)
                       VALUES (%s, 0, %s, 'GR', 9, DATE '2025-08-01', DATE '2026-06-30')""", (ref, UNIT_ID))
                for n, (subject, value) in enumerate(zip(SYLLABI, GRADES[i])):
                    conn.execute(
                        """INSERT INTO staging.ss12000_grade (id, person_ref, syllabus_id, grade_value, semester, year,
                                                            registered_date, modified_at)
                           VALUES (gen_random_uuid(), %s, %s, %s, 'HT', 2025, DATE '2025-12-10', %s)""",
                        (ref, SYLLABI[subject], value, STAMP + dt.timedelta(minutes=n)))
                conn.execute(
                    """INSERT INTO staging.ss12000_attendance (person_ref, activity_id, term, window_start, window_end,
                                                             offered_minutes, attendance_minutes,
                                                             valid_absence_minutes, invalid_absence_minutes)
                       VALUES (%s, gen_random_uuid(), 'HT2025', %s, %s, 1000, 930, 50, 20)""", (ref, *HT2025))
                if i < N_PARTICIPANTS:
                    conn.execute(
                        """INSERT INTO staging.enrollment (student_key, programme, start_date, end_date,
                                                         district_delivered, district, school_unit_code,
                                                         file_checksum, source_row)
                           VALUES (%s, 'PPSS', DATE '2025-09-01', NULL, 'Rinkeby-Kista', 'Järva', '12345678',
                                   'test-file', %s)""", (key, i + 1))
                    self.insert_participant(conn, "mart_candidate", i)
            self.insert_groups(conn, "mart_candidate")
        return self

    def participant_row(self, i: int, key: str | None = None) -> tuple:
        grades = GRADES[i]
        passed = sum(1 for g in grades if g in "ABCDE")
        merit = sum(POINTS[g] for g in grades)
        return (key or self.keys[i], "PPSS", "HT2025", "Järva", "12345678", 9, self.sex(i),
                3, passed, passed / 3, merit, False, False, False, False,
                1000, 930, 50, 20, 0.07, 0.02, "<10%",
                "VT2025", None, None, None, None, None, None, "reported", "not_reported")

    def insert_participant(self, conn, schema: str, i: int, key: str | None = None) -> None:
        cols = ", ".join(PARTICIPANT_COLUMNS)
        marks = ", ".join(["%s"] * len(PARTICIPANT_COLUMNS))
        conn.execute(f"INSERT INTO {schema}.participant_term ({cols}) VALUES ({marks})", self.participant_row(i, key))

    def insert_groups(self, conn, schema: str) -> None:
        """A small cube: the totals by sex are shown (11 pupils), each sex alone is suppressed (6 and 5)."""
        cols = ", ".join(GROUP_COLUMNS)
        marks = ", ".join(["%s"] * len(GROUP_COLUMNS))
        for population in ("participants", "comparison"):
            for programme in ("PPSS", "ALL"):
                for district in ("Järva", "ALL"):
                    for year in ("9", "ALL"):
                        for sex in ("Kvinna", "Man", "ALL"):
                            if sex == "ALL":
                                row = (N_PARTICIPANTS, 0.6, None, 150.0, 0.3, 0.07, 0.0, 0.0, False, "reported")
                            else:
                                row = (None,) * 8 + (True, "reported")
                            conn.execute(f"INSERT INTO {schema}.group_term ({cols}) VALUES ({marks})",
                                         ("HT2025", population, programme, district, sex, year, *row))

    def execute(self, stmt: str, params: tuple | None = None) -> None:
        with connection.transaction(self.url) as conn:
            conn.execute(stmt, params)


def dq_rows(url: str) -> list[tuple]:
    with connection.connect(url) as conn:
        return conn.execute(
            """SELECT suite, table_name, expectation, severity, success, observed_value, unexpected_count, run_id
               FROM audit.dq_result ORDER BY dq_result_id""").fetchall()


def assert_no_personal_data(text: str, data: QualityData, *extra: str) -> None:
    for secret in (*data.keys, *data.refs, *extra):
        assert secret not in text
    assert not privacy.findings(text), privacy.findings(text)


def dq_blocks(out: str) -> list[tuple[str, list[str]]]:
    """``skolsam dq`` output as (table, [status of each check line]) in printed order."""
    blocks: list[tuple[str, list[str]]] = []
    for line in out.splitlines():
        if line.startswith("  ") and blocks:
            blocks[-1][1].append(line.split()[0])
        elif line and not line.startswith(("  ", "Quality gate", "Data Docs")):
            blocks.append((line.split()[0], []))
    return blocks


def run_dq_command(url: str, capsys, **kw) -> tuple[int, str]:
    from skolsam.commands import dq

    args = argparse.Namespace(latest=True, suite=None, failed_only=False, warehouse_url=url)
    for k, v in kw.items():
        setattr(args, k, v)
    code = dq.run(args)
    return code, capsys.readouterr().out


@pytest.fixture
def data(warehouse_url, pseudonymiser) -> QualityData:
    return QualityData(warehouse_url, pseudonymiser).load()


def test_clean_data_passes_every_suite(data):
    result = run_gate(data.url, list(ALL_SUITES), schema_overrides={"mart": "mart_candidate"}, as_of=AS_OF)
    failed = [c.describe() for c in result.checks if not c.success]
    assert failed == []
    assert result.passed and not result.warnings
    assert set(result.suites) == set(ALL_SUITES)
    assert result.suites["mart_group_term"] == "mart_candidate.group_term"
    rows = dq_rows(data.url)
    assert len(rows) == len(result.checks) > 100
    assert all(r[4] for r in rows) and {r[7] for r in rows} == {result.run_id}
    with connection.connect(data.url) as conn:
        status, rows_read = conn.execute(
            "SELECT status, rows_read FROM audit.load_run WHERE run_id = %s", (result.run_id,)).fetchone()
    assert (status, rows_read) == ("success", len(result.checks))
    summary = result.summary()
    assert summary["passed"] and summary["critical_failures"] == [] and summary["checks"] == len(rows)


def test_broken_staging_stops_with_suite_check_and_observed_value(data, capsys):
    pnr = synthetic_personnummer()
    # An unknown grade value, negative minutes, and a raw personnummer where a student_key belongs.
    data.execute("UPDATE staging.ss12000_grade SET grade_value = 'X' WHERE person_ref = %s AND syllabus_id = %s",
                 (data.refs[3], SYLLABI["MA"]))
    data.execute("UPDATE staging.ss12000_attendance SET valid_absence_minutes = -5 WHERE person_ref = %s",
                 (data.refs[4],))
    data.execute("UPDATE staging.ss12000_person SET student_key = %s WHERE person_ref = %s", (pnr, data.refs[5]))

    with pytest.raises(QualityGateFailed) as caught:
        staging_gate(data.url, as_of=AS_OF, run_id=None)
    message = str(caught.value)
    assert "staging_ss12000_grade (staging.ss12000_grade) grade_value_known" in message
    assert "1 of 36 rows unexpected" in message and "'X' x1" in message
    assert "staging_ss12000_attendance (staging.ss12000_attendance) valid_absence_minutes_non_negative" in message
    assert "1 of 12 rows unexpected" in message and "-5" in message
    assert "staging_ss12000_person (staging.ss12000_person) student_key_well_formed" in message
    assert_no_personal_data(message, data, pnr)

    failed = {(r[0], r[2].split(":")[0]): r for r in dq_rows(data.url) if not r[4]}
    assert set(failed) == {("staging_ss12000_grade", "grade_value_known"),
                           ("staging_ss12000_attendance", "valid_absence_minutes_non_negative"),
                           ("staging_ss12000_person", "student_key_well_formed")}
    grade = failed[("staging_ss12000_grade", "grade_value_known")]
    assert grade[1:4] == ("staging.ss12000_grade", "grade_value_known: expect_column_values_to_be_in_set(grade_value)",
                          "critical")
    assert grade[6] == 1 and "'X'" in grade[5]
    key_check = failed[("staging_ss12000_person", "student_key_well_formed")]
    assert key_check[5] == "1 of 12 rows unexpected (8.33%)"      # a count, never the value
    assert_no_personal_data(repr(dq_rows(data.url)), data, pnr)
    assert caught.value.result.run_id is not None

    code, out = run_dq_command(data.url, capsys)
    assert code == 1
    assert "FAILED" in out.splitlines()[0]
    blocks = dq_blocks(out)
    rank = {"FAIL": 0, "WARN": 1, "ok": 2}
    for table, statuses in blocks:
        assert statuses == sorted(statuses, key=rank.__getitem__), table      # failing checks first
    assert blocks[0][1][0] == "FAIL"                                          # tables with failures first
    assert {t for t, st in blocks if "FAIL" in st} == {"staging.ss12000_grade", "staging.ss12000_attendance",
                                                       "staging.ss12000_person"}
    grade_lines = [line for line in out.splitlines() if "grade_value_known" in line]
    assert grade_lines[0].split()[:2] == ["FAIL", "critical"] and "'X'" in grade_lines[0]
    assert_no_personal_data(out, data, pnr)


def test_broken_mart_candidate_stops_and_names_the_check(data):
    # A share above 1 and a duplicated pupil. The candidate table's primary key would refuse the duplicate,
    # so it is dropped here: the gate must catch what a build without that constraint would let through.
    data.execute("ALTER TABLE mart_candidate.participant_term DROP CONSTRAINT IF EXISTS participant_term_pkey")
    data.execute("UPDATE mart_candidate.participant_term SET share_passed = 1.5 WHERE student_key = %s",
                 (data.keys[0],))
    with connection.transaction(data.url) as conn:
        data.insert_participant(conn, "mart_candidate", 2)

    with pytest.raises(QualityGateFailed) as caught:
        mart_gate(data.url, "mart_candidate", as_of=AS_OF)
    message = str(caught.value)
    assert "mart_participant_term (mart_candidate.participant_term) share_passed_is_share" in message
    assert "1 of 12 rows unexpected" in message and "1.5" in message
    assert "one_row_per_pupil_programme_term" in message and "2 of 12 rows unexpected" in message
    assert_no_personal_data(message, data)

    rows = dq_rows(data.url)
    assert {r[1] for r in rows} == {"mart_candidate.participant_term", "mart_candidate.group_term",
                                    "mart_candidate.target_group", "mart_candidate.programme_effect",
                                    "core.fact_participation"}
    dup = [r for r in rows if r[2].startswith("one_row_per_pupil_programme_term")]
    assert dup and dup[0][4] is False and dup[0][6] == 2 and dup[0][3] == "critical"
    assert_no_personal_data(repr(rows), data)
    # the published mart was not touched, and validating it passes its critical checks
    assert mart_gate(data.url, "mart", as_of=AS_OF).passed


def test_warnings_are_recorded_and_let_through(data, capsys):
    # The published mart holds 30 rows for HT2025; the candidate's 11 are outside the 50 % band (warning).
    with connection.transaction(data.url) as conn:
        for n in range(30):
            data.insert_participant(conn, "mart", n % N_PARTICIPANTS, key=student_key(f"published-{n}"))
    # A school unit code that is not 8 digits (warning).
    data.execute("UPDATE staging.enrollment SET school_unit_code = '1234' WHERE student_key = %s", (data.keys[0],))

    result = run_gate(data.url, ["staging_enrollment", "mart_participant_term"],
                      schema_overrides={"mart_participant_term": "mart_candidate"}, as_of=AS_OF)
    assert result.passed
    warned = {(c.suite, c.check): c for c in result.warnings}
    assert set(warned) == {("staging_enrollment", "school_unit_code_well_formed"),
                           ("mart_participant_term", "row_count_within_band")}
    assert warned[("mart_participant_term", "row_count_within_band")].observed_value == "1 unexpected row"
    assert "'1234'" in warned[("staging_enrollment", "school_unit_code_well_formed")].observed_value
    recorded = [r for r in dq_rows(data.url) if not r[4]]
    assert sorted(r[3] for r in recorded) == ["warning", "warning"]

    code, out = run_dq_command(data.url, capsys)
    assert code == 0
    assert "passed" in out.splitlines()[0] and "2 warning(s)" in out.splitlines()[0]
    assert sum(1 for line in out.splitlines() if line.startswith("  WARN")) == 2

    code, out = run_dq_command(data.url, capsys, failed_only=True, suite="staging_enrollment")
    assert code == 0 and "school_unit_code_well_formed" in out and "  ok" not in out


def test_a_missing_table_fails_the_gate(data):
    with pytest.raises(QualityGateFailed) as caught:
        run_gate(data.url, "mart_group_term", schema_overrides={"mart": "no_such_schema"},
                 as_of=AS_OF, build_data_docs=False)
    [check] = caught.value.result.checks
    assert check.check == "table_available" and check.severity == "critical"
    assert re.search(r"mart_group_term \(no_such_schema\.group_term\) table_available", str(caught.value))
