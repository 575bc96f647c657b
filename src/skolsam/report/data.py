"""Reading the report's input: aggregate rows of ``mart.group_term`` only (DESIGN 5).

Never ``mart.participant_term``: the report holds no student-level row and no key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..terms import parse_term
from ..warehouse.dictionary import GROUP_TERM

ALL = "ALL"
# group_term's columns from their one declaration, the marts' table spec.
DIMENSIONS = GROUP_TERM.key
MEASURES = tuple(GROUP_TERM.measures)
COLUMNS = tuple(GROUP_TERM.column_names)
PROGRAMMES = ("PPSS", "SkolFam", "KP/KF")
PARTICIPANTS = "participants"
COMPARISON = "comparison"


class ReportError(RuntimeError):
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

    def value(self, measure: str) -> float | None:
        return None if self.suppressed else self.values.get(measure)


@dataclass
class GroupTerm:
    """The rows of mart.group_term for a few terms, looked up by their dimensions."""

    rows: dict[tuple[str, ...], GroupRow] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> "GroupTerm":
        out = cls()
        for r in records:
            values = {m: (None if r.get(m) is None else float(r[m])) for m in MEASURES}
            row = GroupRow(
                term=str(r["term"]),
                population=str(r["population"]),
                programme=str(r["programme"]),
                district=str(r["district"]),
                sex=str(r["sex"]),
                school_year=str(r["school_year"]),
                suppressed=bool(r["suppressed"]),
                values=values,
            )
            out.rows[tuple(getattr(row, d) for d in DIMENSIONS)] = row
        return out

    def get(self, term: str, population: str, programme: str = ALL, district: str = ALL,
            sex: str = ALL, school_year: str = ALL) -> GroupRow | None:
        return self.rows.get((term, population, programme, district, sex, school_year))

    def has_term(self, term: str) -> bool:
        return any(k[0] == term for k in self.rows)

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


def _exists(conn) -> bool:
    return bool(conn.execute("SELECT to_regclass('mart.group_term') IS NOT NULL").fetchone()[0])


def available_terms(warehouse_url: str) -> list[str]:
    """Terms present in mart.group_term, oldest first (by term order, not by text)."""
    from ..warehouse.connection import connect

    with connect(warehouse_url) as conn:
        if not _exists(conn):
            raise ReportError("mart.group_term does not exist: run the warehouse build first")
        names = [r[0] for r in conn.execute("SELECT DISTINCT term FROM mart.group_term")]
    return sorted(names, key=lambda n: parse_term(n).order)


def latest_term(warehouse_url: str) -> str | None:
    terms = available_terms(warehouse_url)
    return terms[-1] if terms else None


def load_group_term(warehouse_url: str, terms: Iterable[str]) -> GroupTerm:
    from ..warehouse.connection import connect

    terms = list(terms)
    with connect(warehouse_url) as conn:
        if not _exists(conn):
            raise ReportError("mart.group_term does not exist: run the warehouse build first")
        cur = conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM mart.group_term WHERE term = ANY(%s)", (terms,)
        )
        names = [d.name for d in cur.description]
        records = [dict(zip(names, r)) for r in cur]
    return GroupTerm.from_records(records)
