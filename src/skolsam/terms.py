"""School terms (HT = autumn, VT = spring) and the city's term calendar.

The packaged calendar holds Stockholm's term dates; a deployment overrides it with the
``term_calendar`` setting (a CSV with columns term,start_date,end_date).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable

_TERM = re.compile(r"^(HT|VT)(\d{4})$")


@dataclass(frozen=True, order=True)
class Term:
    year: int
    semester: str  # "VT" sorts before "HT" within a year by the order key below

    @property
    def name(self) -> str:
        return f"{self.semester}{self.year}"

    @property
    def order(self) -> int:
        """Monotonic index: VT2025 < HT2025 < VT2026."""
        return self.year * 2 + (1 if self.semester == "HT" else 0)

    def previous(self) -> "Term":
        return Term(self.year - 1, "HT") if self.semester == "VT" else Term(self.year, "VT")

    def next(self) -> "Term":
        return Term(self.year, "HT") if self.semester == "VT" else Term(self.year + 1, "VT")

    def __str__(self) -> str:
        return self.name


def parse_term(name: str) -> Term:
    m = _TERM.match(name.strip().upper())
    if not m:
        raise ValueError(f"not a term name (HT2025, VT2026): {name!r}")
    return Term(int(m.group(2)), m.group(1))


@dataclass(frozen=True)
class TermDates:
    term: Term
    start: dt.date
    end: dt.date

    @property
    def name(self) -> str:
        return self.term.name


def load_calendar(path: str | Path | None = None) -> list[TermDates]:
    if path:
        text = Path(path).read_text(encoding="utf-8-sig")
    else:
        text = resources.files("skolsam").joinpath("data/term_calendar.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    out = [
        TermDates(parse_term(r["term"]), dt.date.fromisoformat(r["start_date"]), dt.date.fromisoformat(r["end_date"]))
        for r in rows
    ]
    out.sort(key=lambda t: t.term.order)
    for t in out:
        if t.end < t.start:
            raise ValueError(f"term {t.name} ends before it starts")
    return out


def term_for_date(day: dt.date, calendar: list[TermDates]) -> TermDates | None:
    for t in calendar:
        if t.start <= day <= t.end:
            return t
    return None


def calendar_by_name(calendar: list[TermDates]) -> dict[str, TermDates]:
    return {t.name: t for t in calendar}


def resolve(requested: Iterable[str] | str, calendar: list[TermDates]) -> list[TermDates]:
    """The named terms, checked against ``calendar``: names as a list or one comma-separated string, in any
    case, each once, in term order. An unknown or malformed name is a ValueError naming it.

    The one resolver of term names for every caller (the extractor's attendance windows, the build's terms,
    backfills); what a caller picks when nothing is named is the caller's own rule."""
    by_name = calendar_by_name(calendar)
    names = requested.split(",") if isinstance(requested, str) else list(requested)
    out: list[TermDates] = []
    for raw in names:
        if not str(raw).strip():
            continue
        name = parse_term(str(raw)).name
        if name not in by_name:
            raise ValueError(f"term {name} is not in the term calendar")
        if by_name[name] not in out:
            out.append(by_name[name])
    return sorted(out, key=lambda t: t.term.order)
