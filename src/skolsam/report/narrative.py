"""The report's sentences: key messages, the quality section and the method text, from the figures.

Plain Swedish for a board member (Myndigheternas skrivregler): no table, column or protocol names.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import fmt
from .cells import format_value
from .data import ALL, COMPARISON, PARTICIPANTS
from .model import PROGRAMME_TARGET, ReportModel

CAVEAT = ("Uppföljningen visar hur det går för deltagarna, inte vilken effekt insatserna har: eleverna väljs ut "
          "när det går dåligt för dem, och en del av en förbättring hade kommit ändå.")
NO_RANKING = ("Jämför inte insatserna med varandra: de riktar sig till olika barn i olika åldrar och "
              "situationer, och skillnaderna mellan dem säger inget om vilket arbetssätt som fungerar bäst.")
EARLIER_MEASURE = ("Nämndernas tidigare uppföljning angav att 56 procent av eleverna ökade sin andel godkända "
                   "betyg från en termin till nästa; det motsvarar kolumnen ”Det tidigare måttet”, som också "
                   "räknar elever som redan var godkända i allt och inte kunde höja sig, och som utan "
                   "jämförelsegrupp inte visar hur mycket som hade hänt ändå.")
SOURCE = "Källa: skolornas betygs- och frånvarouppgifter och socialtjänstens listor över insatser"

REASON_LABELS = {
    "pnr_empty": "personnummer saknas",
    "pnr_format": "personnummer felaktigt skrivet",
    "pnr_checksum": "personnummer med fel kontrollsiffra",
    "pnr_date": "personnummer med omöjligt datum",
    "programme_unknown": "okänd insats",
    "district_unknown": "okänd stadsdelsförvaltning",
    "start_date_invalid": "felaktigt startdatum",
    "end_date_invalid": "felaktigt slutdatum",
    "end_before_start": "slutdatum före startdatum",
    "school_unit_code_invalid": "felaktig skolenhetskod",
    "consent_invalid": "oklart samtycke",
    "row_malformed": "rad som inte gick att läsa",
    "duplicate_in_file": "samma rad två gånger i en fil",
    "duplicate_across_files": "samma rad i flera filer",
    "consent_withdrawn": "samtycke återkallat (uppgifterna raderade)",
    "erased": "raderad på begäran",
}
SOURCE_LABELS = {"enrollment": "socialtjänstens listor", "ss12000": "stadens skolsystem",
                 "stockholm": "stadens skolsystem"}


def source_label(source: str) -> str:
    """How the report names a source: the lists, the city's school system, or a school system by its id."""
    return SOURCE_LABELS.get(source, f"skolsystemet {source}")


def _pct(v: float | None, kind: str) -> str | None:
    return None if v is None else format_value(v, kind)


def key_messages(m: ReportModel, effect_sentence: str | None = None) -> list[str]:
    """Three or four sentences: level against whom, change for both groups, the caveat, the effect verdict."""
    t = fmt.term_long(m.term)
    part, comp = m.pair(ALL)
    out: list[str] = []
    n = m.n(ALL)
    if part is None:
        out.append(f"Under {t} fanns inga deltagare i PPSS, SkolFam eller KP/KF i underlaget.")
    else:
        who = (f"Under {t} följdes {fmt.count(n)} elever i PPSS, SkolFam eller KP/KF upp" if n is not None
               else f"Under {t} följdes ett litet antal elever upp, för få för att visa")
        sp, sc = _pct(part.value("share_passed_mean"), "share"), _pct(comp and comp.value("share_passed_mean"), "share")
        ap, ac = _pct(part.value("absence_rate_mean"), "share1"), _pct(comp and comp.value("absence_rate_mean"), "share1")
        facts, others = [], []
        if sp:
            facts.append(f"var i genomsnitt godkända i {sp} av sina ämnen")
            others.append(sc)
        if ap:
            facts.append(f"hade {ap} frånvaro")
            others.append(ac)
        if facts and all(others):
            out.append(f"{who}. De {' och '.join(facts)}, jämfört med {' och '.join(others)} för elever i samma "
                       "skolor och årskurser som inte deltar i någon insats (jämförelsegruppen).")
        else:
            out.append(who + ".")
        out += m.absence_notes([m.term])   # missing because never read, not because nothing was reported
    if m.has_prev and part is not None:
        changes = []
        for measure, what in (("share_passed_mean", "andelen godkända ämnen"), ("absence_rate_mean", "frånvaron")):
            dp, dc = _change(m, PARTICIPANTS, measure), _change(m, COMPARISON, measure)
            if dp is not None and dc is not None:
                dec = 1 if measure == "absence_rate_mean" else 0
                a, b = _moved(dp, dec), _moved(dc, dec)
                changes.append(f"{what} {a} i båda grupperna" if a == b else
                               f"{what} {a} för deltagarna och {b} för jämförelsegruppen")
        if changes:
            out.append(f"Sedan {fmt.term_long(m.prev)} har " + "; ".join(changes) + ".")
    elif not m.has_prev:
        out.append(f"Underlaget saknar {fmt.term_long(m.prev)}, så förändringen kan inte visas.")
    out.append(CAVEAT)
    if effect_sentence:
        out.append(effect_sentence)
    return out


def _moved(diff: float, decimals: int) -> str:
    """'ökat med 5 procentenheter', 'minskat med 0,3 procentenheter', 'inte ändrats'."""
    size = fmt.number(abs(diff) * 100, decimals)
    if diff == 0 or size.strip("0,") == "":
        return "i stort sett inte ändrats"
    return f"{'ökat' if diff > 0 else 'minskat'} med {size} {fmt.unit_points(size)}"


def _change(m: ReportModel, population: str, measure: str) -> float | None:
    now, before = m.row(population, ALL), m.row(population, ALL, term=m.prev)
    a = None if now is None else now.value(measure)
    b = None if before is None else before.value(measure)
    return None if a is None or b is None else a - b


def programme_intro(m: ReportModel, programme: str) -> str:
    if programme == ALL:
        return ("Alla tre insatserna tillsammans. En elev som har flera insatser räknas en gång. "
                "Jämförelsegruppen är elever i samma skolor och årskurser som inte deltar i någon insats.")
    target = PROGRAMME_TARGET.get(programme)
    text = f"{programme} är till för {target}." if target else ""
    if not m.has_participants(programme):
        return (text + " " + m.empty_reason(programme)).strip()
    if not m.has_grades(programme):
        text += " Deltagarna är yngre än årskurs 6 och har inga betyg, så uppföljningen gäller frånvaron."
    elif any(y.isdigit() and int(y) < 6 for y in m.years_of(programme)):
        text += (" Betyg sätts från årskurs 6: för de yngre barnen följs frånvaron upp, och betygsmåtten gäller "
                 "deltagarna från årskurs 6.")
    if m.years_of(programme) and m.programme_year_table(programme) is None:
        text += f" Per årskurs är grupperna för små för att visas (färre än {m.n_min} elever)."
    return text


def quality_facts(m: ReportModel, made_on: dt.date) -> dict[str, Any]:
    """The figures of "Kvalitet och bortfall", as sentences and small rows for the template."""
    q = m.inputs.quality
    sentences: list[str] = []
    if q.enrolled:
        share = fmt.percent(q.matched / q.enrolled) if q.enrolled else ""
        unmatched = q.enrolled - (q.matched or 0)
        sentences.append(
            f"Socialtjänstens listor tar upp {fmt.count(q.enrolled)} elever. Av dem hittades {fmt.count(q.matched or 0)} "
            f"({share}) i skolornas uppgifter. {fmt.count(unmatched) if unmatched else 'Inga'} "
            f"{'elev' if unmatched == 1 else 'elever'} hittades inte, till exempel för att de går i en skola "
            "utanför staden eller i en fristående skola vars system inte ingår; de finns inte med i tabellerna.")
    elif q.enrolled == 0:
        sentences.append("Socialtjänstens listor innehöll inga elever.")
    sentences += m.absence_notes(m.terms)
    gate = {g["severity"]: g for g in q.gate}
    if gate:
        passed = sum(int(g["passed"]) for g in q.gate)
        failed = sum(int(g["failed"]) for g in q.gate)
        crit = gate.get("critical")
        text = (f"Uppgifterna kontrollerades automatiskt före publicering: {fmt.count(passed)} kontroller godkändes"
                f"{f' och {fmt.count(failed)} gav en varning' if failed else ''}.")
        if crit and int(crit["failed"]):
            text += " En avgörande kontroll underkändes, och tabellerna ska inte användas förrän felet är rättat."
        sentences.append(text)
    sources = []
    for s in q.sources:
        label = source_label(s["source"])
        last = s.get("last_success")
        sources.append({"label": label[:1].upper() + label[1:],
                        "last": (fmt.date_long(last.date()) if last else "ingen lyckad hämtning")
                                + (" (den senaste hämtningen misslyckades)" if s.get("failing") else ""),
                        "read": fmt.count(int(s.get("rows_read") or 0)),
                        "quarantined": fmt.count(int(s.get("rows_quarantined") or 0))})
    reasons: dict[str, int] = {}
    for r in q.quarantine:
        label = REASON_LABELS.get(r["reason_code"], "andra fel i uppgifterna")
        key = f"{SOURCE_LABELS.get(r['source'], 'skolsystem')}: {label}"
        reasons[key] = reasons.get(key, 0) + int(r["n"])
    return {"sentences": sentences, "sources": sources,
            "reasons": sorted(reasons.items(), key=lambda kv: -kv[1]),
            "extracted": extraction_date(m)}


def extraction_date(m: ReportModel) -> str | None:
    """The latest successful read of the education data (for the title block)."""
    dates = [s["last_success"] for s in m.inputs.quality.sources
             if s.get("last_success") is not None and s["source"] != "enrollment"]
    return fmt.date_long(max(dates).date()) if dates else None


def method_text(m: ReportModel) -> list[tuple[str, str]]:
    s = m.settings
    high, very_high = fmt.setting_percent(s.absence_high), fmt.setting_percent(s.absence_very_high)
    return [
        ("Vad rapporten visar",
         "Rapporten följer termin för termin upp hur det går i skolan för barn och elever från förskoleklass "
         "till årskurs 9 som har PPSS, SkolFam eller KP/KF. Den jämför dem med andra elever i samma skolor och "
         "årskurser. " + CAVEAT + " " + NO_RANKING),
        ("Deltagare",
         "Elever som enligt socialtjänstens listor har haft insatsen under terminen (minst en dag av insatsen "
         "ligger inom terminen) och som finns i skolornas uppgifter. En elev som har flera insatser räknas under "
         "varje insats, men bara en gång under ”Alla insatser”."),
        ("Jämförelsegrupp",
         "Elever som inte deltar i någon insats under terminen och som går i samma skolor och årskurser som "
         "deltagarna i gruppen. När en rad gäller ett visst kön eller en viss årskurs gäller jämförelsegruppen "
         "samma kön eller årskurs. Skillnaden mellan grupperna visar inte insatsens effekt."),
        ("Stadsdelsförvaltning",
         "Den stadsdelsförvaltning vars socialtjänst har beviljat insatsen, som den står i socialtjänstens "
         "lista, räknad till dagens indelning i elva stadsdelsförvaltningar (till exempel Rinkeby-Kista och "
         "Spånga-Tensta som Järva). Det är inte nödvändigtvis där skolan ligger."),
        ("Andel godkända ämnen",
         "För varje elev: antal ämnen med betyg A–E delat med antal ämnen med betyg under terminen (F och "
         "streck räknas som ej godkänt). Tabellerna visar medelvärdet. Betyg sätts från årskurs 6."),
        ("Meritvärde",
         "Summan av elevens 16 bästa ämnesbetyg plus det bästa betyget i moderna språk som sjuttonde "
         "(A = 20, B = 17,5, C = 15, D = 12,5, E = 10, F = 0 poäng; högst 340). Det räknas på varje termins "
         "betyg, så det jämför grupper med varandra men är inte slutbetygets meritvärde i årskurs 9."),
        ("Behörighet till gymnasiets yrkesprogram",
         "Lägst betyget E i svenska eller svenska som andraspråk, engelska och matematik samt i minst fem andra "
         "ämnen, bland eleverna i årskurs 9 med betyg."),
        ("Frånvaro",
         "Frånvaro som andel av den undervisningstid eleven erbjudits under terminen, med en decimal. Giltig "
         "frånvaro är anmäld eller beviljad (till exempel sjukdom), ogiltig frånvaro är den som skolan inte har "
         f"godkänt. Hög frånvaro är minst {high}, mycket hög frånvaro minst {very_high}."),
        ("Förändring",
         "Förändringen är gruppens värde denna termin minus samma grupps värde föregående termin. På våren sätts "
         "fler slutliga betyg och andelen godkända brukar stiga för alla elever, därför visas jämförelsegruppens "
         "förändring bredvid deltagarnas. ”Kunde höja sig” räknar bara elever som inte redan var godkända i allt."),
        ("Skydd av uppgifter",
         f"Uppgifter om grupper med färre än {m.n_min} elever visas inte ({fmt.SUPPRESSED}), och ytterligare "
         "uppgifter döljs när en dold uppgift annars skulle kunna räknas fram. Rapporten bygger enbart på "
         "sammanräknade uppgifter; inga namn eller personnummer finns i underlaget. " + m.legend),
        ("Underlag",
         "Betyg och frånvaro kommer från skolornas verksamhetssystem, uppgifter om insatser från "
         "socialtjänstens listor. Uppgifterna förs samman med krypterade nycklar i stället för personnummer. "
         + SOURCE + "."),
        *school_systems_text(m),
    ]


def school_systems_text(m: ReportModel) -> list[tuple[str, str]]:
    """The method item naming the school systems read and how fresh each one is (DESIGN 3.1.1)."""
    systems = sorted((s for s in m.inputs.quality.sources if s["source"] != "enrollment"),
                     key=lambda s: (s["source"] not in ("stockholm", "ss12000"), s["source"]))  # the city's first
    if not systems:
        return []
    parts = []
    for s in systems:
        last = s.get("last_success")
        when = f"senast hämtat {fmt.date_long(last.date())}" if last else "ingen lyckad hämtning"
        parts.append(f"{source_label(s['source'])} ({when}"
                     + ("; den senaste hämtningen misslyckades" if s.get("failing") else "") + ")")
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " och " + parts[-1]
    text = (f"Uppgifterna om skolgång kommer från {len(parts)} skolsystem: {listed}." if len(parts) > 1
            else f"Uppgifterna om skolgång kommer från {listed}.")
    if len(parts) > 1:
        text += (" En elev som under terminen har bytt skola mellan två system räknas en gång, i den skola där "
                 "eleven var inskriven flest dagar av terminen.")
    if any(s.get("failing") or not s.get("last_success") for s in systems):
        text += (" Ett skolsystem som inte kunde läsas hindrar inte de andra: tabellerna bygger på det som senast "
                 "hämtades från varje system, och elever i ett system som aldrig har kunnat läsas saknas i dem.")
    return [("Skolsystem", text)]
