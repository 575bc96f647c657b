"""What may be exported, and how each column is headed in Swedish.

Only aggregate marts are exportable; ``mart.participant_term`` (pseudonymised pupil rows) never is, and
no other table can be named. The column meanings come from the data dictionary
(skolsam.warehouse.dictionary) at export time; only the Swedish headings are declared here.
"""

from __future__ import annotations

from dataclasses import dataclass

# Exportable marts in sheet order, with the columns they are sorted by. A table missing from the warehouse
# (programme_effect and target_group arrive with the effects work) is left out of the export, not an error.
EXPORTABLE: dict[str, tuple[str, ...]] = {
    "mart.group_term": ("population", "programme", "district", "sex", "school_year"),
    "mart.programme_effect": ("programme", "district", "outcome", "event_term", "estimator"),
    "mart.target_group": ("school_unit_code", "school_year"),
}
NEVER_EXPORTED = ("mart.participant_term",)

# Swedish column headings, one per column name (a name means the same in every mart).
HEADINGS: dict[str, str] = {
    "term": "Termin",
    "population": "Population (deltagare/jämförelse)",
    "programme": "Insats",
    "district": "Stadsdelsförvaltning",
    "sex": "Kön",
    "school_year": "Årskurs",
    "n_students": "Antal elever",
    "share_passed_mean": "Andel godkända ämnen, medelvärde",
    "improved_share": "Andel som höjt andelen godkända ämnen",
    "merit_value_mean": "Meritvärde, medelvärde",
    "eligible_vocational_share": "Andel behöriga till yrkesprogram (åk 9)",
    "absence_rate_mean": "Frånvaro, medelvärde",
    "high_absence_share": "Andel med hög frånvaro",
    "very_high_absence_share": "Andel med mycket hög frånvaro",
    "suppressed": "Dold (för få elever)",
    "absence_status": "Frånvarouppgifter (reported = inlästa, not_extracted = perioden aldrig hämtad)",
    "outcome": "Utfallsmått",
    "event_term": "Terminer sedan start",
    "estimator": "Skattningsmetod",
    "estimate": "Skattad effekt",
    "ci_low": "Konfidensintervall 95 %, nedre",
    "ci_high": "Konfidensintervall 95 %, övre",
    "se": "Medelfel",
    "df": "Frihetsgrader",
    "n_participants": "Antal deltagare",
    "n_comparison": "Antal jämförelseelever",
    "n_schools": "Antal skolenheter",
    "n_excluded": "Antal deltagare utan jämförbara terminer",
    "verdict": "Bedömning",
    "school_unit_code": "Skolenhetskod",
    "n_pupils": "Antal elever",
    "n_target": "Antal elever i målgruppen",
    "n_target_enrolled": "Antal i målgruppen med insats",
    "coverage_share": "Täckningsgrad",
    "n_enrolled_not_target": "Antal med insats utanför målgruppen",
}

SHEET_NAMES = {"mart.group_term": "Grupper", "mart.programme_effect": "Effekter", "mart.target_group": "Målgrupp"}


def heading(column: str) -> str:
    """The Swedish heading of a column; a column added to a mart later keeps its own name until named here."""
    return HEADINGS.get(column, column)


@dataclass(frozen=True)
class ColumnDoc:
    column: str
    heading: str
    unit: str
    meaning: str
    rule: str


def column_docs(table: str, columns: list[str]) -> list[ColumnDoc]:
    """Each exported column's heading with its unit, meaning and rule from the data dictionary."""
    from ..warehouse import dictionary

    try:
        entries = {c.name: c for c in dictionary.table(table).columns}
    except KeyError:
        entries = {}
    out = []
    for name in columns:
        entry = entries.get(name)
        out.append(ColumnDoc(name, heading(name), entry.unit if entry else "",
                             entry.meaning if entry else "(not yet in the data dictionary)",
                             entry.rule if entry else ""))
    return out


def table_grain(table: str) -> str:
    from ..warehouse import dictionary

    try:
        return dictionary.table(table).grain
    except KeyError:
        return ""
