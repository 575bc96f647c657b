"""mart.target_group (DESIGN 5) on hand-built pupils, counted by hand.

HT2025. School unit A, year 7 (14 pupils):
  t01..t05  absence 250/1000 = 0.25, share 2/4 = 0.5   -> target; t01, t02 in PPSS, t03 in KP/KF
  e1        absence 200/1000 = 0.20, share 3/4 = 0.75  -> target exactly at both thresholds; in PPSS
  e2        absence 199/1000,        share 0.5         -> not target (absence just below)
  e3        absence 0.30,            share 4/5 = 0.8   -> not target (share above 0.75)
  e4        absence 0.30,            no grades         -> not target (share unknown); in PPSS
  e5        no attendance,           share 0           -> not target (absence unknown)
  n01..n04  absence 0.05, share 1.0                    -> not target; n01 in KP/KF
School unit A, year 8: 12 pupils, one of them (m01) target and in no programme.
School unit B, year 9: 4 pupils (fewer than 10: suppressed). School unit A, year 5: 10 pupils with high
absence (outside the target years: counted nowhere).
"""

from __future__ import annotations

import pytest

from skolsam.settings import Settings
from skolsam.warehouse import build
from test_build_core import Staging, fresh_warehouse, query_dicts

pytestmark = pytest.mark.postgres

HALF = {"SV": "E", "EN": "F", "MA": "F", "BI": "E"}
THREE_QUARTERS = {"SV": "E", "EN": "E", "MA": "F", "BI": "E"}
FOUR_FIFTHS = {"SV": "E", "EN": "E", "MA": "E", "BI": "E", "FY": "F"}
ALL_PASSED = {"SV": "C", "EN": "C", "MA": "C"}


def _staging() -> Staging:
    s = Staging()

    def pupil(key, unit, year, absent, grades, programme=None):
        ref = s.pupil(key, unit=unit, school_year=year)
        if absent is not None:
            s.attendance(ref, "HT2025", 1000, absent, 0)
        if grades:
            s.grades(ref, grades)
        if programme:
            s.enroll(key, programme)

    for i in range(1, 6):
        pupil(f"t{i:02}", "A", 7, 250, HALF, {1: "PPSS", 2: "PPSS", 3: "KP/KF"}.get(i))
    pupil("e1", "A", 7, 200, THREE_QUARTERS, "PPSS")
    pupil("e2", "A", 7, 199, HALF)
    pupil("e3", "A", 7, 300, FOUR_FIFTHS)
    pupil("e4", "A", 7, 300, None, "PPSS")
    pupil("e5", "A", 7, None, {"SV": "F", "EN": "F", "MA": "F"})
    for i in range(1, 5):
        pupil(f"n{i:02}", "A", 7, 50, ALL_PASSED, "KP/KF" if i == 1 else None)
    pupil("m01", "A", 8, 400, HALF)
    for i in range(2, 13):
        pupil(f"m{i:02}", "A", 8, 50, ALL_PASSED)
    for i in range(1, 5):
        pupil(f"b{i:02}", "B", 9, 50, ALL_PASSED)
    for i in range(1, 11):
        pupil(f"y5-{i:02}", "A", 5, 500, None, "SkolFam")
    return s


@pytest.fixture(scope="module")
def target_url(pg_admin_url):
    with fresh_warehouse(pg_admin_url) as url:
        _staging().flush(url)
        build.build_warehouse(url, Settings(), terms=["HT2025"])
        yield url


def _cells(url) -> dict[tuple[str, str], dict]:
    return {(r["school_unit_code"], r["school_year"]): r
            for r in query_dicts(url, "SELECT * FROM mart.target_group WHERE term = 'HT2025'")}


def test_counts_equal_the_hand_count(target_url):
    c = _cells(target_url)
    a7 = c[("A", "7")]
    assert (a7["n_pupils"], a7["n_target"], a7["n_target_enrolled"], a7["n_enrolled_not_target"]) == (14, 6, 4, 2)
    assert a7["coverage_share"] == pytest.approx(4 / 6)
    assert c[("ALL", "7")]["n_pupils"] == 14
    total = c[("ALL", "ALL")]
    assert (total["n_pupils"], total["n_target"], total["n_target_enrolled"], total["n_enrolled_not_target"]) == \
        (30, 7, 4, 2)
    assert total["coverage_share"] == pytest.approx(4 / 7)
    assert not any(k[1] == "5" for k in c)                    # year 5 is outside the target years


def test_primary_and_secondary_suppression(target_url):
    c = _cells(target_url)
    assert set(c) == {("A", "7"), ("A", "8"), ("A", "ALL"), ("B", "9"), ("B", "ALL"),
                      ("ALL", "7"), ("ALL", "8"), ("ALL", "9"), ("ALL", "ALL")}
    # B has 4 pupils: B/9, B/ALL and ALL/9 are primary suppressions. Years under ALL/ALL: 9 hidden alone, so
    # the smallest shown year, ALL/8 (12), is hidden too; units under ALL/ALL: B hidden alone, so A/ALL is.
    # ALL/8 is hidden but A/8 is its only part and adds up to it exactly, so A/8 is hidden as well.
    hidden = {k for k, r in c.items() if r["suppressed"]}
    assert hidden == {("B", "9"), ("B", "ALL"), ("ALL", "9"), ("ALL", "8"), ("A", "ALL"), ("A", "8")}
    for k in hidden:
        assert {c[k][m] for m in ("n_pupils", "n_target", "n_target_enrolled", "coverage_share",
                                  "n_enrolled_not_target")} == {None}


def test_thresholds_are_settings(pg_admin_url):
    with fresh_warehouse(pg_admin_url) as url:
        _staging().flush(url)
        build.build_warehouse(url, Settings(target_share_passed_max=0.8), terms=["HT2025"])
        a7 = _cells(url)[("A", "7")]
    assert (a7["n_target"], a7["n_target_enrolled"]) == (7, 4)   # e3 (share exactly 0.8) joins, not enrolled
