"""What each chart shows and says: series, the n behind it, and an alt text that states the finding.

Pure functions of ReportModel (charts.py draws them). A hidden or missing value gets no bar or point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import fmt
from .cells import format_diff, format_value
from .data import ALL, COMPARISON, PARTICIPANTS
from .model import ReportModel

PART_LABEL, COMP_LABEL = "Deltagare", "Jämförelsegrupp"


@dataclass
class Series:
    label: str
    values: list[float | None]
    style: str  # participants | comparison
    low: list[float | None] | None = None  # interval charts: the 95 % interval
    high: list[float | None] | None = None


@dataclass
class ChartSpec:
    key: str
    title: str
    alt: str
    kind: str = "bars"  # bars | lines | interval
    panels: list[dict[str, Any]] = field(default_factory=list)  # {"title", "categories", "series", "kind"}
    horizontal: bool = False
    note: str = ""
    n_text: str = ""  # how many pupils the chart rests on
    number: int = 0


def _v(m: ReportModel, population: str, programme: str, measure: str, term: str | None = None, **dims):
    r = m.row(population, programme, term, **dims)
    return None if r is None else r.value(measure)


def _n_text(m: ReportModel, programmes: list[str]) -> str:
    parts = []
    for p in programmes:
        a, b = m.n(p, PARTICIPANTS), m.n(p, COMPARISON)
        if m.has_participants(p):
            parts.append(f"{fmt.programme_label(p)} {fmt.count(a) if a else fmt.SUPPRESSED}/"
                         f"{fmt.count(b) if b else fmt.SUPPRESSED}")
    return "Antal elever (deltagare/jämförelsegrupp): " + ", ".join(parts) + "." if parts else ""


def _shown(m: ReportModel, measure: str) -> list[str]:
    return [p for p in m.all_programmes if m.has_participants(p) and m.possible(measure, p)]


def _hidden_note(m: ReportModel, programmes: list[str], measure: str) -> str:
    hidden = [fmt.programme_label(p) for p in programmes
              if _v(m, PARTICIPANTS, p, measure) is None or _v(m, COMPARISON, p, measure) is None]
    if not hidden:
        return ""
    return (f"Utan stapel: {', '.join(hidden)} (färre än {m.n_min} elever i gruppen, dold uppgift eller "
            "uppgift saknas).")


def _compare_sentence(m: ReportModel, programmes: list[str], measure: str, kind: str, what: str,
                      higher_is_better: bool) -> str:
    pairs = [(p, _v(m, PARTICIPANTS, p, measure), _v(m, COMPARISON, p, measure)) for p in programmes]
    pairs = [(p, a, b) for p, a, b in pairs if a is not None and b is not None]
    if not pairs:
        return f"Inga uppgifter om {what} kan visas."
    below = [p for p, a, b in pairs if a < b]
    side = "lägre" if below and len(below) == len(pairs) else ("högre" if not below else None)
    head = (f"Deltagarna hade {side} {what} än jämförelsegruppen i alla insatser som visas" if side
            else f"Deltagarnas {what} jämfört med jämförelsegruppen skiljer sig mellan insatserna")
    detail = "; ".join(f"{fmt.programme_label(p)} {format_value(a, kind)} mot {format_value(b, kind)}"
                       for p, a, b in pairs)
    return f"{head}: {detail}."


def _bars(m: ReportModel, measure: str, programmes: list[str], kind: str) -> dict[str, Any]:
    return {"categories": [fmt.programme_label(p) for p in programmes], "kind": kind,
            "series": [Series(PART_LABEL, [_v(m, PARTICIPANTS, p, measure) for p in programmes], "participants"),
                       Series(COMP_LABEL, [_v(m, COMPARISON, p, measure) for p in programmes], "comparison")]}


def chart_passed(m: ReportModel) -> ChartSpec | None:
    shown = _shown(m, "share_passed_mean")
    if not shown:
        return None
    panel = _bars(m, "share_passed_mean", shown, "share")
    panel["title"] = m.labels["share_passed_mean"]
    return ChartSpec(
        key="passed", title=f"Andel godkända ämnen per insats, {m.term}", panels=[panel],
        alt=_compare_sentence(m, shown, "share_passed_mean", "share", "andel godkända ämnen", True),
        note=_hidden_note(m, shown, "share_passed_mean"), n_text=_n_text(m, shown))


def chart_absence(m: ReportModel) -> ChartSpec | None:
    shown = [p for p in m.all_programmes if m.has_participants(p)]
    if not shown:
        return None
    panels = []
    for measure, title, kind in (("absence_rate_mean", "Frånvaro (medelvärde)", "share1"),
                                 ("high_absence_share", m.labels["high_absence_share"], "share")):
        panel = _bars(m, measure, shown, kind)
        panel["title"] = title
        panels.append(panel)
    return ChartSpec(
        key="absence", title=f"Frånvaro per insats, {m.term}", panels=panels,
        alt=_compare_sentence(m, shown, "absence_rate_mean", "share1", "frånvaro", False),
        note=_hidden_note(m, shown, "absence_rate_mean"), n_text=_n_text(m, shown))


def chart_change(m: ReportModel) -> ChartSpec | None:
    if not m.has_prev:
        return None
    shown = [p for p in m.all_programmes if m.has_participants(p) and m.has_participants(p, m.prev)]
    if not shown:
        return None
    panels, sentences = [], []
    for measure, title, kind in (("share_passed_mean", "Andel godkända ämnen", "share"),
                                 ("absence_rate_mean", "Frånvaro", "share1")):
        progs = [p for p in shown if m.possible(measure, p)]
        series = []
        for label, pop, style in ((PART_LABEL, PARTICIPANTS, "participants"), (COMP_LABEL, COMPARISON, "comparison")):
            vals = []
            for p in progs:
                a, b = _v(m, pop, p, measure), _v(m, pop, p, measure, term=m.prev)
                vals.append(None if a is None or b is None else a - b)
            series.append(Series(label, vals, style))
        if progs:
            panels.append({"title": f"{title} (procentenheter)", "categories":
                           [fmt.programme_label(p) for p in progs], "series": series, "kind": "diff" + kind[5:]})
            a, b = series[0].values[0], series[1].values[0]
            if progs[0] == ALL and a is not None and b is not None:
                sentences.append(f"{title.lower()} {format_diff(a, kind)} för deltagarna och "
                                 f"{format_diff(b, kind)} för jämförelsegruppen")
    alt = (f"Förändring från {m.prev} till {m.term}, alla insatser: " + "; ".join(sentences) + " procentenheter."
           if sentences else f"Förändring från {m.prev} till {m.term} per insats.")
    return ChartSpec(key="change", title=f"Förändring från {m.prev} till {m.term}, deltagare och "
                     "jämförelsegrupp", panels=panels, alt=alt, n_text=_n_text(m, shown),
                     note="Grupperna är inte exakt samma elever båda terminerna.")


def chart_trend(m: ReportModel) -> ChartSpec | None:
    terms = m.terms
    if len(terms) < 2:
        return None
    panels, sentences = [], []
    for measure, title, kind in (("share_passed_mean", "Andel godkända ämnen", "share"),
                                 ("absence_rate_mean", "Frånvaro", "share1")):
        series = [Series(label, [_v(m, pop, ALL, measure, term=t) for t in terms], style)
                  for label, pop, style in ((PART_LABEL, PARTICIPANTS, "participants"),
                                            (COMP_LABEL, COMPARISON, "comparison"))]
        panels.append({"title": title, "categories": terms, "series": series, "kind": kind})
        known = [(t, a, b) for t, a, b in zip(terms, series[0].values, series[1].values) if a is not None and b is not None]
        if len(known) >= 2:
            (t0, a0, b0), (t1, a1, b1) = known[0], known[-1]
            sentences.append(f"{title.lower()} från {format_value(a0, kind)} till {format_value(a1, kind)} för "
                             f"deltagarna och från {format_value(b0, kind)} till {format_value(b1, kind)} för "
                             "jämförelsegruppen")
    alt = (f"Från {terms[0]} till {terms[-1]}, alla insatser: " + "; ".join(sentences) + "."
           if sentences else f"Alla insatser termin för termin, {terms[0]}–{terms[-1]}.")
    ns = [m.n(ALL, term=t) for t in terms]
    n_text = "Antal deltagare: " + ", ".join(f"{t} {fmt.count(n) if n else fmt.SUPPRESSED}" for t, n in zip(terms, ns)) + "."
    return ChartSpec(key="trend", kind="lines", title=f"Alla insatser termin för termin, {terms[0]}–{terms[-1]}",
                     panels=panels, alt=alt, n_text=n_text,
                     note="Vårterminens betyg är oftast högre än höstterminens för alla elever.")


def chart_districts(m: ReportModel) -> ChartSpec | None:
    shown = [d for d in m.districts()
             if _v(m, PARTICIPANTS, ALL, "absence_rate_mean", district=d) is not None
             and _v(m, COMPARISON, ALL, "absence_rate_mean", district=d) is not None]
    if not shown:
        return None
    panels = []
    for measure, title, kind in (("share_passed_mean", "Andel godkända ämnen", "share"),
                                 ("absence_rate_mean", "Frånvaro (medelvärde)", "share1")):
        panels.append({"title": title, "categories": shown, "kind": kind, "series": [
            Series(PART_LABEL, [_v(m, PARTICIPANTS, ALL, measure, district=d) for d in shown], "participants"),
            Series(COMP_LABEL, [_v(m, COMPARISON, ALL, measure, district=d) for d in shown], "comparison")]})
    hidden = [d for d in m.districts() if d not in shown]
    note = (f"Visas inte: {', '.join(hidden)} (inga deltagare, färre än {m.n_min} elever eller dold uppgift; "
            "se tabellen)." if hidden else "")
    diffs = [(d, _v(m, PARTICIPANTS, ALL, "absence_rate_mean", district=d)
              - _v(m, COMPARISON, ALL, "absence_rate_mean", district=d)) for d in shown]
    worst = max(diffs, key=lambda x: x[1])
    alt = (f"Deltagarnas frånvaro jämfört med jämförelsegruppen per stadsdelsförvaltning: störst skillnad i "
           f"{worst[0]}, {format_diff(worst[1], 'share1')} procentenheter. {len(shown)} av {len(m.districts())} "
           "stadsdelsförvaltningar visas.")
    ns = ", ".join(f"{d} {fmt.count(m.row(PARTICIPANTS, ALL, district=d).value('n_students'))}" for d in shown)
    return ChartSpec(key="districts", title=f"Alla insatser per stadsdelsförvaltning, {m.term}", panels=panels,
                     horizontal=True, note=note, alt=alt, n_text=f"Antal deltagare: {ns}.")


def all_charts(m: ReportModel) -> dict[str, ChartSpec | None]:
    return {"passed": chart_passed(m), "absence": chart_absence(m), "change": chart_change(m),
            "trend": chart_trend(m), "districts": chart_districts(m)}
