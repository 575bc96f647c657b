"""Erasure (DESIGN 4): samtycke = nej and erasure request lists remove a pupil from every schema, and later
loads drop them. Pupils, keys and refs here are synthetic."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

import enrollment_files as ef
from term_keys import term_key
from skolsam.enrollment.erasure import erase
from skolsam.enrollment.intake import ingest_file, ingest_landing
from skolsam.warehouse.connection import connect, transaction

pytestmark = pytest.mark.postgres
NOW = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)


def q(url: str, sql: str, params=()) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def seed_education(url: str, student_key: str, person_ref: str, n: int) -> None:
    """Rows about one pupil in staging (SS 12000), core and both mart schemas, as the other loads write them."""
    unit = uuid.UUID(int=n)
    with transaction(url) as conn:
        conn.execute("""INSERT INTO staging.ss12000_person (person_ref, student_key, sex, birth_year, protected,
                        modified_at) VALUES (%s, %s, 'Kvinna', 2012, false, %s)""", (person_ref, student_key, NOW))
        conn.execute("""INSERT INTO staging.ss12000_enrolment (person_ref, ordinal, school_unit_id, school_type,
                        school_year, start_date) VALUES (%s, 0, %s, 'GR', 7, '2025-08-18')""", (person_ref, unit))
        conn.execute("""INSERT INTO staging.ss12000_grade (id, person_ref, syllabus_id, grade_value, semester, year,
                        registered_date, modified_at) VALUES (%s, %s, %s, 'C', 'HT', 2025, '2025-12-15', %s)""",
                     (uuid.UUID(int=1000 + n), person_ref, uuid.UUID(int=99), NOW))
        conn.execute("""INSERT INTO staging.ss12000_attendance (person_ref, activity_id, term, window_start,
                        window_end, offered_minutes, attendance_minutes) VALUES
                        (%s, %s, 'HT2025', '2025-08-18', '2025-12-19', 1000, 900)""", (person_ref, unit))
        conn.execute("INSERT INTO core.dim_pupil (student_key, sex, birth_year, protected) VALUES "
                     "(%s, 'Kvinna', 2012, false)", (student_key,))
        for schema in ("mart", "mart_candidate"):
            conn.execute(f"""INSERT INTO {schema}.participant_term (student_key, programme, term, district, sex,
                             subjects_graded, subjects_passed, prev_term, absence_status, prev_absence_status)
                             VALUES (%s, 'PPSS', 'HT2025', 'Järva', 'Kvinna', 1, 1, 'VT2025', 'reported',
                                     'not_reported')""",
                         (term_key(student_key, "HT2025"),))  # the per-term pseudonym, as the build writes it


def everything_about(url: str, student_key: str, person_ref: str) -> dict[str, int]:
    """Rows in any table of any schema whose text columns hold the key or the ref."""
    found = {}
    with connect(url) as conn:
        cols = conn.execute("""SELECT table_schema, table_name, column_name FROM information_schema.columns
                               WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
                                 AND data_type IN ('text', 'character varying', 'jsonb', 'json')""").fetchall()
        for schema, table, col in cols:
            if (schema, table, col) == ("audit", "erased_key", "student_key") or \
                    (schema, table, col) == ("audit", "erased_ref", "person_ref"):
                continue
            n = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{col}"::text LIKE %s OR '
                             f'"{col}"::text LIKE %s OR "{col}"::text LIKE %s',
                             (f"%{student_key}%", f"%{person_ref}%",
                              f"%{term_key(student_key, 'HT2025')}%")).fetchone()[0]
            if n:
                found[f"{schema}.{table}.{col}"] = n
    return found


def test_consent_withdrawn_erases_everywhere_and_later_loads_drop_the_pupil(tmp_path, warehouse_url, pseudonymiser):
    k1, k2 = (pseudonymiser.key_for(ef.pnr(i))[0] for i in (1, 2))
    r1, r2 = (pseudonymiser.source_ref("person", f"synthetic-{i}") for i in (1, 2))
    seed_education(warehouse_url, k1, r1, 1)
    seed_education(warehouse_url, k2, r2, 2)
    first = ef.write(tmp_path, "a_2025-09.csv", [
        ef.row(1), ef.row(1, programme="SkolFam"), ef.row(2), ef.row(1),  # the last: duplicate_in_file, keyed
    ])
    ingest_file(str(first), warehouse_url, pseudonymiser)
    assert q(warehouse_url, "SELECT count(*) FROM audit.quarantine WHERE record_ref = %s", (k1,)) == [(1,)]

    second = ef.write(tmp_path, "b_2026-02.csv", [
        ef.row(3), ef.row(1, programme="KP/KF", consent="Nej"), ef.row(1, programme="PPSS", start="2026-01-12"),
    ], encoding="cp1252")
    s = ingest_file(str(second), warehouse_url, pseudonymiser)

    assert (s["status"], s["rows_read"], s["rows_loaded"], s["rows_quarantined"]) == ("loaded", 3, 1, 2)
    assert everything_about(warehouse_url, k1, r1) == {}
    assert q(warehouse_url, "SELECT student_key, reason FROM audit.erased_key") == [(k1, "consent_withdrawn")]
    assert q(warehouse_url, "SELECT person_ref FROM audit.erased_ref") == [(r1,)]
    (reason, removed), = q(warehouse_url, "SELECT reason, rows_removed FROM audit.erasure")
    assert reason == "consent_withdrawn"
    assert {t: n for t, n in removed.items() if n} == {
        "staging.enrollment": 2, "staging.ss12000_person": 1, "staging.ss12000_enrolment": 1,
        "staging.ss12000_grade": 1, "staging.ss12000_attendance": 1, "core.dim_pupil": 1,
        "mart.participant_term": 1, "mart_candidate.participant_term": 1,
    }
    assert q(warehouse_url, "SELECT record_ref FROM audit.quarantine WHERE entity = 'a_2025-09.csv'") == [(None,)]
    assert "core.fact_grade" in removed  # every keyed table is checked, emptied or not
    assert q(warehouse_url, "SELECT rows_deleted FROM audit.load_run WHERE entity = 'b_2026-02.csv'") == [(9,)]
    assert q(warehouse_url, """SELECT row_number, reason_code, record_ref FROM audit.quarantine
                               WHERE entity = 'b_2026-02.csv' ORDER BY 1""") == [
        (2, "consent_withdrawn", None), (3, "erased", None)]
    # The other pupils are untouched.
    assert sorted(r[0] for r in q(warehouse_url, "SELECT student_key FROM staging.enrollment")) == sorted(
        [k2, pseudonymiser.key_for(ef.pnr(3))[0]])
    assert len(everything_about(warehouse_url, k2, r2)) >= 9

    # A later list naming the pupil again: dropped at the door.
    third = ef.write(tmp_path, "c_2026-06_avslut.csv", [ef.row(1, end="2026-06-12"), ef.row(2, end="2026-06-12")])
    s3 = ingest_file(str(third), warehouse_url, pseudonymiser)
    assert (s3["rows_loaded"], s3["rows_quarantined"], s3["reasons"]) == (1, 1, {"erased": 1})
    assert everything_about(warehouse_url, k1, r1) == {}


def test_erasure_request_file(tmp_path, warehouse_url, pseudonymiser):
    landing = tmp_path / "landing"
    k4, k5, k6 = (pseudonymiser.key_for(ef.pnr(i))[0] for i in (4, 5, 6))
    ef.write(landing, "ppss_2025-09.csv", [ef.row(4), ef.row(5), ef.row(4, programme="SkolFam")])
    ingest_landing(str(landing), warehouse_url, pseudonymiser)

    ef.erasure_request(landing, "radering_2026-02-26.csv",
                       [ef.pnr(4, form="12dash"), ef.bad_checksum(ef.pnr(7)), ef.pnr(6, form="12")], encoding="cp1252")
    summary = ingest_landing(str(landing), warehouse_url, pseudonymiser)

    (f,) = summary["files"]
    assert (f["kind"], f["status"], f["rows_read"], f["rows_loaded"], f["rows_quarantined"], f["rows_erased"]) == (
        "erasure", "loaded", 3, 2, 1, 2)
    assert summary["changed"]
    assert q(warehouse_url, "SELECT student_key FROM staging.enrollment") == [(k5,)]
    assert sorted(q(warehouse_url, "SELECT student_key, reason FROM audit.erased_key")) == sorted(
        [(k4, "erasure_request"), (k6, "erasure_request")])
    (reason, removed), = q(warehouse_url, "SELECT reason, rows_removed FROM audit.erasure")
    assert reason == "erasure_request" and removed["staging.enrollment"] == 2
    assert q(warehouse_url, "SELECT row_number, reason_code, record_ref FROM audit.quarantine "
                            "WHERE entity LIKE 'radering%%'") == [(2, "pnr_checksum", None)]
    assert (landing / "archive" / "radering_2026-02-26.csv").exists()
    # Pupil 6 was never loaded, but is now refused too.
    ef.write(landing, "kpkf_2026-03.csv", [ef.row(6, programme="KP/KF")])
    later = ingest_landing(str(landing), warehouse_url, pseudonymiser)
    assert later["files"][0]["reasons"] == {"erased": 1}


def test_erase_finds_every_keyed_table(warehouse_url):
    key, ref = "k" * 64, "r" * 32
    with transaction(warehouse_url) as conn:
        conn.execute("CREATE TABLE mart_candidate.extra (student_key text, value int)")
        conn.execute("CREATE TABLE core.by_ref (person_ref text, value int)")
        conn.execute("INSERT INTO mart_candidate.extra VALUES (%s, 1), (%s, 2), ('other', 3)", (key, key))
        conn.execute("INSERT INTO core.by_ref VALUES (%s, 1), ('other', 2)", (ref,))
        conn.execute("""INSERT INTO staging.ss12000_person (person_ref, student_key, sex, protected, modified_at)
                        VALUES (%s, %s, 'Man', false, now())""", (ref, key))
    with transaction(warehouse_url) as conn:
        assert erase(conn, [], "erasure_request") == {}
        with pytest.raises(ValueError):
            erase(conn, [key], "because")
        removed = erase(conn, [key, key], "erasure_request")
    assert {t: n for t, n in removed.items() if n} == {
        "mart_candidate.extra": 2, "core.by_ref": 1, "staging.ss12000_person": 1}
    assert q(warehouse_url, "SELECT count(*) FROM mart_candidate.extra") == [(1,)]
    assert q(warehouse_url, "SELECT count(*) FROM core.by_ref") == [(1,)]
    assert q(warehouse_url, "SELECT count(*) FROM audit.erasure") == [(1,)]
    assert q(warehouse_url, "SELECT person_ref FROM audit.erased_ref") == [(ref,)]
