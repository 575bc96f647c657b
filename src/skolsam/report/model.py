"""What the report says: tables, sentences and chart series, composed from mart.group_term rows.

Pure functions over ``GroupTerm`` (no database, no matplotlib), so the wording and the suppression
rules are easy to test. A hidden (suppressed) figure is shown as "–", a figure that does not exist
(e.g. no year-9 pupil with grades) as "..", and nothing is ever derived from a hidden figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..settings import Settings
from . import fmt
from .data import ALL, COMPARISON, PARTICIPANTS, PROGRAMMES, GroupRow, GroupTerm

# measure -> kind: "count", "share" (0 decimals), "share1" (1 decimal), "merit"
KINDS = {
    "n_students": "count",
    "share_passed_mean": "share",
    "merit_value_mean": "merit",
    "eligible_vocational_share": "share",
    "absence_rate_mean": "share1",
    "high_absence_share": "share",
    "very_high_absence_share": "share",
    "improved_share": "share",
}


def measure_labels(settings: Settings) -> dict[str, str]:
    high = fmt.percent(settings.absence_high)
    very_high = fmt.percent(settings.absence_very_high)
    return {
        "n_students": "Antal elever",
        "share_passed_mean": "Andel godkända ämnen (medelvärde)",
        "merit_value_mean": "Meritvärde (medelvärde)",
        "eligible_vocational_share": "Behöriga till gymnasiets yrkesprogram (årskurs 9)",
        "absence_rate_mean": "Frånvaro, andel av undervisningstiden (medelvärde)",
        "high_absence_share": f"Hög frånvaro (minst {high})",
        "very_high_absence_share": f"Mycket hög frånvaro (minst {very_high})",
        "improved_share": "Höjt andelen godkända ämnen jämfört med föregående termin",
    }


@dataclass(frozen=True)
class Cell:
    text: str
    cls: str = "num"  # num | supp | miss | label | blank

    @staticmethod
    def label(text: str) -> "Cell":
        return Cell(text, "label")


BLANK = Cell("", "blank")
SUPP = Cell(fmt.SUPPRESSED, "supp")
MISS = Cell(fmt.MISSING, "miss")


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


def value_cell(row: GroupRow | None, measure: str) -> Cell:
    if row is None:
        return MISS
    if row.suppressed:
        return SUPP
    v = row.values.get(measure)
    return MISS if v is None else Cell(format_value(v, KINDS[measure]))


def diff_cell(a: GroupRow | None, b: GroupRow | None, measure: str) -> Cell:
    """a − b, never computed from a hidden figure."""
    if (a is not None and a.suppressed) or (b is not None and b.suppressed):
        return SUPP
    va = a.value(measure) if a is not None else None
    vb = b.value(measure) if b is not None else None
    if va is None or vb is None:
        return MISS
    return Cell(format_diff(va - vb, KINDS[measure]))


def value(row: GroupRow | None, measure: str) -> float | None:
    return None if row is None else row.value(measure)


@dataclass
class Table:
    caption: str
    head: list[list[dict[str, Any]]]  # header rows: cells {"text", "colspan", "rowspan"}
    body: list[list[Cell]]
    note: str = ""

    @property
    def flags(self) -> set[str]:
        return {c.cls for row in self.body for c in row}


@dataclass
class Series:
    label: str
    values: list[float | None]
    style: str  # participants | comparison | previous | current


@dataclass
class ChartSpec:
    key: str
    title: str
    alt: str
    panels: list[dict[str, Any]] = field(default_factory=list)  # {"title", "categories", "series", "kind"}
    horizontal: bool = False
    note: str = ""


def swedish_key(text: str) -> str:
    return text.lower().translate(str.maketrans({"å": "{", "ä": "|", "ö": "}", "é": "e"}))


def programmes_in(data: GroupTerm, term: str) -> list[str]:
    present = set(data.values_of("programme", term))
    known = [p for p in PROGRAMMES if p in present]
    return known + sorted(present - set(PROGRAMMES))


class ReportModel:
    """The whole report's content for one term."""

    def __init__(self, data: GroupTerm, term: str, prev: str, settings: Settings,
                 term_dates: tuple[str, str] | None = None) -> None:
        self.data, self.term, self.prev, self.settings = data, term, prev, settings
        self.term_dates = term_dates
        self.labels = measure_labels(settings)
        self.n_min = settings.suppression_min_n
        self.has_prev = data.has_term(prev)
        self.programmes = programmes_in(data, term)
        self.all_programmes = [ALL] + self.programmes

    # --- lookups ---------------------------------------------------------------------------------------
    def row(self, population: str, programme: str = ALL, term: str | None = None, **dims: str) -> GroupRow | None:
        return self.data.get(term or self.term, population, programme, **dims)

    def pair(self, programme: str = ALL, term: str | None = None, **dims: str) -> tuple[GroupRow | None, GroupRow | None]:
        return self.row(PARTICIPANTS, programme, term, **dims), self.row(COMPARISON, programme, term, **dims)

    # --- text ------------------------------------------------------------------------------------------
    @property
    def title(self) -> str:
        return f"Uppföljning av PPSS, SkolFam och KP/KF – {self.term}"

    @property
    def suppression_note(self) -> str:
        return (
            f"{fmt.SUPPRESSED} = visas inte: färre än {self.n_min} elever i gruppen, eller dold för att en annan "
            f"dold uppgift inte ska kunna räknas fram. {fmt.MISSING} = uppgift saknas."
        )

    def _count_phrase(self, row: GroupRow | None) -> str:
        if row is None:
            return "inga"
        if row.suppressed:  # primary (fewer than N) or secondary suppression: say no more than that
            return "ett antal som inte visas"
        return fmt.count(row.values["n_students"] or 0)

    def summary(self) -> list[str]:
        """Sentences with the key figures (participants against the comparison group, all programmes)."""
        t = fmt.term_long(self.term)
        part, comp = self.pair(ALL)
        out: list[str] = []
        per = [f"{self._count_phrase(self.row(PARTICIPANTS, p))} i {fmt.programme_label(p)}" for p in PROGRAMMES]
        extra = [p for p in self.programmes if p not in PROGRAMMES]
        per += [f"{self._count_phrase(self.row(PARTICIPANTS, p))} i {p}" for p in extra]
        per_text = ", ".join(per[:-1]) + " och " + per[-1]
        if part is not None and not part.suppressed and part.values.get("n_students") is not None:
            out.append(
                f"Under {t} ({self.term}) deltog {fmt.count(part.values['n_students'])} elever i någon av "
                f"insatserna: {per_text}. En elev som deltar i flera insatser räknas en gång i totalen."
            )
        else:
            out.append(f"Under {t} ({self.term}) deltog {self._count_phrase(part)} elever i insatserna: {per_text}.")

        def both(measure: str) -> tuple[str | None, str | None]:
            kind = KINDS[measure]
            pv, cv = value(part, measure), value(comp, measure)
            return (format_value(pv, kind) if pv is not None else None,
                    format_value(cv, kind) if cv is not None else None)

        p, c = both("share_passed_mean")
        if p:
            s = f"Deltagarna var i genomsnitt godkända i {p} av sina ämnen"
            s += f", jämfört med {c} i jämförelsegruppen." if c else "."
            out.append(s)
        p, c = both("merit_value_mean")
        if p:
            s = f"Deras genomsnittliga meritvärde var {p}"
            s += f" mot {c} i jämförelsegruppen." if c else "."
            out.append(s)
        p, c = both("eligible_vocational_share")
        if p:
            s = f"Av deltagarna i årskurs 9 var {p} behöriga till gymnasiets yrkesprogram"
            s += f" (jämförelsegruppen {c})." if c else "."
            out.append(s)
        p, c = both("absence_rate_mean")
        if p:
            s = f"Deltagarnas frånvaro var i genomsnitt {p} av undervisningstiden"
            s += f", mot {c} i jämförelsegruppen." if c else "."
            out.append(s)
        p, c = both("high_absence_share")
        if p:
            s = f"{p} av deltagarna hade hög frånvaro, minst {fmt.percent(self.settings.absence_high)}"
            s += f" (jämförelsegruppen {c})." if c else "."
            out.append(s)
        p, _ = both("improved_share")
        if p:
            out.append(
                f"Bland deltagarna med betyg både {fmt.term_long(self.prev)} och {t} hade {p} en högre andel "
                f"godkända ämnen än terminen före."
            )
        return out

    # --- tables ----------------------------------------------------------------------------------------
    def programme_table(self, programme: str) -> Table:
        part, comp = self.pair(programme)
        prev_part = self.row(PARTICIPANTS, programme, term=self.prev) if self.has_prev else None
        head = [[
            {"text": "Mått"},
            {"text": f"Deltagare {self.term}"},
            {"text": f"Jämförelsegrupp {self.term}"},
            {"text": "Skillnad¹"},
            {"text": f"Deltagare {self.prev}"},
        ]]
        body = []
        for measure, label in self.labels.items():
            prev_cell = value_cell(prev_part, measure) if self.has_prev else MISS
            d = BLANK if measure == "n_students" else diff_cell(part, comp, measure)
            body.append([Cell.label(label), value_cell(part, measure), value_cell(comp, measure), d, prev_cell])
        name = fmt.programme_label(programme)
        return Table(
            caption=name if programme != ALL else "Alla insatser (varje elev räknas en gång)",
            head=head,
            body=body,
            note="¹ Deltagare minus jämförelsegrupp, i procentenheter (meritvärde: i meritpoäng).",
        )

    def breakdown_table(self, caption: str, groups: list[tuple[str, dict[str, str]]], measures: list[str],
                        programme: str = ALL, first: str = "Grupp") -> Table:
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
                row += [value_cell(part, m), value_cell(comp, m)]
            body.append(row)
        return Table(caption=caption, head=[top, sub], body=body)

    def districts(self) -> list[str]:
        return sorted(self.data.values_of("district", self.term, programme=ALL, sex=ALL, school_year=ALL),
                      key=swedish_key)

    def district_table(self) -> Table:
        groups = [(d, {"district": d}) for d in self.districts()]
        return self.breakdown_table(
            "Alla insatser per stadsdelsförvaltning",
            groups,
            ["share_passed_mean", "absence_rate_mean", "high_absence_share"],
            first="Stadsdelsförvaltning",
        )

    def year_sex_table(self) -> Table:
        years = sorted(self.data.values_of("school_year", self.term, programme=ALL, district=ALL, sex=ALL),
                       key=lambda y: (len(y), y))
        sexes = [s for s in ("Kvinna", "Man", "Okänt")
                 if s in self.data.values_of("sex", self.term, programme=ALL, district=ALL, school_year=ALL)]
        groups = [(fmt.year_label(y), {"school_year": y}) for y in years]
        groups += [(fmt.sex_label(s), {"sex": s}) for s in sexes]
        return self.breakdown_table(
            "Alla insatser per årskurs och kön",
            groups,
            ["share_passed_mean", "merit_value_mean", "eligible_vocational_share", "absence_rate_mean"],
        )

    def change_table(self) -> Table:
        head = [
            [{"text": "Insats", "rowspan": 2},
             {"text": self.labels["share_passed_mean"], "colspan": 3},
             {"text": self.labels["absence_rate_mean"], "colspan": 3},
             {"text": "Höjt andelen godkända²", "rowspan": 2}],
            [{"text": self.prev}, {"text": self.term}, {"text": "Förändring¹"},
             {"text": self.prev}, {"text": self.term}, {"text": "Förändring¹"}],
        ]
        body = []
        for p in self.all_programmes:
            now = self.row(PARTICIPANTS, p)
            before = self.row(PARTICIPANTS, p, term=self.prev)
            row = [Cell.label(fmt.programme_label(p))]
            for m in ("share_passed_mean", "absence_rate_mean"):
                row += [value_cell(before, m), value_cell(now, m), diff_cell(now, before, m)]
            row.append(value_cell(now, "improved_share"))
            body.append(row)
        return Table(
            caption=f"Deltagarna {self.prev} och {self.term}",
            head=head,
            body=body,
            note=(
                "¹ I procentenheter. Deltagarna är inte desamma båda terminerna: en del har börjat eller slutat. "
                f"² Andel av deltagarna {self.term} med betyg båda terminerna vars andel godkända ämnen ökade; "
                "den jämför samma elever."
            ),
        )

    # --- charts ----------------------------------------------------------------------------------------
    def _programme_series(self, measure: str) -> tuple[list[str], list[Series]]:
        cats = [fmt.programme_label(p) for p in self.all_programmes]
        parts = [value(self.row(PARTICIPANTS, p), measure) for p in self.all_programmes]
        comps = [value(self.row(COMPARISON, p), measure) for p in self.all_programmes]
        return cats, [Series("Deltagare", parts, "participants"), Series("Jämförelsegrupp", comps, "comparison")]

    def _hidden_programmes(self) -> list[str]:
        hidden = []
        for p in self.all_programmes:
            for pop in (PARTICIPANTS, COMPARISON):
                r = self.row(pop, p)
                if r is not None and r.suppressed and fmt.programme_label(p) not in hidden:
                    hidden.append(fmt.programme_label(p))
        return hidden

    def _hidden_note(self, hidden: list[str]) -> str:
        if not hidden:
            return ""
        return (f"{fmt.SUPPRESSED} i diagrammet: uppgiften visas inte (färre än {self.n_min} elever i gruppen "
                f"eller dold uppgift); gäller {', '.join(hidden)}.")

    def chart_passed(self) -> ChartSpec:
        cats, series = self._programme_series("share_passed_mean")
        return ChartSpec(
            key="passed",
            title=f"Andel godkända ämnen per insats, {self.term}",
            alt=f"Stapeldiagram: andel godkända ämnen {self.term} för deltagare och jämförelsegrupp per insats.",
            panels=[{"title": self.labels["share_passed_mean"], "categories": cats, "series": series, "kind": "share"}],
            note=self._hidden_note(self._hidden_programmes()),
        )

    def chart_absence(self) -> ChartSpec:
        panels = []
        for m, title in (("absence_rate_mean", "Frånvaro (medelvärde)"),
                         ("high_absence_share", self.labels["high_absence_share"])):
            cats, series = self._programme_series(m)
            panels.append({"title": title, "categories": cats, "series": series,
                           "kind": "share1" if m == "absence_rate_mean" else "share"})
        return ChartSpec(
            key="absence",
            title=f"Frånvaro per insats, {self.term}",
            alt=f"Stapeldiagram: genomsnittlig frånvaro och andel med hög frånvaro {self.term}, "
                "deltagare och jämförelsegrupp per insats.",
            panels=panels,
            note=self._hidden_note(self._hidden_programmes()),
        )

    def chart_change(self) -> ChartSpec | None:
        if not self.has_prev:
            return None
        cats = [fmt.programme_label(p) for p in self.all_programmes]
        panels = []
        for m, title, kind in (("share_passed_mean", "Andel godkända ämnen", "share"),
                               ("absence_rate_mean", "Frånvaro (medelvärde)", "share1")):
            before = [value(self.row(PARTICIPANTS, p, term=self.prev), m) for p in self.all_programmes]
            now = [value(self.row(PARTICIPANTS, p), m) for p in self.all_programmes]
            panels.append({"title": title, "categories": cats, "kind": kind,
                           "series": [Series(self.prev, before, "previous"), Series(self.term, now, "current")]})
        hidden = [fmt.programme_label(p) for p in self.all_programmes
                  if any(r is not None and r.suppressed
                         for r in (self.row(PARTICIPANTS, p), self.row(PARTICIPANTS, p, term=self.prev)))]
        return ChartSpec(
            key="change",
            note=self._hidden_note(hidden),
            title=f"Deltagarna {self.prev} och {self.term}",
            alt=f"Stapeldiagram: deltagarnas andel godkända ämnen och frånvaro {self.prev} och {self.term} per insats.",
            panels=panels,
        )

    def district_hidden(self) -> list[str]:
        hidden = []
        for d in self.districts():
            part, comp = self.pair(ALL, district=d)
            if any(r is None or r.suppressed for r in (part, comp)):
                hidden.append(d)
        return hidden

    def chart_districts(self) -> ChartSpec | None:
        hidden = set(self.district_hidden())
        shown = [d for d in self.districts() if d not in hidden]
        if not shown:
            return None
        panels = []
        for m, title, kind in (("share_passed_mean", "Andel godkända ämnen", "share"),
                               ("absence_rate_mean", "Frånvaro (medelvärde)", "share1")):
            parts = [value(self.row(PARTICIPANTS, ALL, district=d), m) for d in shown]
            comps = [value(self.row(COMPARISON, ALL, district=d), m) for d in shown]
            panels.append({"title": title, "categories": shown, "kind": kind,
                           "series": [Series("Deltagare", parts, "participants"),
                                      Series("Jämförelsegrupp", comps, "comparison")]})
        note = ""
        if hidden:
            names = sorted(hidden, key=swedish_key)
            note = (f"Visas inte i diagrammet: {', '.join(names)} (färre än {self.n_min} elever i deltagar- eller "
                    "jämförelsegruppen, eller dold uppgift). Se tabellen.")
        return ChartSpec(
            key="districts",
            title=f"Alla insatser per stadsdelsförvaltning, {self.term}",
            alt=f"Liggande stapeldiagram: andel godkända ämnen och frånvaro per stadsdelsförvaltning {self.term}.",
            panels=panels,
            horizontal=True,
            note=note,
        )

    # --- definitions -----------------------------------------------------------------------------------
    def definitions(self) -> list[tuple[str, str]]:
        s = self.settings
        high, very_high = fmt.percent(s.absence_high), fmt.percent(s.absence_very_high)
        return [
            ("Deltagare",
             "Elever som enligt socialtjänstens listor har haft insatsen PPSS, SkolFam eller KP/KF under "
             "terminen (minst en dag av insatsen ligger inom terminen). En elev som har flera insatser räknas "
             "under varje insats, men bara en gång under ”Alla insatser”."),
            ("Jämförelsegrupp",
             "Elever som inte deltar i någon insats under terminen och som går i samma skolor och årskurser "
             "som deltagarna i gruppen. När en rad gäller ett visst kön eller en viss årskurs gäller "
             "jämförelsegruppen samma kön eller årskurs. Jämförelsegruppen visar hur det går för elever i "
             "samma skolmiljö; skillnaden mellan grupperna visar inte insatsens effekt."),
            ("Andel godkända ämnen",
             "För varje elev: antal ämnen med betyg A–E delat med antal ämnen med betyg under terminen "
             "(F och streck räknas som ej godkänt). Tabellerna visar medelvärdet över eleverna."),
            ("Meritvärde",
             "Summan av elevens 16 bästa ämnesbetyg plus det bästa betyget i moderna språk som sjuttonde ämne "
             "(A = 20, B = 17,5, C = 15, D = 12,5, E = 10, F = 0 poäng; högst 340). Det räknas på varje "
             "termins betyg i alla årskurser, så det jämför grupper med varandra men är inte samma sak som "
             "slutbetygets meritvärde i årskurs 9."),
            ("Behörighet till gymnasiets yrkesprogram",
             "Lägst betyget E i svenska eller svenska som andraspråk, engelska och matematik samt i minst fem "
             "andra ämnen. Visas som andel av eleverna i årskurs 9 som har betyg."),
            ("Frånvaro",
             "Giltig och ogiltig frånvaro som andel av den undervisningstid som eleven erbjudits under "
             f"terminen. Hög frånvaro är minst {high}, mycket hög frånvaro minst {very_high}."),
            ("Förbättring",
             "Andelen av eleverna med betyg både denna och föregående termin vars andel godkända ämnen ökade."),
            ("Skydd av uppgifter",
             f"Uppgifter om grupper med färre än {self.n_min} elever visas inte ({fmt.SUPPRESSED}). Ytterligare "
             "uppgifter döljs när en dold uppgift annars skulle kunna räknas fram ur andra. Rapporten bygger "
             "enbart på sammanräknade uppgifter; inga namn eller personnummer finns i underlaget. "
             "Stadsdelsförvaltning avser dagens indelning."),
            ("Underlag",
             "Betyg och frånvaro kommer från skolornas system (SS 12000), uppgifter om insatser från "
             "socialtjänstens listor. Uppgifterna sambearbetas med pseudonymiserade nycklar."),
        ]
