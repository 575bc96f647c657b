"""The marts' table spec (DESIGN 5): each mart column declared once, with its type, nullability, meaning,
unit and rule, held as data, the way jaffle-shop keeps a model's description and tests beside it.

What reads it or is checked against it:
* ``docs/data_dictionary.md`` is rendered from here (``python -m skolsam.warehouse.dictionary > docs/...``);
* the quality gate's ``contract_columns`` check of every mart suite takes its column list from here
  (``contract_columns()``, a Great Expectations suite parameter);
* the report reads group_term's dimensions and measures from here (``skolsam.report.data``);
* a test compares the migrations' tables (information_schema: names, order, types, nullability, primary
  key) and the document with this module, so none of them can drift from the others.
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
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    grain: str
    readers: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()      # the primary key: for the aggregate marts, the dimensions of a row
    statuses: tuple[str, ...] = ()  # text columns that say why figures are missing (not measures)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def measures(self) -> list[str]:
        """The columns that are neither the key, the ``suppressed`` flag nor a status."""
        return [c.name for c in self.columns
                if c.name not in self.key and c.name != "suppressed" and c.name not in self.statuses]


_T, _I, _F, _N, _B = "text", "integer", "double precision", "numeric", "boolean"
_BIG = "bigint"
_SHARE = "share 0–1"
ABSENCE_STATUS_RULE = (
    "`reported`: the term's attendance window was read from every school system the pupil was in that term "
    "(core.term_attendance_status, from the extract coverage) and attendance was reported for the pupil. "
    "`not_reported`: the window was read and the school reported no attendance for the pupil (the absence "
    "figures are NULL for that reason). `not_extracted`: the window of a school system the pupil was in that "
    "term was never read (before the history start, or not yet backfilled): every absence figure (minutes, "
    "rates, band, and the change) is NULL, never 0 and never computed from the other systems. A backfill of "
    "the term fills it.")

PARTICIPANT_TERM = Table(
    "mart.participant_term",
    "one row per participant, programme and term. A participant is a pupil whose enrollment period in a "
    "programme overlaps the term by at least `participation_min_overlap_days` days (open periods run to the "
    "build's reference date). Pupils with a security marking in SS 12000 never appear here (they count in "
    "group_term only), nor do participants not found in SS 12000 (the match-rate gate watches their number).",
    "skolsam_analyst",
    (
        Column("student_key", _T, "pseudonym", "The pupil", "HMAC-SHA256 of the personnummer (DESIGN 4); the same key in every table.", nullable=False),
        Column("programme", _T, "code", "The programme", "`PPSS`, `SkolFam` or `KP/KF`, from the enrollment list.", nullable=False),
        Column("term", _T, "term", "The term", "`HT2025` (autumn), `VT2026` (spring); dates from the term calendar.", nullable=False),
        Column("district", _T, "name", "District of the enrollment", "Today's district of the district named in the enrollment list (historical names mapped); with two periods in the term, the one with most days in it.", nullable=False),
        Column("school_unit_code", _T, "code", "School unit attended that term", "Skolverket's school unit code of the SS 12000 enrolment overlapping the term most (not cancelled); NULL without one."),
        Column("school_year", _I, "year", "School year that term", "From the same enrolment: 0 (förskoleklass: school type FKLASS, or GR with year 0) to 9; NULL without one."),
        Column("sex", _T, "code", "Sex", "`Kvinna`, `Man` or `Okänt`, from SS 12000.", nullable=False),
        Column("subjects_graded", _I, "subjects", "Subjects with a grade that term", "The grade that counts per subject: latest registeredDate, then last modified; deleted grades never count. SV and SVA are one subject (the better grade). Moderna språk and modersmål count. 0 without grades.", nullable=False),
        Column("subjects_passed", _I, "subjects", "Subjects passed that term", "Grades A–E; F and `-` (streck) are not passed.", nullable=False),
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
        Column("prev_term", _T, "term", "The previous term", "Always named (VT2026 → HT2025, HT2025 → VT2025), whether or not the pupil took part then.", nullable=False),
        Column("prev_share_passed", _F, _SHARE, "share_passed in the previous term", "Same rule, previous term's grades."),
        Column("share_passed_change", _F, "share points", "Change in share_passed", "This term minus the previous; NULL when either is NULL."),
        Column("prev_merit_value", _N, "points", "merit_value in the previous term", "Same rule, previous term's grades."),
        Column("merit_value_change", _N, "points", "Change in merit_value", "This term minus the previous; NULL when either is NULL."),
        Column("prev_absence_rate", _F, _SHARE, "absence_rate in the previous term", "Same rule, previous term's window."),
        Column("absence_rate_change", _F, "share points", "Change in absence_rate", "This term minus the previous; NULL when either is NULL."),
        Column("absence_status", _T, "code", "Why the absence figures are there or not", ABSENCE_STATUS_RULE, nullable=False),
        Column("prev_absence_status", _T, "code", "absence_status of the previous term", "Same rule, previous term; a pupil with no record that term is `not_extracted` when a school system that knows them never had that window read, else `not_reported`.", nullable=False),
    ),
    key=("term", "programme", "student_key"),
    statuses=("absence_status", "prev_absence_status"),
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
        Column("term", _T, "term", "The term", "As in participant_term.", nullable=False),
        Column("population", _T, "code", "Whose figures", "`participants`: pupils in a programme that term. `comparison`: pupils in no programme that term who attend one of the (school unit, school year) pairs the row's participants attend, of the row's sex unless it is `ALL`.", nullable=False),
        Column("programme", _T, "code", "Programme or ALL", "For a comparison row: the programme whose participants define it.", nullable=False),
        Column("district", _T, "name", "Today's district or ALL", "The participants' enrollment district.", nullable=False),
        Column("sex", _T, "code", "Sex or ALL", "`Kvinna`, `Man`, `Okänt` or `ALL`.", nullable=False),
        Column("school_year", _T, "year", "School year or ALL", "`0` (förskoleklass) … `9` or `ALL` (settings mart_school_year_min/_max); a pupil without a school year in that range that term counts under `ALL` only.", nullable=False),
        Column("n_students", _I, "pupils", "Distinct pupils in the group", "A pupil in two programmes counts once under `ALL`. NULL when suppressed."),
        Column("share_passed_mean", _F, _SHARE, "Mean share_passed", "Mean over pupils with a known value (as SQL AVG). NULL when suppressed or none known."),
        Column("improved_share", _F, _SHARE, "Share whose share_passed rose", "Among pupils with a known share_passed this term and the previous one, the share whose share_passed is higher now. NULL below year 6 (no grades), and for the first graded term (year 6 autumn: no grades the term before)."),
        Column("merit_value_mean", _F, "points", "Mean merit_value", "Mean over pupils with a known value."),
        Column("eligible_vocational_share", _F, _SHARE, "Share eligible for a vocational programme", "Among year-9 pupils with grades that term, the share eligible; NULL if none."),
        Column("absence_rate_mean", _F, _SHARE, "Mean absence_rate", "Mean over pupils with a known value."),
        Column("high_absence_share", _F, _SHARE, "Share with high absence", "Among pupils with a known absence_rate, the share at or above absence_high (0.10)."),
        Column("very_high_absence_share", _F, _SHARE, "Share with very high absence", "Among pupils with a known absence_rate, the share at or above absence_very_high (0.20)."),
        Column("suppressed", _B, "flag", "Figures hidden", "True: fewer than suppression_min_n pupils, or hidden so another hidden row cannot be recovered; every measure, n_students too, is NULL. A comparison row is also hidden when its participants row is.", nullable=False),
        Column("absence_status", _T, "code", "Whether the absence figures come from read windows", "`reported`: every pupil of the group had the term's attendance window read (some may have nothing reported). `not_extracted`: for at least one pupil the window of a school system they were in was never read, so absence_rate_mean, high_absence_share and very_high_absence_share are NULL (never a mean over part of the group). Set on suppressed rows too.", nullable=False),
    ),
    key=("term", "population", "programme", "district", "sex", "school_year"),
    statuses=("absence_status",),
)

TARGET_GROUP = Table(
    "mart.target_group",
    "one row per term, school unit and school year, each a value or `ALL` (a total), with at least one pupil "
    "in years 6–9 that term. Is the programme reaching its target group? PPSS's criteria: pupils in years 6–9 "
    "with high absence and low goal attainment. Counts only, never which pupils; protected pupils count. "
    "Suppressed like group_term (primary below `suppression_min_n` pupils, then secondary).",
    "skolsam_analyst",
    (
        Column("term", _T, "term", "The term", "As in participant_term.", nullable=False),
        Column("school_unit_code", _T, "code", "School unit or ALL", "Skolverket's school unit code of the pupil's SS 12000 enrolment that term; a pupil without one counts under `ALL` only.", nullable=False),
        Column("school_year", _T, "year", "School year or ALL", "`6`…`9` or `ALL` (PPSS's years).", nullable=False),
        Column("n_pupils", _I, "pupils", "Pupils in the cell", "Every pupil found in SS 12000 in those years, protected pupils included. NULL when suppressed."),
        Column("n_target", _I, "pupils", "Pupils meeting the criteria", "absence_rate ≥ `target_absence_min` (0.20) and share_passed ≤ `target_share_passed_max` (0.75), both settings, compared exactly. A pupil with either figure unknown (no teaching offered, no grade) does not count."),
        Column("n_target_enrolled", _I, "pupils", "Of them, enrolled", "Target pupils who are participants that term in any programme (the enrollment overlaps the term by `participation_min_overlap_days`)."),
        Column("coverage_share", _F, _SHARE, "Share of the target group reached", "n_target_enrolled / n_target; NULL when n_target is 0."),
        Column("n_enrolled_not_target", _I, "pupils", "Participants outside the criteria", "Participants that term in the cell who do not meet the criteria (or whose figures are unknown)."),
        Column("suppressed", _B, "flag", "Figures hidden", "As in group_term, on n_pupils; every count is NULL.", nullable=False),
        Column("absence_status", _T, "code", "Whether the criteria could be judged", "`reported`: every pupil of the cell had the term's attendance window read. `not_extracted`: for at least one pupil the window of a school system they were in was never read, so whether they meet the criteria is unknown: n_target, n_target_enrolled, coverage_share and n_enrolled_not_target are NULL (n_pupils is shown), never a count that leaves such pupils out.", nullable=False),
    ),
    key=("term", "school_unit_code", "school_year"),
    statuses=("absence_status",),
)

PROGRAMME_EFFECT = Table(
    "mart.programme_effect",
    "one row per term, programme, district, outcome, event term and estimator. Does a programme help? A "
    "difference-in-differences estimate: participants' change in the outcome from a baseline term to an event "
    "term, minus the change of comparison pupils in the same school unit and school year, within (school unit, "
    "school year at the start) cells weighted by participants, pooled over the cohorts of start terms. "
    "Computed by `skolsam.effects` in the build; earlier terms' rows stay, so readers see the estimate develop.",
    "skolsam_analyst",
    (
        Column("term", _T, "term", "The latest term the estimate uses", "Cohorts whose event term is this term or earlier.", nullable=False),
        Column("programme", _T, "code", "Programme or ALL", "`PPSS`, `SkolFam`, `KP/KF` or `ALL`; a pupil is in a programme's estimate when their first enrollment is in it.", nullable=False),
        Column("district", _T, "name", "Today's district or ALL", "The district of the pupil's first enrollment.", nullable=False),
        Column("outcome", _T, "code", "What is measured", "`share_passed`, `merit_value` or `absence_rate` (grade outcomes only where both terms have grades, so from year 6).", nullable=False),
        Column("event_term", _I, "terms", "Terms since the start", "0 = the start term g (the term in which the pupil's first enrollment starts), 1, 2.", nullable=False),
        Column("estimator", _T, "code", "Which baseline", "`did` (the headline): baseline g−2, the last term before coordinators chose the pupil. `did_prev_term`: baseline g−1, the term they were chosen at, an upper bound that contains the rebound from a bad term.", nullable=False),
        Column("estimate", _F, "outcome units", "Estimated effect", "Σ over cells of participants × (participants' mean change − comparison pupils' mean change) / participants. Comparison pupils: in no programme from the baseline to the event term, same cell, the outcome known in both terms."),
        Column("ci_low", _F, "outcome units", "95 % interval, low end", "estimate − t(G−1, 0.975) × se."),
        Column("ci_high", _F, "outcome units", "95 % interval, high end", "estimate + t(G−1, 0.975) × se."),
        Column("se", _F, "outcome units", "Standard error", "Clustered by school unit (CR1, as a weighted regression with cell fixed effects computes it), or the leave-one-school-out jackknife where that is larger."),
        Column("df", _I, "count", "Degrees of freedom", "G − 1, G the number of school units."),
        Column("n_participants", _I, "pupils", "Participants the estimate rests on", "With the outcome known in both terms and comparison pupils in their cell."),
        Column("n_comparison", _I, "pupils", "Comparison pupils", "Distinct pupils."),
        Column("n_schools", _I, "school units", "School units (G)", "Units with at least one cell in the estimate."),
        Column("n_excluded", _I, "pupils", "Participants left out", "Without the baseline or event term's outcome, without a school unit and year at the start, or with no comparison pupil in their cell."),
        Column("verdict", _T, "text", "The answer in words", "`förbättring` (the interval lies on the good side of 0: higher share and merit, lower absence), `försämring` (the bad side), `osäkert` (it covers 0), `för få elever` (suppressed).", nullable=False),
        Column("suppressed", _B, "flag", "Figures hidden", "Fewer than suppression_min_n participants or comparison pupils, or fewer than 2 school units; or hidden so a hidden district's or programme's estimate cannot be recovered from the others. Every measure and count is NULL.", nullable=False),
    ),
    key=("term", "programme", "district", "outcome", "event_term", "estimator"),
)

TABLES: tuple[Table, ...] = (PARTICIPANT_TERM, GROUP_TERM, TARGET_GROUP, PROGRAMME_EFFECT)

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
    ("Target group: enrolled", "A pupil who meets the criteria counts as enrolled when they take part in any "
     "programme that term (PPSS, SkolFam or KP/KF): the question is whether the cooperation reaches them at "
     "all. Unknown absence or share passed means not in the target group. Cells are suppressed on n_pupils, "
     "as group_term is on n_students."),
    ("Programme effects: who is in an estimate", "A pupil's cohort g is the first term whose last day is on or "
     "after the start of their first enrollment (a start in the summer belongs to the autumn term). The "
     "pupil's cell is their school unit and year in g. They count in their first enrollment's programme and "
     "district, and under ALL. Comparison pupils are in no programme for a single day from the baseline term "
     "to the event term. A cell without a comparison pupil cannot be compared: its participants count in "
     "n_excluded."),
    ("Programme effects: uncertainty", "Standard errors are clustered by school unit as a weighted regression "
     "of the change on a participant dummy and cell fixed effects computes them (CR1: G/(G−1)·(N−1)/(N−K)), "
     "with t(G−1) critical values; the leave-one-school-out jackknife replaces them where it is larger. "
     "Suppression is primary (too few pupils or schools) and secondary: among the districts of a programme, "
     "and among the programmes of a district, with the ALL estimate shown, never exactly one is hidden."),
    ("Suppression", "Rows of fewer than suppression_min_n pupils are hidden. In every set of rows that differ "
     "in one dimension, with its `ALL` row shown, there is never exactly one small hidden part: one hidden row "
     "gets a second (the shown row with the fewest pupils, or else the `ALL` row), repeated until stable. Pupils "
     "the total counts but no row of the set shows (an unknown school year, say) are such a hidden part when "
     "fewer than suppression_min_n. A hidden `ALL` row whose shown rows add up to it exactly gets a hidden "
     "partner among them. A comparison row is hidden when it has fewer than suppression_min_n pupils "
     "or its participants row is hidden; comparison rows then get the same secondary suppression."),
)


def contract_columns() -> dict[str, list[str]]:
    """The column list of every mart, as the suites' ``contract_columns`` check reads it: suite parameter
    ``columns_<schema>_<table>`` (e.g. ``columns_mart_group_term``)."""
    return {f"columns_{t.name.replace('.', '_')}": t.column_names for t in TABLES}


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
        "Generated from `src/skolsam/warehouse/dictionary.py`, the marts' one table spec (`python -m "
        "skolsam.warehouse.dictionary > docs/data_dictionary.md`); a test checks it and the migrations' tables "
        "against each other, and the quality gate takes each mart's column list from it. The marts are the "
        "analysts' contract (DESIGN section 5); the rules are DESIGN section 6, implemented in `sql/models/`.",
        "Thresholds (suppression size, absence bands, overlap days, target-group criteria) are settings (`skolsam.settings`); the "
        "values shown are the defaults.",
        "",
    ]
    for t in TABLES:
        lines += [f"## `{t.name}`", "", f"Grain: {t.grain}", "", f"Readable by: {t.readers}.", "",
                  f"Key: {', '.join(f'`{k}`' for k in t.key)}.", "",
                  "| # | column | type | null | unit | meaning | rule |", "|---|---|---|---|---|---|---|"]
        for i, c in enumerate(t.columns, 1):
            null = "yes" if c.nullable else "no"
            lines.append(f"| {i} | `{c.name}` | {c.type} | {null} | {_cell(c.unit)} | {_cell(c.meaning)} | "
                         f"{_cell(c.rule)} |")
        lines.append("")
    lines += ["## Rules where DESIGN is silent", ""]
    lines += [f"- **{title}.** {text}" for title, text in NOTES]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render_markdown())
