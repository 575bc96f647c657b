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
    terms: list[str]               # index -> term name (term_order - the panel's first term_order)
    build_terms: list[int]         # indexes of the build's terms
    outcome: dict[str, np.ndarray]  # outcome -> [pupils, terms] float, nan unknown
    cell: np.ndarray               # [pupils, terms] int32 cell id, -1 unknown
    school: np.ndarray             # [pupils, terms] int32 school unit code, -1 unknown
    in_programme: np.ndarray       # [pupils, terms] bool
    # participants (one row each)
    part_pupil: np.ndarray         # pupil index
    part_cohort: np.ndarray        # term index of g
    part_programme: np.ndarray     # object: programme
    part_district: np.ndarray      # object: district


def term_axis(conn) -> tuple[list[str], int, list[int]] | None:
    """The panel's term axis: (names by index, the first term_order, the build's term indexes), or None
    without terms. Index = term_order - first, so gaps in the calendar file leave empty names."""
    term_rows = conn.execute("SELECT term, term_order FROM core.dim_term ORDER BY term_order").fetchall()
    if not term_rows:
        return None
    first = term_rows[0][1]
    names = [""] * (term_rows[-1][1] - first + 1)
    for name, order in term_rows:
        names[order - first] = name
    build_terms = sorted(r[0] - first for r in conn.execute(
        "SELECT t.term_order FROM core.build_term b JOIN core.dim_term t ON t.term = b.term").fetchall())
    return names, first, build_terms


def read_panel(conn) -> Panel:
    """Read the core tables of the current build (psycopg connection, inside the build's transaction).

    Memory (issue 15): pupils and school units are numbered in SQL (temporary tables) and the per pupil-term
    numbers stream by binary COPY into the arrays, so no Python object is made per pupil or pupil-term
    (``fetchall`` of the keyed rows cost ~1.6 KB per pupil, ~2 GB at national scale). Pupils are numbered
    in key order and units in id order; the old reader numbered both by first appearance in an unordered
    scan (a plan's row order), so the numbering, and with it the order in which the comparison sums add,
    is now the same from one run to the next; against the old reader the estimates differ by rounding only
    (~1e-13 relative, tests/test_effects.py)."""
    axis = term_axis(conn)
    if axis is None:
        return _empty()
    names, first, build_terms = axis
    # The columns start where the data can reach (issue 15, memory): two terms (the longest baseline)
    # before the first term with a measure, a cohort or a build term; the calendar file goes back years
    # before any of them (HT2019 on, against data from 2024), and every column costs 33 bytes a pupil.
    # Nothing indexes a term before it (a baseline is at most that far back from a cohort), and the
    # columns end where the calendar does (an event term beyond it is never due).
    start = _axis_start(conn, first)
    names, build_terms, first = names[start - first:], [b - (start - first) for b in build_terms], start
    n_terms = len(names)

    # A failed read leaves the tables to the transaction's rollback (a DROP would fail in an aborted one).
    conn.execute(f"DROP TABLE IF EXISTS {_PUPIL}, {_UNIT}")
    # Every pupil of the old reader: with a measure row, or with an enrollment (cohort or not), in dim_pupil.
    conn.execute(
        f"""CREATE TEMPORARY TABLE {_PUPIL.split('.')[1]} AS
            SELECT k.student_key, (row_number() OVER (ORDER BY k.student_key COLLATE "C") - 1)::int4 AS i
              FROM (SELECT m.student_key
                      FROM core.pupil_term_measure m
                      JOIN core.dim_term t ON t.term = m.term
                      JOIN core.dim_pupil p ON p.student_key = m.student_key
                    UNION
                    SELECT e.student_key
                      FROM core.fact_enrollment e
                      JOIN core.dim_pupil p ON p.student_key = e.student_key) k""")
    conn.execute(f"ANALYZE {_PUPIL}")
    # A unit gets a number only where some pupil-term has both the unit and the school year (as before).
    conn.execute(
        f"""CREATE TEMPORARY TABLE {_UNIT.split('.')[1]} AS
            SELECT x.school_unit_id, (row_number() OVER (ORDER BY x.school_unit_id) - 1)::int8 AS u
              FROM (SELECT DISTINCT m.school_unit_id
                      FROM core.pupil_term_measure m
                      JOIN core.dim_term t ON t.term = m.term
                      JOIN {_PUPIL} p ON p.student_key = m.student_key
                     WHERE m.school_unit_id IS NOT NULL AND m.school_year IS NOT NULL) x""")
    conn.execute(f"ANALYZE {_UNIT}")
    n = conn.execute(f"SELECT count(*) FROM {_PUPIL}").fetchone()[0]

    outcome = {o: np.full((n, n_terms), np.nan) for o in OUTCOMES}
    # int32 codes (a unit number times 16 plus a school year: room for 134 M units)
    cell = np.full((n, n_terms), -1, dtype=np.int32)
    school = np.full((n, n_terms), -1, dtype=np.int32)
    # Unknowns are sent as the arrays' fill values (NaN, -1), so every COPY row has the same width.
    for a in _copy_arrays(conn, f"""
            SELECT p.i, (t.term_order - {first})::int4,
                   coalesce(u.u * {_YEARS} + m.school_year, -1)::int4, coalesce(u.u, -1)::int4,
                   coalesce(m.share_passed, 'NaN'), coalesce(m.merit_value::double precision, 'NaN'),
                   coalesce(m.absence_rate, 'NaN')
              FROM core.pupil_term_measure m
              JOIN core.dim_term t ON t.term = m.term
              JOIN {_PUPIL} p ON p.student_key = m.student_key
              LEFT JOIN {_UNIT} u ON u.school_unit_id = m.school_unit_id AND m.school_year IS NOT NULL""",
                          (">i4", ">i4", ">i4", ">i4", ">f8", ">f8", ">f8")):
        i, j = a["v0"], _columns(a["v1"], n_terms)
        cell[i, j] = a["v2"]
        school[i, j] = a["v3"]
        for o, v in zip(OUTCOMES, ("v4", "v5", "v6")):
            outcome[o][i, j] = a[v]
    in_programme = np.zeros((n, n_terms), dtype=bool)
    for a in _copy_arrays(conn, f"""
            SELECT p.i, (t.term_order - {first})::int4
              FROM core.fact_enrollment e
              JOIN core.dim_term t ON e.start_date <= t.end_date AND e.effective_end_date >= t.start_date
              JOIN {_PUPIL} p ON p.student_key = e.student_key""", (">i4", ">i4")):
        in_programme[a["v0"], _columns(a["v1"], n_terms)] = True

    # Participants only (a fraction of the pupils), in key order as before; the programme and district
    # strings are shared between rows, not one object per participant.
    part_pupil, part_cohort, part_programme, part_district = [], [], [], []
    strings: dict = {}
    with conn.cursor() as cur, cur.copy(
            f"""COPY (SELECT p.i, f.cohort - {first}, f.programme, f.district
                        FROM (SELECT DISTINCT ON (e.student_key) e.student_key, e.programme, e.district,
                                     (SELECT min(t.term_order) FROM core.dim_term t
                                       WHERE t.end_date >= e.start_date) AS cohort
                                FROM core.fact_enrollment e
                                JOIN core.dim_pupil d ON d.student_key = e.student_key
                               ORDER BY e.student_key, e.start_date, e.programme) f
                        JOIN {_PUPIL} p ON p.student_key = f.student_key
                       WHERE f.cohort IS NOT NULL
                       ORDER BY f.student_key) TO STDOUT""") as copy:
        copy.set_types(["int4", "int4", "text", "text"])
        for i, g, prog, dist in copy.rows():
            part_pupil.append(i)
            part_cohort.append(g)
            part_programme.append(strings.setdefault(prog, prog))
            part_district.append(strings.setdefault(dist, dist))
    conn.execute(f"DROP TABLE {_PUPIL}, {_UNIT}")
    return Panel(
        terms=names, build_terms=build_terms, outcome=outcome, cell=cell, school=school,
        in_programme=in_programme,
        part_pupil=np.array(part_pupil, dtype=np.int64),
        part_cohort=np.array(part_cohort, dtype=np.int64),
        part_programme=np.array(part_programme, dtype=object),
        part_district=np.array(part_district, dtype=object),
    )


def _axis_start(conn, first: int) -> int:
    """The term_order of the panel's first column (see read_panel)."""
    lo = conn.execute(
        """SELECT least((SELECT min(t.term_order) FROM core.dim_term t
                          WHERE t.term IN (SELECT term FROM core.pupil_term_measure
                                           UNION SELECT term FROM core.build_term)),
                        (SELECT min(t.term_order) FROM core.fact_enrollment e
                           JOIN core.dim_term t ON t.end_date >= e.start_date))""").fetchone()[0]
    return first if lo is None else max(first, lo - max(BASELINES.values()))


def _columns(j: np.ndarray, n_terms: int) -> np.ndarray:
    """Term indexes of a COPY block, refused when outside the panel (numpy would wrap a negative one)."""
    if j.size and (j.min() < 0 or j.max() >= n_terms):
        raise ValueError("a pupil-term lies outside the panel's terms")
    return j


_PUPIL = "pg_temp.effects_panel_pupil"   # student_key -> pupil index
_UNIT = "pg_temp.effects_panel_unit"     # school_unit_id -> unit code
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _copy_arrays(conn, query: str, types: tuple[str, ...], chunk: int = 1 << 20):
    """Stream a query's rows by binary COPY as numpy record arrays (fields v0, v1, ...) of about ``chunk``
    bytes each. Every column must be NOT NULL and of the fixed-width type given (big-endian numpy codes):
    then a row is a fixed number of bytes and a block parses in one call, without a Python object per row."""
    fields = [("n", ">i2")]
    for k, t in enumerate(types):
        fields += [(f"l{k}", ">i4"), (f"v{k}", t)]
    row = np.dtype(fields)
    buf = bytearray()
    header = False
    with conn.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
        for block in copy:
            buf += block
            if not header:
                if len(buf) < 19 or len(buf) < 19 + int.from_bytes(buf[15:19], "big"):
                    continue
                if bytes(buf[:11]) != _COPY_SIGNATURE:
                    raise ValueError("not a binary COPY stream")
                del buf[:19 + int.from_bytes(buf[15:19], "big")]
                header = True
            if len(buf) >= chunk:
                yield _rows(buf, row, types)
        if len(buf) >= row.itemsize:
            yield _rows(buf, row, types)
    if bytes(buf) != b"\xff\xff":
        raise ValueError("binary COPY stream ended mid-row (a NULL or a column of another type?)")


def _rows(buf: bytearray, row: np.dtype, types: tuple[str, ...]) -> np.ndarray:
    """The whole rows at the start of ``buf`` (removed from it), checked field by field."""
    k = len(buf) // row.itemsize
    a = np.frombuffer(bytes(buf[:k * row.itemsize]), dtype=row)
    del buf[:k * row.itemsize]
    widths = [np.dtype(t).itemsize for t in types]
    if (a["n"] != len(types)).any() or any((a[f"l{j}"] != w).any() for j, w in enumerate(widths)):
        raise ValueError("binary COPY row of an unexpected shape (a NULL or a column of another type?)")
    return a


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
        c_g = panel.cell[:, g].astype(np.int64)  # keys below are cohort * big + cell
        ok = ~np.isnan(dy) & (c_g >= 0)
        comparison = ok & ~panel.in_programme[:, b:t + 1].any(axis=1)
        idx = np.flatnonzero(comparison)
        order = np.argsort(c_g[idx], kind="stable")
        idx = idx[order]
        ids, starts, counts = np.unique(c_g[idx], return_index=True, return_counts=True)
        sums = np.add.reduceat(dy[idx], starts) if idx.size else np.zeros(0)
        # kept per cohort for the rare exact distinct count: 4 bytes a pupil, not 8 (issue 15)
        held = idx.astype(np.int32) if panel.cell.shape[0] < 2 ** 31 else idx
        have = {}
        for cid, st, cnt, sm in zip(ids.tolist(), starts.tolist(), counts.tolist(), sums.tolist()):
            k = int(g) * big + cid
            comp[k] = (cnt, sm)
            comp_pupils[k] = held[st:st + cnt]
            have[cid] = True
        pupils = panel.part_pupil[mine]
        pc = c_g[pupils]
        change[mine] = dy[pupils]
        key[mine] = np.where(pc >= 0, int(g) * big + pc, -1)
        school[mine] = panel.school[pupils, g]
        valid[mine] = ok[pupils] & np.array([have.get(int(c), False) for c in pc], dtype=bool)
    return Cells(valid, due, event_term, key, school, change, comp, comp_pupils, big)
