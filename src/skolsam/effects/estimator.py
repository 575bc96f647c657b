"""The difference-in-differences arithmetic on cell sums (numpy only; no econometrics library at run time).

A cell is (cohort g, school unit, school year at g). Per cell c: n1 participants with change sum s1, n0
comparison pupils with change sum s0, so tau_c = s1/n1 - s0/n0. The estimate is tau = sum(n1 tau_c) / N1.

It equals the coefficient of a participant dummy in a weighted regression of the change on that dummy
and cell fixed effects, participants weighted 1 and comparison pupils n1/n0 (then both sides of a cell
weigh the same, and the regression's implicit weights become n1). By Frisch-Waugh, that regression's
cluster-robust variance (clusters = school units G, CR1 as statsmodels computes it) reduces to
    V = G/(G-1) * (N-1)/(N-K) * sum_G (sum_{c in G} n1_c (tau_c - tau))^2 / N1^2,
N the regression's rows, K its parameters (cells + 1). The leave-one-school-out jackknife,
    V_jk = (G-1)/G * sum_s (tau_(s) - mean tau_(.))^2,
replaces it where it is larger (few or uneven schools). The interval is tau +- t(G-1, 0.975) * se.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit

# For these outcomes a higher value is better; for the others (absence) lower is better.
HIGHER_IS_BETTER = {"share_passed": True, "merit_value": True, "absence_rate": False}
IMPROVED, WORSENED, UNCERTAIN, TOO_FEW = "förbättring", "försämring", "osäkert", "för få elever"


@dataclass(frozen=True)
class Estimate:
    estimate: float
    se: float              # the one the interval uses: max(cluster, jackknife)
    se_cluster: float      # CR1 clustered by school unit (nan when the regression has no residual df)
    se_jackknife: float    # leave-one-school-out (nan with one school)
    df: int
    ci_low: float
    ci_high: float
    n_participants: int
    n_schools: int


def did(n1: np.ndarray, s1: np.ndarray, n0: np.ndarray, s0: np.ndarray, school: np.ndarray,
        n_rows: int | None = None) -> Estimate | None:
    """The estimate over cells (arrays of equal length; every cell has n1 > 0 and n0 > 0).

    ``school``: the cluster of each cell (any integer code). ``n_rows``: the regression's rows (default
    sum(n1 + n0)). Returns None without a cell."""
    n1 = np.asarray(n1, dtype=float)
    if n1.size == 0:
        return None
    n0 = np.asarray(n0, dtype=float)
    tau_c = np.asarray(s1, dtype=float) / n1 - np.asarray(s0, dtype=float) / n0
    big_n1 = n1.sum()
    tau = float((n1 * tau_c).sum() / big_n1)
    schools, cluster = np.unique(np.asarray(school), return_inverse=True)
    g = len(schools)
    n = float(n_rows if n_rows is not None else (n1 + n0).sum())
    k = n1.size + 1
    if g >= 2 and n > k:
        scores = np.bincount(cluster, weights=n1 * (tau_c - tau), minlength=g)
        v_cr = (g / (g - 1)) * ((n - 1) / (n - k)) * float((scores ** 2).sum()) / big_n1 ** 2
        se_cr = math.sqrt(v_cr)
    else:
        se_cr = math.nan
    if g >= 2:
        w_s = np.bincount(cluster, weights=n1, minlength=g)
        t_s = np.bincount(cluster, weights=n1 * tau_c, minlength=g)
        loo = (t_s.sum() - t_s) / (w_s.sum() - w_s)
        se_jk = math.sqrt((g - 1) / g * float(((loo - loo.mean()) ** 2).sum()))
    else:
        se_jk = math.nan
    candidates = [x for x in (se_cr, se_jk) if not math.isnan(x)]
    se = max(candidates) if candidates else math.nan
    df = g - 1
    if df >= 1 and not math.isnan(se):
        half = float(stdtrit(df, 0.975)) * se
        low, high = tau - half, tau + half
    else:
        low = high = math.nan
    return Estimate(tau, se, se_cr, se_jk, df, low, high, int(big_n1), g)


def verdict(outcome: str, ci_low: float, ci_high: float) -> str:
    """förbättring when the interval lies on the good side of 0, försämring on the bad side, else osäkert."""
    if math.isnan(ci_low) or math.isnan(ci_high):
        return UNCERTAIN
    up = HIGHER_IS_BETTER[outcome]
    if ci_low > 0:
        return IMPROVED if up else WORSENED
    if ci_high < 0:
        return WORSENED if up else IMPROVED
    return UNCERTAIN
