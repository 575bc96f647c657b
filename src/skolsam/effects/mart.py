"""The rows of ``mart_candidate.programme_effect`` (DESIGN 5) for the build's terms.

One row per (term T, programme, district, outcome, event term e, estimator) that has at least one
participant whose event term g+e is T or earlier: the estimate as of T pools every cohort due by then, so
each build adds its terms' rows and the earlier ones stay (readers see the estimate develop).
Participants count under their first enrollment's programme and district and under 'ALL'.

Suppression: a row is suppressed (every measure and count NULL, verdict 'för få elever') when it rests on
fewer than suppression_min_n participants or comparison pupils, or fewer than 2 school units. Secondary:
the ALL estimate is the participant-weighted mean of its districts' (and nearly of its programmes'), so
among the districts of a programme, and among the programmes of a district, with the ALL row shown, never
exactly one is hidden: the shown sibling with the fewest participants is hidden too, until stable.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict

import numpy as np

from ..warehouse.bulk import copy_rows
from ..warehouse.dictionary import PROGRAMME_EFFECT
from . import estimator
from .panel import BASELINES, EVENT_TERMS, OUTCOMES, Cells, Panel, cells, read_panel

log = logging.getLogger(__name__)

TABLE = "mart_candidate.programme_effect"
ALL = "ALL"


def effect_rows(panel: Panel, min_n: int) -> list[dict]:
    """Every row for the panel's build terms, suppression applied (dicts keyed by the mart's columns)."""
    rows: list[dict] = []
    if panel.part_pupil.size == 0 or not panel.build_terms:
        return rows
    for outcome in OUTCOMES:
        for name, offset in BASELINES.items():
            for e in EVENT_TERMS:
                c = cells(panel, outcome, offset, e)
                for t in panel.build_terms:
                    group = [r for r in _estimates(panel, c, t, min_n)]
                    for r in group:
                        r.update(term=panel.terms[t], outcome=outcome, event_term=e, estimator=name)
                    _secondary(group)
                    rows.extend(group)
                del c   # else the next cells() runs while this one's comparison pupils are still held
    for r in rows:
        if r["suppressed"]:
            for col in ("estimate", "ci_low", "ci_high", "se", "df", "n_participants", "n_comparison",
                        "n_schools", "n_excluded"):
                r[col] = None
            r["verdict"] = estimator.TOO_FEW
    return rows


def _estimates(panel: Panel, c: Cells, t: int, min_n: int) -> list[dict]:
    due = c.part_due & (c.part_event <= t)
    if not due.any():
        return []
    members: dict[tuple[str, str], np.ndarray] = {}
    for prog in sorted(set(panel.part_programme[due])) + [ALL]:
        in_prog = due if prog == ALL else due & (panel.part_programme == prog)
        for dist in sorted(set(panel.part_district[in_prog])) + [ALL]:
            sel = in_prog if dist == ALL else in_prog & (panel.part_district == dist)
            if sel.any():
                members[(prog, dist)] = sel
    out = []
    for (prog, dist), sel in members.items():
        use = sel & c.part_valid
        row = {"programme": prog, "district": dist, "n_excluded": int(sel.sum() - use.sum())}
        est, n_comparison = _estimate(c, use)
        if est is None:
            row.update(estimate=None, ci_low=None, ci_high=None, se=None, df=None, n_participants=0,
                       n_comparison=0, n_schools=0, verdict=estimator.TOO_FEW, suppressed=True)
        else:
            few = est.n_participants < min_n or est.n_schools < 2 or math.isnan(est.se) \
                or _distinct_comparison(c, use, n_comparison, min_n) < min_n
            row.update(estimate=est.estimate, ci_low=est.ci_low, ci_high=est.ci_high, se=est.se, df=est.df,
                       n_participants=est.n_participants, n_comparison=n_comparison, n_schools=est.n_schools,
                       verdict=estimator.TOO_FEW if few else None, suppressed=few)
        out.append(row)
    return out


def _estimate(c: Cells, use: np.ndarray) -> tuple[estimator.Estimate | None, int]:
    if not use.any():
        return None, 0
    keys, inverse = np.unique(c.part_key[use], return_inverse=True)
    n1 = np.bincount(inverse).astype(float)
    s1 = np.bincount(inverse, weights=c.part_change[use])
    school = np.zeros(keys.size, dtype=np.int64)
    school[inverse] = c.part_school[use]
    n0 = np.array([c.comp[int(k)][0] for k in keys], dtype=float)
    s0 = np.array([c.comp[int(k)][1] for k in keys], dtype=float)
    return estimator.did(n1, s1, n0, s0, school), int(n0.sum())


def _distinct_comparison(c: Cells, use: np.ndarray, n_comparison: int, min_n: int) -> int:
    """Distinct comparison pupils, counted exactly only where it can matter: a pupil is in one cell per
    cohort, so with k cohorts there are at least n_comparison / k distinct pupils."""
    keys = np.unique(c.part_key[use])
    cohorts = np.unique(keys // c.big).size
    if n_comparison >= min_n * cohorts:
        return n_comparison
    return int(np.unique(np.concatenate([c.comp_pupils[int(k)] for k in keys])).size)


def _secondary(group: list[dict]) -> None:
    by = {(r["programme"], r["district"]): r for r in group}
    while True:
        changed = False
        sets: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for (prog, dist), r in by.items():
            if dist != ALL:
                sets[("district", prog)].append(r)
            if prog != ALL:
                sets[("programme", dist)].append(r)
        for (dim, fixed), members in sets.items():
            total = by.get((fixed, ALL) if dim == "district" else (ALL, fixed))
            if total is None or total["suppressed"]:
                continue
            hidden = [r for r in members if r["suppressed"]]
            shown = [r for r in members if not r["suppressed"]]
            if len(hidden) == 1 and shown:
                pick = min(shown, key=lambda r: (r["n_participants"], r["programme"], r["district"]))
                pick["suppressed"] = True
                changed = True
        if not changed:
            break
    for r in group:
        if not r["suppressed"]:
            r["verdict"] = estimator.verdict(r["outcome"], r["ci_low"], r["ci_high"])


def write_programme_effects(conn, min_n: int) -> int:
    """Replace the candidate rows with the build's estimates; returns the number of rows written."""
    conn.execute(f"TRUNCATE {TABLE}")
    rows = effect_rows(read_panel(conn), min_n)
    cols = PROGRAMME_EFFECT.column_names
    copy_rows(conn, TABLE, cols, ([r[c] for c in cols] for r in rows))
    log.info("programme_effect: %d rows (%d shown)", len(rows), sum(not r["suppressed"] for r in rows))
    return len(rows)
