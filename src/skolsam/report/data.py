"""Reading the report's input: aggregates only, never a pupil-level row or key.

- ``mart.group_term`` (DESIGN 5) for every term up to the reported one (the trend needs them all);
- counts and means computed in SQL (sql/report/*.sql) for what group_term does not carry: schools,
  valid and invalid absence apart, improved / unchanged / worsened;
- ``mart.programme_effect`` and ``mart.target_group`` when they exist;
- the audit tables for "Kvalitet och bortfall".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..errors import SkolsamError
from ..terms import parse_term
from ..warehouse.dictionary import GROUP_TERM

ALL = "ALL"
# group_term's columns from their one declaration, the marts' table spec.
DIMENSIONS = GROUP_TERM.key
MEASURES = tuple(GROUP_TERM.measures)
COLUMNS = tuple(GROUP_TERM.column_names)
# Read from mart.group_term when the mart carries them (else the report computes them, see PupilFigures).
OPTIONAL_MEASURES = ("valid_absence_rate_mean", "invalid_absence_rate_mean")
PROGRAMMES = ("PPSS", "SkolFam", "KP/KF")
PARTICIPANTS = "participants"
COMPARISON = "comparison"


class ReportError(SkolsamError, RuntimeError):
    """The report cannot be made (no mart, no rows for the term)."""


@dataclass(frozen=True)
class GroupRow:
    term: str
    population: str
    programme: str
    district: str
    sex: str
    school_year: str
    suppressed: bool
    values: dict[str, float | None]
    absence_status: str = "reported"   # 'not_extracted': the absence figures are NULL, the window never read

    def value(self, measure: str) -> float | None:
        return None if self.suppressed else self.values.get(measure)


@dataclass
class GroupTerm:
    """The rows of mart.group_term for some terms, looked up by their dimensions."""

    rows: dict[tuple[str, ...], GroupRow] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> "GroupTerm":
        out = cls()
        for r in records:
            values = {m: (None if r.get(m) is None else float(r[m]))
                      for m in dict.fromkeys(MEASURES + OPTIONAL_MEASURES) if m != "suppressed"}
            row = GroupRow(
                term=str(r["term"]),
                population=str(r["population"]),
                programme=str(r["programme"]),
                district=str(r["district"]),
                sex=str(r["sex"]),
                school_year=str(r["school_year"]),
                suppressed=bool(r["suppressed"]),
                values=values,
                absence_status=str(r.get("absence_status") or "reported"),
            )
            out.rows[tuple(getattr(row, d) for d in DIMENSIONS)] = row
        return out

    def get(self, term: str, population: str, programme: str = ALL, district: str = ALL,
            sex: str = ALL, school_year: str = ALL) -> GroupRow | None:
        return self.rows.get((term, population, programme, district, sex, school_year))

    def has_term(self, term: str) -> bool:
        return any(k[0] == term for k in self.rows)

    def terms(self) -> list[str]:
        return sorted({k[0] for k in self.rows}, key=lambda n: parse_term(n).order)

    def values_of(self, dimension: str, term: str, **fixed: str) -> list[str]:
        """Distinct values of one dimension among the term's participant rows with the others fixed."""
        idx = DIMENSIONS.index(dimension)
        seen: list[str] = []
        for key, row in self.rows.items():
            if key[0] != term or row.population != PARTICIPANTS or key[idx] == ALL:
                continue
            if any(getattr(row, d) != v for d, v in fixed.items()):
                continue
            if key[idx] not in seen:
                seen.append(key[idx])
        return seen


@dataclass
class PupilFigures:
    """Per (term, population, programme, school year or 'ALL'): n, n_schools, valid/invalid absence means,
    improvement counts."""

    rows: dict[tuple[str, str, str, str], dict[str, float | None]] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> "PupilFigures":
        out = cls()
        for r in records:
            year = ALL if r.get("school_year") is None else str(r["school_year"])
            key = (str(r["term"]), str(r["population"]), str(r["programme"]), year)
            out.rows[key] = {k: (None if v is None else float(v)) for k, v in r.items()
                             if k not in ("term", "population", "programme", "school_year")}
        return out

    def get(self, term: str, population: str, programme: str,
            school_year: str = ALL) -> dict[str, float | None] | None:
        return self.rows.get((term, population, programme, school_year))


@dataclass
class Quality:
    """What "Kvalitet och bortfall" shows: counts and dates from the audit tables."""

    enrolled: int | None = None  # distinct pupils in the social services' lists
    matched: int | None = None  # of those, found in the education data
    sources: list[dict[str, Any]] = field(default_factory=list)  # source, last_success, rows_read, ...
    quarantine: list[dict[str, Any]] = field(default_factory=list)  # source, reason_code, n
    gate: list[dict[str, Any]] = field(default_factory=list)  # severity, passed, failed, checked_at


@dataclass
class ReportInputs:
    group_term: GroupTerm
    pupil: PupilFigures = field(default_factory=PupilFigures)
    quality: Quality = field(default_factory=Quality)
    effects: list[dict[str, Any]] | None = None  # mart.programme_effect rows, None when the mart is absent
    target: list[dict[str, Any]] | None = None  # mart.target_group rows, None when the mart is absent
    # core.term_attendance_status rows with status 'never_read' (term, source, reason) up to the term: which
    # school system's attendance window was never extracted, so the report can say why absence is missing.
    unread_windows: list[dict[str, Any]] = field(default_factory=list)


def _exists(conn, table: str) -> bool:
    return bool(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0])


def _columns(conn, schema: str, table: str) -> set[str]:
    cur = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                       "AND table_name = %s", (schema, table))
    return {r[0] for r in cur}


def _records(cur) -> list[dict[str, Any]]:
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur]


def available_terms(warehouse_url: str) -> list[str]:
    """Terms present in mart.group_term, oldest first (by term order, not by text)."""
    from ..warehouse.connection import connect

    with connect(warehouse_url) as conn:
        if not _exists(conn, "mart.group_term"):
            raise ReportError("mart.group_term does not exist: run the warehouse build first")
        names = [r[0] for r in conn.execute("SELECT DISTINCT term FROM mart.group_term")]
    return sorted(names, key=lambda n: parse_term(n).order)


def latest_term(warehouse_url: str) -> str | None:
    terms = available_terms(warehouse_url)
    return terms[-1] if terms else None


def _load_group_term(conn, terms: list[str]) -> GroupTerm:
    present = _columns(conn, "mart", "group_term")
    optional = [c for c in OPTIONAL_MEASURES if c in present and c not in COLUMNS]
    cur = conn.execute(f"SELECT {', '.join(COLUMNS + tuple(optional))} FROM mart.group_term "
                       "WHERE term = ANY(%s)", (terms,))
    return GroupTerm.from_records(_records(cur))


def load_group_term(warehouse_url: str, terms: Iterable[str]) -> GroupTerm:
    from ..warehouse.connection import connect

    with connect(warehouse_url) as conn:
        if not _exists(conn, "mart.group_term"):
            raise ReportError("mart.group_term does not exist: run the warehouse build first")
        return _load_group_term(conn, list(terms))


def _load_quality(conn, warehouse_url: str) -> Quality:
    from ..warehouse import sqlfiles

    q = Quality()
    if _exists(conn, "staging.enrollment") and _exists(conn, "staging.ss12000_person"):
        from ..enrollment.match import match_rate  # the gate's own count, not a copy of it

        result = match_rate(warehouse_url)
        q.enrolled, q.matched = result.enrolled, result.matched
    if _exists(conn, "audit.load_run"):
        q.sources = _records(conn.execute(sqlfiles.read("report/quality_extraction.sql")))
    if _exists(conn, "audit.quarantine"):
        q.quarantine = _records(conn.execute(sqlfiles.read("report/quality_quarantine.sql")))
    if _exists(conn, "audit.dq_result"):
        q.gate = _records(conn.execute(sqlfiles.read("report/quality_gate.sql")))
    return q


def load_inputs(warehouse_url: str, term: str) -> ReportInputs:
    """Everything the report of ``term`` shows, in one connection."""
    from ..warehouse import sqlfiles
    from ..warehouse.connection import connect

    order = parse_term(term).order
    with connect(warehouse_url) as conn:
        if not _exists(conn, "mart.group_term"):
            raise ReportError("mart.group_term does not exist: run the warehouse build first")
        names = [r[0] for r in conn.execute("SELECT DISTINCT term FROM mart.group_term")]
        terms = [n for n in names if parse_term(n).order <= order]
        inputs = ReportInputs(_load_group_term(conn, terms))
        if _exists(conn, "core.pupil_term_measure") and _exists(conn, "core.fact_participation"):
            # this term and the previous one: the tables that use these figures show no other term
            wanted = [term, parse_term(term).previous().name]
            cur = conn.execute(sqlfiles.read("report/programme_pupil_figures.sql"), {"terms": wanted})
            inputs.pupil = PupilFigures.from_records(_records(cur))
        inputs.quality = _load_quality(conn, warehouse_url)
        if _exists(conn, "core.term_attendance_status"):
            inputs.unread_windows = [r for r in _records(conn.execute(
                "SELECT term, source, reason FROM core.term_attendance_status WHERE status = 'never_read' "
                "AND term = ANY(%s) ORDER BY term, source", (terms,)))]
        if _exists(conn, "mart.programme_effect"):
            # an empty mart (created, not yet computed for the term) shows no section either
            inputs.effects = _records(conn.execute(
                "SELECT * FROM mart.programme_effect WHERE term = %s", (term,))) or None
        if _exists(conn, "mart.target_group"):
            inputs.target = _records(conn.execute(
                "SELECT * FROM mart.target_group WHERE term = %s", (term,))) or None
    return inputs
