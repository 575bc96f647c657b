""""Gör insatserna skillnad?" and "Når insatserna målgruppen?" from mart.programme_effect and
mart.target_group (DESIGN 5), shown only when those marts exist.

Per programme (district 'ALL'): the headline estimate (``did``, baseline two terms before the start) with
its 95 % interval per outcome and event term as a chart (zero marked), the verdict in plain Swedish, the
estimate from the term just before the start (``did_prev_term``) beside it with why it is higher, and the
pupils and schools behind it. A suppressed estimate shows no figure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import fmt
from .cells import SUPP, Cell, Table, number_cell
from .chartspecs import ChartSpec, Series
from .data import ALL, PROGRAMMES

if TYPE_CHECKING:
    from .model import ReportModel

OUTCOMES = {  # outcome -> (label, chart kind, what "better" means)
    "share_passed": ("Andel godkända ämnen", "diff", "higher"),
    "merit_value": ("Meritvärde", "diffm", "higher"),
    "absence_rate": ("Frånvaro", "diff1", "lower"),
}
EVENT_LABELS = {0: "Startterminen", 1: "En termin efter start", 2: "Två terminer efter start"}
HEADLINE, REBOUND = "did", "did_prev_term"
VERDICT_WORDS = {
    "share_passed": {"förbättring": "insatsen höjde andelen godkända ämnen",
                     "försämring": "deltagarnas andel godkända ämnen sjönk"},
    "merit_value": {"förbättring": "insatsen höjde meritvärdet", "försämring": "deltagarnas meritvärde sjönk"},
    "absence_rate": {"förbättring": "insatsen minskade frånvaron", "försämring": "deltagarnas frånvaro ökade"},
}


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def effect_text(value: float, kind: str) -> str:
    if kind == "diffm":
        return fmt.number(value, 1, signed=True) + " meritpoäng"
    text = fmt.points(value, 1 if kind == "diff1" else 0)
    return f"{text} {fmt.unit_points(text)}"


def _interval(lo: float, hi: float, kind: str) -> str:
    if kind == "diffm":
        return f"{fmt.number(lo, 1, signed=True)} till {fmt.number(hi, 1, signed=True)}"
    d = 1 if kind == "diff1" else 0
    return f"{fmt.points(lo, d)} till {fmt.points(hi, d)}"


class EffectView:
    def __init__(self, model: "ReportModel") -> None:
        self.m = model
        self.rows = model.inputs.effects
        self.target = model.inputs.target

    # --- lookups ---------------------------------------------------------------------------------------
    def get(self, programme: str, outcome: str, event_term: int, estimator: str = HEADLINE) -> dict | None:
        for r in self.rows or []:
            if (r["programme"] == programme and r["district"] == ALL and r["outcome"] == outcome
                    and int(r["event_term"]) == event_term and r["estimator"] == estimator):
                return r
        return None

    def shown(self, r: dict | None) -> bool:
        return r is not None and not r.get("suppressed") and r.get("estimate") is not None

    def event_terms(self) -> list[int]:
        return sorted({int(r["event_term"]) for r in self.rows or []})

    def headline(self, programme: str, outcome: str) -> dict | None:
        """The longest follow-up with an estimate that is shown (else the longest one, suppressed)."""
        terms = self.event_terms()
        for e in reversed(terms):
            r = self.get(programme, outcome, e)
            if self.shown(r):
                return r
        return self.get(programme, outcome, terms[-1]) if terms else None

    # --- sentences -------------------------------------------------------------------------------------
    def verdict(self, r: dict | None, outcome: str) -> str:
        label, kind, _ = OUTCOMES[outcome]
        if not self.shown(r):
            return f"{label}: för få elever för att beräkna en effekt."
        est, lo, hi = _f(r["estimate"]), _f(r["ci_low"]), _f(r["ci_high"])
        when = EVENT_LABELS.get(int(r["event_term"]), f"{r['event_term']} terminer efter start").lower()
        numbers = f"skattningen är {effect_text(est, kind)} ({when}), 95 % konfidensintervall {_interval(lo, hi, kind)}"
        v = r.get("verdict")
        if v in ("förbättring", "försämring"):
            return f"{label}: {VERDICT_WORDS[outcome][v]} jämfört med liknande elever; {numbers}."
        return (f"{label}: det går inte att säga om insatsen gör skillnad; {numbers}, och intervallet rymmer "
                "både en försämring och en förbättring.")

    def rebound(self, programme: str, outcomes: list[str], event_term: int | None = None) -> str | None:
        """One sentence: the estimates from the term just before the start, and why they are higher."""
        parts, larger = [], True
        for outcome in outcomes:
            head = self.headline(programme, outcome)
            if not self.shown(head):
                continue
            r = self.get(programme, outcome, int(head["event_term"]) if event_term is None else event_term, REBOUND)
            if not self.shown(r):
                continue
            label, kind, better = OUTCOMES[outcome]
            parts.append(f"{label.lower()} {effect_text(_f(r['estimate']), kind)}")
            gain = _f(r["estimate"]) - _f(head["estimate"])
            larger = larger and (gain > 0 if better == "higher" else gain < 0)
        if not parts:
            return None
        why = ("De är större eftersom" if larger else "Sådana skattningar blir oftast större eftersom")
        return (f"Räknat från terminen just före start blir skattningarna {', '.join(parts)}. {why} eleverna väljs "
                "ut när det går som sämst för dem, och en del av förbättringen efter en sådan termin hade kommit "
                "ändå.")

    def basis(self, r: dict | None) -> str | None:
        if not self.shown(r):
            return None
        text = (f"Beräkningen bygger på {fmt.count(int(r['n_participants']))} deltagare och "
                f"{fmt.count(int(r['n_comparison']))} jämförelseelever i {fmt.count(int(r['n_schools']))} skolor")
        excluded = int(r.get("n_excluded") or 0)
        if excluded:
            text += f"; {fmt.count(excluded)} deltagare saknade betyg eller frånvaro någon av terminerna"
        return text + "."

    def key_sentence(self) -> str | None:
        if self.rows is None:
            return None
        parts: dict[str, list[str]] = {}
        for p in PROGRAMMES:
            r = next((x for x in (self.headline(p, o) for o in ("share_passed", "absence_rate")) if self.shown(x)),
                     None)
            if r is None:
                parts.setdefault("för få", []).append(p)
                continue
            label, kind, _ = OUTCOMES[r["outcome"]]
            v = r.get("verdict")
            if v in ("förbättring", "försämring"):
                word = "en förbättring" if v == "förbättring" else "en försämring"
                parts.setdefault("tydligt", []).append(
                    f"för {p} {word} av {label.lower()} ({effect_text(_f(r['estimate']), kind)})")
            else:
                parts.setdefault("osäkert", []).append(p)
        out = []
        if parts.get("tydligt"):
            out.append("visar " + fmt.join_and(parts["tydligt"]))
        if parts.get("osäkert"):
            out.append(f"går inte att säga något säkert för {fmt.join_and(parts['osäkert'])}")
        if parts.get("för få"):
            out.append(f"har för få elever för {fmt.join_and(parts['för få'])}")
        return "Effektberäkningen, som jämför med liknande elever före och efter start, " + "; ".join(out) + "."

    # --- sections --------------------------------------------------------------------------------------
    def sections(self, num) -> list:
        from .build import Section

        out = []
        if self.rows is not None:
            s = Section("effekt", "Gör insatserna skillnad?")
            s.add("p", "En skattning av vad insatsen har betytt: deltagarnas förändring från terminen innan de "
                       "valdes ut jämfört med förändringen för elever i samma skolor och årskurser utan insats. "
                       "Punkten är skattningen och stapeln 95 % konfidensintervall; ligger stapeln helt på ena "
                       "sidan om noll är resultatet tydligt.")
            for p in PROGRAMMES:
                s.add("h3", p)
                found = [o for o in OUTCOMES if self.headline(p, o) is not None]
                if not any(self.shown(self.headline(p, o)) for o in found):
                    s.add("p", f"För få elever för att beräkna en effekt av {p}: det krävs minst {self.m.n_min} "
                               "deltagare och lika många jämförelseelever med uppgifter båda terminerna, i minst två "
                               "skolor.")
                    continue
                s.add("list", [self.verdict(self.headline(p, o), o) for o in found])
                s.add("p", self.rebound(p, found))
                first = next((self.headline(p, o) for o in found if self.shown(self.headline(p, o))), None)
                s.add("p", self.basis(first))
                s.add("chart", num.chart(self.chart(p)))
                s.add("table", num.table(self.table(p)))
            out.append(s)
        if self.target is not None:
            r = Section("malgrupp", "Når insatserna målgruppen?")
            r.add("p", self.reach_sentence())
            r.add("table", num.table(self.reach_table()))
            out.append(r)
        return out

    def chart(self, programme: str) -> ChartSpec | None:
        terms = self.event_terms()
        panels = []
        for outcome, (label, kind, better) in OUTCOMES.items():
            rows = {est: [self.get(programme, outcome, e, est) for e in terms] for est in (HEADLINE, REBOUND)}
            if not any(self.shown(x) for x in rows[HEADLINE]):
                continue
            series = []
            for est, name, style in ((HEADLINE, "Effekt (från två terminer före start)", "participants"),
                                     (REBOUND, "Från terminen före start (med återhämtning)", "comparison")):
                vals = [(_f(x["estimate"]), _f(x["ci_low"]), _f(x["ci_high"])) if self.shown(x) else (None, None, None)
                        for x in rows[est]]
                series.append(Series(name, [v[0] for v in vals], style, [v[1] for v in vals], [v[2] for v in vals]))
            sign = "högre är bättre" if better == "higher" else "lägre är bättre"
            panels.append({"title": f"{label} ({sign})", "kind": kind, "series": series,
                           "categories": [EVENT_LABELS.get(e, str(e)) for e in terms]})
        if not panels:
            return None
        head = [self.verdict(self.headline(programme, o), o) for o in OUTCOMES if self.headline(programme, o)]
        first = self.headline(programme, "share_passed") or self.headline(programme, "absence_rate")
        return ChartSpec(key=f"effect-{programme}", kind="interval", panels=panels,
                         title=f"Skattad effekt av {programme} med 95 % konfidensintervall",
                         alt=" ".join(head), n_text=self.basis(first) or "")

    def table(self, programme: str) -> Table:
        head = [[{"text": "Utfall och tidpunkt"}, {"text": "Skattad effekt"}, {"text": "95 % intervall"},
                 {"text": "Bedömning"}, {"text": "Från terminen före start¹"}, {"text": "Deltagare"},
                 {"text": "Skolor"}]]
        body = []
        for outcome, (label, kind, _) in OUTCOMES.items():
            for e in self.event_terms():
                r, rb = self.get(programme, outcome, e), self.get(programme, outcome, e, REBOUND)
                if r is None:
                    continue
                name = Cell.label(f"{label}, {EVENT_LABELS.get(e, e).lower()}")
                if not self.shown(r):
                    body.append([name, SUPP, SUPP, Cell("för få elever", "num"), SUPP, SUPP, SUPP])
                    continue
                body.append([name, Cell(effect_text(_f(r["estimate"]), kind).split(" ")[0]),
                             Cell(_interval(_f(r["ci_low"]), _f(r["ci_high"]), kind)),
                             Cell(r.get("verdict") or "", "num"),
                             Cell(effect_text(_f(rb["estimate"]), kind).split(" ")[0]) if self.shown(rb) else SUPP,
                             number_cell(_f(r["n_participants"]), "count"), number_cell(_f(r["n_schools"]), "count")])
        return Table(caption=f"Skattad effekt av {programme}, alla stadsdelsförvaltningar", head=head, body=body,
                     key=f"effect-{programme}",
                     notes=["Andel godkända ämnen och frånvaro i procentenheter, meritvärde i meritpoäng.",
                            "¹ Samma beräkning från terminen just före start: högre, eftersom den innehåller den "
                            "återhämtning som hade kommit ändå."])

    def _target_rows(self) -> list[dict]:
        return sorted([r for r in self.target or [] if r["school_unit_code"] == ALL],
                      key=lambda r: (r["school_year"] == ALL, r["school_year"]))

    def reach_sentence(self) -> str:
        s = self.m.settings
        crit = (f"frånvaro minst {fmt.setting_percent(getattr(s, 'target_absence_min', 0.20))} och godkänd i "
                f"högst {fmt.setting_percent(getattr(s, 'target_share_passed_max', 0.75))} av ämnena")
        total = next((r for r in self._target_rows() if r["school_year"] == ALL), None)
        if total is not None and total.get("absence_status") == "not_extracted":
            return (f"Målgruppen är elever i årskurs 6–9 med hög frånvaro och låg måluppfyllelse ({crit}). "
                    f"{self.m.absence_missing(self.m.term)} Därför kan målgruppen inte räknas den här terminen.")
        if total is None or total.get("suppressed") or total.get("n_target") is None:
            return (f"Målgruppen är elever i årskurs 6–9 med hög frånvaro och låg måluppfyllelse ({crit}). "
                    "Uppgifterna för staden visas inte (för få elever).")
        cov = total.get("coverage_share")
        return (f"Målgruppen är elever i årskurs 6–9 med hög frånvaro och låg måluppfyllelse ({crit}). "
                f"{fmt.term_long(self.m.term).capitalize()} uppfyllde {fmt.count(int(total['n_target']))} elever "
                f"kriterierna, och {fmt.count(int(total['n_target_enrolled'] or 0))} av dem"
                f"{f' ({fmt.percent(float(cov))})' if cov is not None else ''} hade någon av insatserna.")

    def reach_table(self) -> Table:
        head = [[{"text": "Årskurs"}, {"text": "Elever"}, {"text": "I målgruppen"}, {"text": "Varav med insats"},
                 {"text": "Andel av målgruppen med insats"}, {"text": "Med insats utanför målgruppen"}]]
        body = []
        for r in self._target_rows():
            label = Cell.label("Staden, årskurs 6–9" if r["school_year"] == ALL else fmt.year_label(str(r["school_year"])))
            if r.get("suppressed"):
                body.append([label] + [SUPP] * 5)
                continue
            body.append([label] + [number_cell(_f(r.get(c)), "count") for c in ("n_pupils", "n_target",
                                                                                 "n_target_enrolled")]
                        + [number_cell(_f(r.get("coverage_share")), "share"),
                           number_cell(_f(r.get("n_enrolled_not_target")), "count")])
        unread = any(r.get("absence_status") == "not_extracted" for r in self._target_rows())
        return Table(caption=f"Målgruppen och hur många i den som har en insats, {self.m.term}", head=head,
                     body=body, key="reach", notes=[self.m.absence_missing(self.m.term)] if unread else [])

    def method_items(self) -> list[tuple[str, str]]:
        items = []
        if self.rows is not None:
            items += [
                ("Effektberäkning",
                 "Deltagarnas förändring jämförs med förändringen för elever utan insats i samma skola och årskurs "
                 "under samma terminer. Skillnaden mellan förändringarna är den skattade effekten."),
                ("Varför terminen före valet",
                 "Eleverna väljs ut när det går dåligt för dem, och efter en dålig termin brukar det gå bättre "
                 "ändå. Därför räknas förändringen från två terminer före start, innan valet gjordes. Räknat från "
                 "terminen just före start blir skattningen högre; den visas bredvid som en övre gräns."),
                ("Konfidensintervall",
                 "Intervallet visar osäkerheten: med 95 % säkerhet ligger den verkliga effekten inom det. Rymmer "
                 "intervallet noll går det inte att säga om insatsen gör skillnad."),
                ("Vad beräkningen inte kan visa",
                 "Den kan inte utesluta att deltagarna skiljer sig från jämförelseeleverna på sätt som uppgifterna "
                 "inte visar, och den säger inget om varför en insats fungerar eller inte."),
            ]
        if self.target is not None:
            items.append(("Målgruppen",
                          "Elever i årskurs 6–9 med hög frånvaro och låg andel godkända ämnen, räknade i alla "
                          "stadens skolor. Tabellen visar antal, aldrig vilka elever."))
        return items
