"""SS 12000 extraction into staging, against the stand-in server and a real PostgreSQL.

The expectations are read independently from the dataset files (tests/ss12000_fixtures.py), and every
run is compared with them: counts, each grade's values, each person's keys, the attendance window sums.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from ss12000_fixtures import (  # noqa: F401 (dataset, server: fixtures)
    HT2025, VT2026, api_config, broken_checksum, dataset, read_entity, read_jsonl, rows, server, uid, window_sums,
    write_jsonl,
)

from skolsam.ss12000 import extract as ex
from skolsam.ss12000 import pipeline
from skolsam.warehouse import bulk
from skolsam.ss12000.extract import ENTITIES, ApiConfig, ExtractError, extract_entity
from skolsam.standin.running import running_server
from skolsam.warehouse.connection import connect

pytestmark = pytest.mark.postgres
TERMS = ["HT2025", "VT2026"]
STAGING = ("ss12000_organisation", "ss12000_syllabus", "ss12000_person", "ss12000_enrolment", "ss12000_grade",
           "ss12000_attendance", "ss12000_deleted")


def _api(url: str, page_size: int = 40, **kw) -> ApiConfig:
    return api_config(url, page_size, **{"max_attempts": 10, **kw})


def _extract_all(url, api, pseudonymiser, **kw) -> dict[str, dict]:
    return {e: extract_entity(e, url, api, pseudonymiser, terms=TERMS, **kw) for e in ENTITIES}


_rows = rows


def _snapshot(url: str) -> dict[str, list]:
    """Every staging table's rows, without run ids and load times, sorted."""
    out = {}
    with connect(url) as conn:
        for table in STAGING:
            cols = [r[0] for r in conn.execute(
                """SELECT column_name FROM information_schema.columns WHERE table_schema = 'staging'
                    AND table_name = %s AND column_name NOT IN ('run_id', 'seen_at') ORDER BY ordinal_position""",
                (table,))]
            out[table] = sorted(conn.execute(f"SELECT {', '.join(cols)} FROM staging.{table}").fetchall(), key=repr)
    return out


def _all_text(url: str) -> str:
    with connect(url) as conn:
        tables = conn.execute(
            """SELECT table_schema, table_name FROM information_schema.tables
                WHERE table_schema IN ('staging', 'audit', 'core', 'mart') AND table_type = 'BASE TABLE'""").fetchall()
        return "\n".join(r[0] for s, t in tables for r in conn.execute(f'SELECT x::text FROM "{s}"."{t}" x'))


# --------------------------------------------------------------------------------------------------------
def test_full_extract_equals_the_dataset(warehouse_url, server, dataset, pseudonymiser):
    summaries = _extract_all(warehouse_url, _api(server), pseudonymiser)
    grades = read_entity(dataset, "grades")
    persons = read_entity(dataset, "persons")
    deleted = read_entity(dataset, "deletedEntities")
    assert {e: s["rows_loaded"] for e, s in summaries.items()} == {
        "organisations": 4, "syllabuses": 4, "persons": 24, "grades": len(grades), "deletedEntities": len(deleted),
        "aggregatedAttendance": sum(len(window_sums(dataset, *w)) for w in (HT2025, VT2026)),
    }
    assert all(s["rows_quarantined"] == 0 and s["status"] == "success" for s in summaries.values())

    ref = lambda pid: pseudonymiser.source_ref("person", pid)  # noqa: E731
    got = {str(r[0]): r[1:] for r in _rows(warehouse_url,
           """SELECT id, person_ref, organisation_id::text, syllabus_id::text, grade_value, semester, year,
                     registered_date::text, correction_type, trial, final_grade FROM staging.ss12000_grade""")}
    assert got == {g["id"]: (ref(g["student"]["id"]), g["organisation"]["id"], g["syllabus"]["id"], g["gradeValue"],
                             g["semester"], g["year"], g["registeredDate"], g.get("correctionType"), g["trial"],
                             g["finalGrade"]) for g in grades}

    people = {r[0]: r[1:] for r in _rows(warehouse_url,
              "SELECT person_ref, student_key, sex, birth_year, protected FROM staging.ss12000_person")}
    expected_people = {}
    for p in persons:
        key, ident = pseudonymiser.key_for(p["civicNo"]["value"])
        expected_people[ref(p["id"])] = (key, p["sex"], ident.birth_year, p["securityMarking"] != "Ingen")
    assert people == expected_people
    enrolments = _rows(warehouse_url, "SELECT person_ref, school_unit_id::text, school_year, start_date::text "
                                      "FROM staging.ss12000_enrolment")
    assert sorted(enrolments) == sorted(
        (ref(p["id"]), e["enroledAt"]["id"], e["schoolYear"], e["startDate"]) for p in persons for e in p["enrolments"])

    for term, (start, end) in zip(TERMS, (HT2025, VT2026)):
        rows = _rows(warehouse_url,
                     """SELECT person_ref, activity_id::text, window_start::text, window_end::text, offered_minutes,
                               attendance_minutes, valid_absence_minutes, invalid_absence_minutes
                          FROM staging.ss12000_attendance WHERE term = %s""", (term,))
        expected = window_sums(dataset, start, end)
        assert {(r[0], r[1]): (r[2], r[3], *r[4:]) for r in rows} == {
            (ref(s), a): (start, end, v["offeredSum"], v["attendanceSum"], v["validAbsenceSum"], v["invalidAbsenceSum"])
            for (s, a), v in expected.items()}

    assert sorted(str(r[0]) for r in _rows(warehouse_url, "SELECT id FROM staging.ss12000_deleted")) == \
        sorted(d["id"] for d in deleted)
    runs = _rows(warehouse_url, "SELECT entity, status, rows_read, rows_loaded FROM audit.load_run ORDER BY run_id")
    assert [(r[0], r[1]) for r in runs] == [(e, "success") for e in ENTITIES]
    marks = dict(_rows(warehouse_url, "SELECT entity, watermark FROM audit.watermark WHERE source = 'ss12000'"))
    assert set(marks) == set(ENTITIES)
    newest = max(dt.datetime.fromisoformat(g["meta"]["modified"]) for g in grades)
    assert dt.datetime.fromisoformat(marks["grades"]) == newest

    # Privacy: no civic number, source person id or name anywhere in the warehouse.
    text = _all_text(warehouse_url)
    for p in persons:
        civic = p["civicNo"]["value"]
        assert civic not in text and civic[2:] not in text and p["id"] not in text and p["familyName"] not in text
    assert not re.search(r"(?<![0-9a-f])(19|20)\d{10}(?![0-9a-f])", text)


def test_second_run_loads_nothing_new(warehouse_url, server, pseudonymiser):
    api = _api(server)
    _extract_all(warehouse_url, api, pseudonymiser)
    before = _snapshot(warehouse_url)
    again = _extract_all(warehouse_url, api, pseudonymiser)
    assert {e: s["rows_loaded"] for e, s in again.items()} == dict.fromkeys(ENTITIES, 0)
    assert all(again[e]["rows_read"] == 0 for e in ("organisations", "syllabuses", "persons", "grades",
                                                   "deletedEntities"))
    assert again["deletedEntities"]["rows_deleted"] == 0 and again["aggregatedAttendance"]["rows_deleted"] == 0
    assert _snapshot(warehouse_url) == before


def test_changed_and_deleted_grades_arrive_on_the_next_run(warehouse_url, server, dataset, pseudonymiser):
    api = _api(server)
    _extract_all(warehouse_url, api, pseudonymiser)
    path = dataset / "ss12000" / "grades.jsonl"
    grades = read_jsonl(path)
    changed, gone = grades[7], grades[8]
    changed["gradeValue"] = "A" if changed["gradeValue"] != "A" else "E"
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    changed["meta"]["modified"] = now.isoformat()
    write_jsonl(path, grades)
    deletions = dataset / "ss12000" / "deletedEntities.jsonl"
    write_jsonl(deletions, read_jsonl(deletions) + [{"entity": "grades", "id": gone["id"], "deletedAt": now.isoformat()}])

    g = extract_entity("grades", warehouse_url, api, pseudonymiser)
    d = extract_entity("deletedEntities", warehouse_url, api, pseudonymiser)
    assert (g["rows_read"], g["rows_loaded"]) == (1, 1)
    assert dt.datetime.fromisoformat(g["watermark"]) == now
    assert (d["rows_read"], d["rows_loaded"], d["rows_deleted"]) == (1, 1, 1)
    values = dict((str(i), v) for i, v in _rows(warehouse_url, "SELECT id, grade_value FROM staging.ss12000_grade"))
    assert values[changed["id"]] == changed["gradeValue"] and gone["id"] not in values
    assert len(values) == len(grades) - 1
    # A later full refresh cannot bring the deleted grade back, although the source still lists it.
    full = extract_entity("grades", warehouse_url, api, pseudonymiser, full_refresh=True)
    assert full["rows_read"] == len(grades) and full["rows_skipped_deleted"] == 1
    assert gone["id"] not in {str(r[0]) for r in _rows(warehouse_url, "SELECT id FROM staging.ss12000_grade")}


def test_faulty_server_gives_the_same_staging_as_a_clean_one(warehouse_url, server, pseudonymiser, monkeypatch):
    """20 % of answers fail (429, 500, dropped connections, slow and cut bodies). The faulty run also takes
    the other code paths (dict parsing, temp table and upsert); the clean one the typed decoder and bulk load."""
    server.faults.configure(rate=0.2, kinds=("429", "500", "drop", "slow", "corrupt"), seed=11, retry_after=0,
                            slow_seconds=0.01)
    with monkeypatch.context() as m:
        m.setattr(pipeline, "USE_TYPED_DECODERS", False)
        m.setattr(bulk.BulkTarget, "possible", staticmethod(lambda conn, table: False))
        faulty = _extract_all(warehouse_url, _api(server, page_size=5), pseudonymiser)
    injected = dict(server.faults.injected)
    assert sum(injected.values()) >= 10 and {"429", "500", "drop"} <= set(injected)
    assert sum(s["retries"] for s in faulty.values()) >= sum(injected.values()) - injected.get("slow", 0)
    assert not any(s.get("bulk") for s in faulty.values())
    with_faults = _snapshot(warehouse_url)

    server.faults.configure(rate=0)
    clean = _extract_all(warehouse_url, _api(server, page_size=1000), pseudonymiser, full_refresh=True)
    assert clean["grades"]["bulk"] and clean["aggregatedAttendance"]["bulk"]
    assert all(s["retries"] == 0 for s in clean.values())
    assert _snapshot(warehouse_url) == with_faults
    assert {e: s["rows_read"] for e, s in faulty.items()} == {e: s["rows_read"] for e, s in clean.items()}


def test_schema_breaking_records_are_quarantined_and_the_rest_loads(warehouse_url, server, dataset, pseudonymiser):
    folder = dataset / "ss12000"
    grades = read_jsonl(folder / "grades.jsonl")
    grades[0]["gradeValue"] = "G"
    del grades[1]["student"]
    grades[2]["registeredDate"] = "2025-13-45"  # passes the quick checks; PostgreSQL refuses it
    grades[3]["id"] = "not-a-uuid"
    write_jsonl(folder / "grades.jsonl", grades)
    persons = read_jsonl(folder / "persons.jsonl")
    persons[0]["civicNo"]["value"] = broken_checksum(persons[0]["civicNo"]["value"])
    persons[1]["civicNo"]["value"] = "abc-def"
    persons[2]["sex"] = "X"  # kept, as Okänt (issue 11: persons as schools register them)
    write_jsonl(folder / "persons.jsonl", persons)

    summaries = _extract_all(warehouse_url, _api(server, page_size=50), pseudonymiser)
    assert summaries["grades"]["rows_quarantined"] == 4 and summaries["persons"]["rows_quarantined"] == 2
    assert summaries["grades"]["fallback_pages"] >= 1  # PostgreSQL refused a page; the strict path took it
    assert summaries["grades"]["rows_loaded"] == len(grades) - 4
    assert summaries["persons"]["rows_loaded"] == len(persons) - 2
    assert summaries["persons"]["counts"] == {"sex_unknown": 1}
    q = _rows(warehouse_url, "SELECT entity, reason_code, record_ref, detail FROM audit.quarantine ORDER BY quarantine_id")
    ref = lambda p: pseudonymiser.source_ref("person", p["id"])  # noqa: E731
    assert sorted((r for r in q if r[0] == "persons"), key=repr) == sorted([
        ("persons", "pnr_checksum", ref(persons[0]), None), ("persons", "pnr_format", ref(persons[1]), None)],
        key=repr)
    assert sorted((r for r in q if r[0] == "grades"), key=repr) == sorted([
        ("grades", "grade_value_unknown", grades[0]["id"], "field=gradeValue"),
        ("grades", "required_field_missing", grades[1]["id"], "field=student.id"),
        ("grades", "field_invalid", grades[2]["id"], "field=registeredDate"),
        ("grades", "field_invalid", None, "field=id")], key=repr)
    loaded = {str(r[0]) for r in _rows(warehouse_url, "SELECT id FROM staging.ss12000_grade")}
    assert loaded == {g["id"] for g in grades[4:]}
    assert not {ref(p) for p in persons[:2]} & {r[0] for r in _rows(warehouse_url,
                                                                      "SELECT person_ref FROM staging.ss12000_person")}
    assert _rows(warehouse_url, "SELECT sex FROM staging.ss12000_person WHERE person_ref = %s",
                 (ref(persons[2]),)) == [("Okänt",)]
    # the rejected values themselves are nowhere
    text = _all_text(warehouse_url)
    assert "2025-13-45" not in text and "not-a-uuid" not in text and "abc-def" not in text


def test_unparseable_page_fails_with_nothing_half_loaded(warehouse_url, server, dataset, pseudonymiser):
    api = _api(server, page_size=20, max_attempts=3)
    # First load: pages 1-2 fine, page 3 never parses.
    server.faults.configure(rate=1.0, kinds=("corrupt",), paths=("grades",), skip=2, seed=1)
    with pytest.raises(ExtractError, match=r"GET /grades page 3 failed after 3 attempts.*nothing of this run"):
        extract_entity("grades", warehouse_url, api, pseudonymiser)
    assert _rows(warehouse_url, "SELECT count(*) FROM staging.ss12000_grade") == [(0,)]
    assert _rows(warehouse_url, "SELECT count(*) FROM audit.watermark") == [(0,)]
    status, message = _rows(warehouse_url, "SELECT status, message FROM audit.load_run")[0]
    assert status == "failed" and "page 3" in message
    # Incremental: an earlier load stays as it was, watermark included.
    server.faults.configure(rate=0)
    extract_entity("grades", warehouse_url, api, pseudonymiser)
    before, marks = _snapshot(warehouse_url), _rows(warehouse_url, "SELECT * FROM audit.watermark")
    grades = read_jsonl(dataset / "ss12000" / "grades.jsonl")
    for g in grades[:60]:
        g["gradeValue"], g["meta"]["modified"] = "F", "2026-10-01T08:00:00+02:00"
    write_jsonl(dataset / "ss12000" / "grades.jsonl", grades)
    server.faults.configure(rate=1.0, kinds=("corrupt",), paths=("grades",), skip=2, seed=1)
    with pytest.raises(ExtractError):
        extract_entity("grades", warehouse_url, api, pseudonymiser)
    assert _snapshot(warehouse_url) == before and _rows(warehouse_url, "SELECT * FROM audit.watermark") == marks
    assert _rows(warehouse_url, "SELECT count(*) FROM audit.quarantine") == [(0,)]


def test_erased_pupils_are_dropped_at_the_door(warehouse_url, server, dataset, pseudonymiser):
    persons = read_entity(dataset, "persons")
    by_ref, by_key = persons[5], persons[6]
    ref5 = pseudonymiser.source_ref("person", by_ref["id"])
    ref6 = pseudonymiser.source_ref("person", by_key["id"])
    key6, _ = pseudonymiser.key_for(by_key["civicNo"]["value"])
    with connect(warehouse_url) as conn:
        conn.execute("INSERT INTO audit.erased_ref (person_ref) VALUES (%s)", (ref5,))
        conn.execute("INSERT INTO audit.erased_key (student_key, reason) VALUES (%s, 'erasure_request')", (key6,))
        conn.commit()
    summaries = _extract_all(warehouse_url, _api(server), pseudonymiser)
    assert summaries["persons"]["rows_dropped_erased"] == 2
    assert summaries["grades"]["rows_dropped_erased"] == 16  # 8 grades each
    assert summaries["aggregatedAttendance"]["rows_dropped_erased"] == 8
    for table in ("ss12000_person", "ss12000_enrolment", "ss12000_grade", "ss12000_attendance"):
        assert _rows(warehouse_url, f"SELECT count(*) FROM staging.{table} WHERE person_ref IN (%s, %s)",
                     (ref5, ref6)) == [(0,)]
    assert _rows(warehouse_url, "SELECT count(*) FROM staging.ss12000_person WHERE student_key = %s", (key6,)) == [(0,)]
    assert {r[0] for r in _rows(warehouse_url, "SELECT person_ref FROM audit.erased_ref")} == {ref5, ref6}


def test_full_refresh_replaces_staging(warehouse_url, server, pseudonymiser):
    api = _api(server)
    _extract_all(warehouse_url, api, pseudonymiser)
    clean = _snapshot(warehouse_url)
    with connect(warehouse_url) as conn:
        conn.execute("""INSERT INTO staging.ss12000_grade (id, person_ref, syllabus_id, grade_value, registered_date,
                        modified_at) VALUES (%s, 'x', %s, 'A', '2020-01-01', '2020-01-01')""",
                     (uid("stray"), uid("syllabus", "SV")))
        conn.execute("UPDATE staging.ss12000_person SET sex = 'Okänt'")
        conn.execute("INSERT INTO staging.ss12000_attendance VALUES ('x', %s, 'HT2025', '2025-08-18', '2025-12-19', "
                     "1, 1, 0, 0, 0, 1, NULL)", (uid("activity", "stray"),))
        conn.commit()
    again = _extract_all(warehouse_url, api, pseudonymiser, full_refresh=True)
    assert again["grades"]["rows_read"] == len(clean["ss12000_grade"])
    assert _snapshot(warehouse_url) == clean


def test_a_watermark_over_an_emptied_table_reads_everything_again(warehouse_url, server, pseudonymiser):
    api = _api(server)
    extract_entity("grades", warehouse_url, api, pseudonymiser)
    with connect(warehouse_url) as conn:
        conn.execute("TRUNCATE staging.ss12000_grade")
        conn.commit()
    again = extract_entity("grades", warehouse_url, api, pseudonymiser)
    assert again["previous_watermark"] and again["rows_loaded"] == again["rows_read"] == 193


def test_terms_read_first_daily_and_backfill():
    from skolsam.terms import load_calendar

    calendar = load_calendar()
    today = dt.date(2026, 11, 23)
    assert [t.name for t in ex.resolve_terms(None, calendar, today=today)] == ["VT2026", "HT2026"]
    assert [t.name for t in ex.resolve_terms(None, calendar, today=dt.date(2026, 7, 1))] == ["HT2025", "VT2026"]
    first = [t.name for t in ex.resolve_terms(None, calendar, today=today, first=True)]
    assert first[0] == calendar[0].name and first[-2:] == ["VT2026", "HT2026"] and len(first) == len(set(first))
    assert [t.name for t in ex.resolve_terms(None, calendar, today=today, first=True, history_start="HT2025")] == [
        "HT2025", "VT2026", "HT2026"]
    assert [t.name for t in ex.resolve_terms("vt2026,HT2025", calendar)] == ["HT2025", "VT2026"]
    with pytest.raises(ValueError):
        ex.resolve_terms(["HT1999"], calendar)


def test_a_closed_term_is_read_again_only_within_the_reread_days():
    from skolsam.terms import load_calendar

    calendar = load_calendar()
    ht2025_end = next(t.end for t in calendar if t.name == "HT2025")
    daily = lambda today, days: [t.name for t in ex.resolve_terms(None, calendar, today=today, reread_days=days)]  # noqa: E731
    # Within the days after HT2025's last day: still read with VT2026 (late corrections) ...
    assert daily(ht2025_end + dt.timedelta(days=30), 30) == ["HT2025", "VT2026"]
    # ... the day after: closed, only the term in progress.
    assert daily(ht2025_end + dt.timedelta(days=31), 30) == ["VT2026"]
    # Between terms the last started term is the current one, the one before it closed long ago.
    assert daily(dt.date(2026, 7, 1), 30) == ["VT2026"]
    # The setting is what decides (a long one keeps both), and a backfill or a first read is not affected.
    assert daily(dt.date(2026, 7, 1), 365) == ["HT2025", "VT2026"]
    assert [t.name for t in ex.resolve_terms("HT2025", calendar, today=dt.date(2026, 7, 1), reread_days=0)] == ["HT2025"]
    first = ex.resolve_terms(None, calendar, today=dt.date(2026, 7, 1), first=True, reread_days=0)
    assert "HT2025" in [t.name for t in first]


def test_generated_dataset_end_to_end(warehouse_url, tmp_path, pseudonymiser):
    from skolsam.generate import generate_dataset

    manifest = generate_dataset(tmp_path / "city", pupils=120, seed=3, terms=TERMS)
    dataset = tmp_path / "city"
    with running_server(dataset, index_dir=tmp_path / "index", demo=True) as url:
        summaries = _extract_all(warehouse_url, _api(url, page_size=500), pseudonymiser)
    counts = manifest.counts
    assert summaries["persons"]["rows_loaded"] == counts["persons"]
    assert summaries["organisations"]["rows_loaded"] == counts["organisations"]
    assert summaries["grades"]["rows_read"] == counts["grades"]
    assert summaries["deletedEntities"]["rows_loaded"] == counts["deleted_grades"]
    assert summaries["aggregatedAttendance"]["rows_loaded"] == sum(
        len(window_sums(dataset, *w)) for w in (HT2025, VT2026))
    assert all(s["rows_quarantined"] == 0 for s in summaries.values())
    protected = _rows(warehouse_url, "SELECT count(*) FROM staging.ss12000_person WHERE protected")[0][0]
    assert protected == counts["protected_persons"]
