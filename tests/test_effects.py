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
