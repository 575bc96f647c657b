"""The domain rules of DESIGN 6 on hand-built pupils, with the expected figures worked out by hand.

Two small warehouses, each built once per module:
* ``rules_url``: one pupil per rule, each a PPSS participant in HT2025 (school unit U1, year 9);
  checked in mart.participant_term.
* ``groups_url``: a cube small enough to work out by hand, checked in mart.group_term: distinct counting,
  comparison population, primary and secondary suppression, protected pupils.
"""

from __future__ import annotations

import datetime as dt
import pytest

from skolsam.settings import Settings
from skolsam.warehouse import build
from term_keys import participant_rows
from test_build_core import Staging, fresh_warehouse, query, query_dicts

pytestmark = pytest.mark.postgres

ORDINARY16 = ("SV", "EN", "MA", "BI", "FY", "KE", "GE", "HI", "RE", "SH", "TK", "BL", "HKK", "IDH", "MU", "SL")
CORE = {"SV": "E", "EN": "E", "MA": "E"}
AS_OF = dt.date(2026, 6, 30)     # the build's reference date: open enrollments run until it


def _passed(*subjects: str, value: str = "E") -> dict[str, str]:
    return {s: value for s in subjects}


@pytest.fixture(scope="module")
def rules_url(pg_admin_url):
    s = Staging()

    def participant(key: str, grades: dict[str, str] | None = None, **kw) -> str:
        ref = s.pupil(key, **kw)
        s.enroll(key)                       # PPSS 2025-09-01..2025-12-31: HT2025 only
        if grades:
            s.grades(ref, grades)
        return ref

    # --- merit value ----------------------------------------------------------------------------------
    # Fewer than 16 grades: SV A 20 + EN B 17.5 + MA C 15 = 52.5; 3 of 3 passed.
    participant("merit-few", {"SV": "A", "EN": "B", "MA": "C"})
    # 16 ordinary subjects at C (15) + modersmål MLARA B (17.5) + moderna språk M2SPA A (20) and M1FRA E (10).
    # Non-moderna: 17 grades, the 16 best = 17.5 + 15 * 15 = 242.5; the best moderna språk as a 17th: + 20.
    # merit = 262.5; the second moderna språk does not count. Graded 19, passed 19.
    participant("merit-17th", {**_passed(*ORDINARY16, value="C"), "MLARA": "B", "M2SPA": "A", "M1FRA": "E"})
    # All A in 17 ordinary subjects (the 17th ordinary one is dropped) + M2SPA A: 16 * 20 + 20 = 340 (the max).
    participant("merit-max", {**_passed(*ORDINARY16, value="A"), "ENGX": "A", "M2SPA": "A"})
    # SV D and SVA B both present: one slot, the better (B 17.5) counts. EN F (0), MA E (10).
    # Slots SV/SVA, EN, MA: graded 3, passed 2, share 2/3, merit 17.5 + 0 + 10 = 27.5.
    # (Counting both would give 4 graded, 3 passed, 40.)  Core misses EN: not eligible anywhere.
    participant("sv-sva", {"SV": "D", "SVA": "B", "EN": "F", "MA": "E"})
    # A streck counts as graded and not passed, 0 points: SV C 15 + EN '-' 0 + MA C 15 = 30; share 2/3.
    participant("streck", {"SV": "C", "EN": "-", "MA": "C"})

    # --- the grade that counts -------------------------------------------------------------------------
    ref = participant("corrected")
    # MA: F registered 12-10, corrected to C registered 12-15 -> C (15).
    s.grade(ref, "MA", "F", registered=dt.date(2025, 12, 10))
    s.grade(ref, "MA", "C", registered=dt.date(2025, 12, 15))
    # EN: two grades registered the same day; the later modified (B 17.5) counts.
    t = dt.datetime(2025, 12, 15, 10, 0, tzinfo=dt.timezone.utc)
    s.grade(ref, "EN", "E", registered=dt.date(2025, 12, 15), modified=t)
    s.grade(ref, "EN", "B", registered=dt.date(2025, 12, 15), modified=t + dt.timedelta(hours=1))
    # SV: D registered 12-15 beats A registered 12-10 even though the A was modified later.
    s.grade(ref, "SV", "D", registered=dt.date(2025, 12, 15), modified=t)
    s.grade(ref, "SV", "A", registered=dt.date(2025, 12, 10), modified=t + dt.timedelta(days=3))
    # -> MA C 15 + EN B 17.5 + SV D 12.5 = 45; 3 of 3 passed.

    ref = participant("deleted", {"SV": "B"})
    s.grade(ref, "MA", "C", registered=dt.date(2025, 12, 10))
    s.deleted(s.grade(ref, "MA", "A", registered=dt.date(2025, 12, 15)))   # later, but deleted
    s.deleted(s.grade(ref, "EN", "A"))                                     # the only EN grade, deleted
    # -> SV B 17.5 + MA C 15 = 32.5; 2 graded, 2 passed.

    # --- eligibility edges (all grades E) -------------------------------------------------------------
    participant("voc-4", {**CORE, **_passed("BI", "FY", "KE", "GE"), "HI": "F"})           # 4 others: no
    participant("voc-5", {**CORE, **_passed("BI", "FY", "KE", "GE", "HI")})                # 5 others: vocational
    participant("hp-8", {**CORE, **_passed("GE", "HI", "RE", "SH", "BI", "FY", "KE", "TK")})  # 8 others
    participant("hp-9", {**CORE, **_passed("GE", "HI", "RE", "SH", "BI", "FY", "KE", "TK", "MU")})
    participant("hp-9-no-re", {**CORE, **_passed("GE", "HI", "SH", "BI", "FY", "KE", "TK", "MU", "BL"), "RE": "F"})
    participant("hp-9-no-ke", {**CORE, **_passed("GE", "HI", "RE", "SH", "BI", "FY", "TK", "MU", "BL"), "KE": "F"})
    participant("hp-9-moderna", {**CORE, **_passed("GE", "HI", "RE", "SH", "BI", "FY", "KE", "TK", "M2SPA")})
    participant("core-no-en", {"SV": "E", "MA": "E", "EN": "F",
                               **_passed("GE", "HI", "RE", "SH", "BI", "FY", "KE", "TK", "MU", "BL", "IDH", "SL")})
    participant("core-sva", {"SVA": "E", "EN": "E", "MA": "E", **_passed("BI", "FY", "KE", "GE", "HI")})

    # --- absence --------------------------------------------------------------------------------------
    ref = participant("offered-zero")
    s.attendance(ref, "HT2025", 0, 0, 0)                     # nothing offered: rate NULL
    ref = participant("band-10")                             # (60 + 40) / 1000 over two activities = 0.10
    s.attendance(ref, "HT2025", 500, 30, 20, activity=1)
    s.attendance(ref, "HT2025", 500, 30, 20, activity=2)
    ref = participant("band-20")                             # (150 + 50) / 1000 = 0.20
    s.attendance(ref, "HT2025", 1000, 150, 50)
    ref = participant("band-under")                          # 299 / 3000 = 0.0997
    s.attendance(ref, "HT2025", 3000, 299, 0)
    ref = participant("band-third")                          # 10 / 30: a rate without an exact float
    s.attendance(ref, "HT2025", 30, 5, 5)

    # --- previous term --------------------------------------------------------------------------------
    # VT2025: SV E, EN F, MA F, BI E -> share 2/4 = 0.5, merit 20; absence 300/1000 = 0.3.
    # HT2025: SV C, EN C, MA E, BI E -> share 1.0, merit 15+15+10+10 = 50; absence 100/1000 = 0.1.
    # changes: share +0.5, merit +30, absence -0.2. Not a participant in VT2025: prev_* still filled.
    ref = s.pupil("prev", start=dt.date(2024, 8, 1))
    s.enroll("prev", start=dt.date(2025, 9, 1), end=None)    # open: also a participant in VT2026
    s.grades(ref, {"SV": "E", "EN": "F", "MA": "F", "BI": "E"}, term="VT2025")
    s.grades(ref, {"SV": "C", "EN": "C", "MA": "E", "BI": "E"}, term="HT2025")
    s.attendance(ref, "VT2025", 1000, 200, 100)
    s.attendance(ref, "HT2025", 1000, 100, 0)

    # --- who is a participant -------------------------------------------------------------------------
    participant("no-grades")                                 # only an enrolment
    participant("protected", {"SV": "A"}, protected=True)    # aggregates only
    s.enroll("unmatched")                                    # not in SS 12000 at all
    ref = s.pupil("twice")
    s.enroll("twice", start=dt.date(2025, 8, 20), end=dt.date(2025, 9, 30), district="Farsta")   # 42 days
    s.enroll("twice", start=dt.date(2025, 10, 15), end=None, district="Järva",                  # 66 days
             delivered="Rinkeby-Kista")
    s.enroll("twice", programme="SkolFam", start=dt.date(2025, 9, 1), end=dt.date(2025, 11, 30))
    s.pupil("no-school", unit=None)
    s.enroll("no-school")

    with fresh_warehouse(pg_admin_url) as url:
        s.flush(url)
        yield url, build.build_warehouse(url, Settings(), terms=["VT2025", "HT2025", "VT2026"], as_of=AS_OF)


@pytest.fixture(scope="module")
def rows(rules_url) -> dict[tuple[str, str, str], dict]:
    url, _ = rules_url
    return {(r["student_key"], r["programme"], r["term"]): r
            for r in participant_rows(url)}


def row(rows, key, programme="PPSS", term="HT2025") -> dict:
    return rows[(key, programme, term)]


@pytest.mark.parametrize("key, graded, passed, share, merit", [
    ("merit-few", 3, 3, 1.0, 52.5),
    ("merit-17th", 19, 19, 1.0, 262.5),
    ("merit-max", 18, 18, 1.0, 340),
    ("sv-sva", 3, 2, 2 / 3, 27.5),
    ("streck", 3, 2, 2 / 3, 30),
    ("corrected", 3, 3, 1.0, 45),
    ("deleted", 2, 2, 1.0, 32.5),
])
def test_subject_counts_share_passed_and_merit_value(rows, key, graded, passed, share, merit):
    r = row(rows, key)
    assert (r["subjects_graded"], r["subjects_passed"]) == (graded, passed)
    assert r["share_passed"] == pytest.approx(share)
    assert float(r["merit_value"]) == merit


@pytest.mark.parametrize("key, voc, ek, na, es", [
    ("merit-few", False, False, False, False),
    ("voc-4", False, False, False, False),
    ("voc-5", True, False, False, False),
    ("hp-8", True, False, False, False),
    ("hp-9", True, True, True, True),
    ("hp-9-no-re", True, False, True, True),      # GE, HI, SH but RE failed
    ("hp-9-no-ke", True, True, False, True),      # BI, FY but KE failed
    ("hp-9-moderna", True, True, True, True),     # a moderna språk is one of the 9 others
    ("core-no-en", False, False, False, False),   # 12 others, but EN failed
    ("core-sva", True, False, False, False),      # SVA stands in for SV
    ("sv-sva", False, False, False, False),
])
def test_eligibility_edges(rows, key, voc, ek, na, es):
    r = row(rows, key)
    assert (r["eligible_vocational"], r["eligible_hp_ek_hu_sa"], r["eligible_hp_na_te"], r["eligible_hp_es"]) == \
        (voc, ek, na, es)


def test_no_grades_means_null_grade_measures(rows):
    r = row(rows, "no-grades")
    assert (r["subjects_graded"], r["subjects_passed"]) == (0, 0)
    assert r["share_passed"] is None and r["merit_value"] is None
    assert {r[k] for k in ("eligible_vocational", "eligible_hp_ek_hu_sa", "eligible_hp_na_te", "eligible_hp_es")} == {None}
    assert r["offered_minutes"] is None and r["absence_rate"] is None and r["absence_band"] is None
    assert (r["school_unit_code"], r["school_year"], r["sex"]) == ("U1", 9, "Kvinna")


@pytest.mark.parametrize("key, offered, rate, invalid_rate, band", [
    ("offered-zero", 0, None, None, None),
    ("band-10", 1000, 0.10, 0.04, "10-20%"),
    ("band-20", 1000, 0.20, 0.05, ">=20%"),
    ("band-under", 3000, 299 / 3000, 0.0, "<10%"),
    ("band-third", 30, 1 / 3, 1 / 6, ">=20%"),
])
def test_absence_rate_and_band_edges(rows, key, offered, rate, invalid_rate, band):
    r = row(rows, key)
    assert r["offered_minutes"] == offered
    assert r["absence_rate"] == (None if rate is None else pytest.approx(rate))
    assert r["invalid_absence_rate"] == (None if invalid_rate is None else pytest.approx(invalid_rate))
    assert r["absence_band"] == band


def test_previous_term_and_changes(rows):
    r = row(rows, "prev")
    assert r["prev_term"] == "VT2025"
    assert (r["prev_share_passed"], r["share_passed"]) == (pytest.approx(0.5), pytest.approx(1.0))
    assert r["share_passed_change"] == pytest.approx(0.5)
    assert (float(r["prev_merit_value"]), float(r["merit_value"]), float(r["merit_value_change"])) == (20, 50, 30)
    assert r["prev_absence_rate"] == pytest.approx(0.3)
    assert r["absence_rate_change"] == pytest.approx(-0.2)
    # VT2026: previous term HT2025; no VT2026 figures yet, so every change is NULL.
    v = row(rows, "prev", term="VT2026")
    assert v["prev_term"] == "HT2025"
    assert v["prev_share_passed"] == pytest.approx(1.0) and float(v["prev_merit_value"]) == 50
    assert v["share_passed_change"] is None and v["merit_value_change"] is None and v["absence_rate_change"] is None
    # A pupil without a previous term: prev_term named, prev_* NULL.
    m = row(rows, "merit-few")
    assert m["prev_term"] == "VT2025" and m["prev_share_passed"] is None and m["share_passed_change"] is None


def test_who_is_in_participant_term(rules_url, rows):
    _, result = rules_url
    keys = {k for k, _, _ in rows}
    assert "protected" not in keys                  # aggregates only
    assert "unmatched" not in keys                  # not found in SS 12000: left out, reported
    assert result["unmatched_participants"] == {"HT2025": 1}
    # One row per programme and term, even with two PPSS periods in HT2025; the district is the one of the
    # period with most days in the term (66 > 42), mapped from its historical name.
    assert sorted(p for k, p, t in rows if k == "twice" and t == "HT2025") == ["PPSS", "SkolFam"]
    assert row(rows, "twice")["district"] == "Järva"
    # Found in SS 12000 but with no enrolment: kept, without school unit and year.
    r = row(rows, "no-school")
    assert (r["school_unit_code"], r["school_year"]) == (None, None)
    # Terms with grades (VT2025) or participation (HT2025, VT2026 through the open periods, which stop at
    # the build's as_of date 2026-06-30 and so never reach HT2026).
    assert result["terms"] == ["VT2025", "HT2025", "VT2026"]


def test_pupils_without_a_mart_school_year_are_a_hidden_remainder(rules_url):
    url, _ = rules_url
    # HT2025 participants under programme, district and sex 'ALL': 26 pupils (the protected one included,
    # the unmatched one not), of whom 25 in year 9 and "no-school" without a school year. Shown, year 9 (25)
    # and ALL (26) would reveal a cell of 1, so year 9 is suppressed and only ALL is shown.
    got = dict(query(url, """SELECT school_year, n_students FROM mart.group_term
                              WHERE term = 'HT2025' AND population = 'participants'
                                AND programme = 'ALL' AND district = 'ALL' AND sex = 'ALL'"""))
    assert got == {"ALL": 26, "9": None}


# ------------------------------------------------------------------------------------------------------
# group_term
# ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def groups_url(pg_admin_url):
    """HT2025, school unit A, year 9, district Järva:

    PPSS:    girls g01..g12 (g12 protected), boys b01..b11, sex unknown o01..o03   -> 26 pupils
    SkolFam: girls g01..g10 (also in PPSS)
    Comparison pupils (no programme in HT2025): at A year 9 girls c01..c20 (c20 was in KP/KF in VT2025 only),
    boys d01..d15, unknown e01..e02; at A year 8 30 pupils and at B year 9 40 pupils (nobody's pair).
    """
    s = Staging()
    for i in range(1, 13):
        key = f"g{i:02}"
        ref = s.pupil(key, "Kvinna", unit="A", protected=(i == 12))
        s.enroll(key, "PPSS")
        if i <= 10:
            s.enroll(key, "SkolFam")
        # HT2025 grades: g01..g06 SV, EN, MA E (share 1.0); g07..g12 MA F (share 2/3).
        # g01..g03 also pass 5 more subjects: vocationally eligible (share still 1.0).
        grades = {"SV": "E", "EN": "E", "MA": "E" if i <= 6 else "F"}
        if i <= 3:
            grades.update(_passed("BI", "FY", "KE", "GE", "HI"))
        s.grades(ref, grades)
        # VT2025: g01..g06 share 0.5 (rose since), g07..g12 share 1.0 (fell since).
        s.grades(ref, {"SV": "E", "EN": "F"} if i <= 6 else {"SV": "E", "EN": "E", "MA": "E"}, term="VT2025")
        # Absence: g01..g04 100/1000 = 0.10 (high), the others 50/1000 = 0.05.
        s.attendance(ref, "HT2025", 1000, 100 if i <= 4 else 50, 0)
    for i in range(1, 12):
        ref = s.pupil(f"b{i:02}", "Man", unit="A")
        s.enroll(f"b{i:02}", "PPSS")
        s.attendance(ref, "HT2025", 1000, 200, 50)          # 0.25: very high
    for i in range(1, 4):
        s.pupil(f"o{i:02}", "Okänt", unit="A")
        s.enroll(f"o{i:02}", "PPSS")
    for i in range(1, 21):
        ref = s.pupil(f"c{i:02}", "Kvinna", unit="A")
        s.attendance(ref, "HT2025", 1000, 300, 0)          # 0.30
    s.enroll("c20", "KP/KF", start=dt.date(2025, 2, 1), end=dt.date(2025, 5, 31))
    for i in range(1, 16):
        s.pupil(f"d{i:02}", "Man", unit="A")
    for i in range(1, 3):
        s.pupil(f"e{i:02}", "Okänt", unit="A")
    for i in range(1, 31):
        s.pupil(f"y8-{i:02}", "Kvinna", unit="A", school_year=8)
    for i in range(1, 41):
        s.pupil(f"ub-{i:02}", "Kvinna", unit="B")
    with fresh_warehouse(pg_admin_url) as url:
        s.flush(url)
        build.build_warehouse(url, Settings(), terms=["HT2025"])
        yield url


def groups(url: str) -> dict[tuple, dict]:
    return {(r["population"], r["programme"], r["district"], r["sex"], r["school_year"]): r
            for r in query_dicts(url, "SELECT * FROM mart.group_term WHERE term = 'HT2025'")}


def test_full_cube_with_a_comparison_row_for_every_row(groups_url):
    g = groups(groups_url)
    participants = {k[1:] for k in g if k[0] == "participants"}
    comparison = {k[1:] for k in g if k[0] == "comparison"}
    # programme {PPSS, SkolFam, ALL} x district {Järva, ALL} x sex {Kvinna, Man, Okänt, ALL} x year {9, ALL},
    # minus the SkolFam cells of sexes SkolFam has none of (Man, Okänt): 3*2*4*2 - 1*2*2*2 = 40.
    assert len(participants) == 40
    assert comparison == participants


def test_distinct_pupils_and_protected_counted(groups_url):
    g = groups(groups_url)
    n = {k: v["n_students"] for k, v in g.items()}
    assert n[("participants", "PPSS", "Järva", "Kvinna", "9")] == 12          # g12 (protected) included
    assert n[("participants", "SkolFam", "Järva", "Kvinna", "9")] == 10
    assert n[("participants", "ALL", "Järva", "Kvinna", "9")] == 12           # g01..g10 counted once
    assert n[("participants", "ALL", "ALL", "ALL", "ALL")] == 26
    assert not [r for r in participant_rows(groups_url) if r["student_key"] == "g12"]


def test_primary_and_secondary_suppression(groups_url):
    g = groups(groups_url)
    for prog in ("PPSS", "ALL"):
        for district in ("Järva", "ALL"):
            for year in ("9", "ALL"):
                cell = lambda sex: g[("participants", prog, district, sex, year)]  # noqa: E731
                # Okänt has 3 pupils: suppressed. Man (11) alone would be recoverable as ALL (26) minus
                # Kvinna (12) minus nothing else, so the smallest shown sibling, Man, is suppressed too.
                assert cell("Okänt")["suppressed"] and cell("Man")["suppressed"]
                assert not cell("Kvinna")["suppressed"] and not cell("ALL")["suppressed"]
                for sex in ("Okänt", "Man"):
                    r = cell(sex)
                    assert r["n_students"] is None and r["share_passed_mean"] is None
                    assert r["absence_rate_mean"] is None and r["high_absence_share"] is None


def test_group_measures_worked_by_hand(groups_url):
    g = groups(groups_url)
    girls = g[("participants", "PPSS", "Järva", "Kvinna", "9")]
    assert girls["share_passed_mean"] == pytest.approx((6 * 1 + 6 * 2 / 3) / 12)          # 0.8333
    assert girls["merit_value_mean"] == pytest.approx((3 * 80 + 3 * 30 + 6 * 20) / 12)    # 37.5
    assert girls["improved_share"] == pytest.approx(6 / 12)
    assert girls["eligible_vocational_share"] == pytest.approx(3 / 12)
    assert girls["absence_rate_mean"] == pytest.approx((4 * 0.10 + 8 * 0.05) / 12)
    assert girls["high_absence_share"] == pytest.approx(4 / 12)                           # 0.10 exactly is high
    assert girls["very_high_absence_share"] == 0
    everyone = g[("participants", "PPSS", "Järva", "ALL", "9")]
    # Boys and unknown have no grades: the grade means are the girls'; absence known for 12 + 11 = 23.
    assert everyone["share_passed_mean"] == pytest.approx(girls["share_passed_mean"])
    assert everyone["eligible_vocational_share"] == pytest.approx(3 / 12)
    assert everyone["absence_rate_mean"] == pytest.approx((4 * 0.10 + 8 * 0.05 + 11 * 0.25) / 23)
    assert everyone["high_absence_share"] == pytest.approx(15 / 23)
    assert everyone["very_high_absence_share"] == pytest.approx(11 / 23)
    skolfam = g[("participants", "SkolFam", "Järva", "Kvinna", "9")]
    # g01..g10: share 1.0 for g01..g06, 2/3 for g07..g10.
    assert skolfam["share_passed_mean"] == pytest.approx((6 + 4 * 2 / 3) / 10)


def test_comparison_population(groups_url):
    g = groups(groups_url)
    c = {k[1:]: v for k, v in g.items() if k[0] == "comparison"}
    # Girls at (A, 9) in no programme in HT2025: c01..c20 (c20's KP/KF ended in VT2025). Not year 8, not B.
    assert c[("PPSS", "Järva", "Kvinna", "9")]["n_students"] == 20
    assert c[("PPSS", "Järva", "Kvinna", "9")]["absence_rate_mean"] == pytest.approx(0.30)
    assert c[("PPSS", "Järva", "Kvinna", "9")]["very_high_absence_share"] == 1.0
    assert c[("SkolFam", "Järva", "Kvinna", "9")]["n_students"] == 20
    # Every sex: 20 + 15 + 2 = 37.
    assert c[("PPSS", "Järva", "ALL", "9")]["n_students"] == 37
    assert c[("ALL", "ALL", "ALL", "ALL")]["n_students"] == 37
    assert c[("SkolFam", "Järva", "ALL", "ALL")]["n_students"] == 37
    # The boys' comparison has 15 pupils but its participants row is suppressed, so it is too.
    assert c[("PPSS", "Järva", "Man", "9")]["suppressed"]
    assert c[("PPSS", "Järva", "Okänt", "9")]["suppressed"]
    # No grades among comparison pupils: grade means NULL, not 0.
    assert c[("PPSS", "Järva", "Kvinna", "9")]["share_passed_mean"] is None


def test_a_lone_primary_suppression_gets_a_partner(pg_admin_url):
    """Districts under PPSS: Järva 15, Farsta 12, Bromma 4 -> Bromma suppressed, then Farsta (12 < 15)."""
    s = Staging()
    for district, count in (("Järva", 15), ("Farsta", 12), ("Bromma", 4)):
        for i in range(count):
            key = f"{district[:3]}-{i:02}"
            s.pupil(key, "Kvinna", unit="A")
            s.enroll(key, "PPSS", district=district)
    with fresh_warehouse(pg_admin_url) as url:
        s.flush(url)
        build.build_warehouse(url, Settings(), terms=["HT2025"])
        g = groups(url)
    for sex in ("Kvinna", "ALL"):
        for year in ("9", "ALL"):
            for prog in ("PPSS", "ALL"):
                d = {k[2]: v for k, v in g.items() if k[0] == "participants" and k[1] == prog
                     and k[3] == sex and k[4] == year}
                assert d["ALL"]["n_students"] == 31
                assert d["Bromma"]["suppressed"] and d["Farsta"]["suppressed"]
                assert not d["Järva"]["suppressed"] and d["Järva"]["n_students"] == 15


def test_suppression_size_is_a_setting(pg_admin_url):
    s = Staging()
    for i in range(5):
        s.pupil(f"k{i}", "Kvinna", unit="A")
        s.enroll(f"k{i}")
    with fresh_warehouse(pg_admin_url) as url:
        s.flush(url)
        build.build_warehouse(url, Settings(suppression_min_n=5), terms=["HT2025"])
        g = groups(url)
        assert g[("participants", "PPSS", "Järva", "Kvinna", "9")]["n_students"] == 5
        build.build_warehouse(url, Settings(suppression_min_n=6), terms=["HT2025"])
        g = groups(url)
        assert all(v["suppressed"] for v in g.values())


def test_default_terms_are_those_the_education_data_covers(pg_admin_url):
    # An open enrollment reaches into the term in progress, which has no grades or attendance yet:
    # the default build leaves that term out instead of publishing a row of empty figures.
    s = Staging()
    ref = s.pupil("graded", start=dt.date(2024, 8, 1))
    s.grades(ref, {"SV": "C", "EN": "C", "MA": "C"}, term="HT2025")
    s.attendance(ref, "HT2025", 1000, 10, 0)
    s.enroll("graded", start=dt.date(2025, 9, 1), end=None)
    with fresh_warehouse(pg_admin_url) as url:
        s.flush(url)
        result = build.prepare(url, Settings(), as_of=dt.date(2026, 3, 1))
    assert result.terms == ["HT2025"]
