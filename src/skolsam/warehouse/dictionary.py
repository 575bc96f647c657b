"""The data dictionary of the marts (DESIGN 5): every column's meaning, unit and rule, held as data.

``docs/data_dictionary.md`` is rendered from here (``python -m skolsam.warehouse.dictionary > docs/...``), and
a test compares both the document and this module with the real tables' columns (information_schema), so
neither can drift from the warehouse.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str      # as information_schema.columns.data_type reports it
    unit: str
    meaning: str
    rule: str


@dataclass(frozen=True)
class Table:
    name: str
    grain: str
    readers: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


_T, _I, _F, _N, _B = "text", "integer", "double precision", "numeric", "boolean"
_BIG = "bigint"
_SHARE = "share 0–1"

PARTICIPANT_TERM = Table(
    "mart.participant_term",
    "one row per participant, programme and term. A participant is a pupil whose enrollment period in a "
    "programme overlaps the term by at least `participation_min_overlap_days` days (open periods run to the "
    "build's reference date). Pupils with a security marking in SS 12000 never appear here (they count in "
    "group_term only), nor do participants not found in SS 12000 (the match-rate gate watches their number).",
    "skolsam_analyst",
    (
        Column("student_key", _T, "pseudonym", "The pupil", "HMAC-SHA256 of the personnummer (DESIGN 4); the same key in every table."),
        Column("programme", _T, "code", "The programme", "`PPSS`, `SkolFam` or `KP/KF`, from the enrollment list."),
        Column("term", _T, "term", "The term", "`HT2025` (autumn), `VT2026` (spring); dates from the term calendar."),
        Column("district", _T, "name", "District of the enrollment", "Today's district of the district named in the enrollment list (historical names mapped); with two periods in the term, the one with most days in it."),
        Column("school_unit_code", _T, "code", "School unit attended that term", "Skolverket's school unit code of the SS 12000 enrolment overlapping the term most (not cancelled); NULL without one."),
        Column("school_year", _I, "year", "School year that term", "From the same enrolment: 0 (förskoleklass: school type FKLASS, or GR with year 0) to 9; NULL without one."),
        Column("sex", _T, "code", "Sex", "`Kvinna`, `Man` or `Okänt`, from SS 12000."),
        Column("subjects_graded", _I, "subjects", "Subjects with a grade that term", "The grade that counts per subject: latest registeredDate, then last modified; deleted grades never count. SV and SVA are one subject (the better grade). Moderna språk and modersmål count. 0 without grades."),
        Column("subjects_passed", _I, "subjects", "Subjects passed that term", "Grades A–E; F and `-` (streck) are not passed."),
        Column("share_passed", _F, _SHARE, "Share of graded subjects passed", "subjects_passed / subjects_graded; NULL without a grade that term. Grades are given from year 6, so below it this and every grade measure (merit, eligibility, their changes) is NULL, never 0; the absence measures carry the follow-up."),
        Column("merit_value", _N, "points 0–340", "Merit value (meritvärde)", "A=20, B=17.5, C=15, D=12.5, E=10, F and `-` 0. The 16 best grades other than moderna språk (modersmål may be one; SV/SVA only the better), plus the best moderna språk (M1…/M2…) as a 17th. Fewer grades: the sum of those there are. NULL without a grade."),
        Column("eligible_vocational", _B, "flag", "Eligible for a vocational programme", "E or better in SV or SVA, EN and MA, and in at least 5 other subjects; from that term's grades whatever the school year; NULL without a grade."),
        Column("eligible_hp_ek_hu_sa", _B, "flag", "Eligible for the EK, HU and SA programmes", "SV/SVA, EN, MA and at least 9 other subjects passed, GE, HI, RE and SH among them; NULL without a grade."),
        Column("eligible_hp_na_te", _B, "flag", "Eligible for the NA and TE programmes", "SV/SVA, EN, MA and at least 9 other subjects passed, BI, FY and KE among them; NULL without a grade."),
        Column("eligible_hp_es", _B, "flag", "Eligible for the ES programme", "SV/SVA, EN, MA and any 9 other subjects passed; NULL without a grade."),
        Column("offered_minutes", _BIG, "minutes", "Teaching offered over the term window", "Sum over activities of SS 12000 aggregatedAttendance for the term's calendar window; NULL without attendance data."),
        Column("attended_minutes", _BIG, "minutes", "Minutes attended", "As offered_minutes."),
        Column("valid_absence_minutes", _BIG, "minutes", "Valid (excused) absence", "As offered_minutes."),
        Column("invalid_absence_minutes", _BIG, "minutes", "Invalid (unexcused) absence", "As offered_minutes."),
        Column("absence_rate", _F, _SHARE, "Share of offered time absent", "(valid + invalid absence) / offered minutes; NULL when nothing was offered (0 or unknown)."),
        Column("invalid_absence_rate", _F, _SHARE, "Share of offered time absent without a valid reason", "invalid absence / offered minutes; NULL when nothing was offered."),
        Column("absence_band", _T, "band", "Absence band", "`<10%`, `10-20%` or `>=20%` from settings absence_high / absence_very_high, compared exactly: 10 % exactly is `10-20%`, 20 % exactly is `>=20%`. NULL when absence_rate is."),
        Column("prev_term", _T, "term", "The previous term", "Always named (VT2026 → HT2025, HT2025 → VT2025), whether or not the pupil took part then."),
        Column("prev_share_passed", _F, _SHARE, "share_passed in the previous term", "Same rule, previous term's grades."),
        Column("share_passed_change", _F, "share points", "Change in share_passed", "This term minus the previous; NULL when either is NULL."),
        Column("prev_merit_value", _N, "points", "merit_value in the previous term", "Same rule, previous term's grades."),
        Column("merit_value_change", _N, "points", "Change in merit_value", "This term minus the previous; NULL when either is NULL."),
        Column("prev_absence_rate", _F, _SHARE, "absence_rate in the previous term", "Same rule, previous term's window."),
        Column("absence_rate_change", _F, "share points", "Change in absence_rate", "This term minus the previous; NULL when either is NULL."),
    ),
)

GROUP_TERM = Table(
    "mart.group_term",
    "one row per group: term, population and four dimensions, each a value or `ALL` (a total). The cube is "
    "full: every combination with at least one participant that term has a row, and every participants row "
    "a comparison row with the same dimension values. Protected pupils count here. Rows of fewer than "
    "`suppression_min_n` (10) pupils are suppressed, and more rows are suppressed so that no hidden figure "
    "can be recovered from a total and its shown parts (the rules: `sql/models/mart/230_suppression.sql`).",
    "skolsam_analyst, skolsam_reader",
    (
        Column("term", _T, "term", "The term", "As in participant_term."),
        Column("population", _T, "code", "Whose figures", "`participants`: pupils in a programme that term. `comparison`: pupils in no programme that term who attend one of the (school unit, school year) pairs the row's participants attend, of the row's sex unless it is `ALL`."),
        Column("programme", _T, "code", "Programme or ALL", "For a comparison row: the programme whose participants define it."),
        Column("district", _T, "name", "Today's district or ALL", "The participants' enrollment district."),
        Column("sex", _T, "code", "Sex or ALL", "`Kvinna`, `Man`, `Okänt` or `ALL`."),
        Column("school_year", _T, "year", "School year or ALL", "`0` (förskoleklass) … `9` or `ALL` (settings mart_school_year_min/_max); a pupil without a school year in that range that term counts under `ALL` only."),
        Column("n_students", _I, "pupils", "Distinct pupils in the group", "A pupil in two programmes counts once under `ALL`. NULL when suppressed."),
        Column("share_passed_mean", _F, _SHARE, "Mean share_passed", "Mean over pupils with a known value (as SQL AVG). NULL when suppressed or none known."),
        Column("improved_share", _F, _SHARE, "Share whose share_passed rose", "Among pupils with a known share_passed this term and the previous one, the share whose share_passed is higher now. NULL below year 6 (no grades), and for the first graded term (year 6 autumn: no grades the term before)."),
        Column("merit_value_mean", _F, "points", "Mean merit_value", "Mean over pupils with a known value."),
        Column("eligible_vocational_share", _F, _SHARE, "Share eligible for a vocational programme", "Among year-9 pupils with grades that term, the share eligible; NULL if none."),
        Column("absence_rate_mean", _F, _SHARE, "Mean absence_rate", "Mean over pupils with a known value."),
        Column("high_absence_share", _F, _SHARE, "Share with high absence", "Among pupils with a known absence_rate, the share at or above absence_high (0.10)."),
        Column("very_high_absence_share", _F, _SHARE, "Share with very high absence", "Among pupils with a known absence_rate, the share at or above absence_very_high (0.20)."),
        Column("suppressed", _B, "flag", "Figures hidden", "True: fewer than suppression_min_n pupils, or hidden so another hidden row cannot be recovered; every measure, n_students too, is NULL. A comparison row is also hidden when its participants row is."),
    ),
)

TABLES: tuple[Table, ...] = (PARTICIPANT_TERM, GROUP_TERM)

# Readings of DESIGN where it is silent, kept beside the columns so analysts see them.
NOTES: tuple[tuple[str, str], ...] = (
    ("SV and SVA", "Alternatives (Skolverket): a pupil with grades in both has one subject, the better grade, "
     "in the subject counts, the merit value and the eligibility."),
    ("Moderna språk and modersmål", "Both are graded subjects in share_passed and count as \"other subjects\" "
     "for eligibility. Modersmål may be one of the 16 merit grades; only the best moderna språk counts, as the "
     "17th."),
    ("Grades left out", "A grade without semester and year (no term), of a syllabus without a subject "
     "designation, or with a value other than A–F or `-`; deleted grades."),
    ("Participants not found in SS 12000", "Left out of both marts: with no sex, school or protection status "
     "known they could not be placed in a group, nor shown safely. The build reports their number per term "
     "and the match-rate gate stops a build when too many are missing."),
    ("Open enrollment periods", "A period without an end date runs until the build's reference date (the day "
     "it runs), so a programme never has participants in a term that has not begun."),
    ("Attendance windows", "Per pupil and term, the latest extracted window counts; minutes of an earlier, "
     "shorter window of the same term are not added."),
    ("Comparison pupils", "Pupils enrolled in a programme for even one day of the term are never comparison "
     "pupils, even when that is shorter than participation_min_overlap_days."),
    ("School years", "The marts follow förskoleklass (0) to year 9 (DESIGN 5: SkolFam serves ages 6–12, KP/KF any "
     "school age, PPSS years 6–9). Grades exist from year 6, so younger pupils' grade measures are NULL and "
     "their absence is the follow-up; a pupil moving into year 6 has no previous grades, so the first graded "
     "term's changes are NULL. Participant rows keep any other year; in group_term such pupils (and pupils "
     "without a year) count under school_year `ALL` only."),
    ("Suppression", "Rows of fewer than suppression_min_n pupils are hidden. In every set of rows that differ "
     "in one dimension, with its `ALL` row shown, there is never exactly one small hidden part: one hidden row "
     "gets a second (the shown row with the fewest pupils, or else the `ALL` row), repeated until stable. Pupils "
     "the total counts but no row of the set shows (an unknown school year, say) are such a hidden part when "
     "fewer than suppression_min_n. A comparison row is hidden when it has fewer than suppression_min_n pupils "
     "or its participants row is hidden; comparison rows then get the same secondary suppression."),
)


def table(name: str) -> Table:
    for t in TABLES:
        if t.name == name:
            return t
    raise KeyError(name)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    lines = [
        "# Data dictionary: the marts",
        "",
        "Generated from `src/skolsam/warehouse/dictionary.py` (`python -m skolsam.warehouse.dictionary > "
        "docs/data_dictionary.md`); a test checks it against the warehouse's tables. The marts are the "
        "analysts' contract (DESIGN section 5); the rules are DESIGN section 6, implemented in `sql/models/`.",
        "Thresholds (suppression size, absence bands, overlap days) are settings (`skolsam.settings`); the "
        "values shown are the defaults.",
        "",
    ]
    for t in TABLES:
        lines += [f"## `{t.name}`", "", f"Grain: {t.grain}", "", f"Readable by: {t.readers}.", "",
                  "| # | column | type | unit | meaning | rule |", "|---|---|---|---|---|---|"]
        for i, c in enumerate(t.columns, 1):
            lines.append(f"| {i} | `{c.name}` | {c.type} | {_cell(c.unit)} | {_cell(c.meaning)} | {_cell(c.rule)} |")
        lines.append("")
    lines += ["## Rules where DESIGN is silent", ""]
    lines += [f"- **{title}.** {text}" for title, text in NOTES]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render_markdown())
