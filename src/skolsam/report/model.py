"""What the report's tables say, composed from the inputs (no database, no matplotlib, no HTML).

Every table carries the symbol legend (fmt.legend) and its notes; the cell rules are in cells.py.
"""

from __future__ import annotations

from typing import Any

from ..districts import CURRENT as CURRENT_DISTRICTS
from ..settings import Settings
from . import fmt
from .cells import (ABSENCE_MEASURES, BLANK, IMPOSSIBLE, KINDS, SUPP, Cell, Table, diff_cell, number_cell,
                    value_cell)
from .data import ALL, COMPARISON, PARTICIPANTS, PROGRAMMES, GroupRow, GroupTerm, ReportInputs

FIRST_GRADED_YEAR = 6
FINAL_YEAR = "9"
UNROUNDED_NOTE = "Skillnader och förändringar är räknade på oavrundade värden och kan därför avvika från " \
                 "skillnaden mellan de avrundade talen."

# The school systems (sources, DESIGN 3.1.1) by the name a board member knows; others by their id.
SYSTEM_LABELS = {"ss12000": "stadens skolsystem"}

# Who each programme is for (the city's decisions, DESIGN 5).
PROGRAMME_TARGET = {
    "PPSS": "elever i årskurs 6–9 med hög frånvaro och låg måluppfyllelse",
    "SkolFam": "barn i familjehem i åldern 6–12 år, från förskoleklass till årskurs 6",
    "KP/KF": "barn i alla skolåldrar som har beviljats kontaktperson eller kontaktfamilj",
}


def measure_labels(settings: Settings) -> dict[str, str]:
    high = fmt.setting_percent(settings.absence_high)
    very_high = fmt.setting_percent(settings.absence_very_high)
    return {
        "n_students": "Antal elever",
        "n_schools": "Antal skolor",
        "share_passed_mean": "Andel godkända ämnen (medelvärde)",
        "merit_value_mean": "Meritvärde (medelvärde)",
        "eligible_vocational_share": "Behöriga till gymnasiets yrkesprogram (årskurs 9)",
        "absence_rate_mean": "Frånvaro, andel av undervisningstiden (medelvärde)",
        "valid_absence_rate_mean": "varav giltig frånvaro",
        "invalid_absence_rate_mean": "varav ogiltig frånvaro",
        "high_absence_share": f"Hög frånvaro (minst {high})",
        "very_high_absence_share": f"Mycket hög frånvaro (minst {very_high})",
        "improved_share": "Höjt andelen godkända ämnen jämfört med föregående termin",
    }


def swedish_key(text: str) -> str:
    return text.lower().translate(str.maketrans({"å": "{", "ä": "|", "ö": "}", "é": "e"}))


def year_order(code: str) -> tuple[int, str]:
    return (int(code), code) if code.isdigit() else (99, code)


class ReportModel:
    """The tables of one term's report."""

    def __init__(self, inputs: ReportInputs | GroupTerm, term: str, prev: str, settings: Settings,
                 term_dates: tuple[str, str] | None = None) -> None:
        if isinstance(inputs, GroupTerm):
            inputs = ReportInputs(inputs)
        self.inputs = inputs
        self.data = inputs.group_term
        self.term, self.prev, self.settings = term, prev, settings
        self.term_dates = term_dates
        self.labels = measure_labels(settings)
        self.n_min = settings.suppression_min_n
        self.has_prev = self.data.has_term(prev)
        present = set(self.data.values_of("programme", term))
        # Every programme the city runs is listed, with or without participants this term.
        self.programmes = list(PROGRAMMES) + sorted(present - set(PROGRAMMES))
        self.all_programmes = [ALL] + self.programmes
        self.terms = self.data.terms()
        self.legend = fmt.legend(self.n_min)

    # --- lookups ---------------------------------------------------------------------------------------
    def absence_not_extracted(self, term: str | None = None) -> bool:
        """Does a group of the term lack its absence figures because an attendance window was never read?"""
        t = term or self.term
        return any(k[0] == t and r.absence_status == "not_extracted" for k, r in self.data.rows.items())

    def unread_sources(self, term: str) -> list[str]:
        return sorted({r["source"] for r in self.inputs.unread_windows if r["term"] == term})

    def absence_missing(self, term: str) -> str:
        """Why a term's absence figures are missing, in plain Swedish (the window was never read)."""
        systems = [SYSTEM_LABELS.get(s, f"skolsystemet {s}") for s in self.unread_sources(term)]
        where = fmt.join_and(systems) if systems else "skolsystemet"
        return (f"Frånvaro för {term} saknas: perioden har inte hämtats från {where}. Det betyder inte att "
                "eleverna saknade frånvaro; uppgifterna visas när perioden har lästs in.")

    def absence_notes(self, terms) -> list[str]:
        return [self.absence_missing(t) for t in dict.fromkeys(terms) if self.absence_not_extracted(t)]

    def row(self, population: str, programme: str = ALL, term: str | None = None, **dims: str) -> GroupRow | None:
        return self.data.get(term or self.term, population, programme, **dims)

    def pair(self, programme: str = ALL, term: str | None = None, **dims: str) -> tuple[GroupRow | None, GroupRow | None]:
        return self.row(PARTICIPANTS, programme, term, **dims), self.row(COMPARISON, programme, term, **dims)

    def n(self, programme: str = ALL, population: str = PARTICIPANTS, term: str | None = None) -> float | None:
        r = self.row(population, programme, term)
        return None if r is None else r.value("n_students")

    def has_participants(self, programme: str, term: str | None = None) -> bool:
        return self.row(PARTICIPANTS, programme, term) is not None

    def years_of(self, programme: str, term: str | None = None) -> list[str]:
        return sorted(self.data.values_of("school_year", term or self.term, programme=programme, district=ALL,
                                          sex=ALL), key=year_order)

    def has_grades(self, programme: str, term: str | None = None) -> bool:
        """Could any participant of the programme have grades (a school year from 6 on, or unknown)?"""
        years = self.years_of(programme, term)
        return not years or any(not y.isdigit() or int(y) >= FIRST_GRADED_YEAR for y in years)

    def has_final_year(self, programme: str, term: str | None = None) -> bool:
        years = self.years_of(programme, term)
        return not years or FINAL_YEAR in years

    def possible(self, measure: str, programme: str = ALL, school_year: str = ALL) -> bool:
        """Can the measure exist for the group at all (DESIGN 5: grades from year 6, eligibility in year 9)?"""
        if measure == "eligible_vocational_share":
            return school_year == FINAL_YEAR if school_year != ALL else self.has_final_year(programme)
        if measure in ("share_passed_mean", "merit_value_mean", "improved_share"):
            if school_year != ALL and school_year.isdigit():
                return int(school_year) >= FIRST_GRADED_YEAR
            return self.has_grades(programme)
        return True

    def pupil_value(self, population: str, programme: str, key: str, term: str | None = None,
                    school_year: str = ALL) -> float | None:
        """A figure of sql/report/programme_pupil_figures.sql, shown only where group_term shows the group."""
        term = term or self.term
        group = self.row(population, programme, term, school_year=school_year)
        if group is None or group.suppressed:
            return None
        found = self.inputs.pupil.get(term, population, programme, school_year)
        return None if found is None else found.get(key)

    def absence_part(self, population: str, programme: str, measure: str, school_year: str = ALL) -> Cell:
        """Valid or invalid absence: from group_term when the mart has it, else from the report's SQL."""
        group = self.row(population, programme, school_year=school_year)
        if group is None:
            return IMPOSSIBLE
        if group.suppressed:
            return SUPP
        v = group.values.get(measure)
        if v is None:
            v = self.pupil_value(population, programme, measure, school_year=school_year)
        return number_cell(v, "share1")

    # --- per programme ---------------------------------------------------------------------------------
    def programme_table(self, programme: str) -> Table:
        part, comp = self.pair(programme)
        head = [[{"text": "Mått"}, {"text": f"Deltagare {self.term}"}, {"text": f"Jämförelsegrupp {self.term}"},
                 {"text": "Skillnad¹"}]]
        body: list[list[Cell]] = []

        def add(measure: str, label: str | None = None) -> None:
            ok = self.possible(measure, programme)
            d = BLANK if KINDS[measure] == "count" else diff_cell(part, comp, measure, ok)
            body.append([Cell.label(label or self.labels[measure]), value_cell(part, measure, ok),
                         value_cell(comp, measure, ok), d])

        add("n_students")
        schools = self.pupil_value(PARTICIPANTS, programme, "n_schools")
        body.append([Cell.label(self.labels["n_schools"]),
                     value_cell(None, "n_students") if part is None else number_cell(schools, "count"),
                     BLANK, BLANK])
        graded = self.has_grades(programme)
        if graded:
            add("share_passed_mean")
            add("merit_value_mean")
            add("eligible_vocational_share")
        add("absence_rate_mean")
        for m in ("valid_absence_rate_mean", "invalid_absence_rate_mean"):
            p, c = self.absence_part(PARTICIPANTS, programme, m), self.absence_part(COMPARISON, programme, m)
            body.append([Cell(self.labels[m], "sublabel"), p, c, BLANK])
        add("high_absence_share")
        add("very_high_absence_share")
        notes = ["¹ Deltagare minus jämförelsegrupp, i procentenheter (meritvärde: i meritpoäng). " + UNROUNDED_NOTE,
                 "Antal skolor: de skolor deltagarna går i; jämförelsegruppen går i samma skolor."]
        if not graded:
            notes.insert(0, f"Inga betygsrader: alla deltagare i {fmt.programme_label(programme)} går i "
                            f"förskoleklass till årskurs 5, och betyg sätts först från årskurs 6.")
        if part is None:
            notes.insert(0, self.empty_reason(programme))
        notes[:0] = self.absence_notes([self.term])
        caption = ("Alla insatser (varje elev räknas en gång)" if programme == ALL
                   else fmt.programme_label(programme)) + f", {self.term}"
        return Table(caption=caption, head=head, body=body, notes=notes, key=f"programme-{programme}")

    def empty_reason(self, programme: str) -> str:
        return (f"Inga deltagare i {fmt.programme_label(programme)} under {fmt.term_long(self.term)}: ingen "
                "elev på socialtjänstens listor hade insatsen under terminen och fanns i skolornas uppgifter.")

    def programme_year_table(self, programme: str) -> Table | None:
        """Per school year: absence and its change for every year, grades where they are given."""
        years = self.years_of(programme)
        if not years:
            return None
        graded = any(self.possible("share_passed_mean", programme, y) for y in years)
        top: list[dict[str, Any]] = [{"text": "Årskurs", "rowspan": 2}, {"text": "Antal deltagare", "rowspan": 2},
                                     {"text": "Frånvaro", "colspan": 2},
                                     {"text": "varav ogiltig", "colspan": 2},
                                     {"text": f"Förändring i frånvaro sedan {self.prev}¹", "colspan": 2}]
        sub = [{"text": "Deltagare"}, {"text": "Jämförelse"}] * 3
        if graded:
            top.append({"text": "Andel godkända ämnen", "colspan": 2})
            sub += [{"text": "Deltagare"}, {"text": "Jämförelse"}]
        body = []
        for y in years:
            part, comp = self.pair(programme, school_year=y)
            row = [Cell.label(fmt.year_label(y)), value_cell(part, "n_students"),
                   value_cell(part, "absence_rate_mean"), value_cell(comp, "absence_rate_mean"),
                   self.absence_part(PARTICIPANTS, programme, "invalid_absence_rate_mean", y),
                   self.absence_part(COMPARISON, programme, "invalid_absence_rate_mean", y)]
            for pop, now in ((PARTICIPANTS, part), (COMPARISON, comp)):
                before = self.row(pop, programme, self.prev, school_year=y) if self.has_prev else None
                row.append(diff_cell(now, before, "absence_rate_mean") if self.has_prev else SUPP)
            if graded:
                ok = self.possible("share_passed_mean", programme, y)
                row += [value_cell(part, "share_passed_mean", ok), value_cell(comp, "share_passed_mean", ok)]
            body.append(row)
        if all(c.cls in ("supp", "impossible", "label") for r in body for c in r[1:]):
            return None  # every year hidden: the programme's intro says so in one sentence
        notes = [f"¹ I procentenheter: gruppen {self.term} jämförd med samma årskurs {self.prev}. Det är inte "
                 "exakt samma elever båda terminerna. " + UNROUNDED_NOTE]
        if graded and any(not self.possible("share_passed_mean", programme, y) for y in years):
            notes.append("Betyg sätts från årskurs 6, så för de yngre barnen följs frånvaron upp.")
        notes[:0] = self.absence_notes([self.prev, self.term])
        return Table(caption=f"{fmt.programme_label(programme)} per årskurs, {self.term}", head=[top, sub],
                     body=body, notes=notes, key=f"years-{programme}")

    # --- change ----------------------------------------------------------------------------------------
    def change_table(self, measure: str) -> Table:
        head = [
            [{"text": "Insats", "rowspan": 2}, {"text": "Deltagare", "colspan": 3},
             {"text": "Jämförelsegrupp", "colspan": 3}, {"text": "Skillnad i förändring²", "rowspan": 2}],
            [{"text": self.prev}, {"text": self.term}, {"text": "Förändring¹"},
             {"text": self.prev}, {"text": self.term}, {"text": "Förändring¹"}],
        ]
        body = []
        for p in self.all_programmes:
            ok = self.possible(measure, p)
            row = [Cell.label(fmt.programme_label(p))]
            changes = []
            for pop in (PARTICIPANTS, COMPARISON):
                now, before = self.row(pop, p), self.row(pop, p, term=self.prev)
                row += [value_cell(before, measure, ok), value_cell(now, measure, ok),
                        diff_cell(now, before, measure, ok)]
                va = None if now is None else now.value(measure)
                vb = None if before is None else before.value(measure)
                changes.append(None if va is None or vb is None else va - vb)
            if not ok:
                row.append(IMPOSSIBLE)
            elif None in changes:
                row.append(SUPP)
            else:
                d = changes[0] - changes[1]
                row.append(Cell(fmt.points(d, 1 if KINDS[measure] == "share1" else 0)) if d else Cell(fmt.ZERO, "zero"))
            body.append(row)
        return Table(
            caption=f"{self.labels[measure]}, {self.prev} och {self.term}",
            head=head, body=body, key=f"change-{measure}",
            notes=["¹ I procentenheter. Grupperna är inte exakt desamma båda terminerna: en del elever har börjat "
                   "eller slutat i en insats, och jämförelsegruppen följer deltagarnas skolor och årskurser.",
                   "² Deltagarnas förändring minus jämförelsegruppens. " + UNROUNDED_NOTE]
            + (self.absence_notes([self.prev, self.term]) if measure in ABSENCE_MEASURES else []),
        )

    def improvement_table(self) -> Table:
        head = [
            [{"text": "Insats", "rowspan": 2},
             {"text": "Deltagare som kunde höja sig¹", "colspan": 4},
             {"text": "Jämförelsegrupp som kunde höja sig¹", "colspan": 4},
             {"text": "Det tidigare måttet²", "rowspan": 2}],
            [{"text": "Antal"}, {"text": "Höjt"}, {"text": "Oförändrat"}, {"text": "Sänkt"}] * 2,
        ]
        head[1] = [dict(h) for h in head[1]]
        body = []
        for p in self.all_programmes:
            row = [Cell.label(fmt.programme_label(p))]
            for pop in (PARTICIPANTS, COMPARISON):
                row += self._split_cells(pop, p)
            ok = self.possible("improved_share", p)
            row.append(value_cell(self.row(PARTICIPANTS, p), "improved_share", ok))
            body.append(row)
        return Table(
            caption=f"Andel godkända ämnen {self.term} jämfört med {self.prev}, bland elever som kunde höja sig",
            head=head, body=body, key="improvement",
            notes=[f"¹ Elever med betyg båda terminerna som {self.prev} inte var godkända i alla ämnen. Den som "
                   "redan är godkänd i allt kan inte höja sig och räknas inte. Andelarna summerar till 100 %. "
                   f"Visas när minst {self.n_min} elever kunde höja sig.",
                   "² Deltagare som höjt andelen godkända ämnen, bland alla deltagare med betyg båda terminerna "
                   "(även de som redan var godkända i allt). Det är så nämndernas tidigare uppföljning räknade."],
        )

    def _split_cells(self, population: str, programme: str) -> list[Cell]:
        if not self.has_participants(programme):
            return [value_cell(None, "n_students")] + [IMPOSSIBLE] * 3
        if not self.possible("improved_share", programme):
            return [IMPOSSIBLE] * 4
        base = self.pupil_value(population, programme, "could_improve")
        if base is None or base < self.n_min:
            return [SUPP] * 4
        cells = [number_cell(base, "count")]
        for key in ("improved", "unchanged", "worsened"):
            v = self.pupil_value(population, programme, key)
            cells.append(number_cell(None if v is None else v / base, "share"))
        return cells

    def split_share(self, population: str, programme: str, key: str) -> float | None:
        base = self.pupil_value(population, programme, "could_improve")
        v = self.pupil_value(population, programme, key)
        if base is None or v is None or base < self.n_min or not self.possible("improved_share", programme):
            return None
        return v / base

    def trend_table(self) -> Table:
        top: list[dict[str, Any]] = [{"text": "Termin", "rowspan": 2}, {"text": "Antal deltagare", "rowspan": 2},
                                     {"text": "Andel godkända ämnen", "colspan": 2},
                                     {"text": "Frånvaro", "colspan": 2}]
        sub = [{"text": "Deltagare"}, {"text": "Jämförelse"}, {"text": "Deltagare"}, {"text": "Jämförelse"}]
        body = []
        for t in self.terms:
            part, comp = self.pair(ALL, term=t)
            body.append([Cell.label(t), value_cell(part, "n_students"),
                         value_cell(part, "share_passed_mean"), value_cell(comp, "share_passed_mean"),
                         value_cell(part, "absence_rate_mean"), value_cell(comp, "absence_rate_mean")])
        return Table(caption=f"Alla insatser termin för termin, {self.terms[0]}–{self.terms[-1]}",
                     head=[top, sub], body=body, key="trend",
                     notes=["Vårterminens betyg är oftast högre än höstterminens för alla elever; jämför därför "
                            "deltagarna med jämförelsegruppen samma termin, och vår med vår."]
                     + self.absence_notes(self.terms))

    # --- breakdowns ------------------------------------------------------------------------------------
    def breakdown_table(self, caption: str, groups: list[tuple[str, dict[str, str]]], measures: list[str],
                        programme: str = ALL, first: str = "Grupp", key: str = "") -> Table:
        top: list[dict[str, Any]] = [{"text": first, "rowspan": 2}, {"text": "Antal deltagare", "rowspan": 2}]
        sub: list[dict[str, Any]] = []
        for m in measures:
            top.append({"text": self.labels[m], "colspan": 2})
            sub += [{"text": "Deltagare"}, {"text": "Jämförelse"}]
        body = []
        for label, dims in groups:
            part, comp = self.pair(programme, **dims)
            row = [Cell.label(label), value_cell(part, "n_students")]
            for m in measures:
                ok = self.possible(m, programme, dims.get("school_year", ALL))
                row += [value_cell(part, m, ok), value_cell(comp, m, ok)]
            body.append(row)
        notes = self.absence_notes([self.term]) if set(measures) & set(ABSENCE_MEASURES) else []
        return Table(caption=caption, head=[top, sub], body=body, key=key, notes=notes)

    def districts(self) -> list[str]:
        """Today's eleven districts, and any other the mart names (an unknown one is shown, not hidden)."""
        present = self.data.values_of("district", self.term, programme=ALL, sex=ALL, school_year=ALL)
        return list(CURRENT_DISTRICTS) + sorted(set(present) - set(CURRENT_DISTRICTS), key=swedish_key)

    def districts_without_participants(self) -> list[str]:
        return [d for d in self.districts() if self.row(PARTICIPANTS, ALL, district=d) is None]

    def district_table(self) -> Table:
        t = self.breakdown_table(f"Alla insatser per stadsdelsförvaltning, {self.term}",
                                 [(d, {"district": d}) for d in self.districts()],
                                 ["share_passed_mean", "absence_rate_mean", "high_absence_share"],
                                 first="Stadsdelsförvaltning", key="districts")
        empty = self.districts_without_participants()
        if empty:
            t.notes.append(f"Inga deltagare under terminen från {', '.join(empty)}: socialtjänstens listor från "
                           "dessa stadsdelsförvaltningar hade ingen elev med insats under terminen.")
        return t

    def year_sex_table(self) -> Table:
        years = self.years_of(ALL)
        sexes = [s for s in ("Kvinna", "Man", "Okänt")
                 if s in self.data.values_of("sex", self.term, programme=ALL, district=ALL, school_year=ALL)]
        groups = [(fmt.year_label(y), {"school_year": y}) for y in years]
        groups += [(fmt.sex_label(s), {"sex": s}) for s in sexes]
        return self.breakdown_table(
            f"Alla insatser per årskurs och kön, {self.term}", groups,
            ["share_passed_mean", "merit_value_mean", "eligible_vocational_share", "absence_rate_mean"],
            key="year-sex")

    def all_tables(self) -> list[Table]:
        """Every table in the order the template shows them (for numbering and tests)."""
        return [t for t in self.tables_in_order() if t is not None]

    def tables_in_order(self) -> list[Table | None]:
        out: list[Table | None] = []
        for p in self.all_programmes:
            out += [self.programme_table(p), self.programme_year_table(p) if p != ALL else None]
        if self.has_prev:
            out += [self.change_table("share_passed_mean"), self.change_table("absence_rate_mean"),
                    self.improvement_table()]
        out += [self.trend_table(), self.district_table(), self.year_sex_table()]
        return out
