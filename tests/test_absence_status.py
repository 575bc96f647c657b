"""Never publish an absence figure from a window that was never extracted (issue 10, DESIGN 3.1.3).

A warehouse whose grades go back to VT2025 while its attendance was extracted for HT2025 and VT2026 only:
the marts say VT2025's absence was never read (status and NULL figures, the gate's check holds), the report
says why in Swedish; a backfill of VT2025 fills it, and a second backfill changes nothing.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from conftest import TEST_KEY
from skolsam.enrollment import intake
from skolsam.generate import generate_dataset
from skolsam.pseudonym import Pseudonymiser
from skolsam.quality.gate import QualityGateFailed, mart_gate
from skolsam.settings import Settings
from skolsam.ss12000.extract import ENTITIES, ApiConfig, extract_entity
from skolsam.standin.running import running_server
from skolsam.warehouse import build
from skolsam.warehouse.connection import connect
from test_build_core import fresh_warehouse, query

pytestmark = pytest.mark.postgres

TERMS = ["VT2025", "HT2025", "VT2026"]
READ = ["HT2025", "VT2026"]          # the attendance windows the first extract reads
AS_OF = dt.date(2026, 6, 30)
ABSENCE = ("offered_minutes", "attended_minutes", "valid_absence_minutes", "invalid_absence_minutes",
           "absence_rate", "invalid_absence_rate", "absence_band", "absence_rate_change")
GROUP_ABSENCE = ("absence_rate_mean", "high_absence_share", "very_high_absence_share")


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("absence")
    dataset = tmp / "ds"
    generate_dataset(dataset, pupils=300, seed=11, terms=TERMS)
    with running_server(dataset, index_dir=tmp / "index", demo=True) as base:
        yield dataset, ApiConfig(base, base + "/token", "skolsam", "skolsam", 200,
                                 max_attempts=3, backoff_base=0.01, backoff_max=0.05)


@pytest.fixture(scope="module")
def warehouse(pg_admin_url, city, tmp_path_factory):
    """Grades and persons of every term; attendance of HT2025 and VT2026 only; enrollments; one build."""
    dataset, api = city
    ps = Pseudonymiser(TEST_KEY)
    with fresh_warehouse(pg_admin_url) as url:
        for entity in ENTITIES:
            extract_entity(entity, url, api, ps, terms=READ if entity == "aggregatedAttendance" else TERMS)
        landing = tmp_path_factory.mktemp("landing") / "in"
        shutil.copytree(dataset / "enrollment", landing)
        intake.ingest_landing(str(landing), url, ps)
        build.build_warehouse(url, Settings(), as_of=AS_OF)
        yield url, api, ps


def _mart_rows(url: str) -> dict[str, list[tuple]]:
    return {t: sorted(query(url, f"SELECT * FROM mart.{t}"), key=repr)
            for t in ("participant_term", "group_term", "target_group", "programme_effect")}


def _rebuild(url: str) -> None:
    build.build_warehouse(url, Settings(), as_of=AS_OF)


def test_a_term_never_read_is_marked_and_has_no_absence_figure(warehouse):
    url, _, _ = warehouse
    status = dict(query(url, "SELECT term, status FROM core.term_attendance_status WHERE term = ANY(%s)", (TERMS,)))
    assert status == {"VT2025": "never_read", "HT2025": "read", "VT2026": "read"}
    by_term = dict(query(url, """SELECT term, array_agg(DISTINCT absence_status ORDER BY absence_status)
                                   FROM mart.participant_term GROUP BY term"""))
    assert by_term["VT2025"] == ["not_extracted"]
    assert "reported" in by_term["HT2025"] and "not_extracted" not in by_term["HT2025"]
    # VT2025 has grades (it is a real, published term), and not one absence figure
    graded = query(url, "SELECT count(*) FILTER (WHERE share_passed IS NOT NULL), count(*) FROM mart.participant_term "
                        "WHERE term = 'VT2025'")[0]
    assert graded[0] > 0
    assert query(url, "SELECT count(*) FROM mart.participant_term WHERE term = 'VT2025' AND ("
                      + " OR ".join(f"{c} IS NOT NULL" for c in ABSENCE) + ")")[0][0] == 0
    # HT2025's previous term is VT2025: its figures say so too, while its own are there
    ht = query(url, """SELECT count(*) FILTER (WHERE prev_absence_status = 'not_extracted'), count(*),
                              count(prev_absence_rate), count(absence_rate_change), count(absence_rate)
                         FROM mart.participant_term WHERE term = 'HT2025'""")[0]
    assert ht[0] == ht[1] > 0 and ht[2] == ht[3] == 0 and ht[4] > 0
    # core keeps the distinction for every pupil, comparison pupils included
    core = dict(query(url, """SELECT absence_status, count(*) FROM core.pupil_term_measure WHERE term = 'VT2025'
                               GROUP BY absence_status"""))
    assert set(core) == {"not_extracted"} and core["not_extracted"] > 100
    # group_term: VT2025 says not_extracted with no absence mean; HT2025 shows its absence
    groups = query(url, f"""SELECT term, absence_status, count(*) FILTER (WHERE {' OR '.join(f'{c} IS NOT NULL'
                                                                                   for c in GROUP_ABSENCE)})
                              FROM mart.group_term GROUP BY term, absence_status""")
    assert ("VT2025", "not_extracted", 0) in groups
    assert not any(t == "VT2025" and s != "not_extracted" for t, s, _ in groups)
    assert any(t == "HT2025" and s == "reported" and n > 0 for t, s, n in groups)
    # target_group: whether a pupil meets the criteria needs the absence rate; VT2025 has no such count
    reach = query(url, """SELECT term, absence_status, count(*), count(n_target), count(n_pupils)
                            FROM mart.target_group GROUP BY term, absence_status""")
    assert any(t == "VT2025" and s == "not_extracted" and nt == 0 and np > 0 for t, s, _, nt, np in reach)
    assert not any(t == "VT2025" and s != "not_extracted" for t, s, *_ in reach)
    assert any(t == "HT2025" and s == "reported" and nt > 0 for t, s, _, nt, _ in reach)
    # the published marts pass the gate, absence checks included
    assert mart_gate(url, "mart", as_of=AS_OF).passed


def test_the_gate_fails_on_an_absence_figure_from_an_unread_window(warehouse):
    url, _, _ = warehouse
    with connect(url) as conn, conn.transaction():
        conn.execute("TRUNCATE mart_candidate.participant_term, mart_candidate.group_term")
        conn.execute("INSERT INTO mart_candidate.participant_term SELECT * FROM mart.participant_term")
        conn.execute("INSERT INTO mart_candidate.group_term SELECT * FROM mart.group_term")
        # a planted figure: a computed absence rate on a row whose window was never read
        conn.execute("""UPDATE mart_candidate.group_term SET absence_rate_mean = 0.05
                         WHERE term = 'VT2025' AND NOT suppressed AND population = 'participants'
                           AND programme = 'ALL' AND district = 'ALL' AND sex = 'ALL' AND school_year = 'ALL'""")
        conn.execute("""UPDATE mart_candidate.participant_term SET offered_minutes = 0
                         WHERE (term, programme, student_key) IN (SELECT term, programme, student_key
                                FROM mart_candidate.participant_term WHERE term = 'VT2025' LIMIT 1)""")
    with pytest.raises(QualityGateFailed) as failed:
        mart_gate(url, "mart_candidate", as_of=AS_OF)
    failing = {(c.suite, c.check) for c in failed.value.result.critical_failures}
    assert {("mart_group_term", "no_absence_figure_from_unread_window"),
            ("mart_participant_term", "no_absence_figure_from_unread_window")} <= failing


def test_the_report_says_the_window_was_never_read(warehouse, tmp_path):
    from skolsam.report import build_report

    url, _, _ = warehouse
    html = build_report(url, "HT2025", tmp_path, pdf=False).read_text(encoding="utf-8")
    assert "Frånvaro för VT2025 saknas: perioden har inte hämtats från stadens skolsystem." in html
    assert "Frånvaro för HT2025 saknas" not in html
    old = build_report(url, "VT2025", tmp_path / "vt", pdf=False).read_text(encoding="utf-8")
    key_messages = old.split('class="key-messages"', 1)[1].split("</ul>", 1)[0]
    assert "Frånvaro för VT2025 saknas: perioden har inte hämtats" in key_messages
    assert "Därför kan målgruppen inte räknas den här terminen." in old


def test_a_backfill_fills_the_term_and_a_second_changes_nothing(warehouse):
    url, api, ps = warehouse
    before = _mart_rows(url)
    first = extract_entity("aggregatedAttendance", url, api, ps, terms=["VT2025"])
    assert first["terms_covered"] == ["VT2025"] and first["rows_loaded"] > 0
    _rebuild(url)
    filled = _mart_rows(url)
    assert filled != before
    vt = query(url, """SELECT count(*) FILTER (WHERE absence_status = 'not_extracted'),
                              count(*) FILTER (WHERE absence_status = 'reported'), count(absence_rate)
                         FROM mart.participant_term WHERE term = 'VT2025'""")[0]
    assert vt[0] == 0 and vt[1] > 0 and vt[2] > 0
    assert query(url, """SELECT count(*) FROM mart.participant_term
                          WHERE term = 'HT2025' AND prev_absence_status = 'not_extracted'""")[0][0] == 0
    for mart in ("group_term", "target_group"):
        assert query(url, f"""SELECT count(*) FROM mart.{mart}
                               WHERE term = 'VT2025' AND absence_status = 'not_extracted'""")[0][0] == 0
    assert mart_gate(url, "mart", as_of=AS_OF).passed
    again = extract_entity("aggregatedAttendance", url, api, ps, terms=["VT2025"])
    assert (again["rows_loaded"], again["rows_deleted"]) == (0, 0)
    _rebuild(url)
    assert _mart_rows(url) == filled


def test_a_second_school_system_never_read_blanks_the_pupil_not_half_his_term(warehouse, tmp_path):
    """A pupil who was also enrolled that term in a school system whose window was never read: his figures
    are not computed from the one system that was read."""
    from skolsam.report import build_report

    url, _, _ = warehouse
    key, ref = query(url, """SELECT m.student_key, p.person_ref FROM core.pupil_term_measure m
                               JOIN core.fact_participation f ON f.student_key = m.student_key AND f.term = m.term
                               JOIN staging.ss12000_person p ON p.student_key = m.student_key
                              WHERE m.term = 'HT2025' AND m.absence_status = 'reported' AND NOT p.protected
                              ORDER BY m.student_key LIMIT 1""")[0]
    with connect(url) as conn, conn.transaction():
        conn.execute("""INSERT INTO staging.ss12000_person (person_ref, student_key, sex, birth_year, protected,
                                                            modified_at, source)
                        SELECT 'second-' || person_ref, student_key, sex, birth_year, protected, modified_at,
                               'fristaende_a' FROM staging.ss12000_person WHERE person_ref = %s""", (ref,))
        conn.execute("""INSERT INTO staging.ss12000_enrolment (person_ref, ordinal, school_unit_id, school_type,
                                                               school_year, start_date, end_date, source)
                        SELECT 'second-' || person_ref, 0, school_unit_id, school_type, school_year,
                               DATE '2025-10-01', DATE '2025-11-30', 'fristaende_a'
                          FROM staging.ss12000_enrolment WHERE person_ref = %s ORDER BY ordinal LIMIT 1""", (ref,))
    _rebuild(url)
    assert query(url, """SELECT status FROM core.term_attendance_status
                          WHERE source = 'fristaende_a' AND term = 'HT2025'""") == [("never_read",)]
    assert query(url, """SELECT absence_status, offered_minutes, absence_rate FROM core.pupil_term_measure
                          WHERE student_key = %s AND term = 'HT2025'""", (key,)) == [("not_extracted", None, None)]
    # only he is affected among the pupils of the read system, and his groups show no absence mean
    others = dict(query(url, """SELECT absence_status, count(*) FROM core.pupil_term_measure
                                 WHERE term = 'HT2025' GROUP BY absence_status"""))
    assert others["not_extracted"] == 1 and others["reported"] > 100
    assert query(url, """SELECT absence_status, absence_rate_mean FROM mart.group_term
                          WHERE term = 'HT2025' AND population = 'participants' AND programme = 'ALL'
                            AND district = 'ALL' AND sex = 'ALL' AND school_year = 'ALL'""") == [("not_extracted", None)]
    assert mart_gate(url, "mart", as_of=AS_OF).passed
    html = build_report(url, "HT2025", tmp_path, pdf=False).read_text(encoding="utf-8")
    assert "Frånvaro för HT2025 saknas: perioden har inte hämtats från skolsystemet fristaende_a." in html
