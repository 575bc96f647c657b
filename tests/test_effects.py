"""mart.programme_effect (DESIGN 5, skolsam.effects): the estimator against statsmodels, suppression, and the
whole pipeline on a generated city with a planted effect (fixed seed).

The city: 4,000 pupils, HT2024 to VT2026, 10 % participants, ``--effect PPSS=0.10,SkolFam=0,KP/KF=0``:
participants are chosen at a bad term and PPSS raises the chance of passing while enrolled; nothing else
about taking part changes grades or absence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from skolsam.effects import estimator
from skolsam.effects.check import pipeline
from skolsam.effects.mart import _secondary
from skolsam.effects.panel import read_panel
from skolsam.generate import Config, generate_dataset
from skolsam.settings import Settings
from skolsam.warehouse.connection import connect
from test_build_core import fresh_warehouse, query_dicts

TERMS = ["HT2024", "VT2025", "HT2025", "VT2026"]
PLANTED = {"PPSS": 0.10, "SkolFam": 0.0, "KP/KF": 0.0}
MIN_N = Settings().suppression_min_n


def _regression(frame: pd.DataFrame):
    """The oracle: WLS of the change on a participant dummy and cell fixed effects, comparison pupils weighted
    n1/n0 of their cell, errors clustered by school unit (statsmodels' CR1)."""
    n1 = frame[frame.d == 1].groupby("cell").size()
    n0 = frame[frame.d == 0].groupby("cell").size()
    w = np.where(frame.d == 1, 1.0, frame.cell.map(n1 / n0))
    fit = smf.wls("dy ~ d + C(cell)", data=frame, weights=w).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(frame.school)[0]})
    return fit.params["d"], fit.bse["d"]


def test_cell_arithmetic_equals_a_clustered_fixed_effects_regression():
    rng = np.random.default_rng(3)
    rows = []
    for cell in range(30):
        school = cell // 3                                  # 10 schools, 3 cells each
        for d, n in ((1, rng.integers(1, 6)), (0, rng.integers(3, 25))):
            for _ in range(n):
                rows.append({"cell": cell, "school": school, "d": d,
                             "dy": 0.1 * d + 0.05 * school + rng.normal(0, 0.2)})
    frame = pd.DataFrame(rows)
    beta, se = _regression(frame)
    per = frame.groupby(["cell", "d"]).dy.agg(["size", "sum"]).unstack("d")
    est = estimator.did(per[("size", 1)].to_numpy(), per[("sum", 1)].to_numpy(), per[("size", 0)].to_numpy(),
                        per[("sum", 0)].to_numpy(), (per.index // 3).to_numpy())
    assert est.estimate == pytest.approx(beta, abs=1e-12)
    assert est.se_cluster == pytest.approx(se, rel=1e-9)
    assert est.se == max(est.se_cluster, est.se_jackknife) and est.df == 9


def test_verdict_follows_the_good_side_of_zero():
    assert estimator.verdict("share_passed", 0.01, 0.2) == "förbättring"
    assert estimator.verdict("absence_rate", 0.01, 0.2) == "försämring"
    assert estimator.verdict("absence_rate", -0.2, -0.01) == "förbättring"
    assert estimator.verdict("merit_value", -3.0, 1.0) == "osäkert"


def test_secondary_suppression_of_districts_and_programmes():
    def row(prog, dist, n, hidden=False):
        return {"programme": prog, "district": dist, "n_participants": n, "suppressed": hidden,
                "outcome": "share_passed", "ci_low": 0.1, "ci_high": 0.2}
    group = [row("ALL", "ALL", 60), row("ALL", "Järva", 30), row("ALL", "Farsta", 25), row("ALL", "Bromma", 5, True),
             row("PPSS", "ALL", 60), row("PPSS", "Järva", 30), row("PPSS", "Farsta", 25),
             row("PPSS", "Bromma", 5, True)]
    _secondary(group)
    hidden = {(r["programme"], r["district"]) for r in group if r["suppressed"]}
    assert hidden == {("ALL", "Bromma"), ("PPSS", "Bromma"), ("ALL", "Farsta"), ("PPSS", "Farsta")}
    assert all(r["verdict"] == "förbättring" for r in group if not r["suppressed"])


def test_comparison_pupils_of_two_cohorts_are_counted_once():
    from skolsam.effects.mart import _distinct_comparison
    from skolsam.effects.panel import OUTCOMES, Panel, cells
    n, terms = 6, 4
    rng = np.random.default_rng(3)
    in_programme = np.zeros((n, terms), dtype=bool)
    in_programme[0, 2:] = True                      # participant 0 from term 2, participant 1 from term 3
    in_programme[1, 3:] = True
    panel = Panel(terms=["a", "b", "c", "d"], build_terms=[3],
                  outcome={o: rng.random((n, terms)) for o in OUTCOMES},
                  cell=np.full((n, terms), 5, dtype=np.int64), school=np.zeros((n, terms), dtype=np.int64),
                  in_programme=in_programme, part_pupil=np.array([0, 1]), part_cohort=np.array([2, 3]),
                  part_programme=np.array(["PPSS", "PPSS"], dtype=object),
                  part_district=np.array(["X", "X"], dtype=object))
    c = cells(panel, "share_passed", 2, 0)
    assert c.part_valid.all()
    assert sorted(c.comp_pupils[2 * c.big + 5].tolist()) == [1, 2, 3, 4, 5]   # pupil 1 is free until term 3
    assert sorted(c.comp_pupils[3 * c.big + 5].tolist()) == [2, 3, 4, 5]
    assert _distinct_comparison(c, c.part_valid, 9, min_n=10) == 5          # 9 pupil-cohorts, 5 pupils
    assert _distinct_comparison(c, c.part_valid, 9, min_n=4) == 9           # enough either way: not counted


# ------------------------------------------------------------------------------------------------------
# the planted-effect city
# ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def effect_city(pg_admin_url, tmp_path_factory):
    work = tmp_path_factory.mktemp("effects")
    manifest = generate_dataset(work / "city", pupils=4000, seed=11, terms=TERMS, effects=PLANTED,
                                config=Config(participant_share=0.10))
    with fresh_warehouse(pg_admin_url) as url:
        last = pipeline(work / "city", url, work)
        rows = query_dicts(url, "SELECT * FROM mart.programme_effect")
        yield url, last, manifest, {(r["term"], r["programme"], r["district"], r["outcome"], r["event_term"],
                                     r["estimator"]): r for r in rows}


def _row(city, programme="PPSS", outcome="share_passed", event=0, est="did", district="ALL"):
    _, last, _, rows = city
    return rows[(last, programme, district, outcome, event, est)]




@pytest.mark.postgres
def test_the_planted_effect_is_inside_the_headline_interval_and_zero_is_not(effect_city):
    _, _, manifest, _ = effect_city
    assert manifest.planted_effect == PLANTED
    r = _row(effect_city)
    assert not r["suppressed"] and r["n_participants"] >= 50
    assert r["ci_low"] <= 0.10 <= r["ci_high"]
    assert r["ci_low"] > 0 and r["verdict"] == "förbättring"


@pytest.mark.postgres
def test_the_estimate_from_the_term_of_the_choice_is_higher(effect_city):
    did, prev = _row(effect_city), _row(effect_city, est="did_prev_term")
    assert prev["estimate"] > did["estimate"]                  # the rebound from the bad term
    absence, absence_prev = (_row(effect_city, outcome="absence_rate", est=e) for e in ("did", "did_prev_term"))
    assert absence_prev["estimate"] < absence["estimate"]      # absence falls back from the bad term too
    assert absence["ci_low"] <= 0 <= absence["ci_high"]        # no effect on absence was planted


@pytest.mark.postgres
@pytest.mark.parametrize("programme", ["SkolFam", "KP/KF"])
def test_a_zero_effect_programme_covers_zero(effect_city, programme):
    # No effect planted for these programmes. Their grade outcomes rest on few pupils (SkolFam's children are
    # mostly below year 6, and a year-6 starter has no graded g−2 baseline), so absence is what they show.
    r = _row(effect_city, programme, "absence_rate")
    assert not r["suppressed"] and r["ci_low"] <= 0 <= r["ci_high"] and r["verdict"] == "osäkert"


@pytest.mark.postgres
def test_the_mart_estimate_equals_statsmodels_on_the_same_data(effect_city):
    url, last, _, _ = effect_city
    with connect(url) as conn:
        panel = read_panel(conn)
    t_last = panel.terms.index(last)
    y = panel.outcome["share_passed"]
    rows = []
    for i, g in zip(panel.part_pupil[panel.part_programme == "PPSS"], panel.part_cohort[panel.part_programme == "PPSS"]):
        b = g - 2
        if b >= 0 and g <= t_last and panel.cell[i, g] >= 0 and not np.isnan(y[i, g] - y[i, b]):
            rows.append({"cell": (g, panel.cell[i, g]), "school": panel.school[i, g], "d": 1, "dy": y[i, g] - y[i, b]})
    for g in sorted({r["cell"][0] for r in rows}):
        b = g - 2
        free = ~panel.in_programme[:, b:g + 1].any(axis=1) & (panel.cell[:, g] >= 0) & ~np.isnan(y[:, g] - y[:, b])
        for j in np.flatnonzero(free):
            rows.append({"cell": (g, panel.cell[j, g]), "school": panel.school[j, g], "d": 0, "dy": y[j, g] - y[j, b]})
    frame = pd.DataFrame(rows)
    frame["cell"] = pd.factorize(frame.cell)[0]
    both = frame.groupby("cell").d.agg(lambda d: d.min() == 0 and d.max() == 1)
    frame = frame[frame.cell.map(both)]
    beta, se = _regression(frame)
    r = _row(effect_city)
    assert r["estimate"] == pytest.approx(beta, abs=1e-9)
    assert r["n_participants"] == int(frame.d.sum()) and r["n_schools"] == frame.school.nunique()
    assert r["se"] >= se * (1 - 1e-9)                          # clustered, or the jackknife where wider
    half = (r["ci_high"] - r["ci_low"]) / 2
    assert half == pytest.approx(r["se"] * float(__import__("scipy").stats.t.ppf(0.975, r["df"])), rel=1e-9)


@pytest.mark.postgres
def test_no_shown_estimate_rests_on_fewer_than_the_threshold(effect_city):
    _, _, _, rows = effect_city
    shown = [r for r in rows.values() if not r["suppressed"]]
    hidden = [r for r in rows.values() if r["suppressed"]]
    assert shown and hidden
    for r in shown:
        assert r["n_participants"] >= MIN_N and r["n_comparison"] >= MIN_N and r["n_schools"] >= 2
        assert r["ci_low"] <= r["estimate"] <= r["ci_high"] and r["df"] == r["n_schools"] - 1
    for r in hidden:
        assert r["verdict"] == "för få elever"
        assert all(r[c] is None for c in ("estimate", "ci_low", "ci_high", "se", "n_participants", "n_comparison"))


# ------------------------------------------------------------------------------------------------------
# the streamed panel reader (issue 15) against the reader it replaced
# ------------------------------------------------------------------------------------------------------
def _reference_read_panel(conn):
    """The reader before issue 15 (fetchall and a dict of keys), kept here as the reference; also returns
    its pupil keys and unit ids in the order it numbered them (first appearance)."""
    from skolsam.effects.panel import _YEARS, OUTCOMES, Panel, term_axis
    names, first, build_terms = term_axis(conn)  # unchanged by issue 15: shared with the reader under test
    n_terms = len(names)
    measures = conn.execute(
        """SELECT m.student_key, t.term_order, m.school_unit_id::text, m.school_year,
                  m.share_passed, m.merit_value::double precision, m.absence_rate
             FROM core.pupil_term_measure m
             JOIN core.dim_term t ON t.term = m.term
             JOIN core.dim_pupil p ON p.student_key = m.student_key""").fetchall()
    enrolled = conn.execute(
        """SELECT DISTINCT e.student_key, t.term_order
             FROM core.fact_enrollment e
             JOIN core.dim_term t ON e.start_date <= t.end_date AND e.effective_end_date >= t.start_date""").fetchall()
    firsts = conn.execute(
        """SELECT DISTINCT ON (e.student_key) e.student_key, e.programme, e.district,
                  (SELECT min(t.term_order) FROM core.dim_term t WHERE t.end_date >= e.start_date) AS cohort
             FROM core.fact_enrollment e
             JOIN core.dim_pupil p ON p.student_key = e.student_key
            ORDER BY e.student_key, e.start_date, e.programme""").fetchall()
    keys: dict[str, int] = {}
    for row in measures:
        keys.setdefault(row[0], len(keys))
    for row in firsts:
        keys.setdefault(row[0], len(keys))
    n = len(keys)
    outcome = {o: np.full((n, n_terms), np.nan) for o in OUTCOMES}
    cell = np.full((n, n_terms), -1, dtype=np.int64)
    school = np.full((n, n_terms), -1, dtype=np.int64)
    units: dict[str, int] = {}
    for key, order, unit, year, share, merit, absence in measures:
        i, j = keys[key], order - first
        if share is not None:
            outcome["share_passed"][i, j] = share
        if merit is not None:
            outcome["merit_value"][i, j] = merit
        if absence is not None:
            outcome["absence_rate"][i, j] = absence
        if unit is not None and year is not None:
            u = units.setdefault(unit, len(units))
            school[i, j] = u
            cell[i, j] = u * _YEARS + year
    in_programme = np.zeros((n, n_terms), dtype=bool)
    for key, order in enrolled:
        if key in keys:
            in_programme[keys[key], order - first] = True
    firsts = [r for r in firsts if r[3] is not None]
    panel = Panel(
        terms=names, build_terms=build_terms, outcome=outcome, cell=cell, school=school,
        in_programme=in_programme,
        part_pupil=np.array([keys[r[0]] for r in firsts], dtype=np.int64),
        part_cohort=np.array([r[3] - first for r in firsts], dtype=np.int64),
        part_programme=np.array([r[1] for r in firsts], dtype=object),
        part_district=np.array([r[2] for r in firsts], dtype=object),
    )
    return panel, list(keys), list(units)


@pytest.fixture(scope="module")
def both_panels(effect_city):
    url = effect_city[0]
    with connect(url) as conn:
        old, keys, units = _reference_read_panel(conn)
        new = read_panel(conn)
        # the reader cleans up after itself: a second read in the same transaction works
        again = read_panel(conn)
    return old, keys, units, new, again


@pytest.mark.postgres
def test_the_streamed_panel_is_the_old_one_renumbered_by_key_and_unit_id(both_panels):
    from skolsam.effects.panel import _YEARS, OUTCOMES
    old, keys, units, new, again = both_panels
    assert old.part_pupil.size > 100 and len(units) > 2
    # pupils now numbered in key order, units in id order (uuid order is that of the lowercase hex text)
    rank = {k: r for r, k in enumerate(sorted(keys))}
    pupil = np.array([rank[k] for k in keys], dtype=np.int64)       # old index -> new index
    unit_rank = {u: r for r, u in enumerate(sorted(units))}
    unit = np.array([unit_rank[u] for u in units], dtype=np.int64)
    # The new panel's columns start later (two terms before the first with data): the reference's columns
    # before that hold nothing at all, the rest are the new panel's.
    off = len(old.terms) - len(new.terms)
    assert off > 0 and new.terms == old.terms[off:] and new.build_terms == [b - off for b in old.build_terms]
    assert all(np.isnan(old.outcome[o][:, :off]).all() for o in OUTCOMES)
    assert (old.cell[:, :off] == -1).all() and (old.school[:, :off] == -1).all()
    assert not old.in_programme[:, :off].any() and (old.part_cohort >= off + 2).all()
    old_cell, old_school, old_prog = old.cell[:, off:], old.school[:, off:], old.in_programme[:, off:]
    assert new.cell.shape == old_cell.shape
    for o in OUTCOMES:
        assert new.outcome[o].dtype == old.outcome[o].dtype
        assert np.array_equal(new.outcome[o][pupil], old.outcome[o][:, off:], equal_nan=True)
    known = old_cell >= 0
    assert np.array_equal(known, old_school >= 0)
    expect_cell = np.where(known, unit[old_cell // _YEARS] * _YEARS + old_cell % _YEARS, -1)
    expect_school = np.where(known, unit[old_school], -1)
    assert np.array_equal(new.cell[pupil], expect_cell) and np.array_equal(new.school[pupil], expect_school)
    assert new.cell.dtype == new.school.dtype == np.int32
    assert np.array_equal(new.in_programme[pupil], old_prog)
    # participants: the same order, cohorts, programmes and districts
    assert np.array_equal(new.part_pupil, pupil[old.part_pupil])
    assert np.array_equal(new.part_cohort, old.part_cohort - off)
    assert new.part_programme.tolist() == old.part_programme.tolist()
    assert new.part_district.tolist() == old.part_district.tolist()
    for name in ("outcome", "cell", "school", "in_programme", "part_pupil", "part_programme"):
        a, b = getattr(new, name), getattr(again, name)
        assert all(np.array_equal(a[o], b[o], equal_nan=True) for o in a) if isinstance(a, dict) \
            else np.array_equal(a, b)


@pytest.mark.postgres
def test_the_streamed_panel_gives_the_same_programme_effect_rows(both_panels, effect_city):
    from skolsam.effects.mart import effect_rows
    old, _, _, new, _ = both_panels
    before, after = effect_rows(old, MIN_N), effect_rows(new, MIN_N)
    assert len(before) == len(after) and sum(not r["suppressed"] for r in after) > 10
    floats = ("estimate", "ci_low", "ci_high", "se")
    differ, worst = 0, 0.0
    for b, a in zip(before, after):
        assert {k: v for k, v in a.items() if k not in floats} == {k: v for k, v in b.items() if k not in floats}
        # Rounding is relative to the numbers the bounds are made from: ci_low = estimate - t * se can lie
        # near 0 (0.0864 from an estimate of 32.9 differed by 1.5e-13, 1.7e-12 of itself), so the
        # tolerance scales with the row's estimate and se, not with each field alone.
        scale = max(abs(b["estimate"] or 0.0), abs(b["se"] or 0.0))
        for k in floats:
            # the comparison sums add the same numbers in another order (pupil numbering): equal to rounding
            assert a[k] == pytest.approx(b[k], rel=1e-12, abs=1e-12 * scale + 1e-15) if b[k] is not None \
                else a[k] is None, (k, a[k], b[k])
            differ += a[k] != b[k]
            worst = max(worst, abs(a[k] - b[k]) / max(abs(b[k]), 1e-300) if b[k] is not None else 0.0)
    print(f"{differ} of {len(after) * len(floats)} float fields differ, by at most {worst:.1e} relative")
    # and what the build wrote is what the new reader gives
    stored = effect_city[3]
    for a in after:
        s = stored[(a["term"], a["programme"], a["district"], a["outcome"], a["event_term"], a["estimator"])]
        assert s["suppressed"] == a["suppressed"] and s["estimate"] == a["estimate"]


@pytest.mark.postgres
def test_the_binary_copy_reader_streams_blocks_and_refuses_nulls(effect_city):
    from skolsam.effects.panel import _copy_arrays
    with connect(effect_city[0]) as conn:
        q = "SELECT g::int4, (g * 3)::int8, g / 7.0::float8 FROM generate_series(1, 5000) g"
        parts = list(_copy_arrays(conn, q, (">i4", ">i8", ">f8"), chunk=1000))
        assert len(parts) > 10                           # many blocks, rows never split between them
        a = np.concatenate(parts)
        assert a["v0"].tolist() == list(range(1, 5001)) and (a["v1"] == a["v0"] * 3).all()
        assert np.array_equal(a["v2"], np.arange(1, 5001) / 7.0)
        assert list(_copy_arrays(conn, "SELECT 1::int4 WHERE false", (">i4",))) == []
        with pytest.raises(ValueError):
            list(_copy_arrays(conn, "SELECT NULLIF(g, 3)::int4 FROM generate_series(1, 5) g", (">i4",)))
