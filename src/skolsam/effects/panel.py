"""The pupils' outcomes per term, read from the core tables, and the cells of the estimates built from them.

Terms are indexed by ``core.dim_term.term_order`` (VT2025 < HT2025 < VT2026, consecutive numbers), so g−2
is two terms before g whether or not a term lies in between in the calendar file.

Rules (DESIGN 5, and where it is silent, noted in the data dictionary):
* A participant's cohort g is the first term whose last day is on or after the start of their first
  enrollment (a start in the summer belongs to the autumn term); their programme and district are that
  enrollment's (the earliest start, then the programme name). Only pupils found in SS 12000 take part.
* The cell is (school unit, school year) at g from ``core.pupil_term_measure``.
* A comparison pupil for cohort g, baseline b and event term t is in no programme in any term b..t (an
  enrollment overlapping the term by a single day counts), has the cell at g, and the outcome known in b
  and t. A participant is a comparison pupil of another cohort's window only when it lies wholly outside
  their own enrollments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OUTCOMES = ("share_passed", "merit_value", "absence_rate")
# estimator -> how many terms before the start its baseline lies
BASELINES = {"did": 2, "did_prev_term": 1}
EVENT_TERMS = (0, 1, 2)
_YEARS = 16   # cell id = unit code * _YEARS + school year (years are 0..10)


@dataclass
class Panel:
    terms: list[str]               # index -> term name (term_order - first_order)
    build_terms: list[int]         # indexes of the build's terms
    outcome: dict[str, np.ndarray]  # outcome -> [pupils, terms] float, nan unknown
    cell: np.ndarray               # [pupils, terms] int64 cell id, -1 unknown
    school: np.ndarray             # [pupils, terms] int64 school unit code, -1 unknown
    in_programme: np.ndarray       # [pupils, terms] bool
    # participants (one row each)
    part_pupil: np.ndarray         # pupil index
    part_cohort: np.ndarray        # term index of g
    part_programme: np.ndarray     # object: programme
    part_district: np.ndarray      # object: district


def read_panel(conn) -> Panel:
    """Read the core tables of the current build (psycopg connection, inside the build's transaction)."""
    term_rows = conn.execute("SELECT term, term_order FROM core.dim_term ORDER BY term_order").fetchall()
    if not term_rows:
        return _empty()
    first = term_rows[0][1]
    n_terms = term_rows[-1][1] - first + 1
    names = [""] * n_terms
    for name, order in term_rows:
        names[order - first] = name
    build_terms = sorted(r[0] - first for r in conn.execute(
        "SELECT t.term_order FROM core.build_term b JOIN core.dim_term t ON t.term = b.term").fetchall())

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
    return Panel(
        terms=names, build_terms=build_terms, outcome=outcome, cell=cell, school=school,
        in_programme=in_programme,
        part_pupil=np.array([keys[r[0]] for r in firsts], dtype=np.int64),
        part_cohort=np.array([r[3] - first for r in firsts], dtype=np.int64),
        part_programme=np.array([r[1] for r in firsts], dtype=object),
        part_district=np.array([r[2] for r in firsts], dtype=object),
    )


def _empty() -> Panel:
    z = np.zeros((0, 0))
    return Panel([], [], {o: z for o in OUTCOMES}, z.astype(np.int64), z.astype(np.int64), z.astype(bool),
                 np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, object), np.zeros(0, object))


@dataclass
class Cells:
    """One (estimator, event term, outcome): per participant their cell and change, per cohort-cell the
    comparison pupils' count and change sum (and who they are, for an exact distinct count)."""
    part_valid: np.ndarray       # participant contributes (outcome known in both terms, comparison in cell)
    part_due: np.ndarray         # the participant's event term lies in the calendar and baseline data may exist
    part_event: np.ndarray       # term index of g+e
    part_key: np.ndarray         # cohort-cell key: cohort * big + cell
    part_school: np.ndarray
    part_change: np.ndarray
    comp: dict[int, tuple[int, float]]          # cohort-cell key -> (n0, s0)
    comp_pupils: dict[int, np.ndarray]          # cohort-cell key -> comparison pupil indexes
    big: int                                    # cohort-cell key = cohort * big + cell


def cells(panel: Panel, outcome: str, baseline: int, event: int) -> Cells:
    """The participants' and comparison pupils' changes for one (outcome, baseline offset, event term)."""
    n_terms = len(panel.terms)
    y = panel.outcome[outcome]
    big = int(panel.cell.max(initial=0)) + 1
    npart = panel.part_pupil.size
    valid = np.zeros(npart, dtype=bool)
    due = np.zeros(npart, dtype=bool)
    change = np.full(npart, np.nan)
    key = np.full(npart, -1, dtype=np.int64)
    school = np.full(npart, -1, dtype=np.int64)
    event_term = panel.part_cohort + event
    comp: dict[int, tuple[int, float]] = {}
    comp_pupils: dict[int, np.ndarray] = {}
    for g in np.unique(panel.part_cohort):
        t = g + event
        if t >= n_terms:
            continue                     # the event term is beyond the calendar: never due
        mine = np.flatnonzero(panel.part_cohort == g)
        due[mine] = True
        b = g - baseline
        if b < 0:
            continue                     # no baseline term in the calendar: excluded
        dy = y[:, t] - y[:, b]
        c_g = panel.cell[:, g]
        ok = ~np.isnan(dy) & (c_g >= 0)
        comparison = ok & ~panel.in_programme[:, b:t + 1].any(axis=1)
        idx = np.flatnonzero(comparison)
        order = np.argsort(c_g[idx], kind="stable")
        idx = idx[order]
        ids, starts, counts = np.unique(c_g[idx], return_index=True, return_counts=True)
        sums = np.add.reduceat(dy[idx], starts) if idx.size else np.zeros(0)
        have = {}
        for cid, st, cnt, sm in zip(ids.tolist(), starts.tolist(), counts.tolist(), sums.tolist()):
            k = int(g) * big + cid
            comp[k] = (cnt, sm)
            comp_pupils[k] = idx[st:st + cnt]
            have[cid] = True
        pupils = panel.part_pupil[mine]
        pc = c_g[pupils]
        change[mine] = dy[pupils]
        key[mine] = np.where(pc >= 0, int(g) * big + pc, -1)
        school[mine] = panel.school[pupils, g]
        valid[mine] = ok[pupils] & np.array([have.get(int(c), False) for c in pc], dtype=bool)
    return Cells(valid, due, event_term, key, school, change, comp, comp_pupils, big)
