"""Table cells and the symbol rules (fmt's docstring has the conventions).

A cell is decided from the group row and what the measure can be for that group:
- the group has no pupils                      -> count "–", every mean "." (a mean over nobody cannot occur)
- the measure cannot exist for the group       -> "." (grades below year 6, eligibility outside year 9)
- the row is suppressed                        -> ".."
- the value is unknown although it could exist -> ".."
- the value is exactly zero                    -> "–"
Differences are computed on unrounded values and never from a hidden figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import fmt
from .data import GroupRow

# measure -> kind: "count", "share" (whole percent), "share1" (one decimal), "merit"
KINDS = {
    "n_students": "count",
    "n_schools": "count",
    "share_passed_mean": "share",
    "merit_value_mean": "merit",
    "eligible_vocational_share": "share",
    "absence_rate_mean": "share1",
    "valid_absence_rate_mean": "share1",
    "invalid_absence_rate_mean": "share1",
    "high_absence_share": "share",
    "very_high_absence_share": "share",
    "improved_share": "share",
}
GRADE_MEASURES = ("share_passed_mean", "merit_value_mean", "improved_share", "eligible_vocational_share")
ABSENCE_MEASURES = ("absence_rate_mean", "valid_absence_rate_mean", "invalid_absence_rate_mean",
                    "high_absence_share", "very_high_absence_share")


@dataclass(frozen=True)
class Cell:
    text: str
    cls: str = "num"  # num | supp | impossible | zero | label | blank

    @staticmethod
    def label(text: str) -> "Cell":
        return Cell(text, "label")


BLANK = Cell("", "blank")
SUPP = Cell(fmt.SUPPRESSED, "supp")
IMPOSSIBLE = Cell(fmt.IMPOSSIBLE, "impossible")
ZERO = Cell(fmt.ZERO, "zero")


def format_value(value: float, kind: str) -> str:
    if kind == "count":
        return fmt.count(value)
    if kind == "share":
        return fmt.percent(value)
    if kind == "share1":
        return fmt.percent(value, 1)
    if kind == "merit":
        return fmt.number(value, 0)
    return fmt.number(value, 2)


def format_diff(diff: float, kind: str) -> str:
    if kind in ("share", "share1"):
        return fmt.points(diff, 1 if kind == "share1" else 0)
    return fmt.number(diff, 0, signed=True)


def number_cell(value: float | None, kind: str) -> Cell:
    if value is None:
        return SUPP
    if value == 0:
        return ZERO
    return Cell(format_value(value, kind))


def value_cell(row: GroupRow | None, measure: str, possible: bool = True) -> Cell:
    if row is None:  # no pupil in the group
        return ZERO if KINDS[measure] == "count" else IMPOSSIBLE
    if not possible:
        return IMPOSSIBLE
    if row.suppressed:
        return SUPP
    return number_cell(row.values.get(measure), KINDS[measure])


def diff_cell(a: GroupRow | None, b: GroupRow | None, measure: str, possible: bool = True) -> Cell:
    """a − b on unrounded values; never from a hidden figure."""
    if not possible:
        return IMPOSSIBLE
    if a is None or b is None:  # a group with no pupils has no mean to take a difference of
        return IMPOSSIBLE
    va, vb = a.value(measure), b.value(measure)
    if va is None or vb is None:
        return SUPP
    diff = va - vb
    return ZERO if diff == 0 else Cell(format_diff(diff, KINDS[measure]))


def diff_value(a: GroupRow | None, b: GroupRow | None, measure: str) -> float | None:
    va = a.value(measure) if a is not None else None
    vb = b.value(measure) if b is not None else None
    return None if va is None or vb is None else va - vb


@dataclass
class Table:
    caption: str
    head: list[list[dict[str, Any]]]  # header rows: cells {"text", "colspan", "rowspan"}
    body: list[list[Cell]]
    notes: list[str] = field(default_factory=list)
    number: int = 0  # "Tabell 3", set when the report numbers its tables
    key: str = ""

    @property
    def flags(self) -> set[str]:
        return {c.cls for row in self.body for c in row}

    def column(self, header: str) -> list[Cell]:
        """Cells of the column whose last header row text is ``header`` (for tests)."""
        heads = [h["text"] for h in self.head[-1]]
        offset = len(self.body[0]) - len(heads) if self.body else 0
        idx = heads.index(header) + offset
        return [r[idx] for r in self.body]

    def row(self, label: str) -> list[Cell]:
        for r in self.body:
            if r and r[0].text == label:
                return r
        raise KeyError(label)
