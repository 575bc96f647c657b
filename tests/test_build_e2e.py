"""The whole build on a moderately sized synthetic staging, checked against an independent Python reading
of the same rows: participant counts, measures, the group cube, suppression, idempotence and atomicity.

The staging is made here (``synthetic_staging``) rather than by skolsam.generate + the extractor, so this
test depends on the staging contract only.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import shutil
from collections import defaultdict

import pytest

from skolsam.settings import Settings
from skolsam.warehouse import build
from term_keys import participant_rows
from test_build_core import TERMS, Staging, fresh_warehouse, query, query_dicts

pytestmark = pytest.mark.postgres

AS_OF = dt.date(2026, 6, 30)
MIN_N = Settings().suppression_min_n
SUBJECTS = ("SV", "EN", "MA", "BI", "FY", "KE", "GE", "HI", "RE", "SH", "TK", "BL", "HKK", "IDH", "MU", "SL")
POINTS = {"A": 20, "B": 17.5, "C": 15, "D": 12.5, "E": 10, "F": 0, "-": 0}
DISTRICTS = ("Järva", "Farsta", "Södermalm", "Skärholmen")
DELIVERED = {"Järva": ("Järva", "Rinkeby-Kista", "Spånga-Tensta")}
PROGRAMMES = ("PPSS", "SkolFam", "KP/KF")
PREVIOUS = {"VT2025": "HT2024", "HT2025": "VT2025", "VT2026": "HT2025"}


def synthetic_staging(pupils: int = 1200, seed: int = 7) -> tuple[Staging, dict]:
    """Staging rows and, beside them, what the Python reference needs to know about every pupil."""
    rnd = random.Random(seed)
    s = Staging()
    units = [f"1{d:02}{u:05}" for d in range(len(DISTRICTS)) for u in range(3)]
    for i, code in enumerate(units):
        s.unit(code, district=DISTRICTS[i // 3])
    info: dict[str, dict] = {}
    for i in range(pupils):
        key = f"syn-{i:05}"
        sex = rnd.choices(("Kvinna", "Man", "Okänt"), (48, 48, 4))[0]
        year = rnd.choices((5, 6, 7, 8, 9), (1, 25, 25, 25, 24))[0]
        unit = rnd.choice(units)
        protected = rnd.random() < 0.03
        ref = s.pupil(key, sex, unit=None, protected=protected, birth_year=2016 - year)
        s.enrolment(ref, unit, year - 1 if year > 5 else None, dt.date(2024, 8, 1), dt.date(2025, 6, 30))
        s.enrolment(ref, unit, year, dt.date(2025, 8, 1), dt.date(2026, 6, 30))
        p = info[key] = {"sex": sex, "year": year, "unit": unit, "protected": protected, "grades": {}, "att": {}}
        skill = rnd.random()
        for term in ("VT2025", "HT2025", "VT2026"):
            if rnd.random() < 0.05:          # some pupils lack grades in a term
                continue
            subjects = list(SUBJECTS) + (["M2SPA"] if rnd.random() < 0.6 else []) + \
                (["MLSOM"] if rnd.random() < 0.1 else [])
            if rnd.random() < 0.1:
                subjects[0] = "SVA"
            grades = {}
            for subject in subjects:
                value = _grade(rnd, skill)
                gid = s.grade(ref, subject, value, term)
                if rnd.random() < 0.03:       # a correction registered later wins
                    value = _grade(rnd, skill)
                    s.grade(ref, subject, value, term, registered=TERMS[term][1])
                elif rnd.random() < 0.01:     # a deleted grade: the subject disappears
                    s.deleted(gid)
                    continue
                grades[subject] = value
            p["grades"][term] = grades
            offered = rnd.choice((0, 9000, 12000)) if rnd.random() < 0.02 else rnd.randint(9000, 12000)
            valid = int(offered * rnd.random() * 0.2)
            invalid = int(offered * rnd.random() * rnd.random() * 0.15)
            s.attendance(ref, term, offered // 2, valid // 2, invalid // 2, activity=1)
            s.attendance(ref, term, offered - offered // 2, valid - valid // 2, invalid - invalid // 2, activity=2)
            p["att"][term] = (offered, valid, invalid)
    # Enrollments: about 30 % of pupils, some in two programmes, some twice in one; a few unmatched keys.
    keys = rnd.sample(sorted(info), k=pupils * 30 // 100)
    enrolled = []
    for key in keys + [f"unmatched-{i}" for i in range(4)]:
        programmes = rnd.sample(PROGRAMMES, k=2 if rnd.random() < 0.15 else 1)
        district = rnd.choice(DISTRICTS)
        for programme in programmes:
            start = dt.date(2025, 1, 1) + dt.timedelta(days=rnd.randint(0, 420))
            end = None if rnd.random() < 0.4 else start + dt.timedelta(days=rnd.randint(20, 300))
            delivered = rnd.choice(DELIVERED.get(district, (district,)))
            s.enroll(key, programme, start, end, district=district, delivered=delivered)
            enrolled.append((key, programme, start, end, district))
            if rnd.random() < 0.05 and end is not None:       # a second period in the same programme
                start2 = end + dt.timedelta(days=10)
                s.enroll(key, programme, start2, None, district=district)
                enrolled.append((key, programme, start2, None, district))
    return s, {"pupils": info, "enrolled": enrolled}


def _grade(rnd: random.Random, skill: float) -> str:
    r = rnd.random() * 0.7 + skill * 0.3
    return "-" if r < 0.02 else "F" if r < 0.12 else "E" if r < 0.35 else "D" if r < 0.5 else \
        "C" if r < 0.7 else "B" if r < 0.85 else "A"


# ------------------------------------------------------------------------------------------------------
# The Python reference
# ------------------------------------------------------------------------------------------------------
def participations(world: dict, matched: bool = True) -> dict[tuple[str, str, str], str]:
    """(student_key, programme, term) -> district, for matched pupils (protected included) or the others."""
    out: dict[tuple[str, str, str], tuple[int, dt.date, str]] = {}
    for key, programme, start, end, district in world["enrolled"]:
        if (key in world["pupils"]) != matched:
            continue
        for term, (t0, t1) in TERMS.items():
            last = min(end or AS_OF, AS_OF, t1)
            days = (last - max(start, t0)).days + 1
            if days >= 1:
                best = out.get((key, programme, term))
                if best is None or (days, start) > best[:2]:
                    out[(key, programme, term)] = (days, start, district)
    return {k: v[2] for k, v in out.items()}


def school_year(p: dict, term: str) -> int | None:
    if term == "VT2025":
        return p["year"] - 1 if p["year"] > 5 else None
    return p["year"]


def measures(grades: dict[str, str] | None) -> dict:
    if not grades:
        return {"share": None, "merit": None, "voc": None}
    slots = dict(grades)
    if "SV" in slots and "SVA" in slots:
        better = max(("SV", "SVA"), key=lambda s: POINTS[slots[s]])
        slots = {k: v for k, v in slots.items() if k not in ("SV", "SVA") or k == better}
    passed = {k for k, v in slots.items() if v in ("A", "B", "C", "D", "E")}
    ordinary = sorted((POINTS[v] for k, v in slots.items() if not k.startswith(("M1", "M2"))), reverse=True)
    moderna = [POINTS[v] for k, v in slots.items() if k.startswith(("M1", "M2"))]
    core = bool(passed & {"SV", "SVA"}) and {"EN", "MA"} <= passed
    others = len(passed - {"SV", "SVA", "EN", "MA"})
    return {"share": len(passed) / len(slots), "merit": sum(ordinary[:16]) + max(moderna, default=0),
            "voc": core and others >= 5}


# ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def city(pg_admin_url):
    staging, world = synthetic_staging()
    with fresh_warehouse(pg_admin_url) as url:
        staging.flush(url)
        result = build.build_warehouse(url, Settings(), as_of=AS_OF)
        yield url, world, result


def test_participants_counted_once_per_programme_and_term(city):
    url, world, result = city
    expected = {k for k in participations(world) if not world["pupils"][k[0]]["protected"]}
    got = [(r["student_key"], r["programme"], r["term"]) for r in participant_rows(url)]
    assert len(got) == len(set(got))
    assert set(got) == expected
    unmatched = defaultdict(set)
    for key, _, term in participations(world, matched=False):
        unmatched[term].add(key)
    assert result["unmatched_participants"] == {t: len(k) for t, k in unmatched.items()}
    assert result["terms"] == ["VT2025", "HT2025", "VT2026"]


def test_participant_measures_match_the_python_reference(city):
    url, world, _ = city
    for r in participant_rows(url):
        p = world["pupils"][r["student_key"]]
        m = measures(p["grades"].get(r["term"]))
        assert r["share_passed"] == (None if m["share"] is None else pytest.approx(m["share"])), r["student_key"]
        assert (None if r["merit_value"] is None else float(r["merit_value"])) == m["merit"]
        assert r["eligible_vocational"] == m["voc"]
        prev = measures(p["grades"].get(PREVIOUS[r["term"]]))
        assert r["prev_share_passed"] == (None if prev["share"] is None else pytest.approx(prev["share"]))
        offered, valid, invalid = p["att"].get(r["term"], (None, None, None))
        if not offered:
            assert r["absence_rate"] is None
        else:
            assert r["absence_rate"] == pytest.approx((valid + invalid) / offered)
        assert (r["sex"], r["school_year"], r["school_unit_code"]) == (p["sex"], school_year(p, r["term"]), p["unit"])


def _expected_cube(world: dict) -> dict[tuple, set[str]]:
    cube: dict[tuple, set[str]] = defaultdict(set)
    for (key, programme, term), district in participations(world).items():
        p = world["pupils"][key]
        y = school_year(p, term)
        years = Settings()
        year = str(y) if y is not None and years.mart_school_year_min <= y <= years.mart_school_year_max else None
        for combo in itertools.product((programme, "ALL"), (district, "ALL"), (p["sex"], "ALL"), (year, "ALL")):
            if combo[3] is not None:
                cube[(term, *combo)].add(key)
    return cube


def _groups(url: str) -> dict[tuple, dict]:
    return {(r["term"], r["population"], r["programme"], r["district"], r["sex"], r["school_year"]): r
            for r in query_dicts(url, "SELECT * FROM mart.group_term")}


def test_group_cube_counts_and_comparison_rows(city):
    url, world, _ = city
    cube = _expected_cube(world)
    g = _groups(url)
    participants = {(k[0], *k[2:]): v for k, v in g.items() if k[1] == "participants"}
    comparison = {(k[0], *k[2:]) for k in g if k[1] == "comparison"}
    assert set(participants) == set(cube)
    assert comparison == set(cube)
    for cell, row in participants.items():
        n = len(cube[cell])
        if n < MIN_N:
            assert row["suppressed"], cell
        if row["suppressed"]:
            assert row["n_students"] is None and row["share_passed_mean"] is None and row["improved_share"] is None
        else:
            assert row["n_students"] == n >= MIN_N, cell
    # Some cells are shown and some hidden, or the test proves little.
    assert 0 < sum(r["suppressed"] for r in participants.values()) < len(participants)


def test_group_rows_add_up_to_their_all_row(city):
    url, world, _ = city
    g = {(k[0], *k[2:]): v for k, v in _groups(url).items() if k[1] == "participants"}
    checked = 0
    for cell, row in g.items():
        if row["suppressed"]:
            continue
        term, programme, district, sex, year = cell
        # Within one programme a pupil has one district and one sex: those siblings add up.
        if programme != "ALL" and district == "ALL":
            kids = [v for k, v in g.items() if k[0] == term and k[1] == programme and k[2] != "ALL"
                    and k[3:] == (sex, year)]
            if all(not k["suppressed"] for k in kids):
                assert sum(k["n_students"] for k in kids) == row["n_students"]
                checked += 1
        if sex == "ALL":
            kids = [v for k, v in g.items() if k[:3] == (term, programme, district) and k[3] != "ALL" and k[4] == year]
            if all(not k["suppressed"] for k in kids):
                assert sum(k["n_students"] for k in kids) == row["n_students"]
                checked += 1
    assert checked > 5


def test_no_suppressed_cell_can_be_recovered(city):
    """In every set of rows differing in one dimension, with its ALL row shown, the hidden part (suppressed
    rows plus pupils no row shows) is never exactly one small piece."""
    url, world, _ = city
    cube = _expected_cube(world)
    g = {(k[0], *k[2:]): v for k, v in _groups(url).items() if k[1] == "participants"}
    sets = 0
    for cell, total in g.items():
        if total["suppressed"]:
            continue
        for d in range(1, 5):
            if cell[d] != "ALL":
                continue
            kids = [k for k in g if k[:d] == cell[:d] and k[d + 1:] == cell[d + 1:] and k[d] != "ALL"]
            if not kids:
                continue
            sets += 1
            hidden = [k for k in kids if g[k]["suppressed"]]
            remainder = len(cube[cell]) - sum(len(cube[k]) for k in kids)
            if remainder <= 0:
                assert len(hidden) != 1, (cell, d)
            else:
                assert hidden or remainder >= MIN_N, (cell, d)
                # one hidden row beside a remainder: only their sum can be read, and it is not a row
    assert sets > 50


def _snapshot(url: str) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of core and the marts, order aside."""
    out = {}
    for table in build.CORE_TABLES + ("mart.participant_term", "mart.group_term",
                                       "mart_candidate.participant_term", "mart_candidate.group_term"):
        [(n, digest)] = query(url, f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t")
        out[table] = (n, digest)
    return out


def test_building_twice_changes_nothing(city):
    url, _, _ = city
    before = _snapshot(url)
    again = build.build_warehouse(url, Settings(), as_of=AS_OF)
    assert _snapshot(url) == before
    assert again["published"]["participant_term"]["deleted"] == again["published"]["participant_term"]["inserted"]


def test_a_failing_gate_leaves_the_marts_as_they_were(city, monkeypatch):
    url, _, _ = city
    before = _snapshot(url)
    calls = []

    def gate(u, schema):
        calls.append(schema)
        # The candidates are there to check, and different from what is published.
        [(n,)] = query(u, f"SELECT count(*) FROM {schema}.participant_term")
        assert n > 0
        raise RuntimeError("critical expectation failed")

    # Build on different settings so the candidates differ from the published marts.
    with pytest.raises(RuntimeError, match="critical"):
        build.build_warehouse(url, Settings(suppression_min_n=3), gate=gate, as_of=AS_OF)
    assert calls == ["mart_candidate"]
    after = _snapshot(url)
    for table in ("mart.participant_term", "mart.group_term"):
        assert after[table] == before[table]
    assert after["mart_candidate.group_term"] != before["mart_candidate.group_term"]
    status = query(url, "SELECT entity, status FROM audit.load_run WHERE source = 'warehouse' ORDER BY run_id DESC LIMIT 2")
    assert status == [("gate", "failed"), ("prepare", "success")]


def test_a_failing_model_rolls_back_core_and_candidates(city, tmp_path, monkeypatch):
    url, _, _ = city
    before = _snapshot(url)
    shutil.copytree(build.sql_dir(), tmp_path / "sql")
    (tmp_path / "sql" / "models" / "mart" / "250_boom.sql").write_text("SELECT 1 / 0;\n")
    monkeypatch.setenv("SKOLSAM_SQL_DIR", str(tmp_path / "sql"))
    with pytest.raises(build.BuildError, match="250_boom"):
        build.build_warehouse(url, Settings(suppression_min_n=3), as_of=AS_OF)
    assert _snapshot(url) == before
    [(status,)] = query(url, "SELECT status FROM audit.load_run WHERE source = 'warehouse' ORDER BY run_id DESC LIMIT 1")
    assert status == "failed"


def test_publish_refuses_candidates_of_another_build(city):
    url, _, _ = city
    first = build.prepare(url, Settings(), as_of=AS_OF)
    build.prepare(url, Settings(), as_of=AS_OF)
    with pytest.raises(build.BuildError, match="another build"):
        build.publish(url, first)


def test_a_build_of_one_term_replaces_that_term_only(city):
    url, _, _ = city
    before = query(url, "SELECT term, count(*) FROM mart.group_term GROUP BY term ORDER BY term")
    result = build.build_warehouse(url, Settings(suppression_min_n=1000), terms=["VT2026"], as_of=AS_OF)
    assert result["terms"] == ["VT2026"]
    after = dict(query(url, "SELECT term, bool_and(suppressed) FROM mart.group_term GROUP BY term"))
    assert after == {"VT2025": False, "HT2025": False, "VT2026": True}
    assert query(url, "SELECT term, count(*) FROM mart.group_term GROUP BY term ORDER BY term") == before
