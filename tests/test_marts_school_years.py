"""The marts follow förskoleklass (0) to year 9 (DESIGN 5, issue 14), on hand-built pupils.

HT2025 (school year 2025/26), district Järva:
* school unit S, year 3: SkolFam children k01..k10 (no grades, exact attendance) and comparison pupils
  n01..n12 in no programme; year 4 at S: 15 pupils who are nobody's comparison.
* school unit S: a PPSS pupil "mover" in year 5 in VT2025 and year 6 in HT2025, graded only in HT2025;
  PPSS pupils p6-01..p6-09 in year 6 and p7-01..p7-15 in year 7.
* förskoleklass: KP/KF pupils f01..f06 with school type FKLASS and no schoolYear, g01..g06 with GR year 0,
  and "solo", the only pupil of sex Okänt. Everyone else is a girl, so the cells are few to reason about.
"""

from __future__ import annotations

import datetime as dt

import pytest

from skolsam.settings import Settings
from skolsam.warehouse import build
from term_keys import participant_rows
from test_build_core import Staging, fresh_warehouse, query_dicts

pytestmark = pytest.mark.postgres

SCHOOL_YEAR_2024 = (dt.date(2024, 8, 19), dt.date(2025, 6, 13))
SCHOOL_YEAR_2025 = (dt.date(2025, 8, 18), dt.date(2026, 6, 12))


@pytest.fixture(scope="module")
def young_url(pg_admin_url):
    s = Staging()
    for i in range(1, 11):
        key = f"k{i:02}"
        ref = s.pupil(key, "Kvinna", unit="S", school_year=3, birth_year=2017)
        s.enroll(key, "SkolFam")
        # k01: 2 activities, (40 + 20) + (30 + 10) = 100 absent of 2000 offered -> 0.05, invalid 30/2000.
        if i == 1:
            s.attendance(ref, "HT2025", 1000, 40, 20, activity=1)
            s.attendance(ref, "HT2025", 1000, 30, 10, activity=2)
            s.attendance(ref, "VT2025", 1000, 100, 50)        # previous term 0.15 -> change -0.10
        else:
            s.attendance(ref, "HT2025", 1000, 250, 0)         # 0.25
    for i in range(1, 13):
        ref = s.pupil(f"n{i:02}", "Kvinna", unit="S", school_year=3, birth_year=2017)
        s.attendance(ref, "HT2025", 1000, 50, 0)              # 0.05
    for i in range(1, 16):
        s.pupil(f"y4-{i:02}", "Kvinna", unit="S", school_year=4, birth_year=2016)

    ref = s.pupil("mover", unit="S", school_year=5, birth_year=2014, start=SCHOOL_YEAR_2024[0],
                  end=SCHOOL_YEAR_2024[1])
    s.enrolment(ref, "S", 6, *SCHOOL_YEAR_2025)
    s.enroll("mover", "PPSS")
    s.attendance(ref, "VT2025", 1000, 300, 0)                 # 0.30
    s.attendance(ref, "HT2025", 1000, 100, 0)                 # 0.10
    s.grades(ref, {"SV": "C", "EN": "E", "MA": "F"})          # first graded term: share 2/3
    for i in range(1, 10):                                    # more PPSS pupils in year 6 ...
        s.pupil(f"p6-{i:02}", unit="S", school_year=6, birth_year=2013)
        s.enroll(f"p6-{i:02}", "PPSS")
    for i in range(1, 16):                                    # ... and in year 7
        s.pupil(f"p7-{i:02}", unit="S", school_year=7, birth_year=2012)
        s.enroll(f"p7-{i:02}", "PPSS")

    for i in range(1, 7):
        ref = s.pupil(f"f{i:02}", unit=None, birth_year=2019)
        s.enrolment(ref, "S", None, *SCHOOL_YEAR_2025, school_type="FKLASS")
        s.enroll(f"f{i:02}", "KP/KF")
        ref = s.pupil(f"g{i:02}", unit="S", school_year=0, birth_year=2019)
        s.enroll(f"g{i:02}", "KP/KF")
    s.pupil("solo", "Okänt", unit="S", school_year=0, birth_year=2019)   # alone in its sex: suppressed
    s.enroll("solo", "KP/KF")
    with fresh_warehouse(pg_admin_url) as url:
        s.flush(url)
        build.build_warehouse(url, Settings(), terms=["VT2025", "HT2025"])
        yield url


def _participant(url, key, term="HT2025"):
    [r] = [r for r in participant_rows(url) if r["student_key"] == key and r["term"] == term]
    return r


def _group(url, population, programme, sex, school_year, district="Järva"):
    [r] = query_dicts(url, """SELECT * FROM mart.group_term WHERE term = 'HT2025' AND population = %s
                                 AND programme = %s AND district = %s AND sex = %s AND school_year = %s""",
                      (population, programme, district, sex, school_year))
    return r


def test_a_year_3_skolfam_child_has_null_grade_measures_and_exact_absence(young_url):
    r = _participant(young_url, "k01")
    assert (r["programme"], r["school_unit_code"], r["school_year"]) == ("SkolFam", "S", 3)
    assert (r["subjects_graded"], r["subjects_passed"]) == (0, 0)
    for col in ("share_passed", "merit_value", "eligible_vocational", "eligible_hp_ek_hu_sa", "eligible_hp_na_te",
                "eligible_hp_es", "prev_share_passed", "share_passed_change", "prev_merit_value",
                "merit_value_change"):
        assert r[col] is None, col
    assert (r["offered_minutes"], r["attended_minutes"]) == (2000, 1900)
    assert (r["valid_absence_minutes"], r["invalid_absence_minutes"]) == (70, 30)
    assert r["absence_rate"] == pytest.approx(0.05)
    assert r["invalid_absence_rate"] == pytest.approx(0.015)
    assert r["absence_band"] == "<10%"
    assert r["prev_absence_rate"] == pytest.approx(0.15)
    assert r["absence_rate_change"] == pytest.approx(-0.10)


def test_year_3_counts_under_its_year_and_all_with_comparison_pupils(young_url):
    year3 = _group(young_url, "participants", "SkolFam", "ALL", "3")
    total = _group(young_url, "participants", "SkolFam", "ALL", "ALL")
    assert year3["n_students"] == 10 and total["n_students"] == 10
    assert year3["absence_rate_mean"] == pytest.approx((0.05 + 9 * 0.25) / 10)
    assert year3["very_high_absence_share"] == pytest.approx(0.9)
    # No grades below year 6: NULL, not 0.
    for col in ("share_passed_mean", "merit_value_mean", "improved_share", "eligible_vocational_share"):
        assert year3[col] is None, col
    comp = _group(young_url, "comparison", "SkolFam", "ALL", "3")
    assert comp["n_students"] == 12                           # n01..n12 at (S, 3); not year 4
    assert comp["absence_rate_mean"] == pytest.approx(0.05)
    assert comp["share_passed_mean"] is None
    assert _group(young_url, "comparison", "SkolFam", "ALL", "ALL")["n_students"] == 12


def test_the_first_graded_term_has_no_change(young_url):
    r = _participant(young_url, "mover")
    assert r["school_year"] == 6 and r["share_passed"] == pytest.approx(2 / 3)
    assert r["prev_term"] == "VT2025" and r["prev_share_passed"] is None
    assert r["share_passed_change"] is None and r["merit_value_change"] is None
    assert r["absence_rate_change"] == pytest.approx(-0.20)   # attendance is followed across the move


def test_forskoleklass_is_year_0_in_either_spelling(young_url):
    years = {r["student_key"]: r["school_year"]
             for r in participant_rows(young_url, "WHERE programme = 'KP/KF' AND term = 'HT2025'")}
    assert years == {**{f"f{i:02}": 0 for i in range(1, 7)}, **{f"g{i:02}": 0 for i in range(1, 7)}, "solo": 0}
    assert _group(young_url, "participants", "KP/KF", "ALL", "0")["n_students"] == 13


def test_suppression_holds_over_the_cube_of_ten_school_years(young_url):
    rows = query_dicts(young_url, "SELECT * FROM mart.group_term")
    assert {r["school_year"] for r in rows} >= {"0", "3", "6", "ALL"}
    assert all(r["n_students"] >= 10 for r in rows if not r["suppressed"])
    # solo is the only pupil of sex Okänt: hidden, and the girls of KP/KF year 0 (12) are its partner.
    assert _group(young_url, "participants", "KP/KF", "Okänt", "0")["suppressed"]
    assert _group(young_url, "participants", "KP/KF", "Kvinna", "0")["suppressed"]
    assert _group(young_url, "participants", "PPSS", "ALL", "6")["n_students"] == 10
    assert _group(young_url, "participants", "ALL", "ALL", "ALL")["n_students"] == 10 + 1 + 9 + 15 + 13
    dims = ("programme", "district", "sex", "school_year")
    by_key = {(r["term"], r["population"], *(r[d] for d in dims)): r for r in rows}
    for t in rows:
        if t["suppressed"]:
            continue
        for i, d in enumerate(dims):
            if t[d] != "ALL":
                continue
            siblings = [r for k, r in by_key.items()
                        if k[:2] == (t["term"], t["population"]) and k[2 + i] != "ALL"
                        and all(k[2 + j] == t[dims[j]] for j in range(4) if j != i)]
            assert sum(r["suppressed"] for r in siblings) != 1, (t, d)
